package dev.bulwark.timeouts;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;

/** A {@link Ticker} that moves only when a test advances it. Thread-safe. */
final class FakeTicker implements Ticker {
  private final AtomicLong nanos;

  /** Starts at zero. */
  FakeTicker() {
    this(0);
  }

  /** Starts at {@code startNanos}. */
  FakeTicker(long startNanos) {
    this.nanos = new AtomicLong(startNanos);
  }

  @Override
  public long read() {
    return nanos.get();
  }

  /** Moves the ticker forward by {@code amount}, which must not be negative. */
  void advance(Duration amount) {
    advanceNanos(amount.toNanos());
  }

  /** Moves the ticker forward by {@code amountNanos}, which must not be negative. */
  void advanceNanos(long amountNanos) {
    if (amountNanos < 0) {
      throw new IllegalArgumentException(
          "a ticker never goes back, but was " + amountNanos + " ns");
    }
    nanos.addAndGet(amountNanos);
  }
}

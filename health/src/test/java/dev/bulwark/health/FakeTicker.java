package dev.bulwark.health;

import dev.bulwark.timeouts.Ticker;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;

/** A {@link Ticker} that moves only when a test advances it. Thread-safe. */
final class FakeTicker implements Ticker {
  private final AtomicLong nanos = new AtomicLong();

  @Override
  public long read() {
    return nanos.get();
  }

  /** Moves the ticker forward by {@code amount}, which must not be negative. */
  void advance(Duration amount) {
    if (amount.isNegative()) {
      throw new IllegalArgumentException("a ticker never goes back, but was " + amount);
    }
    nanos.addAndGet(amount.toNanos());
  }
}

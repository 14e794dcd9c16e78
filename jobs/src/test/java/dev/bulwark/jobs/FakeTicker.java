package dev.bulwark.jobs;

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

  /** Moves the ticker forward by {@code amount}. */
  void advance(Duration amount) {
    nanos.addAndGet(amount.toNanos());
  }
}

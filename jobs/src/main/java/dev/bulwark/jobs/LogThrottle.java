package dev.bulwark.jobs;

import dev.bulwark.timeouts.Ticker;

/**
 * Lets one log line of a kind through per interval, and counts the events in between, so that a
 * storm of failures is logged once per interval with how many there were. Thread-safe.
 */
final class LogThrottle {
  private final Ticker ticker;
  private final long intervalNanos;
  private boolean logged;
  private long lastNanos;
  private long since;

  LogThrottle(Ticker ticker, long intervalNanos) {
    this.ticker = ticker;
    this.intervalNanos = intervalNanos;
  }

  /**
   * Records an event.
   *
   * @return 0 if it must not be logged; otherwise the number of events this line stands for, itself
   *     and those not logged since the last line
   */
  synchronized long event() {
    since++;
    long now = ticker.read();
    if (logged && now - lastNanos < intervalNanos) {
      return 0;
    }
    logged = true;
    lastNanos = now;
    long events = since;
    since = 0;
    return events;
  }
}

package dev.bulwark.ratelimit;

import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * A limiter that answers every request with one outcome and no quota, as a Redis limiter does when
 * Redis cannot be asked ({@link Outcome#FAILED_OPEN}, {@link Outcome#FAILED_CLOSED}). It stands in
 * for the decision, not for Redis: the filter only sees the {@link RateLimiter} interface.
 */
final class FixedLimiter implements RateLimiter {
  private final String name;
  private final List<Limit> limits;
  private final Outcome outcome;
  private final Duration retryAfter;

  private FixedLimiter(String name, List<Limit> limits, Outcome outcome, Duration retryAfter) {
    this.name = name;
    this.limits = limits;
    this.outcome = outcome;
    this.retryAfter = retryAfter;
  }

  static FixedLimiter of(String name, Limit limit, Outcome outcome, Duration retryAfter) {
    return new FixedLimiter(name, List.of(limit), outcome, retryAfter);
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public List<Limit> limits() {
    return limits;
  }

  @Override
  public Decision tryAcquire(String key, long permits) {
    return new Decision(outcome, permits, List.of(), retryAfter, null);
  }

  @Override
  public RateLimiterSnapshot snapshot() {
    return new RateLimiterSnapshot(name, true, limits, Map.of(), 0, 1, 0, 0);
  }

  @Override
  public void close() {}
}

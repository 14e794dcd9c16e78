package dev.bulwark.ratelimit;

import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A rate limiter's counts at one moment, for health checks and dashboards. The counts are
 * cumulative since the limiter was built, each read separately from a limiter that keeps working.
 * Immutable.
 *
 * @param name the limiter's name
 * @param distributed whether the limiter keeps its buckets in Redis
 * @param limits the limits
 * @param decisions decisions by outcome; every outcome is present
 * @param keys the keys whose buckets are held in this process: the local limiter's buckets, or a
 *     Redis limiter's fallback buckets and leases; an estimate
 * @param maxKeys the bound on {@code keys}
 * @param redisErrors Redis calls that failed or timed out (0 for a local limiter)
 * @param deniedCacheHits denials answered from the local cache of denied keys, without a Redis call
 */
public record RateLimiterSnapshot(
    String name,
    boolean distributed,
    List<Limit> limits,
    Map<Outcome, Long> decisions,
    long keys,
    long maxKeys,
    long redisErrors,
    long deniedCacheHits) {

  /**
   * Copies the values.
   *
   * @param name the limiter's name
   * @param distributed whether the buckets are in Redis
   * @param limits the limits
   * @param decisions decisions by outcome
   * @param keys keys held in this process
   * @param maxKeys the bound on keys
   * @param redisErrors failed Redis calls
   * @param deniedCacheHits denials from the local cache
   * @throws NullPointerException if a reference is null
   */
  public RateLimiterSnapshot {
    Objects.requireNonNull(name, "name");
    limits = List.copyOf(limits);
    EnumMap<Outcome, Long> all = new EnumMap<>(Outcome.class);
    for (Outcome outcome : Outcome.values()) {
      all.put(outcome, decisions.getOrDefault(outcome, 0L));
    }
    decisions = java.util.Collections.unmodifiableMap(all);
  }

  /**
   * The decisions of one outcome.
   *
   * @param outcome the outcome
   * @return their count
   */
  public long decisions(Outcome outcome) {
    Long count = decisions.get(outcome);
    return count == null ? 0 : count;
  }

  /**
   * Decisions made without Redis's answer: failed open, failed closed, or by the local fallback.
   *
   * @return their count
   */
  public long fallbacks() {
    return decisions(Outcome.FAILED_OPEN)
        + decisions(Outcome.FAILED_CLOSED)
        + decisions(Outcome.FALLBACK_ALLOWED)
        + decisions(Outcome.FALLBACK_DENIED);
  }
}

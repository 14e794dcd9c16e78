package dev.bulwark.cache;

import dev.bulwark.core.internal.Checks;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * The state of a {@link BoundedCache} at one moment, for health checks and dashboards. Obtain one
 * with {@link BoundedCache#snapshot()}.
 *
 * <p>Each figure is read separately from a cache that keeps working meanwhile. The counts are
 * cumulative since the cache was built. Immutable and thread-safe.
 *
 * @param name the cache's name (the {@code name} tag of its meters)
 * @param size entries held, an estimate: it includes entries that have expired, or whose tag was
 *     invalidated, until a read or Caffeine's maintenance removes them, and remembered absences
 * @param bound the cache's bound: {@code maximumSize} in entries, or {@code maximumWeight} in the
 *     weigher's units when {@code weighted}
 * @param weighted whether {@code bound} is a weight ({@code maximumWeight}) rather than a count of
 *     entries ({@code maximumSize})
 * @param weight the total weight of the entries held when {@code weighted}; else equal to {@code
 *     size}
 * @param hitRatio hits divided by lookups, from 0.0 to 1.0; 1.0 before the first lookup (Caffeine's
 *     convention). Audits aim at above 0.9 after warm-up
 * @param hits lookups that found an entry, a remembered absence included
 * @param misses lookups that found none
 * @param evictions entries removed by the bound or by expiry (not those invalidated)
 * @param loadFailures loader calls that threw
 * @param staleServed reads answered with a value past {@code expireAfterWrite} because its reload
 *     failed, within {@code serveStaleFor}
 * @param redis the Redis tier's state, or {@code null} for a cache without one
 */
public record CacheSnapshot(
    String name,
    long size,
    long bound,
    boolean weighted,
    long weight,
    double hitRatio,
    long hits,
    long misses,
    long evictions,
    long loadFailures,
    long staleServed,
    @Nullable RedisTierSnapshot redis) {

  /**
   * Checks the values.
   *
   * @param name the cache's name
   * @param size entries held
   * @param bound the bound, at least 1
   * @param weighted whether the bound is a weight
   * @param weight the total weight
   * @param hitRatio from 0.0 to 1.0
   * @param hits lookups that found an entry
   * @param misses lookups that found none
   * @param evictions entries removed by the bound or by expiry
   * @param loadFailures loader calls that threw
   * @param staleServed reads answered with a stale value
   * @param redis the Redis tier's state, or {@code null}
   * @throws IllegalArgumentException if a count is negative, {@code bound} is below 1 or {@code
   *     hitRatio} is outside 0.0 to 1.0
   */
  public CacheSnapshot {
    Objects.requireNonNull(name, "name");
    if (size < 0
        || weight < 0
        || hits < 0
        || misses < 0
        || evictions < 0
        || loadFailures < 0
        || staleServed < 0) {
      throw Checks.invalid(
          "counts must be at least 0, but were size %d, weight %d, hits %d, misses %d,"
              + " evictions %d, loadFailures %d",
          size, weight, hits, misses, evictions, loadFailures);
    }
    if (bound < 1) {
      throw Checks.invalid("bound must be at least 1, but was %d", bound);
    }
    if (!(hitRatio >= 0.0 && hitRatio <= 1.0)) {
      throw Checks.invalid("hitRatio must be between 0.0 and 1.0, but was %s", hitRatio);
    }
  }

  /**
   * How full the cache is: {@code weight / bound}, which is {@code size / bound} for a cache
   * bounded by {@code maximumSize}. Audits alert above 0.9. It can pass 1.0 for the moment
   * Caffeine's maintenance takes to evict.
   *
   * @return 0.0 for an empty cache, 1.0 at the bound
   */
  public double fill() {
    return (double) weight / bound;
  }
}

package dev.bulwark.pool;

import dev.bulwark.core.internal.Checks;
import java.util.Objects;

/**
 * The state of a connection pool at one moment, for health checks and dashboards. Obtain one with
 * {@link Pools#snapshot(com.zaxxer.hikari.HikariDataSource)}.
 *
 * <p>Each count is read separately from a pool that keeps working meanwhile, so {@code active +
 * idle} need not equal {@code total} exactly. Immutable and thread-safe.
 *
 * @param name the pool name (also the {@code pool} tag of HikariCP's meters and the {@code name}
 *     tag of {@code bulwark.pool.utilization})
 * @param active connections lent out to callers right now
 * @param idle connections open and waiting in the pool
 * @param pending threads waiting for a connection; above 0 the pool is exhausted
 * @param total connections open, active or idle
 * @param max the pool's maximum size
 * @param utilization {@code active / max}, from 0.0 to 1.0; audits advise keeping it under 0.7 to
 *     0.8 and alerting above
 */
public record PoolSnapshot(
    String name, int active, int idle, int pending, int total, int max, double utilization) {

  /**
   * Checks the values.
   *
   * @param name the pool name
   * @param active connections lent out
   * @param idle connections waiting in the pool
   * @param pending threads waiting for a connection
   * @param total connections open
   * @param max the pool's maximum size
   * @param utilization {@code active / max}
   * @throws IllegalArgumentException if a count is negative, {@code max} is below 1 or {@code
   *     utilization} is outside 0.0 to 1.0
   */
  public PoolSnapshot {
    Objects.requireNonNull(name, "name");
    if (active < 0 || idle < 0 || pending < 0 || total < 0) {
      throw Checks.invalid(
          "counts must be at least 0, but were active %d, idle %d, pending %d, total %d",
          active, idle, pending, total);
    }
    if (max < 1) {
      throw Checks.invalid("max must be at least 1, but was %d", max);
    }
    if (!(utilization >= 0.0 && utilization <= 1.0)) {
      throw Checks.invalid("utilization must be between 0.0 and 1.0, but was %s", utilization);
    }
  }

  /**
   * Builds a snapshot whose utilization is {@code active / max}, capped at 1.0 (a pool may briefly
   * count more active connections than its maximum while it is being resized).
   */
  static PoolSnapshot of(String name, int active, int idle, int pending, int total, int max) {
    return new PoolSnapshot(name, active, idle, pending, total, max, utilization(active, max));
  }

  static double utilization(int active, int max) {
    return max < 1 ? 0.0 : Math.min(1.0, Math.max(0, active) / (double) max);
  }
}

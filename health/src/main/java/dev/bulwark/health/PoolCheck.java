package dev.bulwark.health;

import com.zaxxer.hikari.HikariDataSource;
import dev.bulwark.core.internal.Checks;
import dev.bulwark.pool.PoolSnapshot;
import dev.bulwark.pool.Pools;
import java.util.Objects;

/**
 * {@link HealthChecks#pool(HikariDataSource, Threshold)}: the utilization of a HikariCP pool and
 * the threads waiting for one of its connections, from {@link Pools#snapshot(HikariDataSource)}. It
 * borrows nothing, so it cannot add to the exhaustion it reports. Stateless beyond its settings,
 * and thread-safe.
 */
final class PoolCheck implements HealthCheck {
  /** The default utilization threshold: warn from 80 %, the audits' figure; never fail. */
  static final Threshold DEFAULT_UTILIZATION = Threshold.warnAt(80);

  /** The draft's {@code componentType}: the pool is a part of this process, not the database. */
  static final String COMPONENT_TYPE = "component";

  private final HikariDataSource dataSource;
  private final Threshold utilizationPercent;

  PoolCheck(HikariDataSource dataSource, Threshold utilizationPercent) {
    this.dataSource = Objects.requireNonNull(dataSource, "dataSource");
    this.utilizationPercent =
        requirePercentLevels(Objects.requireNonNull(utilizationPercent, "utilizationPercent"));
  }

  private static Threshold requirePercentLevels(Threshold threshold) {
    requirePercentLevel("utilizationPercent.warnAt", threshold.warnAt());
    requirePercentLevel("utilizationPercent.failAt", threshold.failAt());
    return threshold;
  }

  private static void requirePercentLevel(String setting, double level) {
    if (level != Double.POSITIVE_INFINITY && !(level > 0 && level <= 100)) {
      throw Checks.invalid(
          "%s must be more than 0 and at most 100, or infinite for never, but was %s %%",
          setting, ExternalTexts.plain(level));
    }
  }

  @Override
  public HealthResult check() {
    if (dataSource.isClosed()) {
      return HealthResult.fail("pool " + dataSource.getPoolName() + " is closed")
          .withComponentType(COMPONENT_TYPE);
    }
    if (dataSource.getHikariPoolMXBean() == null) {
      // A pool made with new HikariDataSource() starts on its first borrow: failing here could keep
      // a readiness probe down, and so the borrow away, for ever.
      return HealthResult.warn(
              "pool " + dataSource.getPoolName() + " has not started: it opens on its first borrow")
          .withComponentType(COMPONENT_TYPE);
    }
    PoolSnapshot pool;
    try {
      pool = Pools.snapshot(dataSource);
    } catch (IllegalStateException e) { // closed since the test above
      return HealthResult.fail(Objects.requireNonNull(e.getMessage()))
          .withComponentType(COMPONENT_TYPE);
    }
    return rate(pool, utilizationPercent);
  }

  /** Rates a snapshot: the threshold on the utilization, and a warning for waiting threads. */
  static HealthResult rate(PoolSnapshot pool, Threshold utilizationPercent) {
    // Rated as shown: 79.96% reads 80% and warns at 80%, as every percentage check does.
    double percent = ExternalTexts.percent(pool.utilization() * 100.0);
    Status status = utilizationPercent.rate(percent);
    String output = null;
    if (status != Status.PASS) {
      boolean failed = status == Status.FAIL;
      output =
          Checks.format(
              "%d of %d connections in use (%s%%), at or above the %s level of %s%%",
              pool.active(),
              pool.max(),
              ExternalTexts.plain(ExternalTexts.percent(percent)),
              failed ? "failure" : "warning",
              ExternalTexts.plain(
                  failed ? utilizationPercent.failAt() : utilizationPercent.warnAt()));
    }
    if (pool.pending() > 0) {
      status = status.worst(Status.WARN);
      output = waiting(pool.active(), pool.max(), pool.pending());
    }
    return HealthResult.pass()
        .withStatus(status, output)
        .withObserved(ExternalTexts.percent(percent), "%")
        .withComponentType(COMPONENT_TYPE)
        .withDetail("active", pool.active())
        .withDetail("idle", pool.idle())
        .withDetail("pending", pool.pending())
        .withDetail("total", pool.total())
        .withDetail("max", pool.max());
  }

  /**
   * The text for threads waiting for a connection: {@code "pool full: 10 of 10 connections in use,
   * 3 threads waiting"}, or, while the pool is still opening connections, {@code "3 threads waiting
   * for a connection, 6 of 10 connections in use"}.
   */
  static String waiting(int active, int max, int pending) {
    if (active >= max) {
      return Checks.format(
          "pool full: %d of %d connections in use, %s waiting",
          active, max, ExternalTexts.count(pending, "thread"));
    }
    return Checks.format(
        "%s waiting for a connection, %d of %d connections in use",
        ExternalTexts.count(pending, "thread"), active, max);
  }
}

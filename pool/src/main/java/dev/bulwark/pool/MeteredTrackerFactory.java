package dev.bulwark.pool;

import com.zaxxer.hikari.metrics.IMetricsTracker;
import com.zaxxer.hikari.metrics.MetricsTrackerFactory;
import com.zaxxer.hikari.metrics.PoolStats;
import com.zaxxer.hikari.metrics.micrometer.MicrometerMetricsTrackerFactory;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;

/**
 * HikariCP's Micrometer tracker ({@code hikaricp.connections.*}, tag {@code pool}) plus one gauge
 * of our own, {@code bulwark.pool.utilization} (tag {@code name}): active connections divided by
 * the maximum, the figure audits ask to alert on. Both are removed when the pool closes.
 */
final class MeteredTrackerFactory implements MetricsTrackerFactory {
  static final String UTILIZATION = "bulwark.pool.utilization";

  private final MeterRegistry registry;
  private final MicrometerMetricsTrackerFactory hikari;

  MeteredTrackerFactory(MeterRegistry registry) {
    this.registry = registry;
    this.hikari = new MicrometerMetricsTrackerFactory(registry);
  }

  @Override
  public IMetricsTracker create(String poolName, PoolStats poolStats) {
    IMetricsTracker delegate = hikari.create(poolName, poolStats);
    Gauge utilization =
        Gauge.builder(
                UTILIZATION,
                poolStats,
                stats ->
                    PoolSnapshot.utilization(
                        stats.getActiveConnections(), stats.getMaxConnections()))
            .description("Active connections divided by the pool's maximum size, 0 to 1")
            .tag("name", poolName)
            .strongReference(true)
            .register(registry);
    return new Tracker(delegate, utilization, registry);
  }

  private static final class Tracker implements IMetricsTracker {
    private final IMetricsTracker delegate;
    private final Gauge utilization;
    private final MeterRegistry registry;

    Tracker(IMetricsTracker delegate, Gauge utilization, MeterRegistry registry) {
      this.delegate = delegate;
      this.utilization = utilization;
      this.registry = registry;
    }

    @Override
    public void recordConnectionCreatedMillis(long connectionCreatedMillis) {
      delegate.recordConnectionCreatedMillis(connectionCreatedMillis);
    }

    @Override
    public void recordConnectionAcquiredNanos(long elapsedAcquiredNanos) {
      delegate.recordConnectionAcquiredNanos(elapsedAcquiredNanos);
    }

    @Override
    public void recordConnectionUsageMillis(long elapsedBorrowedMillis) {
      delegate.recordConnectionUsageMillis(elapsedBorrowedMillis);
    }

    @Override
    public void recordConnectionTimeout() {
      delegate.recordConnectionTimeout();
    }

    @Override
    public void close() {
      registry.remove(utilization);
      delegate.close();
    }
  }
}

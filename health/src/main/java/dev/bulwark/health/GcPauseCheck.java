package dev.bulwark.health;

import dev.bulwark.core.internal.Checks;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Supplier;

/**
 * {@link HealthChecks#gcPause(Threshold)}: the share of the time since the previous call spent in
 * collections. Thread-safe: calls are serialized, each measuring the window since the one before.
 */
final class GcPauseCheck implements HealthCheck {

  /**
   * The JVM's collection figures since it started.
   *
   * @param collections collections counted
   * @param pauseMillis their total time
   * @param uptimeMillis the JVM's uptime when read
   */
  record Totals(long collections, long pauseMillis, long uptimeMillis) {}

  private final Supplier<Totals> totals;
  private final Threshold percentOfTime;

  /** The previous call's figures; the JVM's start before the first. */
  private Totals previous = new Totals(0, 0, 0);

  GcPauseCheck(Supplier<Totals> totals, Threshold percentOfTime) {
    this.totals = totals;
    this.percentOfTime = percentOfTime;
  }

  /**
   * Reads the garbage-collector beans. The beans of concurrent cycles ({@code "ZGC Cycles"}, {@code
   * "ZGC Major Cycles"}, {@code "Shenandoah Cycles"}, ...) time work that runs beside the
   * application, not pauses, and are left out; their collectors' {@code "... Pauses"} beans count.
   */
  static Totals jvm() {
    long collections = 0;
    long millis = 0;
    for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
      if (gc.getName().endsWith(" Cycles")) {
        continue;
      }
      collections += Math.max(0, gc.getCollectionCount()); // -1: not counted by this collector
      millis += Math.max(0, gc.getCollectionTime());
    }
    return new Totals(collections, millis, ManagementFactory.getRuntimeMXBean().getUptime());
  }

  @Override
  public synchronized HealthResult check() {
    Totals now = totals.get();
    long window = Math.max(0, now.uptimeMillis() - previous.uptimeMillis());
    long pause = Math.max(0, now.pauseMillis() - previous.pauseMillis());
    long collections = Math.max(0, now.collections() - previous.collections());
    previous = now;
    double percent =
        window == 0 ? 0.0 : Math.min(100.0, HealthChecks.round1(pause * 100.0 / window));
    Status status = percentOfTime.rate(percent);
    Map<String, Object> details = new LinkedHashMap<>();
    details.put("collections", collections);
    details.put("pauseMs", pause);
    details.put("windowMs", window);
    String output =
        Checks.format(
            "GC took %s%% of the last %d ms (%d ms in %s), %s",
            HealthChecks.plain(percent),
            window,
            pause,
            HealthChecks.count(collections, "collection"),
            HealthChecks.level(status, percentOfTime, HealthChecks.PERCENT));
    return HealthChecks.result(
        status,
        HealthChecks.unlessPass(status, output),
        percent,
        HealthChecks.PERCENT,
        HealthChecks.SYSTEM,
        details);
  }
}

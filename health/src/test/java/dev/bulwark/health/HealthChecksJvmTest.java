package dev.bulwark.health;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.bulwark.testing.Await;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryUsage;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.locks.ReentrantLock;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The JVM and disk checks: each rating rule on given figures, with its exact output, and each check
 * on this JVM's real beans and a real file store.
 */
class HealthChecksJvmTest {
  private static final long MIB = 1024 * 1024;
  private static final Duration WAIT = Duration.ofSeconds(10);

  private static MemoryUsage usage(long usedMib, long committedMib, long maxMib) {
    return new MemoryUsage(0, usedMib * MIB, committedMib * MIB, maxMib < 0 ? -1 : maxMib * MIB);
  }

  @Test
  void heapRatesThePercentageOfItsMaximum() {
    HealthResult pass = HealthChecks.heap(usage(512, 600, 1024), HealthChecks.HEAP);
    assertThat(pass.status()).isEqualTo(Status.PASS);
    assertThat(pass.output()).isNull();
    assertThat(pass.observedValue()).isEqualTo(50.0);
    assertThat(pass.observedUnit()).isEqualTo("%");
    assertThat(pass.componentType()).isEqualTo("system");
    assertThat(pass.details())
        .containsExactly(
            Map.entry("usedMiB", 512L),
            Map.entry("committedMiB", 600L),
            Map.entry("maxMiB", 1024L));

    HealthResult warn = HealthChecks.heap(usage(870, 900, 1024), HealthChecks.HEAP);
    assertThat(warn.status()).isEqualTo(Status.WARN);
    assertThat(warn.output()).isEqualTo("heap 85% used (870 of 1024 MiB), warn at 80%");

    HealthResult fail = HealthChecks.heap(usage(933, 1000, 1024), HealthChecks.HEAP);
    assertThat(fail.status()).isEqualTo(Status.FAIL);
    assertThat(fail.output()).isEqualTo("heap 91.1% used (933 of 1024 MiB), fail at 90%");
    assertThat(fail.observedValue()).isEqualTo(91.1);
  }

  @Test
  void heapRatesTheRoundedFigureItShows() {
    // 89.96 % shows as 90 %: it fails, so the output never reads "90% used, fail at 90%" on a pass.
    MemoryUsage usage = new MemoryUsage(0, 8996, 9000, 10_000);
    HealthResult result = HealthChecks.heap(usage, HealthChecks.HEAP);
    assertThat(result.observedValue()).isEqualTo(90.0);
    assertThat(result.status()).isEqualTo(Status.FAIL);
  }

  @Test
  void heapWithoutAMaximumIsRatedAgainstWhatIsCommitted() {
    HealthResult result = HealthChecks.heap(usage(450, 500, -1), HealthChecks.HEAP);
    assertThat(result.status()).isEqualTo(Status.FAIL);
    assertThat(result.output())
        .isEqualTo("heap 90% used (450 of 500 MiB committed, no maximum set), fail at 90%");
    assertThat(result.details()).doesNotContainKey("maxMiB");
  }

  @Test
  void heapOnThisJvm() throws Exception {
    HealthCheck check = HealthChecks.heap(Threshold.warnAt(0));
    assertThat(check).isInstanceOf(BuiltInCheck.class);
    assertThat(((BuiltInCheck) check).isExternal()).isFalse();
    assertThat(check).hasToString("HealthChecks.heap");
    HealthResult result = check.check();
    assertThat(result.status()).isEqualTo(Status.WARN);
    assertThat(result.output())
        .matches("heap \\d+(\\.\\d)?% used \\(\\d+ of \\d+ MiB\\), warn at 0%");
    long max = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getMax() / MIB;
    assertThat(result.details())
        .containsEntry("maxMiB", max)
        .containsKeys("usedMiB", "committedMiB");
    assertThat(HealthChecks.heap().check().observedUnit()).isEqualTo("%");
  }

  @Test
  void nonHeapIsReportedInMiB() throws Exception {
    HealthResult pass = HealthChecks.nonHeap(usage(100, 120, -1), Threshold.none());
    assertThat(pass.status()).isEqualTo(Status.PASS);
    assertThat(pass.observedValue()).isEqualTo(100L);
    assertThat(pass.observedUnit()).isEqualTo("MiB");
    assertThat(pass.details())
        .containsExactly(Map.entry("usedMiB", 100L), Map.entry("committedMiB", 120L));

    HealthResult warn = HealthChecks.nonHeap(usage(300, 320, -1), Threshold.of(256, 512));
    assertThat(warn.output())
        .isEqualTo("non-heap 300 MiB used (320 MiB committed), warn at 256 MiB");
    HealthResult fail = HealthChecks.nonHeap(usage(600, 640, 1024), Threshold.of(256, 512));
    assertThat(fail.status()).isEqualTo(Status.FAIL);
    assertThat(fail.output())
        .isEqualTo("non-heap 600 MiB used (640 MiB committed), fail at 512 MiB");
    assertThat(fail.details()).containsEntry("maxMiB", 1024L);

    HealthResult real = HealthChecks.nonHeap().check();
    assertThat(real.status()).isEqualTo(Status.PASS);
    assertThat((Long) real.observedValue()).isPositive();
  }

  @Test
  void gcPauseMeasuresTheWindowSinceThePreviousCall() throws Exception {
    Deque<GcPauseCheck.Totals> readings =
        new ArrayDeque<>(
            List.of(
                new GcPauseCheck.Totals(10, 500, 10_000),
                new GcPauseCheck.Totals(20, 1_700, 20_000),
                new GcPauseCheck.Totals(21, 4_700, 30_000),
                new GcPauseCheck.Totals(21, 4_700, 30_000)));
    GcPauseCheck check = new GcPauseCheck(readings::removeFirst, HealthChecks.GC_PAUSE);

    HealthResult first = check.check(); // since the JVM started
    assertThat(first.status()).isEqualTo(Status.PASS);
    assertThat(first.observedValue()).isEqualTo(5.0);
    assertThat(first.details())
        .containsExactly(
            Map.entry("collections", 10L),
            Map.entry("pauseMs", 500L),
            Map.entry("windowMs", 10_000L));

    HealthResult warn = check.check();
    assertThat(warn.status()).isEqualTo(Status.WARN);
    assertThat(warn.output())
        .isEqualTo("GC took 12% of the last 10000 ms (1200 ms in 10 collections), warn at 10%");

    HealthResult fail = check.check();
    assertThat(fail.status()).isEqualTo(Status.FAIL);
    assertThat(fail.output())
        .isEqualTo("GC took 30% of the last 10000 ms (3000 ms in 1 collection), fail at 25%");

    HealthResult empty = check.check(); // no time passed: nothing measured
    assertThat(empty.status()).isEqualTo(Status.PASS);
    assertThat(empty.observedValue()).isEqualTo(0.0);
  }

  @Test
  void gcPauseOnThisJvmCountsACollection() throws Exception {
    HealthCheck check = HealthChecks.gcPause(Threshold.none());
    HealthResult first = check.check();
    assertThat(first.status()).isEqualTo(Status.PASS);
    assertThat((Long) first.details().get("windowMs")).isPositive();
    System.gc();
    HealthResult second = check.check();
    assertThat((Long) second.details().get("collections")).isPositive();
    assertThat((Double) second.observedValue()).isBetween(0.0, 100.0);
    assertThat(HealthChecks.gcPause()).hasToString("HealthChecks.gcPause");
  }

  @Test
  void threadsRatesTheCountAndFailsOnADeadlock() {
    HealthResult pass = HealthChecks.threads(40, 30, 45, 0, List.of(), Threshold.none());
    assertThat(pass.status()).isEqualTo(Status.PASS);
    assertThat(pass.observedValue()).isEqualTo(40);
    assertThat(pass.observedUnit()).isEqualTo("threads");
    assertThat(pass.details())
        .containsExactly(
            Map.entry("daemon", 30), Map.entry("peak", 45), Map.entry("deadlocked", 0));

    HealthResult warn = HealthChecks.threads(412, 30, 450, 0, List.of(), Threshold.of(400, 800));
    assertThat(warn.status()).isEqualTo(Status.WARN);
    assertThat(warn.output()).isEqualTo("412 live threads, warn at 400 threads");

    HealthResult deadlock =
        HealthChecks.threads(412, 30, 450, 2, List.of("a", "b"), Threshold.of(400, 800));
    assertThat(deadlock.status()).isEqualTo(Status.FAIL);
    assertThat(deadlock.output())
        .isEqualTo("2 threads deadlocked: \"a\", \"b\"; 412 live threads, warn at 400 threads");

    HealthResult many =
        HealthChecks.threads(
            50, 30, 50, 8, List.of("t1", "t2", "t3", "t4", "t5", "t6", "t7"), Threshold.none());
    assertThat(many.output())
        .isEqualTo("8 threads deadlocked: \"t1\", \"t2\", \"t3\", \"t4\", \"t5\" and 3 more");
  }

  @Test
  void threadsFindsARealDeadlock() throws Exception {
    HealthCheck check = HealthChecks.threads();
    assertThat(check.check().status()).isEqualTo(Status.PASS);

    ReentrantLock first = new ReentrantLock();
    ReentrantLock second = new ReentrantLock();
    CountDownLatch bothHeld = new CountDownLatch(2);
    Thread a = new Thread(() -> cross(first, second, bothHeld), "health-deadlock-a");
    Thread b = new Thread(() -> cross(second, first, bothHeld), "health-deadlock-b");
    a.start();
    b.start();
    try {
      Await.until(WAIT, "a deadlock", () -> check.check().status() == Status.FAIL);
      HealthResult result = check.check();
      assertThat(result.output())
          .startsWith("2 threads deadlocked: ")
          .contains("\"health-deadlock-a\"", "\"health-deadlock-b\"");
      assertThat(result.details()).containsEntry("deadlocked", 2);
    } finally {
      a.interrupt();
      b.interrupt();
      a.join(WAIT.toMillis());
      b.join(WAIT.toMillis());
    }
    assertThat(a.isAlive() || b.isAlive()).isFalse();
    assertThat(check.check().status()).isEqualTo(Status.PASS);
  }

  /** Takes {@code mine}, waits until the other thread holds its lock, then waits for it. */
  private static void cross(ReentrantLock mine, ReentrantLock theirs, CountDownLatch bothHeld) {
    mine.lock();
    try {
      bothHeld.countDown();
      bothHeld.await();
      theirs.lockInterruptibly();
      theirs.unlock();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      mine.unlock();
    }
  }

  @Test
  void processCpuIsAPercentageOrNotAvailable() throws Exception {
    HealthResult pass = HealthChecks.processCpu(0.25, 4, Threshold.none());
    assertThat(pass.status()).isEqualTo(Status.PASS);
    assertThat(pass.observedValue()).isEqualTo(25.0);
    assertThat(pass.details())
        .containsExactly(Map.entry("availableProcessors", 4), Map.entry("available", true));

    HealthResult warn = HealthChecks.processCpu(0.8, 4, Threshold.of(75, 90));
    assertThat(warn.status()).isEqualTo(Status.WARN);
    assertThat(warn.output()).isEqualTo("process CPU 80% of 4 processors, warn at 75%");
    HealthResult fail = HealthChecks.processCpu(0.955, 4, Threshold.of(75, 90));
    assertThat(fail.output()).isEqualTo("process CPU 95.5% of 4 processors, fail at 90%");

    for (double unavailable : new double[] {-1, Double.NaN}) {
      HealthResult none = HealthChecks.processCpu(unavailable, 4, Threshold.of(0, 0));
      assertThat(none.status()).isEqualTo(Status.PASS);
      assertThat(none.output()).isEqualTo("process CPU load is not available");
      assertThat(none.observedValue()).isNull();
      assertThat(none.details()).containsEntry("available", false);
    }

    HealthResult real = HealthChecks.processCpu().check();
    assertThat(real.status()).isEqualTo(Status.PASS);
    if (real.observedValue() != null) {
      assertThat((Double) real.observedValue()).isBetween(0.0, 100.0);
    }
  }

  @Test
  void uptimeAlwaysPasses() throws Exception {
    HealthResult given = HealthChecks.uptime(90_500, 1_700_000_000_000L);
    assertThat(given.status()).isEqualTo(Status.PASS);
    assertThat(given.observedValue()).isEqualTo(90L);
    assertThat(given.observedUnit()).isEqualTo("s");
    assertThat(given.details()).containsExactly(Map.entry("startTime", "2023-11-14T22:13:20Z"));

    HealthResult real = HealthChecks.uptime().check();
    assertThat(real.status()).isEqualTo(Status.PASS);
    assertThat((Long) real.observedValue()).isNotNegative();
    assertThat(Instant.parse((String) real.details().get("startTime"))).isBefore(Instant.now());
  }

  @Test
  void diskRatesThePercentageUsed() {
    long total = 100 * 1024 * MIB;
    HealthResult pass = HealthChecks.disk("/data", total, total / 2, HealthChecks.DISK);
    assertThat(pass.status()).isEqualTo(Status.PASS);
    assertThat(pass.observedValue()).isEqualTo(50.0);
    assertThat(pass.details())
        .containsExactly(
            Map.entry("path", "/data"),
            Map.entry("freeMiB", 51_200L),
            Map.entry("totalMiB", 102_400L));

    HealthResult warn = HealthChecks.disk("/data", total, 8 * 1024 * MIB, HealthChecks.DISK);
    assertThat(warn.status()).isEqualTo(Status.WARN);
    assertThat(warn.output())
        .isEqualTo("disk of /data 92% used (8192 MiB free of 102400 MiB), warn at 90%");

    HealthResult fail = HealthChecks.disk("/data", total, 3890 * MIB, HealthChecks.DISK);
    assertThat(fail.status()).isEqualTo(Status.FAIL);
    assertThat(fail.output())
        .isEqualTo("disk of /data 96.2% used (3890 MiB free of 102400 MiB), fail at 95%");

    HealthResult sizeless = HealthChecks.disk("/proc", 0, 0, HealthChecks.DISK);
    assertThat(sizeless.status()).isEqualTo(Status.PASS);
    assertThat(sizeless.output()).isEqualTo("the file store of /proc reports no size");
    assertThat(sizeless.observedValue()).isNull();
  }

  @Test
  void diskOnARealStoreAndAMissingPath(@TempDir Path dir) throws Exception {
    HealthResult real = HealthChecks.diskFree(dir, Threshold.warnAt(0)).check();
    assertThat(real.status()).isEqualTo(Status.WARN);
    assertThat(real.output())
        .matches(
            "disk of "
                + Pattern.quote(dir.toString())
                + " \\d+(\\.\\d)?% used \\(\\d+ MiB free of \\d+ MiB\\), warn at 0%");
    assertThat(HealthChecks.diskFree(dir).check().details()).containsEntry("path", dir.toString());

    Path missing = dir.resolve("not-mounted");
    HealthResult gone = HealthChecks.diskFree(missing).check();
    assertThat(gone.status()).isEqualTo(Status.FAIL);
    assertThat(gone.output()).isEqualTo("path " + missing + " does not exist");
    assertThat(gone.componentType()).isEqualTo("system");
  }

  @Test
  void thresholdsAreValidated() {
    assertThatThrownBy(() -> HealthChecks.heap(Threshold.of(80, 150)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage(
            "percentUsed.failAt must be between 0 and 100, or infinite for never, but was 150 %");
    assertThatThrownBy(() -> HealthChecks.gcPause(Threshold.of(-1, 25)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage(
            "percentOfTime.warnAt must be between 0 and 100, or infinite for never, but was -1 %");
    assertThatThrownBy(() -> HealthChecks.processCpu(Threshold.of(Double.NEGATIVE_INFINITY, 10)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage(
            "percent.warnAt must be between 0 and 100, or infinite for never, but was -Infinity %");
    assertThatThrownBy(() -> HealthChecks.diskFree(Path.of("/"), Threshold.of(90, 100.5)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage(
            "percentUsed.failAt must be between 0 and 100, or infinite for never, but was 100.5 %");
    assertThatThrownBy(() -> HealthChecks.nonHeap(Threshold.of(-0.5, 10)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("mib.warnAt must be at least 0, or infinite for never, but was -0.5 MiB");
    assertThatThrownBy(() -> HealthChecks.threads(Threshold.of(-3, -2)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("count.warnAt must be at least 0, or infinite for never, but was -3 threads");

    assertThatThrownBy(() -> HealthChecks.heap(null))
        .isInstanceOf(NullPointerException.class)
        .hasMessage("percentUsed");
    assertThatThrownBy(() -> HealthChecks.diskFree(null))
        .isInstanceOf(NullPointerException.class)
        .hasMessage("path");

    // The edges are accepted.
    HealthChecks.heap(Threshold.of(0, 100));
    HealthChecks.heap(Threshold.none());
    HealthChecks.threads(Threshold.of(0, 1_000_000));
  }
}

package dev.bulwark.health;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.bulwark.jobs.BoundedWorker;
import dev.bulwark.jobs.Offer;
import dev.bulwark.jobs.StopReason;
import dev.bulwark.jobs.WorkerLedger;
import dev.bulwark.jobs.WorkerSnapshot;
import dev.bulwark.jobs.WorkerState;
import dev.bulwark.testing.Await;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The worker check on a real {@link BoundedWorker} whose handler the test holds. */
class HealthChecksWorkerTest {
  private static final Duration WAIT = Duration.ofSeconds(10);

  @Test
  void ratesTheDepthAndFailsOnceStopped() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    AtomicInteger entered = new AtomicInteger();
    BoundedWorker<Integer> worker =
        BoundedWorker.<Integer>builder("activity-log")
            .capacity(100)
            .batchSize(1)
            .handler(
                batch -> {
                  entered.incrementAndGet();
                  release.await();
                })
            .build();
    try {
      HealthCheck check = HealthChecks.worker(worker, Threshold.of(5, 20));
      assertThat(check).hasToString("HealthChecks.worker");
      assertThat(((BuiltInCheck) check).isExternal()).isFalse();
      assertThat(check.check().status()).isEqualTo(Status.PASS);

      assertThat(worker.offer(0)).isEqualTo(Offer.ACCEPTED);
      Await.until(WAIT, "the first batch in the handler", () -> entered.get() == 1);
      for (int i = 1; i <= 10; i++) {
        assertThat(worker.offer(i)).isEqualTo(Offer.ACCEPTED);
      }
      HealthResult warn = check.check();
      assertThat(warn.status()).isEqualTo(Status.WARN);
      assertThat(warn.output())
          .isEqualTo("worker activity-log has 10 items queued (capacity 100), warn at 5 items");
      assertThat(warn.observedValue()).isEqualTo(10);
      assertThat(warn.observedUnit()).isEqualTo("items");
      assertThat(warn.componentType()).isEqualTo("component");
      assertThat(warn.details())
          .containsExactly(
              Map.entry("state", "RUNNING"),
              Map.entry("capacity", 100),
              Map.entry("inHandler", 1),
              Map.entry("submitted", 11L),
              Map.entry("processed", 0L),
              Map.entry("deadLettered", 0L),
              Map.entry("rejected", 0L),
              Map.entry("dropped", 0L),
              Map.entry("returned", 0L),
              Map.entry("inFlight", 11L),
              Map.entry("unaccounted", 0L),
              Map.entry("batches", 1L),
              Map.entry("failedAttempts", 0L));

      HealthResult fail = HealthChecks.worker(worker, Threshold.of(5, 10)).check();
      assertThat(fail.status()).isEqualTo(Status.FAIL);
      assertThat(fail.output())
          .isEqualTo("worker activity-log has 10 items queued (capacity 100), fail at 10 items");
      assertThat(HealthChecks.worker(worker).check().status())
          .as("the default warns at 5,000")
          .isEqualTo(Status.PASS);

      release.countDown();
      Await.until(WAIT, "the queue drained", () -> worker.snapshot().ledger().processed() == 11);
      assertThat(check.check().status()).isEqualTo(Status.PASS);

      worker.close();
      HealthResult stopped = check.check();
      assertThat(stopped.status()).isEqualTo(Status.FAIL);
      assertThat(stopped.output()).isEqualTo("worker activity-log is stopped (CLOSED)");
      assertThat(stopped.details())
          .containsEntry("state", "STOPPED")
          .containsEntry("stopReason", "CLOSED");
    } finally {
      release.countDown();
      worker.close();
    }
  }

  private static WorkerSnapshot snapshot(
      WorkerState state, StopReason reason, int depth, WorkerLedger ledger) {
    return new WorkerSnapshot(
        "w",
        state,
        reason,
        10_000,
        depth,
        0,
        ledger,
        Map.of(),
        3,
        2,
        0,
        0,
        0,
        0,
        "java.sql.SQLException: connection refused");
  }

  @Test
  void aPausedStoppingOrUnbalancedWorker() {
    WorkerLedger balanced = new WorkerLedger(6_000, 0, 0, 0, 0, 0, 6_000);
    HealthResult paused =
        WorkerCheck.rate(snapshot(WorkerState.PAUSED, null, 6_000, balanced), HealthChecks.WORKER);
    assertThat(paused.status()).isEqualTo(Status.WARN);
    assertThat(paused.output())
        .isEqualTo(
            "worker w paused its intake: the heap is above its memory ceiling; worker w has 6000"
                + " items queued (capacity 10000), warn at 5000 items");
    assertThat(paused.details())
        .containsEntry("lastFailure", "java.sql.SQLException: connection refused");

    HealthResult stopping =
        WorkerCheck.rate(
            snapshot(WorkerState.STOPPING, StopReason.CONSUMER_FAILED, 1, balanced),
            HealthChecks.WORKER);
    assertThat(stopping.status()).isEqualTo(Status.FAIL);
    assertThat(stopping.output())
        .isEqualTo("worker w is stopping (CONSUMER_FAILED): intake is closed");

    WorkerLedger short1 = new WorkerLedger(5, 3, 0, 0, 0, 0, 1);
    HealthResult unbalanced =
        WorkerCheck.rate(snapshot(WorkerState.RUNNING, null, 1, short1), HealthChecks.WORKER);
    assertThat(unbalanced.output())
        .isEqualTo("worker w's ledger does not balance: 1 item unaccounted");
  }

  @Test
  void argumentsAreValidated() {
    BoundedWorker<Integer> worker =
        BoundedWorker.<Integer>builder("args").capacity(1).handler(List::size).build();
    try {
      assertThatThrownBy(() -> HealthChecks.worker(null))
          .isInstanceOf(NullPointerException.class)
          .hasMessage("worker");
      assertThatThrownBy(() -> HealthChecks.worker(worker, null))
          .isInstanceOf(NullPointerException.class)
          .hasMessage("depth");
      assertThatThrownBy(() -> HealthChecks.worker(worker, Threshold.of(-1, 5)))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessage("depth.warnAt must be at least 0, or infinite for never, but was -1 items");
    } finally {
      worker.close();
    }
  }
}

package dev.bulwark.jobs;

import static dev.bulwark.jobs.Ledgers.assertBalanced;
import static org.assertj.core.api.Assertions.assertThat;

import dev.bulwark.testing.Await;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The alert on the queue's depth, and every term of the ledger as a meter. */
class WorkerMetersTest {
  private static final Duration WAIT = Duration.ofSeconds(10);

  private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  private final Gate<Integer> gate = new Gate<>();

  private double counter(String meter) {
    return registry.get(meter).tag("name", "metered").functionCounter().count();
  }

  private double rejected(String reason) {
    return registry
        .get("bulwark.jobs.worker.rejected")
        .tag("name", "metered")
        .tag("reason", reason)
        .functionCounter()
        .count();
  }

  private double gauge(String meter) {
    return registry.get(meter).tag("name", "metered").gauge().value();
  }

  @Test
  void theAlertCountsEachCrossingUp() throws Exception {
    try (BoundedWorker<Integer> worker =
        BoundedWorker.<Integer>builder("metered")
            .capacity(10)
            .batchSize(1)
            .alertAt(3)
            .handler(gate)
            .meterRegistry(registry)
            .build()) {
      worker.offer(0);
      Await.until(WAIT, "the first batch in the handler", () -> gate.entered() == 1);
      for (int i = 1; i <= 4; i++) {
        worker.offer(i); // the depth goes 1, 2, 3 (a crossing), 4
      }
      assertThat(worker.snapshot().alertCrossings()).isEqualTo(1);
      assertThat(worker.snapshot().alertAt()).isEqualTo(3);

      // Three batches leave; the fourth (3) is in the handler and 4 is queued: depth 1.
      gate.pass(3);
      Await.until(WAIT, "the fourth batch in the handler", () -> gate.entered() == 4);
      assertThat(worker.snapshot().depth()).isEqualTo(1);
      worker.offer(5);
      worker.offer(6); // depth 3 again: the second crossing
      worker.offer(7);
      WorkerSnapshot now = worker.snapshot();
      assertThat(now.alertCrossings()).isEqualTo(2);
      assertThat(counter("bulwark.jobs.worker.alerts")).isEqualTo(2);
      assertThat(gauge("bulwark.jobs.worker.depth")).isEqualTo(4);
      gate.open();
    }
  }

  @Test
  void everyTermOfTheLedgerIsAMeter() throws Exception {
    BoundedWorker<Integer> worker =
        BoundedWorker.<Integer>builder("metered")
            .capacity(3)
            .batchSize(1)
            .handler(
                batch -> {
                  if (batch.get(0) == 1) {
                    throw new IllegalStateException("one fails");
                  }
                  gate.handle(batch);
                })
            .meterRegistry(registry)
            .build();
    worker.offer(0);
    Await.until(WAIT, "the first batch in the handler", () -> gate.entered() == 1);
    gate.pass(1);
    worker.offer(1); // fails: dead-lettered
    worker.offer(2);
    Await.until(WAIT, "the third batch in the handler", () -> gate.entered() == 2);
    worker.offer(3);
    worker.offer(4);
    worker.offer(5);
    assertThat(worker.offer(6)).isEqualTo(Offer.REJECTED_FULL);

    WorkerLedger ledger = assertBalanced(worker);
    assertThat(ledger).isEqualTo(new WorkerLedger(7, 1, 1, 1, 0, 0, 4));
    assertThat(counter("bulwark.jobs.worker.submitted")).isEqualTo(7);
    assertThat(counter("bulwark.jobs.worker.processed")).isEqualTo(1);
    assertThat(counter("bulwark.jobs.worker.dead.lettered")).isEqualTo(1);
    assertThat(rejected("full")).isEqualTo(1);
    assertThat(rejected("closed")).isZero();
    assertThat(counter("bulwark.jobs.worker.dropped")).isZero();
    assertThat(counter("bulwark.jobs.worker.returned")).isZero();
    assertThat(gauge("bulwark.jobs.worker.in.flight")).isEqualTo(4);
    assertThat(gauge("bulwark.jobs.worker.depth")).isEqualTo(3);
    assertThat(
            registry
                .get("bulwark.jobs.worker.attempts")
                .tag("name", "metered")
                .tag("outcome", "failure")
                .timer()
                .count())
        .isEqualTo(1);
    assertThat(
            registry
                .get("bulwark.jobs.worker.attempts")
                .tag("name", "metered")
                .tag("outcome", "success")
                .timer()
                .count())
        .isEqualTo(1);
    assertThat(
            registry
                .get("bulwark.jobs.worker.callback.failures")
                .tag("name", "metered")
                .tag("callback", "dead_letter")
                .functionCounter()
                .count())
        .isZero();

    ShutdownReport<Integer> report = worker.shutdown(Duration.ZERO);
    assertThat(report.undelivered()).containsExactly(2, 3, 4, 5);
    assertThat(assertBalanced(report.ledger())).isEqualTo(new WorkerLedger(7, 1, 1, 1, 0, 4, 0));
    // A scrape after the shutdown reads the final ledger.
    assertThat(counter("bulwark.jobs.worker.returned")).isEqualTo(4);
    assertThat(counter("bulwark.jobs.worker.submitted")).isEqualTo(7);
    assertThat(counter("bulwark.jobs.worker.processed")).isEqualTo(1);
    assertThat(gauge("bulwark.jobs.worker.in.flight")).isZero();
    assertThat(gauge("bulwark.jobs.worker.depth")).isZero();
    int meters = registry.getMeters().size();

    // A worker of the same name replaces the stopped one's meters.
    try (BoundedWorker<Integer> next =
        BoundedWorker.<Integer>builder("metered")
            .capacity(3)
            .handler(batch -> {})
            .meterRegistry(registry)
            .build()) {
      assertThat(registry.getMeters()).hasSize(meters);
      assertThat(counter("bulwark.jobs.worker.submitted")).isZero();
      assertThat(counter("bulwark.jobs.worker.returned")).isZero();
      assertThat(next.offer(1)).isEqualTo(Offer.ACCEPTED);
      assertThat(counter("bulwark.jobs.worker.submitted")).isEqualTo(1);
    }
  }
}

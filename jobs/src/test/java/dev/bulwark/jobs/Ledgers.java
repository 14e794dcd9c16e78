package dev.bulwark.jobs;

import static org.assertj.core.api.Assertions.assertThat;

import dev.bulwark.testing.Await;
import java.time.Duration;

/** The ledger's invariant, checked after every scenario. */
final class Ledgers {
  private Ledgers() {}

  /**
   * Waits until the worker has counted {@code items} processed. The handler records a batch before
   * the worker counts it, so a wait on the handler's record alone can see the batch still in
   * flight.
   */
  static void awaitProcessed(BoundedWorker<?> worker, int items) throws Exception {
    Await.until(
        Duration.ofSeconds(10),
        items + " items processed",
        () -> worker.snapshot().ledger().processed() == items);
  }

  /** Every count is zero or more, and they add up: {@code unaccounted() == 0}. */
  static WorkerLedger assertBalanced(WorkerLedger ledger) {
    assertThat(ledger.submitted()).as("submitted").isNotNegative();
    assertThat(ledger.processed()).as("processed").isNotNegative();
    assertThat(ledger.deadLettered()).as("deadLettered").isNotNegative();
    assertThat(ledger.rejected()).as("rejected").isNotNegative();
    assertThat(ledger.dropped()).as("dropped").isNotNegative();
    assertThat(ledger.returned()).as("returned").isNotNegative();
    assertThat(ledger.inFlight()).as("inFlight").isNotNegative();
    assertThat(ledger.unaccounted()).as("unaccounted items in %s", ledger).isZero();
    return ledger;
  }

  /** The worker's ledger now, balanced, with {@code inFlight} equal to depth plus handler. */
  static WorkerLedger assertBalanced(BoundedWorker<?> worker) {
    WorkerSnapshot snapshot = worker.snapshot();
    assertThat(snapshot.ledger().inFlight())
        .as("inFlight")
        .isEqualTo((long) snapshot.depth() + snapshot.inHandler());
    return assertBalanced(snapshot.ledger());
  }
}

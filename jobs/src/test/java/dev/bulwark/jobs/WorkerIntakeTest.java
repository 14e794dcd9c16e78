package dev.bulwark.jobs;

import static dev.bulwark.jobs.Ledgers.assertBalanced;
import static dev.bulwark.jobs.Ledgers.awaitProcessed;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.bulwark.testing.Await;
import java.time.Duration;
import java.util.List;
import java.util.ServiceConfigurationError;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * The three policies for a full queue, each outcome counted. A {@link Gate} holds the first batch
 * in the handler, so each test knows what is queued.
 */
class WorkerIntakeTest {
  private static final Duration WAIT = Duration.ofSeconds(10);

  private final Gate<Integer> gate = new Gate<>();

  private BoundedWorker.Builder<Integer> worker() {
    return BoundedWorker.<Integer>builder("intake").capacity(2).batchSize(1).handler(gate);
  }

  /** Offers 0, waits until the handler holds it, then fills the queue with 1 and 2. */
  private void fill(BoundedWorker<Integer> worker) throws Exception {
    assertThat(worker.offer(0)).isEqualTo(Offer.ACCEPTED);
    Await.until(WAIT, "the first batch in the handler", () -> gate.entered() == 1);
    assertThat(worker.offer(1)).isEqualTo(Offer.ACCEPTED);
    assertThat(worker.offer(2)).isEqualTo(Offer.ACCEPTED);
    assertThat(worker.snapshot().depth()).isEqualTo(2);
  }

  @Test
  void aFullQueueRejectsByDefault() throws Exception {
    try (BoundedWorker<Integer> worker = worker().build()) {
      fill(worker);
      assertThat(worker.offer(3)).isEqualTo(Offer.REJECTED_FULL);
      assertThat(Offer.REJECTED_FULL.accepted()).isFalse();
      assertThat(Offer.REJECTED_FULL.tag()).isEqualTo("full");

      gate.open();
      awaitProcessed(worker, 3);
      WorkerSnapshot now = worker.snapshot();
      assertThat(now.offers(Offer.ACCEPTED)).isEqualTo(3);
      assertThat(now.offers(Offer.REJECTED_FULL)).isEqualTo(1);
      assertThat(assertBalanced(worker)).isEqualTo(new WorkerLedger(4, 3, 0, 1, 0, 0, 0));
    }
  }

  @Test
  void aNullItemIsRefusedAndNotCounted() throws Exception {
    try (BoundedWorker<Integer> worker = worker().build()) {
      assertThatThrownBy(() -> worker.offer(null))
          .isInstanceOf(NullPointerException.class)
          .hasMessage("item");
      assertThat(worker.snapshot().ledger().submitted()).isZero();
    }
  }

  @Test
  void blockingWaitsForRoomThenTimesOut() throws Exception {
    try (BoundedWorker<Integer> worker = worker().blockWhenFull(Duration.ofMillis(50)).build()) {
      fill(worker);
      assertThat(worker.offer(3)).isEqualTo(Offer.REJECTED_TIMEOUT);
      gate.open();
      awaitProcessed(worker, 3);
      assertThat(assertBalanced(worker)).isEqualTo(new WorkerLedger(4, 3, 0, 1, 0, 0, 0));
    }
  }

  @Test
  void aBlockedProducerGetsTheRoomABatchLeaves() throws Exception {
    try (BoundedWorker<Integer> worker = worker().blockWhenFull(WAIT).build()) {
      fill(worker);
      CompletableFuture<Offer> blocked = offerOnAnotherThread(worker, 3);
      gate.pass(1); // 0 leaves the handler, 1 enters it: one place in the queue
      assertThat(blocked.get()).isEqualTo(Offer.ACCEPTED);
      gate.open();
      awaitProcessed(worker, 4);
      assertThat(gate.handled).containsExactly(List.of(0), List.of(1), List.of(2), List.of(3));
      assertThat(assertBalanced(worker)).isEqualTo(new WorkerLedger(4, 4, 0, 0, 0, 0, 0));
    }
  }

  @Test
  void anInterruptEndsTheWaitAndIsKept() throws Exception {
    try (BoundedWorker<Integer> worker = worker().blockWhenFull(WAIT).build()) {
      fill(worker);
      AtomicReference<Offer> outcome = new AtomicReference<>();
      AtomicBoolean stillInterrupted = new AtomicBoolean();
      Thread producer =
          new Thread(
              () -> {
                outcome.set(worker.offer(3));
                stillInterrupted.set(Thread.currentThread().isInterrupted());
              });
      producer.start();
      Await.until(WAIT, "the producer waiting", () -> isWaiting(producer));
      producer.interrupt();
      producer.join(WAIT.toMillis());
      assertThat(outcome).hasValue(Offer.REJECTED_INTERRUPTED);
      assertThat(stillInterrupted).isTrue();
      gate.open();
      awaitProcessed(worker, 3);
      assertThat(assertBalanced(worker)).isEqualTo(new WorkerLedger(4, 3, 0, 1, 0, 0, 0));
    }
  }

  @Test
  void closingReleasesABlockedProducer() throws Exception {
    BoundedWorker<Integer> worker = worker().blockWhenFull(WAIT).build();
    fill(worker);
    CompletableFuture<Offer> blocked = offerOnAnotherThread(worker, 3);
    ShutdownReport<Integer> report = worker.shutdown(Duration.ZERO);
    assertThat(blocked.get()).isEqualTo(Offer.REJECTED_CLOSED);
    assertThat(report.undelivered()).containsExactly(0, 1, 2);
    assertBalanced(worker);
  }

  @Test
  void droppingTheOldestHandsItToTheCallback() throws Exception {
    List<Integer> dropped = new CopyOnWriteArrayList<>();
    try (BoundedWorker<Integer> worker =
        worker().dropOldestWhenFull().onDrop(dropped::add).build()) {
      fill(worker);
      assertThat(worker.offer(3)).isEqualTo(Offer.ACCEPTED_DROPPED_OLDEST);
      assertThat(worker.offer(4)).isEqualTo(Offer.ACCEPTED_DROPPED_OLDEST);
      assertThat(dropped).containsExactly(1, 2);
      assertThat(worker.snapshot().depth()).isEqualTo(2);

      gate.open();
      awaitProcessed(worker, 3);
      assertThat(gate.handled).containsExactly(List.of(0), List.of(3), List.of(4));
      WorkerSnapshot now = worker.snapshot();
      assertThat(now.offers(Offer.ACCEPTED_DROPPED_OLDEST)).isEqualTo(2);
      assertThat(assertBalanced(worker)).isEqualTo(new WorkerLedger(5, 3, 0, 0, 2, 0, 0));
    }
  }

  @Test
  void droppingWithoutACallbackIsCountedAndAFailingCallbackToo() throws Exception {
    try (BoundedWorker<Integer> worker = worker().dropOldestWhenFull().build()) {
      fill(worker);
      assertThat(worker.offer(3)).isEqualTo(Offer.ACCEPTED_DROPPED_OLDEST);
      assertThat(worker.snapshot().ledger().dropped()).isEqualTo(1);
      gate.open();
    }
    Gate<Integer> other = new Gate<>();
    try (BoundedWorker<Integer> worker =
        BoundedWorker.<Integer>builder("intake")
            .capacity(1)
            .batchSize(1)
            .handler(other)
            .dropOldestWhenFull()
            .onDrop(
                item -> {
                  if (item == 1) {
                    throw new IllegalStateException("no room for " + item);
                  }
                  throw new ServiceConfigurationError("no room for " + item); // an Error
                })
            .build()) {
      worker.offer(0);
      Await.until(WAIT, "the first batch in the handler", () -> other.entered() == 1);
      worker.offer(1);
      assertThat(worker.offer(2)).isEqualTo(Offer.ACCEPTED_DROPPED_OLDEST);
      WorkerSnapshot now = worker.snapshot();
      assertThat(now.callbackFailures()).isEqualTo(1);
      assertThat(now.ledger().dropped()).isEqualTo(1);
      // An Error from the callback, after the item was queued, does not reach the caller either.
      assertThat(worker.offer(3)).isEqualTo(Offer.ACCEPTED_DROPPED_OLDEST);
      assertThat(worker.snapshot().callbackFailures()).isEqualTo(2);
      other.open();
      Await.until(WAIT, "two items processed", () -> other.handled.size() == 2);
      assertThat(assertBalanced(worker)).isEqualTo(new WorkerLedger(4, 2, 0, 0, 2, 0, 0));
    }
  }

  private static CompletableFuture<Offer> offerOnAnotherThread(
      BoundedWorker<Integer> worker, int item) throws Exception {
    CompletableFuture<Offer> outcome = new CompletableFuture<>();
    Thread producer = new Thread(() -> outcome.complete(worker.offer(item)));
    producer.start();
    Await.until(WAIT, "the producer waiting for room", () -> isWaiting(producer));
    return outcome;
  }

  private static boolean isWaiting(Thread thread) {
    return thread.getState() == Thread.State.TIMED_WAITING;
  }
}

package dev.bulwark.jobs;

import static dev.bulwark.jobs.Ledgers.assertBalanced;
import static org.assertj.core.api.Assertions.assertThat;

import dev.bulwark.testing.Await;
import dev.bulwark.timeouts.Deadline;
import dev.bulwark.timeouts.Retry;
import dev.bulwark.timeouts.TimeoutExceededException;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** Shutdown, its drain and its report; the limits that stop a worker by itself. */
class WorkerStopTest {
  private static final Duration WAIT = Duration.ofSeconds(10);

  private final Gate<Integer> gate = new Gate<>();

  private static void offer(BoundedWorker<Integer> worker, int from, int to) {
    for (int i = from; i < to; i++) {
      assertThat(worker.offer(i)).isEqualTo(Offer.ACCEPTED);
    }
  }

  @Test
  void aShutdownReturnsTheBatchItStoppedAndTheQueueOnce() throws Exception {
    BoundedWorker<Integer> worker =
        BoundedWorker.<Integer>builder("stop")
            .capacity(10)
            .batchSize(2)
            .flushEvery(Duration.ofHours(1))
            .handler(gate)
            .build();
    offer(worker, 0, 5);
    Await.until(WAIT, "a batch in the handler", () -> gate.entered() == 1);
    assertThat(worker.awaitTermination(Duration.ZERO)).isEmpty();

    ShutdownReport<Integer> report = worker.shutdown(Duration.ZERO);

    assertThat(report.reason()).isEqualTo(StopReason.CLOSED);
    assertThat(report.undelivered()).containsExactly(0, 1, 2, 3, 4);
    assertThat(report.drained()).isFalse();
    assertThat(assertBalanced(report.ledger())).isEqualTo(new WorkerLedger(5, 0, 0, 0, 0, 5, 0));
    assertThat(gate.handled).isEmpty();
    assertThat(worker.shutdown(Duration.ofSeconds(1))).isSameAs(report);
    worker.close();
    assertThat(worker.awaitTermination(Duration.ZERO)).containsSame(report);

    assertThat(worker.offer(5)).isEqualTo(Offer.REJECTED_CLOSED);
    WorkerSnapshot now = worker.snapshot();
    assertThat(now.state()).isEqualTo(WorkerState.STOPPED);
    assertThat(now.stopReason()).isEqualTo(StopReason.CLOSED);
    assertThat(now.batches()).isEqualTo(1);
    assertThat(assertBalanced(now.ledger())).isEqualTo(new WorkerLedger(6, 0, 0, 1, 0, 5, 0));
  }

  @Test
  void closeDrainsThePartialBatchAtOnce() throws Exception {
    List<List<Integer>> batches = new CopyOnWriteArrayList<>();
    BoundedWorker<Integer> worker =
        BoundedWorker.<Integer>builder("stop")
            .capacity(100)
            .flushEvery(Duration.ofHours(1))
            .handler(batches::add)
            .build();
    offer(worker, 0, 10);
    worker.close();
    ShutdownReport<Integer> report = worker.awaitTermination(Duration.ZERO).orElseThrow();
    assertThat(report.drained()).isTrue();
    assertThat(report.undelivered()).isEmpty();
    assertThat(batches).containsExactly(List.of(0, 1, 2, 3, 4, 5, 6, 7, 8, 9));
    assertThat(assertBalanced(report.ledger())).isEqualTo(new WorkerLedger(10, 10, 0, 0, 0, 0, 0));
  }

  @Test
  void anAttemptDuringTheDrainHasTheDrainDeadline() throws Exception {
    AtomicReference<Duration> left = new AtomicReference<>();
    BoundedWorker<Integer> worker =
        BoundedWorker.<Integer>builder("stop")
            .capacity(10)
            .flushEvery(Duration.ofHours(1))
            .batchTimeLimit(Duration.ofHours(1))
            .handler(
                batch -> {
                  left.set(Deadline.current().orElseThrow().remaining());
                  Thread.sleep(3_600_000);
                })
            .build();
    offer(worker, 0, 3);

    ShutdownReport<Integer> report = worker.shutdown(Duration.ofMillis(200));

    assertThat(left.get()).isLessThanOrEqualTo(Duration.ofMillis(200));
    assertThat(report.undelivered()).containsExactly(0, 1, 2);
    assertThat(assertBalanced(report.ledger())).isEqualTo(new WorkerLedger(3, 0, 0, 0, 0, 3, 0));
  }

  @Test
  void aHandlerThatIgnoresItsInterruptKeepsItsBatchInFlight() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    CountDownLatch entered = new CountDownLatch(1);
    AtomicInteger interrupts = new AtomicInteger();
    List<List<Integer>> handled = new CopyOnWriteArrayList<>();
    BoundedWorker<Integer> worker =
        BoundedWorker.<Integer>builder("stubborn")
            .capacity(10)
            .batchSize(2)
            .flushEvery(Duration.ofHours(1))
            .handler(
                batch -> {
                  entered.countDown();
                  while (true) {
                    try {
                      release.await();
                      break;
                    } catch (InterruptedException e) {
                      interrupts.incrementAndGet(); // and carries on
                    }
                  }
                  handled.add(batch);
                })
            .build();
    offer(worker, 0, 5);
    entered.await();

    // The handler cannot return before release, which comes after: shutdown did not wait for it.
    ShutdownReport<Integer> report = worker.shutdown(Duration.ofMillis(50));
    release.countDown();

    assertThat(interrupts.get()).isPositive();
    assertThat(report.drained()).isFalse();
    assertThat(report.undelivered()).containsExactly(2, 3, 4);
    assertThat(assertBalanced(report.ledger())).isEqualTo(new WorkerLedger(5, 0, 0, 0, 0, 3, 2));
    assertThat(worker.snapshot().state()).isEqualTo(WorkerState.STOPPED);

    // When it does return, its batch is counted where it went, and the books still balance.
    Await.until(WAIT, "the late batch counted", () -> worker.snapshot().ledger().inFlight() == 0);
    assertThat(handled).containsExactly(List.of(0, 1));
    assertThat(assertBalanced(worker)).isEqualTo(new WorkerLedger(5, 2, 0, 0, 0, 3, 0));
    assertThat(worker.shutdown(Duration.ZERO)).isSameAs(report);
  }

  @Test
  void aSwallowedInterruptDoesNotLetTheBackoffOutliveTheShutdown() throws Exception {
    CountDownLatch entered = new CountDownLatch(1);
    AtomicInteger attempts = new AtomicInteger();
    Retry retry =
        Retry.builder("swallowed")
            .retryOn(IOException.class, TimeoutExceededException.class)
            .maxAttempts(5)
            .backoff(Duration.ofHours(1), Duration.ofHours(1))
            .sleeper(nanos -> TimeUnit.HOURS.sleep(1)) // whatever the jitter drew
            .build();
    BoundedWorker<Integer> worker =
        BoundedWorker.<Integer>builder("swallowed")
            .capacity(10)
            .batchSize(2)
            .flushEvery(Duration.ofHours(1))
            .retry(retry)
            .handler(
                batch -> {
                  attempts.incrementAndGet();
                  entered.countDown();
                  try {
                    Thread.sleep(3_600_000);
                  } catch (InterruptedException e) {
                    throw new IOException("interrupted"); // and the interrupt status is gone
                  }
                })
            .build();
    Thread consumer = thread("bulwark-jobs-swallowed-1");
    offer(worker, 0, 3);
    entered.await();

    ShutdownReport<Integer> report = worker.shutdown(Duration.ofMillis(200));

    assertThat(report.undelivered()).containsExactly(0, 1, 2);
    assertThat(report.drained()).isFalse();
    assertThat(assertBalanced(report.ledger())).isEqualTo(new WorkerLedger(3, 0, 0, 0, 0, 3, 0));
    consumer.join(WAIT.toMillis());
    assertThat(consumer.isAlive()).as("the worker's thread is still alive").isFalse();
    assertThat(attempts).hasValue(1);
    WorkerSnapshot now = worker.snapshot();
    assertThat(now.failedAttempts()).isEqualTo(1);
    assertThat(now.timedOutAttempts()).isZero();
    assertThat(assertBalanced(worker)).isEqualTo(new WorkerLedger(3, 0, 0, 0, 0, 3, 0));
  }

  @Test
  void aDeadLetterCutShortByAShutdownHandsItsItemsBack() throws Exception {
    CountDownLatch entered = new CountDownLatch(1);
    BoundedWorker<Integer> worker =
        BoundedWorker.<Integer>builder("cut-short")
            .capacity(10)
            .batchSize(2)
            .flushEvery(Duration.ofHours(1))
            .handler(
                batch -> {
                  throw new IOException("table is gone");
                })
            .deadLetter(
                (batch, failure) -> {
                  entered.countDown();
                  Thread.sleep(2_000);
                })
            .build();
    offer(worker, 0, 3);
    entered.await();

    ShutdownReport<Integer> report = worker.shutdown(Duration.ofMillis(100));

    assertThat(report.undelivered()).containsExactly(0, 1, 2);
    assertThat(report.drained()).isFalse();
    assertThat(assertBalanced(report.ledger())).isEqualTo(new WorkerLedger(3, 0, 0, 0, 0, 3, 0));
    assertThat(worker.snapshot().callbackFailures()).isZero();
  }

  private static Thread thread(String name) {
    return Thread.getAllStackTraces().keySet().stream()
        .filter(t -> t.getName().equals(name))
        .findFirst()
        .orElseThrow(() -> new AssertionError("no thread " + name));
  }

  @Test
  void aWorkerStopsItselfAfterMaxIterationsAndDrains() throws Exception {
    BoundedWorker<Integer> worker =
        BoundedWorker.<Integer>builder("iterations")
            .capacity(10)
            .batchSize(1)
            .maxIterations(3)
            .handler(gate)
            .build();
    offer(worker, 0, 5);
    Await.until(WAIT, "the first batch in the handler", () -> gate.entered() == 1);
    gate.open();

    ShutdownReport<Integer> report = worker.awaitTermination(WAIT).orElseThrow();

    assertThat(report.reason()).isEqualTo(StopReason.MAX_ITERATIONS);
    assertThat(report.drained()).isTrue();
    assertThat(gate.handled).hasSize(5);
    assertThat(worker.offer(5)).isEqualTo(Offer.REJECTED_CLOSED);
    assertThat(worker.snapshot().stopReason()).isEqualTo(StopReason.MAX_ITERATIONS);
    assertThat(assertBalanced(worker)).isEqualTo(new WorkerLedger(6, 5, 0, 1, 0, 0, 0));
    assertThat(worker.shutdown(Duration.ZERO)).isSameAs(report);
  }

  @Test
  void aWorkerStopsItselfAfterMaxRuntime() throws Exception {
    FakeTicker ticker = new FakeTicker();
    BoundedWorker<Integer> worker =
        BoundedWorker.<Integer>builder("runtime")
            .capacity(10)
            .maxRuntime(Duration.ofHours(24))
            .handler(batch -> {})
            .ticker(ticker)
            .build();
    ticker.advance(Duration.ofHours(24).minusNanos(1));
    assertThat(worker.awaitTermination(Duration.ofMillis(300))).isEmpty();
    ticker.advance(Duration.ofNanos(1));

    ShutdownReport<Integer> report = worker.awaitTermination(WAIT).orElseThrow();

    assertThat(report.reason()).isEqualTo(StopReason.MAX_RUNTIME);
    assertThat(report.drained()).isTrue();
    assertThat(worker.snapshot().state()).isEqualTo(WorkerState.STOPPED);
  }

  @Test
  void aShutdownDuringAStopAtALimitEndsItsDrainSooner() throws Exception {
    BoundedWorker<Integer> worker =
        BoundedWorker.<Integer>builder("sooner")
            .capacity(10)
            .batchSize(1)
            .maxIterations(1)
            .drainTimeout(Duration.ofHours(1))
            .handler(gate)
            .build();
    offer(worker, 0, 3);
    Await.until(WAIT, "the first batch in the handler", () -> gate.entered() == 1);
    gate.pass(1);
    Await.until(WAIT, "the drain's first batch in the handler", () -> gate.entered() == 2);
    assertThat(worker.snapshot().state()).isEqualTo(WorkerState.STOPPING);

    ShutdownReport<Integer> report = worker.shutdown(Duration.ZERO);

    assertThat(report.reason()).isEqualTo(StopReason.MAX_ITERATIONS);
    assertThat(report.undelivered()).containsExactly(1, 2);
    assertThat(assertBalanced(report.ledger())).isEqualTo(new WorkerLedger(3, 1, 0, 0, 0, 2, 0));
  }

  @Test
  void aHandlerMayNotShutItsOwnWorkerDown() throws Exception {
    AtomicReference<BoundedWorker<Integer>> self = new AtomicReference<>();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    CountDownLatch dead = new CountDownLatch(1);
    BoundedWorker<Integer> worker =
        BoundedWorker.<Integer>builder("self")
            .capacity(10)
            .batchSize(1)
            .handler(batch -> self.get().close())
            .deadLetter(
                (batch, cause) -> {
                  failure.set(cause);
                  dead.countDown();
                })
            .build();
    self.set(worker);
    offer(worker, 0, 1);
    assertThat(dead.await(WAIT.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS)).isTrue();
    assertThat(failure.get())
        .isInstanceOf(IllegalStateException.class)
        .hasMessage(
            "worker self: shutdown and close must not be called from its own handler, which they"
                + " wait for; call them from another thread");
    ShutdownReport<Integer> report = worker.shutdown(WAIT);
    assertThat(assertBalanced(report.ledger())).isEqualTo(new WorkerLedger(1, 0, 1, 0, 0, 0, 0));
  }

  @Test
  void theDrainTimeoutIsChecked() {
    try (BoundedWorker<Integer> worker =
        BoundedWorker.<Integer>builder("checked").capacity(1).handler(batch -> {}).build()) {
      org.assertj.core.api.Assertions.assertThatThrownBy(
              () -> worker.shutdown(Duration.ofSeconds(-1)))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessage("drainTimeout must be between 0 ms and 3600000 ms, but was -1000 ms");
      org.assertj.core.api.Assertions.assertThatThrownBy(
              () -> worker.awaitTermination(Duration.ofSeconds(-1)))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessage("timeout must not be negative, but was -1000 ms");
    }
  }
}

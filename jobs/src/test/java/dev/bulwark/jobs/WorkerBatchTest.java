package dev.bulwark.jobs;

import static dev.bulwark.jobs.Ledgers.assertBalanced;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.bulwark.testing.Await;
import dev.bulwark.timeouts.Deadline;
import dev.bulwark.timeouts.Retry;
import dev.bulwark.timeouts.TimeoutExceededException;
import java.io.IOException;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;

/**
 * Batches by size and by time, the handler's thread and deadline, time limits, retries, dead
 * letters.
 */
class WorkerBatchTest {
  private static final Duration WAIT = Duration.ofSeconds(10);

  private final List<List<Integer>> batches = new CopyOnWriteArrayList<>();

  private BoundedWorker.Builder<Integer> worker() {
    return BoundedWorker.<Integer>builder("batches").capacity(100);
  }

  private static void offer(BoundedWorker<Integer> worker, int from, int to) {
    for (int i = from; i < to; i++) {
      assertThat(worker.offer(i)).isEqualTo(Offer.ACCEPTED);
    }
  }

  @Test
  void aFullBatchGoesAtOnceAndAPartialOneWaits() throws Exception {
    try (BoundedWorker<Integer> worker =
        worker().batchSize(3).flushEvery(Duration.ofHours(1)).handler(batches::add).build()) {
      offer(worker, 0, 7);
      Await.until(WAIT, "two full batches", () -> batches.size() == 2);
      assertThat(batches).containsExactly(List.of(0, 1, 2), List.of(3, 4, 5));
      // The seventh waits for its flush, an hour away, or for the drain.
      assertThat(worker.snapshot().depth()).isEqualTo(1);
      ShutdownReport<Integer> report = worker.shutdown(WAIT);
      assertThat(report.drained()).isTrue();
      assertThat(batches).containsExactly(List.of(0, 1, 2), List.of(3, 4, 5), List.of(6));
      assertThat(assertBalanced(report.ledger())).isEqualTo(new WorkerLedger(7, 7, 0, 0, 0, 0, 0));
    }
  }

  @Test
  void aPartialBatchGoesFlushEveryAfterItsFirstItem() throws Exception {
    FakeTicker ticker = new FakeTicker();
    try (BoundedWorker<Integer> worker =
        worker()
            .batchSize(10)
            .flushEvery(Duration.ofSeconds(5))
            .handler(batches::add)
            .ticker(ticker)
            .build()) {
      offer(worker, 0, 3);
      ticker.advance(Duration.ofSeconds(4));
      offer(worker, 3, 4);
      // On this clock no time passes but the test's: nothing is due before the next advance.
      ticker.advance(Duration.ofSeconds(1));
      Await.until(WAIT, "the partial batch", () -> batches.size() == 1);
      assertThat(batches).containsExactly(List.of(0, 1, 2, 3));

      // The next batch's wait starts with its own first item.
      offer(worker, 4, 5);
      ticker.advance(Duration.ofMillis(4_999));
      offer(worker, 5, 6);
      assertThat(batches).hasSize(1);
      ticker.advance(Duration.ofMillis(1));
      Await.until(WAIT, "the second partial batch", () -> batches.size() == 2);
      assertThat(batches.get(1)).containsExactly(4, 5);
      assertBalanced(worker);
    }
  }

  @Test
  void noPartialBatchGoesBeforeFlushEvery() throws Exception {
    AtomicReference<Long> handedAt = new AtomicReference<>();
    try (BoundedWorker<Integer> worker =
        worker()
            .batchSize(10)
            .flushEvery(Duration.ofMillis(200))
            .handler(batch -> handedAt.set(System.nanoTime()))
            .build()) {
      long offeredAt = System.nanoTime();
      offer(worker, 0, 1);
      Await.until(WAIT, "the partial batch", () -> handedAt.get() != null);
      assertThat(handedAt.get() - offeredAt).isGreaterThanOrEqualTo(200_000_000L);
    }
  }

  @Test
  void theHandlerGetsAnUnmodifiableBatchOnTheWorkersThreadUnderItsTimeLimit() throws Exception {
    AtomicReference<String> thread = new AtomicReference<>();
    AtomicReference<Boolean> daemon = new AtomicReference<>();
    AtomicReference<Duration> left = new AtomicReference<>();
    List<List<Integer>> kept = new ArrayList<>();
    CountDownLatch done = new CountDownLatch(1);
    try (BoundedWorker<Integer> worker =
        BoundedWorker.<Integer>builder("activity-log")
            .capacity(10)
            .batchSize(2)
            .flushEvery(Duration.ofHours(1))
            .batchTimeLimit(Duration.ofSeconds(7))
            .handler(
                batch -> {
                  thread.set(Thread.currentThread().getName());
                  daemon.set(Thread.currentThread().isDaemon());
                  left.set(Deadline.current().orElseThrow().remaining());
                  kept.add(batch);
                  done.countDown();
                })
            .build()) {
      offer(worker, 0, 2);
      assertThat(done.await(WAIT.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS)).isTrue();
    }
    assertThat(thread).hasValue("bulwark-jobs-activity-log-1");
    assertThat(daemon).hasValue(true);
    assertThat(left.get()).isPositive().isLessThanOrEqualTo(Duration.ofSeconds(7));
    List<Integer> batch = kept.get(0);
    assertThat(batch).containsExactly(0, 1);
    assertThatThrownBy(() -> batch.add(2)).isInstanceOf(UnsupportedOperationException.class);
    assertThatThrownBy(() -> batch.set(0, 2)).isInstanceOf(UnsupportedOperationException.class);
    java.util.Iterator<Integer> items = batch.iterator();
    items.next();
    assertThatThrownBy(items::remove).isInstanceOf(UnsupportedOperationException.class);
    assertThat(Deadline.current()).isEmpty();
  }

  @Test
  void aBatchPastItsTimeLimitIsInterruptedAndDeadLettered() throws Exception {
    AtomicReference<Throwable> failure = new AtomicReference<>();
    List<List<Integer>> dead = new CopyOnWriteArrayList<>();
    try (BoundedWorker<Integer> worker =
        worker()
            .batchSize(2)
            .flushEvery(Duration.ofHours(1))
            .batchTimeLimit(Duration.ofMillis(100))
            .handler(batch -> Thread.sleep(60_000))
            .deadLetter(
                (batch, cause) -> {
                  failure.set(cause);
                  dead.add(batch);
                })
            .build()) {
      offer(worker, 0, 2);
      Await.until(WAIT, "the dead letter", () -> dead.size() == 1);
      assertThat(dead.get(0)).containsExactly(0, 1);
      assertThat(failure.get())
          .isInstanceOf(TimeoutExceededException.class)
          .hasMessageStartingWith("call exceeded its time limit of 100 ms after ")
          .hasCauseInstanceOf(InterruptedException.class);
      WorkerSnapshot now = worker.snapshot();
      assertThat(now.failedAttempts()).isEqualTo(1);
      assertThat(now.timedOutAttempts()).isEqualTo(1);
      assertThat(now.lastFailure()).startsWith("TimeoutExceededException: ");
      assertThat(assertBalanced(worker)).isEqualTo(new WorkerLedger(2, 0, 2, 0, 0, 0, 0));
    }
  }

  @Test
  void aTimeOutIsRetriedOnlyIfTheRetryNamesIt() throws Exception {
    assertThat(timedOutAttempts(Retry.builder("batches").retryOn(IOException.class))).isEqualTo(1);
    assertThat(
            timedOutAttempts(
                Retry.builder("batches")
                    .retryOn(IOException.class, TimeoutExceededException.class)))
        .isEqualTo(3);
  }

  /** The attempts of a batch that times out each time, its handler's interrupt an IOException. */
  private long timedOutAttempts(Retry.Builder retry) throws Exception {
    AtomicReference<Throwable> failure = new AtomicReference<>();
    CountDownLatch dead = new CountDownLatch(1);
    try (BoundedWorker<Integer> worker =
        worker()
            .batchSize(1)
            .batchTimeLimit(Duration.ofMillis(50))
            .retry(retry.maxAttempts(3).backoff(Duration.ofMillis(1), Duration.ofMillis(1)).build())
            .handler(
                batch -> {
                  try {
                    Thread.sleep(60_000);
                  } catch (InterruptedException e) {
                    throw new IOException("interrupted", e);
                  }
                })
            .deadLetter(
                (batch, cause) -> {
                  failure.set(cause);
                  dead.countDown();
                })
            .build()) {
      offer(worker, 0, 1);
      assertThat(dead.await(WAIT.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS)).isTrue();
      WorkerSnapshot now = worker.snapshot();
      assertThat(failure.get())
          .isInstanceOf(TimeoutExceededException.class)
          .hasMessageStartingWith("call exceeded its time limit of 50 ms after ")
          .hasCauseInstanceOf(IOException.class);
      assertThat(failure.get().getSuppressed()).hasSize((int) now.timedOutAttempts() - 1);
      assertThat(now.failedAttempts()).isEqualTo(now.timedOutAttempts());
      return now.timedOutAttempts();
    }
  }

  @Test
  void aFailedBatchIsRetriedThenDeadLetteredWithEveryFailure() throws Exception {
    AtomicInteger calls = new AtomicInteger();
    List<List<Integer>> seen = new CopyOnWriteArrayList<>();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    CountDownLatch dead = new CountDownLatch(1);
    Retry retry =
        Retry.builder("batches")
            .retryOn(IOException.class)
            .maxAttempts(3)
            .backoff(Duration.ofMillis(1), Duration.ofMillis(2))
            .build();
    try (BoundedWorker<Integer> worker =
        worker()
            .batchSize(2)
            .flushEvery(Duration.ofHours(1))
            .retry(retry)
            .handler(
                batch -> {
                  seen.add(batch);
                  throw new IOException("attempt " + calls.incrementAndGet());
                })
            .deadLetter(
                (batch, cause) -> {
                  failure.set(cause);
                  dead.countDown();
                })
            .build()) {
      offer(worker, 0, 2);
      assertThat(dead.await(WAIT.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS)).isTrue();
      assertThat(calls).hasValue(3);
      assertThat(seen).hasSize(3).allSatisfy(batch -> assertThat(batch).isSameAs(seen.get(0)));
      assertThat(failure.get()).isInstanceOf(IOException.class).hasMessage("attempt 3");
      assertThat(failure.get().getSuppressed())
          .extracting(Throwable::getMessage)
          .containsExactly("attempt 1", "attempt 2");
      WorkerSnapshot now = worker.snapshot();
      assertThat(now.failedAttempts()).isEqualTo(3);
      assertThat(now.lastFailure()).isEqualTo("IOException: attempt 3");
      Await.until(WAIT, "the dead letter counted", () -> now(worker).deadLettered() == 2);
      assertThat(assertBalanced(worker)).isEqualTo(new WorkerLedger(2, 0, 2, 0, 0, 0, 0));
    }
  }

  @Test
  void aBatchThatSucceedsOnARetryIsProcessed() throws Exception {
    AtomicInteger calls = new AtomicInteger();
    Retry retry =
        Retry.builder("batches")
            .retryOn(IOException.class)
            .backoff(Duration.ofMillis(1), Duration.ofMillis(1))
            .build();
    try (BoundedWorker<Integer> worker =
        worker()
            .batchSize(1)
            .retry(retry)
            .handler(
                batch -> {
                  if (calls.incrementAndGet() == 1) {
                    throw new IOException("once");
                  }
                  batches.add(batch);
                })
            .build()) {
      offer(worker, 0, 1);
      Await.until(WAIT, "the batch processed", () -> now(worker).processed() == 1);
      assertThat(batches).containsExactly(List.of(0));
      assertThat(worker.snapshot().failedAttempts()).isEqualTo(1);
      assertThat(assertBalanced(worker)).isEqualTo(new WorkerLedger(1, 1, 0, 0, 0, 0, 0));
    }
  }

  @Test
  void aFailingDeadLetterHandlerIsCountedAndTheWorkerGoesOn() throws Exception {
    try (BoundedWorker<Integer> worker =
        worker()
            .batchSize(1)
            .handler(
                batch -> {
                  if (batch.get(0) == 0) {
                    throw new IllegalStateException("bad item");
                  }
                  batches.add(batch);
                })
            .deadLetter(
                (batch, failure) -> {
                  throw new IOException("dead-letter table is gone");
                })
            .build()) {
      offer(worker, 0, 3);
      Await.until(WAIT, "the good items processed", () -> batches.size() == 2);
      WorkerSnapshot now = worker.snapshot();
      assertThat(now.callbackFailures()).isEqualTo(1);
      assertThat(now.lastFailure()).isEqualTo("IllegalStateException: bad item");
      assertThat(assertBalanced(worker)).isEqualTo(new WorkerLedger(3, 2, 1, 0, 0, 0, 0));
    }
  }

  @Test
  void withoutADeadLetterHandlerAFailedBatchIsCountedAndLogged() throws Exception {
    try (BoundedWorker<Integer> worker =
        worker()
            .batchSize(2)
            .handler(
                batch -> {
                  throw new SQLException(
                      "could not reach postgres://app:s3cr3t@db.internal:5432/shop?password=s3cr3t");
                })
            .build()) {
      offer(worker, 0, 4);
      Await.until(WAIT, "two dead letters", () -> now(worker).deadLettered() == 4);
      String failure = worker.snapshot().lastFailure();
      assertThat(failure)
          .isEqualTo(
              "SQLException: could not reach postgres://***@db.internal:5432/shop?password=***")
          .doesNotContain("s3cr3t");
      assertThat(assertBalanced(worker)).isEqualTo(new WorkerLedger(4, 0, 4, 0, 0, 0, 0));
    }
  }

  @Test
  void anErrorInTheHandlerFailsTheBatchOnly() throws Exception {
    try (BoundedWorker<Integer> worker =
        worker()
            .batchSize(1)
            .handler(
                batch -> {
                  if (batch.get(0) == 0) {
                    throw new AssertionError("broken");
                  }
                  batches.add(batch);
                })
            .build()) {
      offer(worker, 0, 2);
      Await.until(WAIT, "the second item processed", () -> batches.size() == 1);
      assertThat(worker.snapshot().state()).isEqualTo(WorkerState.RUNNING);
      Await.until(WAIT, "the first dead-lettered", () -> now(worker).deadLettered() == 1);
      assertBalanced(worker);
    }
  }

  /** An exception whose message cannot be read. */
  private static final class Unprintable extends RuntimeException {
    private static final long serialVersionUID = 1L;

    Unprintable(@Nullable Throwable cause) {
      super(null, cause);
    }

    @Override
    public String getMessage() {
      throw new IllegalStateException("no message");
    }
  }

  @Test
  void aFailureWhoseMessageThrowsFailsTheBatchOnly() throws Exception {
    AtomicInteger deadLetters = new AtomicInteger();
    try (BoundedWorker<Integer> worker =
        worker()
            .batchSize(1)
            .handler(
                batch -> {
                  if (batch.get(0) < 2) {
                    throw new Unprintable(batch.get(0) == 0 ? null : new Unprintable(null));
                  }
                  batches.add(batch);
                })
            .deadLetter(
                (batch, failure) -> {
                  deadLetters.incrementAndGet();
                  throw new Unprintable(null);
                })
            .build()) {
      offer(worker, 0, 3);
      Await.until(WAIT, "the third item processed", () -> batches.size() == 1);
      WorkerSnapshot now = worker.snapshot();
      assertThat(now.state()).isEqualTo(WorkerState.RUNNING);
      assertThat(now.lastFailure()).isEqualTo("Unprintable (caused by Unprintable)");
      assertThat(now.callbackFailures()).isEqualTo(2);
      assertThat(deadLetters).hasValue(2);
      assertThat(assertBalanced(worker)).isEqualTo(new WorkerLedger(3, 1, 2, 0, 0, 0, 0));
    }
    assertThat(BoundedWorker.describe(new Unprintable(null))).isEqualTo("Unprintable");
  }

  @Test
  void aFailureIsDescribedWithOnlyItsSecretsMasked() {
    assertThat(
            BoundedWorker.describe(
                new IllegalStateException(
                    "LogEntry@5e2de80c refused, login password=s3cr3t",
                    new SQLException("no route to postgres://app:s3cr3t@db:5432/shop"))))
        .isEqualTo(
            "IllegalStateException: LogEntry@5e2de80c refused, login password=*** (caused by"
                + " SQLException: no route to postgres://***@db:5432/shop)");
  }

  private static WorkerLedger now(BoundedWorker<?> worker) {
    return worker.snapshot().ledger();
  }
}

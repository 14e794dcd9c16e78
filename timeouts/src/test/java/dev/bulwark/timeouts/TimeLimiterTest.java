package dev.bulwark.timeouts;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class TimeLimiterTest {
  private final SimpleMeterRegistry registry = new SimpleMeterRegistry();

  /** The outcome is recorded just after the future completes: poll briefly for it. */
  private long awaitCount(String outcome, long expected) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    long seen = count(outcome);
    while (seen < expected && System.nanoTime() < deadline) {
      Thread.onSpinWait();
      seen = count(outcome);
    }
    return seen;
  }

  private long count(String outcome) {
    return registry
        .get("bulwark.timeouts.timelimiter.calls")
        .tag("name", "reports")
        .tag("outcome", outcome)
        .timer()
        .count();
  }

  @Test
  void callRunsOnTheCallersThreadAndRecordsOutcomes() {
    try (TimeLimiter limiter =
        TimeLimiter.builder("reports")
            .timeout(Duration.ofMillis(50))
            .meterRegistry(registry)
            .build()) {
      assertThat(limiter.call(() -> Thread.currentThread())).isSameAs(Thread.currentThread());
      assertThatThrownBy(
              () ->
                  limiter.call(
                      () -> {
                        Thread.sleep(30_000);
                        return null;
                      }))
          .isInstanceOf(TimeoutExceededException.class)
          .hasMessageStartingWith("time limiter reports: call exceeded its time limit of 50 ms")
          .satisfies(
              e -> assertThat(((TimeoutExceededException) e).limiterName()).contains("reports"));
      assertThatThrownBy(
              () ->
                  limiter.call(
                      () -> {
                        throw new IllegalStateException("boom");
                      }))
          .hasMessage("boom");
      assertThat(count("success")).isEqualTo(1);
      assertThat(count("timeout")).isEqualTo(1);
      assertThat(count("failure")).isEqualTo(1);
      assertThat(Thread.interrupted()).isFalse();
    }
  }

  @Test
  void submitRunsOnANamedPoolThread() throws Exception {
    try (TimeLimiter limiter = TimeLimiter.builder("reports").meterRegistry(registry).build()) {
      String thread =
          limiter.submit(() -> Thread.currentThread().getName()).get(10, TimeUnit.SECONDS);
      assertThat(thread).startsWith("bulwark-timeouts-reports-");
      assertThat(awaitCount("success", 1)).isEqualTo(1);
    }
  }

  @Test
  void atTheLimitTheFutureFailsAndTheWorkIsInterrupted() throws Exception {
    CountDownLatch interrupted = new CountDownLatch(1);
    try (TimeLimiter limiter =
        TimeLimiter.builder("reports")
            .timeout(Duration.ofMillis(100))
            .meterRegistry(registry)
            .build()) {
      CompletableFuture<String> f =
          limiter.submit(
              () -> {
                try {
                  Thread.sleep(30_000);
                  return "never";
                } catch (InterruptedException e) {
                  interrupted.countDown();
                  throw e;
                }
              });
      assertThatThrownBy(() -> f.get(10, TimeUnit.SECONDS))
          .isInstanceOf(ExecutionException.class)
          .cause()
          .isInstanceOf(TimeoutExceededException.class)
          .hasMessageStartingWith("time limiter reports: call exceeded its time limit of 100 ms");
      assertThat(interrupted.await(10, TimeUnit.SECONDS)).isTrue();
      assertThat(awaitCount("timeout", 1)).isEqualTo(1);
    }
  }

  @Test
  void theFutureFailsAtTheLimitEvenIfTheWorkIgnoresItsInterrupt() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    try (TimeLimiter limiter =
        TimeLimiter.builder("reports").timeout(Duration.ofMillis(50)).build()) {
      CompletableFuture<String> f =
          limiter.submit(
              () -> {
                while (true) {
                  try {
                    if (release.await(10, TimeUnit.SECONDS)) {
                      return "late";
                    }
                  } catch (InterruptedException ignored) {
                    // deaf to interrupts
                  }
                }
              });
      assertThatThrownBy(() -> f.get(10, TimeUnit.SECONDS))
          .hasCauseInstanceOf(TimeoutExceededException.class);
      release.countDown();
    }
  }

  @Test
  void cancellingTheFutureInterruptsTheWork() throws Exception {
    CountDownLatch started = new CountDownLatch(1);
    CountDownLatch interrupted = new CountDownLatch(1);
    try (TimeLimiter limiter = TimeLimiter.builder("reports").build()) {
      CompletableFuture<String> f =
          limiter.submit(
              () -> {
                started.countDown();
                try {
                  Thread.sleep(30_000);
                  return "never";
                } catch (InterruptedException e) {
                  interrupted.countDown();
                  throw e;
                }
              });
      assertThat(started.await(10, TimeUnit.SECONDS)).isTrue();
      assertThat(f.cancel(true)).isTrue();
      assertThatThrownBy(f::join).isInstanceOf(CancellationException.class);
      assertThat(interrupted.await(10, TimeUnit.SECONDS)).isTrue();
    }
  }

  @Test
  void aFullQueueRejectsInsteadOfGrowing() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    CountDownLatch started = new CountDownLatch(1);
    try (TimeLimiter limiter =
        TimeLimiter.builder("reports")
            .asyncThreads(1)
            .asyncQueueCapacity(1)
            .meterRegistry(registry)
            .build()) {
      CompletableFuture<Boolean> running =
          limiter.submit(
              () -> {
                started.countDown();
                return release.await(10, TimeUnit.SECONDS);
              });
      assertThat(started.await(10, TimeUnit.SECONDS)).isTrue();
      CompletableFuture<String> queued = limiter.submit(() -> "queued");
      CompletableFuture<String> rejected = limiter.submit(() -> "rejected");
      assertThatThrownBy(rejected::join).hasCauseInstanceOf(RejectedExecutionException.class);
      assertThat(count("rejected")).isEqualTo(1);
      TimeLimiter.Snapshot snapshot = limiter.snapshot();
      assertThat(snapshot.running()).isEqualTo(1);
      assertThat(snapshot.queued()).isEqualTo(1);
      assertThat(snapshot.queueCapacity()).isEqualTo(1);
      assertThat(snapshot.pending()).isEqualTo(2);
      release.countDown();
      assertThat(running.get(10, TimeUnit.SECONDS)).isTrue();
      assertThat(queued.get(10, TimeUnit.SECONDS)).isEqualTo("queued");
    }
  }

  @Test
  void submitCarriesAnEarlierOuterDeadline() throws Exception {
    AtomicReference<Deadline> seen = new AtomicReference<>();
    try (TimeLimiter limiter = TimeLimiter.builder("reports").build();
        Deadline.Scope scope = Deadline.after(Duration.ofSeconds(3)).enter()) {
      limiter
          .submit(
              ctx -> {
                seen.set(Deadline.current().orElseThrow());
                return null;
              })
          .get(10, TimeUnit.SECONDS);
      assertThat(seen.get().remaining()).isLessThanOrEqualTo(Duration.ofSeconds(3));
    }
  }

  @Test
  void closedLimiterRejectsSubmissions() {
    TimeLimiter limiter = TimeLimiter.builder("reports").build();
    limiter.close();
    assertThatThrownBy(() -> limiter.submit(() -> 1).join())
        .hasCauseInstanceOf(RejectedExecutionException.class);
    assertThat(limiter.call(() -> 2)).isEqualTo(2);
  }

  @Test
  void toStringShowsTheLimitToTheMicrosecond() {
    try (TimeLimiter whole = TimeLimiter.builder("reports").build();
        TimeLimiter fine = TimeLimiter.builder("fine").timeout(Duration.ofNanos(250_000)).build()) {
      assertThat(whole).hasToString("TimeLimiter[reports, 30000 ms]");
      assertThat(fine).hasToString("TimeLimiter[fine, 0.25 ms]");
    }
  }

  @Test
  void builderValidatesEachSetting() {
    assertThatThrownBy(() -> TimeLimiter.builder(" "))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("name must be 1 to 63 letters, digits, '.', '_' or '-', but was \" \"");
    assertThatThrownBy(() -> TimeLimiter.builder("reports\nINFO fake log line"))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> TimeLimiter.builder("watchdog"))
        .hasMessage(
            "name must not be watchdog or cancel (the shared threads' names), but was"
                + " \"watchdog\"");
    assertThatThrownBy(() -> TimeLimiter.builder("x").timeout(Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("timeout must be positive, but was 0 ms");
    assertThatThrownBy(() -> TimeLimiter.builder("x").asyncThreads(0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("asyncThreads must be between 1 and 1024, but was 0");
    assertThatThrownBy(() -> TimeLimiter.builder("x").asyncQueueCapacity(0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("asyncQueueCapacity must be between 1 and 1000000, but was 0");
    assertThatThrownBy(
            () ->
                TimeLimiter.builder("x")
                    .timeout(Duration.ofSeconds(1))
                    .timeout(Duration.ofSeconds(2)))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("timeout was already set to 1000 ms");
  }

  @Test
  void closeFailsPendingFuturesAtOnce() throws Exception {
    CountDownLatch started = new CountDownLatch(1);
    TimeLimiter limiter =
        TimeLimiter.builder("reports").timeout(Duration.ofMinutes(10)).asyncThreads(1).build();
    CompletableFuture<Boolean> running =
        limiter.submit(
            () -> {
              started.countDown();
              Thread.sleep(600_000);
              return true;
            });
    CompletableFuture<String> queued = limiter.submit(() -> "queued");
    assertThat(started.await(10, TimeUnit.SECONDS)).isTrue();
    limiter.close();
    assertThatThrownBy(() -> queued.get(10, TimeUnit.SECONDS))
        .hasCauseInstanceOf(RejectedExecutionException.class);
    assertThatThrownBy(() -> running.get(10, TimeUnit.SECONDS))
        .isInstanceOf(ExecutionException.class);
  }

  @Test
  void anExpiredQueuedCallFreesItsQueueSlot() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    try (TimeLimiter limiter =
        TimeLimiter.builder("reports")
            .timeout(Duration.ofMillis(100))
            .asyncThreads(1)
            .asyncQueueCapacity(1)
            .build()) {
      CompletableFuture<String> deaf =
          limiter.submit(
              () -> {
                while (true) {
                  try {
                    if (release.await(10, TimeUnit.SECONDS)) {
                      return "released";
                    }
                  } catch (InterruptedException ignored) {
                    // deaf to interrupts
                  }
                }
              });
      CompletableFuture<String> queued = limiter.submit(() -> "queued");
      assertThatThrownBy(() -> queued.get(10, TimeUnit.SECONDS))
          .hasCauseInstanceOf(TimeoutExceededException.class);
      assertThatThrownBy(() -> deaf.get(10, TimeUnit.SECONDS))
          .hasCauseInstanceOf(TimeoutExceededException.class);
      // The expired call left the queue: a new one is accepted, not rejected.
      CompletableFuture<String> next = limiter.submit(() -> "next");
      assertThat(next.isCompletedExceptionally() && !next.isCancelled())
          .as("rejected: %s", next)
          .isFalse();
      release.countDown();
    }
  }

  @Test
  void aFullQueueIsReportedWithTheLimitersName() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    CountDownLatch started = new CountDownLatch(1);
    try (TimeLimiter limiter =
        TimeLimiter.builder("reports").asyncThreads(1).asyncQueueCapacity(1).build()) {
      limiter.submit(
          () -> {
            started.countDown();
            return release.await(10, TimeUnit.SECONDS);
          });
      assertThat(started.await(10, TimeUnit.SECONDS)).isTrue();
      limiter.submit(() -> "queued");
      CompletableFuture<String> rejected = limiter.submit(() -> "rejected");
      assertThatThrownBy(rejected::join)
          .cause()
          .isInstanceOf(RejectedExecutionException.class)
          .hasMessage(
              "time limiter reports is full: 1 calls running and 1 queued"
                  + " (asyncThreads=1, asyncQueueCapacity=1)");
      release.countDown();
    }
  }

  @Test
  void cancellingARunningCallRunsItsHooks() throws Exception {
    CountDownLatch started = new CountDownLatch(1);
    CountDownLatch hook = new CountDownLatch(1);
    try (TimeLimiter limiter = TimeLimiter.builder("reports").build()) {
      CompletableFuture<String> f =
          limiter.submit(
              ctx -> {
                ctx.onTimeout(hook::countDown);
                started.countDown();
                while (true) {
                  try {
                    if (hook.await(10, TimeUnit.SECONDS)) {
                      return "released by the hook";
                    }
                  } catch (InterruptedException ignored) {
                    // deaf to interrupts: only the hook stops it
                  }
                }
              });
      assertThat(started.await(10, TimeUnit.SECONDS)).isTrue();
      f.cancel(true);
      // Far sooner than the 30 s limit.
      assertThat(hook.await(10, TimeUnit.SECONDS)).isTrue();
    }
  }

  /**
   * An idle limiter takes exactly threads + queue calls at once, however many of them its threads
   * have picked up yet, and rejects the next one with the counts that made it full.
   */
  @ParameterizedTest(name = "{0} threads, {1} queue slots, {2} rounds")
  @CsvSource({"1, 1, 1000", "3, 2, 300"})
  void anIdleLimiterTakesExactlyThreadsPlusQueueCalls(int threads, int queue, int rounds)
      throws Exception {
    int capacity = threads + queue;
    try (TimeLimiter limiter =
        TimeLimiter.builder("reports")
            .asyncThreads(threads)
            .asyncQueueCapacity(queue)
            .meterRegistry(registry)
            .build()) {
      for (int round = 1; round <= rounds; round++) {
        CountDownLatch release = new CountDownLatch(1);
        List<CompletableFuture<Boolean>> admitted = new ArrayList<>();
        for (int i = 0; i < capacity; i++) {
          admitted.add(limiter.submit(() -> release.await(10, TimeUnit.SECONDS)));
        }
        CompletableFuture<Boolean> extra =
            limiter.submit(() -> release.await(10, TimeUnit.SECONDS));
        for (CompletableFuture<Boolean> f : admitted) {
          assertThat(f.isDone()).as("round %d: %s", round, f).isFalse();
        }
        assertThat(extra.isCompletedExceptionally()).as("round %d", round).isTrue();
        Throwable rejection = catchThrowable(extra::join).getCause();
        assertThat(rejection).isInstanceOf(RejectedExecutionException.class);
        Matcher m =
            Pattern.compile(
                    "time limiter reports is full: (\\d+) calls running and (\\d+) queued"
                        + " \\(asyncThreads="
                        + threads
                        + ", asyncQueueCapacity="
                        + queue
                        + "\\)")
                .matcher(rejection.getMessage());
        assertThat(m.matches()).as("round %d: %s", round, rejection.getMessage()).isTrue();
        int running = Integer.parseInt(m.group(1));
        int queued = Integer.parseInt(m.group(2));
        assertThat(running).as("round %d", round).isBetween(0, threads);
        assertThat(running + queued).as("round %d", round).isEqualTo(capacity);
        TimeLimiter.Snapshot busy = limiter.snapshot();
        assertThat(busy.running() + busy.queued()).isEqualTo(capacity);
        release.countDown();
        for (CompletableFuture<Boolean> f : admitted) {
          assertThat(f.get(10, TimeUnit.SECONDS)).isTrue();
        }
        // The place is free before the future completes: the next round starts empty.
        TimeLimiter.Snapshot idle = limiter.snapshot();
        assertThat(idle.running() + idle.queued()).as("round %d", round).isZero();
      }
      assertThat(count("rejected")).isEqualTo(rounds);
      assertThat(awaitCount("success", (long) rounds * capacity))
          .isEqualTo((long) rounds * capacity);
    }
  }

  @Test
  void aCallPastItsLimitThatIgnoresItsInterruptKeepsItsPlaceUntilItReturns() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    try (TimeLimiter limiter =
        TimeLimiter.builder("reports")
            .timeout(Duration.ofSeconds(30))
            .asyncThreads(1)
            .asyncQueueCapacity(1)
            .build()) {
      CompletableFuture<String> deaf;
      try (Deadline.Scope scope = Deadline.after(Duration.ofMillis(50)).enter()) {
        deaf =
            limiter.submit(
                () -> {
                  while (true) {
                    try {
                      if (release.await(10, TimeUnit.SECONDS)) {
                        return "released";
                      }
                    } catch (InterruptedException ignored) {
                      // deaf to interrupts
                    }
                  }
                });
      }
      assertThatThrownBy(() -> deaf.get(10, TimeUnit.SECONDS))
          .hasCauseInstanceOf(TimeoutExceededException.class);
      // Its future failed, but its work still holds the only thread.
      assertThat(limiter.snapshot().running()).isEqualTo(1);
      CompletableFuture<String> queued = limiter.submit(() -> "queued");
      CompletableFuture<String> rejected = limiter.submit(() -> "rejected");
      assertThatThrownBy(rejected::join)
          .cause()
          .isInstanceOf(RejectedExecutionException.class)
          .hasMessage(
              "time limiter reports is full: 1 calls running and 1 queued"
                  + " (asyncThreads=1, asyncQueueCapacity=1)");
      release.countDown();
      assertThat(queued.get(10, TimeUnit.SECONDS)).isEqualTo("queued");
      assertThat(limiter.snapshot().running() + limiter.snapshot().queued()).isZero();
    }
  }

  @Test
  void cancellingAQueuedCallFreesItsPlaceAtOnce() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    CountDownLatch started = new CountDownLatch(1);
    try (TimeLimiter limiter =
        TimeLimiter.builder("reports").asyncThreads(1).asyncQueueCapacity(1).build()) {
      CompletableFuture<Boolean> running =
          limiter.submit(
              () -> {
                started.countDown();
                return release.await(10, TimeUnit.SECONDS);
              });
      assertThat(started.await(10, TimeUnit.SECONDS)).isTrue();
      CompletableFuture<String> queued = limiter.submit(() -> "never runs");
      assertThat(queued.cancel(true)).isTrue();
      assertThat(limiter.snapshot().queued()).isZero();
      CompletableFuture<String> next = limiter.submit(() -> "next");
      assertThat(next.isDone()).as("rejected: %s", next).isFalse();
      release.countDown();
      assertThat(running.get(10, TimeUnit.SECONDS)).isTrue();
      assertThat(next.get(10, TimeUnit.SECONDS)).isEqualTo("next");
    }
  }

  @Test
  void closeRunsTheCancelHooksOfRunningCalls() throws Exception {
    CountDownLatch started = new CountDownLatch(1);
    CountDownLatch hook = new CountDownLatch(1);
    TimeLimiter limiter = TimeLimiter.builder("reports").asyncThreads(1).build();
    CompletableFuture<String> running =
        limiter.submit(
            ctx -> {
              ctx.onTimeout(hook::countDown);
              started.countDown();
              while (true) {
                try {
                  if (hook.await(10, TimeUnit.SECONDS)) {
                    return "released by the hook";
                  }
                } catch (InterruptedException ignored) {
                  // deaf to interrupts: only the hook stops it
                }
              }
            });
    assertThat(started.await(10, TimeUnit.SECONDS)).isTrue();
    limiter.close();
    assertThatThrownBy(running::join)
        .cause()
        .isInstanceOf(RejectedExecutionException.class)
        .hasMessage("time limiter reports was closed");
    assertThat(hook.await(10, TimeUnit.SECONDS)).isTrue();
    assertThatThrownBy(() -> limiter.submit(() -> "late").join())
        .cause()
        .isInstanceOf(RejectedExecutionException.class)
        .hasMessage("time limiter reports is closed");
  }

  @Test
  void aSecondLimiterOfTheSameNameInOneRegistryIsRefused() {
    try (TimeLimiter first = TimeLimiter.builder("reports").meterRegistry(registry).build()) {
      assertThatThrownBy(() -> TimeLimiter.builder("reports").meterRegistry(registry).build())
          .isInstanceOf(IllegalStateException.class)
          .hasMessage(
              "meterRegistry already holds the meters of a time limiter named \"reports\": give"
                  + " each time limiter its own name");
      try (TimeLimiter other = TimeLimiter.builder("exports").meterRegistry(registry).build();
          TimeLimiter elsewhere =
              TimeLimiter.builder("reports").meterRegistry(new SimpleMeterRegistry()).build();
          TimeLimiter unmetered = TimeLimiter.builder("reports").build()) {
        assertThat(List.of(first, other, elsewhere, unmetered)).hasSize(4);
      }
    }
  }

  @Test
  void aSubmittedCallStoppedByTheSubmittersEarlierDeadlineSaysSo() throws Exception {
    try (TimeLimiter limiter =
            TimeLimiter.builder("exports").timeout(Duration.ofSeconds(30)).build();
        Deadline.Scope request = Deadline.after(Duration.ofMillis(100)).enter()) {
      CompletableFuture<String> f =
          limiter.submit(
              () -> {
                Thread.sleep(30_000);
                return "never";
              });
      assertThatThrownBy(() -> f.get(10, TimeUnit.SECONDS))
          .cause()
          .isInstanceOf(TimeoutExceededException.class)
          .hasMessageStartingWith("time limiter exports: call exceeded its deadline (")
          .satisfies(
              e -> assertThat(((TimeoutExceededException) e).limiterName()).contains("exports"));
    }
  }

  @Test
  void aSubmittedCallThatFailsOnceTheSubmittersDeadlinePassedTimesOutOnThatDeadline()
      throws Exception {
    FakeTicker ticker = new FakeTicker();
    IOException clientTimeout = new IOException("client timed out");
    try (TimeLimiter limiter =
            TimeLimiter.builder("reports")
                .timeout(Duration.ofHours(1))
                .meterRegistry(registry)
                .build();
        Deadline.Scope request = Deadline.after(Duration.ofMinutes(10), ticker).enter()) {
      // A client timeout clamped to the request's deadline gives up the moment it passes, before
      // the watchdog, which waits real time, fires.
      CompletableFuture<String> f =
          limiter.submit(
              () -> {
                ticker.advance(Duration.ofMinutes(10));
                throw clientTimeout;
              });
      Throwable failure = catchThrowable(() -> f.get(10, TimeUnit.SECONDS)).getCause();
      assertThat(failure)
          .isInstanceOf(TimeoutExceededException.class)
          .hasMessage(
              "time limiter reports: call exceeded its deadline (600000 ms left when it started)"
                  + " after 600000 ms")
          .hasCause(clientTimeout);
      TimeoutExceededException e = (TimeoutExceededException) failure;
      assertThat(e.outerDeadline()).isTrue();
      assertThat(e.limit()).isEqualTo(Duration.ofMinutes(10));
      assertThat(awaitCount("timeout", 1)).isEqualTo(1);
    }
  }

  @Test
  void aQueuedCallsElapsedTimeCountsFromItsSubmission() throws Exception {
    FakeTicker ticker = new FakeTicker();
    CountDownLatch started = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    IOException clientTimeout = new IOException("client timed out");
    try (TimeLimiter limiter =
        TimeLimiter.builder("reports").timeout(Duration.ofHours(1)).asyncThreads(1).build()) {
      CompletableFuture<Boolean> busy =
          limiter.submit(
              () -> {
                started.countDown();
                return release.await(10, TimeUnit.SECONDS);
              });
      assertThat(started.await(10, TimeUnit.SECONDS)).isTrue();
      CompletableFuture<String> queued;
      try (Deadline.Scope request = Deadline.after(Duration.ofMinutes(10), ticker).enter()) {
        queued =
            limiter.submit(
                () -> {
                  ticker.advance(Duration.ofMinutes(2));
                  throw clientTimeout;
                });
      }
      ticker.advance(Duration.ofMinutes(8)); // waiting for the one thread
      release.countDown();
      assertThat(busy.get(10, TimeUnit.SECONDS)).isTrue();
      Throwable failure = catchThrowable(() -> queued.get(10, TimeUnit.SECONDS)).getCause();
      assertThat(failure)
          .isInstanceOf(TimeoutExceededException.class)
          .hasMessage(
              "time limiter reports: call exceeded its deadline (600000 ms left when it started)"
                  + " after 600000 ms")
          .hasCause(clientTimeout);
      assertThat(((TimeoutExceededException) failure).elapsed()).isEqualTo(Duration.ofMinutes(10));
    }
  }

  @Test
  void aCallSubmittedOnceItsDeadlinePassedFailsAtOnceAsATimeout() {
    try (TimeLimiter limiter = TimeLimiter.builder("reports").meterRegistry(registry).build();
        Deadline.Scope request = Deadline.after(Duration.ZERO).enter()) {
      CompletableFuture<String> f = limiter.submit(() -> "never");

      // Failed before submit returned, not at the watchdog's next turn; never handed to the pool.
      assertThat(f).isCompletedExceptionally();
      assertThat(count("timeout")).isEqualTo(1);
      Throwable failure = catchThrowable(f::join).getCause();
      assertThat(failure)
          .isInstanceOf(TimeoutExceededException.class)
          .hasMessage(
              "time limiter reports: call exceeded its deadline (0 ms left when it started)"
                  + " after 0 ms")
          .hasNoCause();
      assertThat(((TimeoutExceededException) failure).outerDeadline()).isTrue();
      assertThat(limiter.snapshot())
          .isEqualTo(new TimeLimiter.Snapshot("reports", Duration.ofSeconds(30), 0, 0, 100, 0));
    }
  }

  private Timer timer(String name, String outcome) {
    return registry
        .get("bulwark.timeouts.timelimiter.calls")
        .tag("name", name)
        .tag("outcome", outcome)
        .timer();
  }

  @Test
  void aClosedLimitersNameCanBeBuiltAgainInTheSameRegistry() {
    TimeLimiter first = TimeLimiter.builder("reports").meterRegistry(registry).build();
    try (TimeLimiter other = TimeLimiter.builder("exports").meterRegistry(registry).build()) {
      Timer firstSuccess = timer("reports", "success");
      assertThat(first.call(() -> 1)).isEqualTo(1);

      first.close();

      assertThat(
              registry.find("bulwark.timeouts.timelimiter.calls").tag("name", "reports").meters())
          .isEmpty();
      // Only its own meters: another limiter's and the JVM's hook counts stay.
      assertThat(
              registry.find("bulwark.timeouts.timelimiter.calls").tag("name", "exports").timers())
          .hasSize(4);
      assertThat(registry.find("bulwark.timeouts.hooks").functionCounters()).hasSize(3);
      try (TimeLimiter second = TimeLimiter.builder("reports").meterRegistry(registry).build()) {
        assertThat(second.call(() -> 2)).isEqualTo(2);
        assertThat(count("success")).isEqualTo(1);
        // The closed limiter still runs calls on the caller's thread, counted apart.
        assertThat(first.call(() -> 3)).isEqualTo(3);
        assertThat(count("success")).isEqualTo(1);
        assertThat(firstSuccess.count()).isEqualTo(2);
        first.close(); // again: removes nothing of the second limiter's
        assertThat(timer("reports", "success")).isNotSameAs(firstSuccess);
        assertThat(
                registry.find("bulwark.timeouts.timelimiter.calls").tag("name", "reports").timers())
            .hasSize(4);
      }
    }
  }

  @Test
  void theFuturesThatCloseFailsAreCountedAsRejected() throws Exception {
    CountDownLatch started = new CountDownLatch(1);
    TimeLimiter limiter =
        TimeLimiter.builder("reports")
            .timeout(Duration.ofMinutes(10))
            .asyncThreads(1)
            .meterRegistry(registry)
            .build();
    // Close removes the meters from the registry; the meter itself keeps its count.
    Timer rejected = timer("reports", "rejected");
    CompletableFuture<Boolean> running =
        limiter.submit(
            () -> {
              started.countDown();
              Thread.sleep(600_000);
              return true;
            });
    CompletableFuture<String> queued = limiter.submit(() -> "queued");
    assertThat(started.await(10, TimeUnit.SECONDS)).isTrue();

    limiter.close();

    assertThat(running).isCompletedExceptionally();
    assertThat(queued).isCompletedExceptionally();
    assertThat(rejected.count()).isEqualTo(2);
    assertThat(limiter.submit(() -> "late")).isCompletedExceptionally();
    assertThat(rejected.count()).isEqualTo(3);
  }
}

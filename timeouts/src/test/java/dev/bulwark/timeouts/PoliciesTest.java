package dev.bulwark.timeouts;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.assertj.core.api.Assertions.fail;

import io.github.resilience4j.bulkhead.Bulkhead;
import io.github.resilience4j.bulkhead.BulkheadFullException;
import io.github.resilience4j.circuitbreaker.CallNotPermittedException;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class PoliciesTest {
  /** A limit this short must stop a call sleeping {@link #SLEEP} well before {@link #PROMPTLY}. */
  private static final Duration LIMIT = Duration.ofMillis(50);

  private static final long SLEEP = 5_000;
  private static final Duration PROMPTLY = Duration.ofSeconds(4);

  @AfterEach
  void noInterruptLeaks() {
    assertThat(Thread.interrupted()).as("interrupt status left behind").isFalse();
  }

  private static String sleepLong() throws InterruptedException {
    Thread.sleep(SLEEP);
    return "woke up";
  }

  @Test
  void buildWithNoPolicyIsAnIllegalState() {
    assertThatThrownBy(() -> Policies.builder().build())
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("Policies needs at least one policy, but none was given");
  }

  @Test
  void aTimeLimitIsGivenOnce() {
    assertThatThrownBy(() -> Policies.builder().timeLimit(LIMIT).timeLimit(LIMIT))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("timeLimit was already set to 50 ms");
    try (TimeLimiter limiter = TimeLimiter.builder("t").build()) {
      assertThatThrownBy(() -> Policies.builder().timeLimit(LIMIT).timeLimiter(limiter))
          .isInstanceOf(IllegalStateException.class)
          .hasMessage("timeLimit was already set to 50 ms");
      assertThatThrownBy(() -> Policies.builder().timeLimiter(limiter).timeLimit(LIMIT))
          .isInstanceOf(IllegalStateException.class)
          .hasMessage("timeLimit was already set to " + limiter);
      assertThatThrownBy(() -> Policies.builder().timeLimiter(limiter).timeLimiter(limiter))
          .isInstanceOf(IllegalStateException.class)
          .hasMessage("timeLimit was already set to " + limiter);
    }
    assertThatThrownBy(() -> Policies.builder().timeLimit(Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("timeLimit must be positive, but was 0 ms");
  }

  @Test
  void eachPolicyIsGivenOnce() {
    CircuitBreaker breaker = CircuitBreakers.builder("b").build();
    Bulkhead bulkhead = Bulkheads.builder("h").build();
    Retry retry = Retry.builder("r").build();

    assertThatThrownBy(() -> Policies.builder().circuitBreaker(breaker).circuitBreaker(breaker))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageStartingWith("circuitBreaker was already set to");
    assertThatThrownBy(() -> Policies.builder().bulkhead(bulkhead).bulkhead(bulkhead))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageStartingWith("bulkhead was already set to");
    assertThatThrownBy(() -> Policies.builder().retry(retry).retry(retry))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("retry was already set to Retry[r, maxAttempts=3]");
  }

  @Test
  void toStringWritesTheNestingOut() {
    Policies policies =
        Policies.builder()
            .timeLimit(LIMIT)
            .bulkhead(Bulkheads.builder("pool").build())
            .circuitBreaker(CircuitBreakers.builder("breaker").build())
            .retry(Retry.builder("retry").build())
            .build();

    assertThat(policies)
        .hasToString(
            "Policies[Retry[retry, maxAttempts=3] > CircuitBreaker[breaker] > Bulkhead[pool] >"
                + " TimeLimit[50 ms] > call]");

    assertThat(Policies.builder().timeLimit(Duration.ofNanos(250_000)).build())
        .hasToString("Policies[TimeLimit[0.25 ms] > call]");
  }

  @Test
  void aSuccessfulCallGoesThroughEveryPolicy() {
    CircuitBreaker breaker = CircuitBreakers.builder("ok").build();
    Bulkhead bulkhead = Bulkheads.builder("ok").maxConcurrentCalls(1).build();
    Policies policies =
        Policies.builder()
            .retry(Retry.builder("ok").build())
            .circuitBreaker(breaker)
            .bulkhead(bulkhead)
            .timeLimit(Duration.ofSeconds(30))
            .build();

    assertThat(
            policies.call(
                () -> {
                  assertThat(bulkhead.getMetrics().getAvailableConcurrentCalls()).isZero();
                  return "done";
                }))
        .isEqualTo("done");
    assertThat(breaker.getMetrics().getNumberOfSuccessfulCalls()).isEqualTo(1);
    assertThat(bulkhead.getMetrics().getAvailableConcurrentCalls()).isEqualTo(1);
  }

  @Test
  void checkedExceptionsPassThroughWithTheirStaticType() {
    Policies policies =
        Policies.builder().circuitBreaker(CircuitBreakers.builder("x").build()).build();

    try {
      policies.call(
          () -> {
            throw new IOException("x");
          });
      fail("expected an IOException");
    } catch (IOException e) { // compiles only if call(...) is declared to throw IOException
      assertThat(e).hasMessage("x");
    }
  }

  @Test
  void aTimedOutAttemptIsRecordedAsABreakerFailure() {
    CircuitBreaker breaker = CircuitBreakers.builder("slow").build();
    Policies policies = Policies.builder().circuitBreaker(breaker).timeLimit(LIMIT).build();

    long start = System.nanoTime();
    Throwable thrown = catchThrowable(() -> policies.call(PoliciesTest::sleepLong));
    Duration took = Duration.ofNanos(System.nanoTime() - start);

    assertThat(thrown)
        .isInstanceOf(TimeoutExceededException.class)
        .hasCauseInstanceOf(InterruptedException.class);
    assertThat(((TimeoutExceededException) thrown).limit()).isEqualTo(LIMIT);
    assertThat(took).isGreaterThanOrEqualTo(LIMIT).isLessThan(PROMPTLY);
    assertThat(Thread.currentThread().isInterrupted()).isFalse();
    assertThat(breaker.getMetrics().getNumberOfFailedCalls()).isEqualTo(1);
    assertThat(breaker.getMetrics().getNumberOfSuccessfulCalls()).isZero();
  }

  @Test
  void aRetryOnTimeoutsRetriesTimedOutAttemptsEachUnderItsOwnLimit() throws InterruptedException {
    CircuitBreaker breaker = CircuitBreakers.builder("flaky").build();
    Retry retry =
        Retry.builder("flaky")
            .retryOn(TimeoutExceededException.class)
            .maxAttempts(3)
            .sleeper(nanos -> {})
            .build();
    Policies policies =
        Policies.builder().retry(retry).circuitBreaker(breaker).timeLimit(LIMIT).build();
    List<Deadline> deadlines = new CopyOnWriteArrayList<>();

    long start = System.nanoTime();
    String result =
        policies.call(
            ctx -> {
              deadlines.add(ctx.deadline());
              assertThat(ctx.deadline().isExpired()).isFalse();
              if (deadlines.size() < 3) {
                return sleepLong();
              }
              return "third time lucky";
            });

    assertThat(result).isEqualTo("third time lucky");
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(PROMPTLY);
    assertThat(deadlines).hasSize(3).doesNotHaveDuplicates();
    assertThat(deadlines).allSatisfy(d -> assertThat(d.budget()).isEqualTo(LIMIT));
    assertThat(breaker.getMetrics().getNumberOfFailedCalls()).isEqualTo(2);
    assertThat(breaker.getMetrics().getNumberOfSuccessfulCalls()).isEqualTo(1);
  }

  @Test
  void aTimeoutIsNotRetriedUnlessNamed() {
    AtomicInteger attempts = new AtomicInteger();
    Policies policies =
        Policies.builder()
            .retry(Retry.builder("io-only").retryOn(IOException.class).sleeper(n -> {}).build())
            .timeLimit(LIMIT)
            .build();

    Throwable thrown =
        catchThrowable(
            () ->
                policies.call(
                    () -> {
                      attempts.incrementAndGet();
                      return sleepLong();
                    }));

    assertThat(thrown).isInstanceOf(TimeoutExceededException.class);
    assertThat(attempts).hasValue(1);
  }

  @Test
  void anOpenBreakerRejectsWithoutTakingABulkheadSlot() {
    CircuitBreaker breaker = CircuitBreakers.builder("open").build();
    Bulkhead bulkhead = Bulkheads.builder("open").maxConcurrentCalls(1).build();
    AtomicInteger bulkheadEvents = new AtomicInteger();
    bulkhead.getEventPublisher().onEvent(e -> bulkheadEvents.incrementAndGet());
    Policies policies = Policies.builder().circuitBreaker(breaker).bulkhead(bulkhead).build();
    AtomicInteger ran = new AtomicInteger();
    breaker.transitionToOpenState();

    assertThatThrownBy(() -> policies.call(ran::incrementAndGet))
        .isInstanceOf(CallNotPermittedException.class);

    assertThat(ran).hasValue(0);
    assertThat(bulkhead.getMetrics().getAvailableConcurrentCalls()).isEqualTo(1);
    assertThat(bulkheadEvents).hasValue(0);

    // Even with the bulkhead full, an open breaker answers first.
    bulkhead.acquirePermission();
    try {
      assertThatThrownBy(() -> policies.call(ran::incrementAndGet))
          .isInstanceOf(CallNotPermittedException.class);
    } finally {
      bulkhead.onComplete();
    }
    assertThat(ran).hasValue(0);
  }

  @Test
  void aFullBulkheadIsLocalOverloadNotABreakerFailure() {
    CircuitBreaker breaker = CircuitBreakers.builder("full").build();
    Bulkhead bulkhead = Bulkheads.builder("full").maxConcurrentCalls(1).build();
    Policies policies = Policies.builder().circuitBreaker(breaker).bulkhead(bulkhead).build();
    AtomicInteger ran = new AtomicInteger();

    bulkhead.acquirePermission(); // the only slot, as if another caller held it
    try {
      assertThatThrownBy(() -> policies.call(ran::incrementAndGet))
          .isInstanceOf(BulkheadFullException.class);
    } finally {
      bulkhead.onComplete();
    }

    assertThat(ran).hasValue(0);
    assertThat(breaker.getMetrics().getNumberOfFailedCalls()).isZero();
    assertThat(breaker.getMetrics().getNumberOfBufferedCalls()).isZero();
    assertThat(bulkhead.getMetrics().getAvailableConcurrentCalls()).isEqualTo(1);
  }

  @Test
  void aFailedCallGivesItsBulkheadSlotBack() {
    Bulkhead bulkhead = Bulkheads.builder("back").maxConcurrentCalls(1).build();
    Policies policies = Policies.builder().bulkhead(bulkhead).build();

    assertThatThrownBy(
            () ->
                policies.call(
                    () -> {
                      throw new IllegalStateException("boom");
                    }))
        .hasMessage("boom");

    assertThat(bulkhead.getMetrics().getAvailableConcurrentCalls()).isEqualTo(1);
  }

  @Test
  void aCancelHookRunsAtTheTimeout() throws InterruptedException {
    Policies policies = Policies.builder().timeLimit(LIMIT).build();
    CountDownLatch hookRan = new CountDownLatch(1);

    Throwable thrown =
        catchThrowable(
            () ->
                policies.call(
                    ctx -> {
                      ctx.onTimeout(hookRan::countDown);
                      return sleepLong();
                    }));

    assertThat(thrown).isInstanceOf(TimeoutExceededException.class);
    assertThat(hookRan.await(10, TimeUnit.SECONDS)).isTrue();
  }

  @Test
  void withoutATimeLimitTheCurrentDeadlineStopsTheAttempt() {
    CircuitBreaker breaker = CircuitBreakers.builder("deadline").build();
    Policies policies = Policies.builder().circuitBreaker(breaker).build();

    long start = System.nanoTime();
    Throwable thrown;
    try (Deadline.Scope scope = Deadline.after(LIMIT).enter()) {
      thrown = catchThrowable(() -> policies.call(PoliciesTest::sleepLong));
    }

    assertThat(thrown).isInstanceOf(TimeoutExceededException.class);
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(PROMPTLY);
    assertThat(breaker.getMetrics().getNumberOfFailedCalls()).isEqualTo(1);
  }

  @Test
  void anEarlierCurrentDeadlineShortensTheTimeLimit() {
    Policies policies = Policies.builder().timeLimit(Duration.ofSeconds(30)).build();

    long start = System.nanoTime();
    Throwable thrown;
    try (Deadline.Scope scope = Deadline.after(LIMIT).enter()) {
      thrown = catchThrowable(() -> policies.call(PoliciesTest::sleepLong));
    }

    assertThat(thrown).isInstanceOf(TimeoutExceededException.class);
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(PROMPTLY);
  }

  @Test
  void withNeitherLimitNorDeadlineTheCallRunsUnbounded() {
    Policies policies = Policies.builder().bulkhead(Bulkheads.builder("free").build()).build();

    boolean expired =
        policies.call(
            ctx -> {
              ctx.onTimeout(() -> {});
              return ctx.deadline().isExpired();
            });

    assertThat(expired).isFalse();
  }

  @Test
  void aTimeLimiterServesAsTheTimeLimit() {
    try (TimeLimiter limiter = TimeLimiter.builder("limiter").timeout(LIMIT).build()) {
      CircuitBreaker breaker = CircuitBreakers.builder("limiter").build();
      Policies policies = Policies.builder().circuitBreaker(breaker).timeLimiter(limiter).build();

      long start = System.nanoTime();
      Throwable thrown = catchThrowable(() -> policies.call(PoliciesTest::sleepLong));

      assertThat(thrown).isInstanceOf(TimeoutExceededException.class);
      assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(PROMPTLY);
      assertThat(breaker.getMetrics().getNumberOfFailedCalls()).isEqualTo(1);
    }
  }
}

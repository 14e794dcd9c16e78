package dev.bulwark.timeouts;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.assertj.core.api.Assertions.fail;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.sql.SQLException;
import java.sql.SQLTransientConnectionException;
import java.sql.SQLTransientException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class RetryTest {
  private static final long MS = 1_000_000L;

  private final FakeTicker ticker = new FakeTicker();
  private final List<Long> sleeps = new ArrayList<>();
  private final SimpleMeterRegistry registry = new SimpleMeterRegistry();

  /** Records each delay and lets that much fake time pass: no real sleeping. */
  private final Sleeper advancing =
      nanos -> {
        sleeps.add(nanos);
        ticker.advanceNanos(nanos);
      };

  /** A retry on the fake clock, with the delays jittered as usual unless a test says otherwise. */
  private Retry.Builder retry(String name) {
    return Retry.builder(name).ticker(ticker).sleeper(advancing).meterRegistry(registry);
  }

  private double count(String meter, String name) {
    return registry.get(meter).tag("name", name).counter().count();
  }

  private double outcome(String name, String outcome) {
    return registry
        .get("bulwark.timeouts.retry.calls")
        .tag("name", name)
        .tag("outcome", outcome)
        .counter()
        .count();
  }

  private static Call<String, IOException> failingTimes(int failures, AtomicInteger calls) {
    return () -> {
      int n = calls.incrementAndGet();
      if (n <= failures) {
        throw new IOException("attempt " + n);
      }
      return "ok after " + (n - 1) + " failures";
    };
  }

  @Test
  void succeedsAfterFailuresAndCountsAttemptsRetriesAndOutcome() throws IOException {
    Retry r = retry("db").retryOn(IOException.class).maxAttempts(4).build();
    AtomicInteger calls = new AtomicInteger();

    assertThat(r.call(failingTimes(2, calls))).isEqualTo("ok after 2 failures");

    assertThat(calls).hasValue(3);
    assertThat(sleeps).hasSize(2);
    assertThat(count("bulwark.timeouts.retry.attempts", "db")).isEqualTo(3.0);
    assertThat(count("bulwark.timeouts.retry.retries", "db")).isEqualTo(2.0);
    assertThat(outcome("db", "success_after_retry")).isEqualTo(1.0);
    assertThat(outcome("db", "success")).isZero();
    assertThat(outcome("db", "attempts_exhausted")).isZero();

    assertThat(r.call(() -> "first time")).isEqualTo("first time");
    assertThat(outcome("db", "success")).isEqualTo(1.0);
    assertThat(count("bulwark.timeouts.retry.attempts", "db")).isEqualTo(4.0);
    assertThat(count("bulwark.timeouts.retry.retries", "db")).isEqualTo(2.0);
  }

  @Test
  void registersEveryOutcomeTagUpFront() {
    retry("tags").build();

    assertThat(
            registry.get("bulwark.timeouts.retry.calls").tag("name", "tags").counters().stream()
                .map(c -> c.getId().getTag("outcome")))
        .containsExactlyInAnyOrder(
            "success",
            "success_after_retry",
            "not_retryable",
            "attempts_exhausted",
            "deadline_exhausted",
            "budget_exhausted",
            "interrupted");
  }

  @Test
  void retriesNothingByDefault() {
    Retry r = retry("defaults").build();
    IOException failure = new IOException("down");
    AtomicInteger calls = new AtomicInteger();

    Throwable thrown =
        catchThrowable(
            () ->
                r.call(
                    () -> {
                      calls.incrementAndGet();
                      throw failure;
                    }));

    assertThat(thrown).isSameAs(failure);
    assertThat(thrown.getSuppressed()).isEmpty();
    assertThat(calls).hasValue(1);
    assertThat(r.maxAttempts()).isEqualTo(Retry.DEFAULT_MAX_ATTEMPTS);
    assertThat(sleeps).isEmpty();
    assertThat(outcome("defaults", "not_retryable")).isEqualTo(1.0);
    assertThat(count("bulwark.timeouts.retry.attempts", "defaults")).isEqualTo(1.0);
    assertThat(count("bulwark.timeouts.retry.retries", "defaults")).isZero();
  }

  @Test
  void exhaustedThrowsTheLastFailureWithTheEarlierOnesSuppressed() {
    Retry r = retry("exhausted").retryOn(IOException.class).maxAttempts(3).build();
    AtomicInteger calls = new AtomicInteger();

    Throwable thrown = catchThrowable(() -> r.call(failingTimes(10, calls)));

    assertThat(thrown).isInstanceOf(IOException.class).hasMessage("attempt 3");
    assertThat(thrown.getSuppressed())
        .extracting(Throwable::getMessage)
        .containsExactly("attempt 1", "attempt 2");
    assertThat(calls).hasValue(3);
    assertThat(outcome("exhausted", "attempts_exhausted")).isEqualTo(1.0);
    assertThat(count("bulwark.timeouts.retry.attempts", "exhausted")).isEqualTo(3.0);
    assertThat(count("bulwark.timeouts.retry.retries", "exhausted")).isEqualTo(2.0);
  }

  @Test
  void theSameInstanceThrownEveryTimeIsNotSuppressedIntoItself() {
    Retry r = retry("same").retryOn(IOException.class).maxAttempts(3).build();
    IOException failure = new IOException("always the same");
    AtomicInteger calls = new AtomicInteger();

    Throwable thrown =
        catchThrowable(
            () ->
                r.call(
                    () -> {
                      calls.incrementAndGet();
                      throw failure;
                    }));

    assertThat(thrown).isSameAs(failure);
    assertThat(thrown.getSuppressed()).isEmpty();
    assertThat(calls).hasValue(3);
  }

  @Test
  void retryOnMatchesTheFailureOrACauseInItsChain() {
    Retry r = retry("chain").retryOn(SQLTransientException.class).maxAttempts(3).build();
    AtomicInteger calls = new AtomicInteger();

    String result =
        r.call(
            () -> {
              if (calls.incrementAndGet() == 1) {
                throw new IllegalStateException(
                    "wrapped", new RuntimeException(new SQLTransientConnectionException("reset")));
              }
              return "ok";
            });

    assertThat(result).isEqualTo("ok");
    assertThat(calls).hasValue(2);

    AtomicInteger other = new AtomicInteger();
    assertThatThrownBy(
            () ->
                r.call(
                    () -> {
                      other.incrementAndGet();
                      throw new IllegalStateException(new SQLException("constraint"));
                    }))
        .isInstanceOf(IllegalStateException.class);
    assertThat(other).hasValue(1);
    assertThat(outcome("chain", "not_retryable")).isEqualTo(1.0);
  }

  @Test
  void retryIfPredicateMarksFailuresRetryable() throws SQLException {
    Retry r =
        retry("serialization")
            .retryIf(e -> e instanceof SQLException s && "40001".equals(s.getSQLState()))
            .maxAttempts(5)
            .build();
    AtomicInteger calls = new AtomicInteger();

    String result =
        r.call(
            () -> {
              if (calls.incrementAndGet() < 3) {
                throw new SQLException("could not serialize access", "40001");
              }
              return "committed";
            });

    assertThat(result).isEqualTo("committed");
    assertThat(calls).hasValue(3);

    AtomicInteger duplicate = new AtomicInteger();
    Throwable thrown =
        catchThrowable(
            () ->
                r.call(
                    () -> {
                      duplicate.incrementAndGet();
                      throw new SQLException("duplicate key", "23505");
                    }));
    assertThat(thrown).isInstanceOf(SQLException.class).hasMessage("duplicate key");
    assertThat(duplicate).hasValue(1);
  }

  @Test
  void errorsAreNeverRetriedWhateverTheConfiguration() {
    Retry r = retry("errors").retryOn(Throwable.class).retryIf(t -> true).maxAttempts(5).build();
    AtomicInteger calls = new AtomicInteger();
    AssertionError error = new AssertionError("bug");

    Throwable thrown =
        catchThrowable(
            () ->
                r.call(
                    () -> {
                      calls.incrementAndGet();
                      throw error;
                    }));

    assertThat(thrown).isSameAs(error);
    assertThat(calls).hasValue(1);
    assertThat(outcome("errors", "not_retryable")).isEqualTo(1.0);
  }

  @Test
  void retryOnRejectsErrorTypes() {
    assertThatThrownBy(() -> Retry.builder("r").retryOn(Error.class))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("retryOn must name exceptions, not errors, but was java.lang.Error");
    assertThatThrownBy(() -> Retry.builder("r").retryOn(IOException.class, OutOfMemoryError.class))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("retryOn must name exceptions, not errors, but was java.lang.OutOfMemoryError");
  }

  @Test
  void withoutJitterTheDelaysDoubleFromTheInitialBackoffUpToTheCap() {
    Retry r =
        retry("backoff").retryOn(IOException.class).maxAttempts(10).jitter(cap -> cap).build();

    catchThrowable(() -> r.call(failingTimes(100, new AtomicInteger())));

    assertThat(sleeps)
        .containsExactly(
            100 * MS,
            200 * MS,
            400 * MS,
            800 * MS,
            1600 * MS,
            3200 * MS,
            6400 * MS,
            10_000 * MS,
            10_000 * MS);
  }

  @Test
  void customBackoffAndMultiplierAreCappedAtMaxBackoff() {
    Retry r =
        retry("custom")
            .retryOn(IOException.class)
            .maxAttempts(6)
            .backoff(Duration.ofMillis(50), Duration.ofSeconds(1))
            .multiplier(3)
            .jitter(cap -> cap)
            .build();

    catchThrowable(() -> r.call(failingTimes(100, new AtomicInteger())));

    assertThat(sleeps).containsExactly(50 * MS, 150 * MS, 450 * MS, 1000 * MS, 1000 * MS);
  }

  @Test
  void multiplierOneKeepsTheDelayCapConstant() {
    Retry r =
        retry("flat")
            .retryOn(IOException.class)
            .maxAttempts(4)
            .multiplier(1)
            .jitter(cap -> cap)
            .build();

    catchThrowable(() -> r.call(failingTimes(100, new AtomicInteger())));

    assertThat(sleeps).containsExactly(100 * MS, 100 * MS, 100 * MS);
  }

  @Test
  void defaultJitterIsFullJitterAppliedAfterTheCap() {
    Retry r = Retry.builder("jitter").build();
    long cap = Retry.DEFAULT_MAX_BACKOFF.toNanos();

    for (int retry = 1; retry <= 40; retry++) {
      long retryCap = Math.min(cap, 100 * MS << Math.min(retry - 1, 20));
      for (int i = 0; i < 50; i++) {
        assertThat(r.backoffNanos(retry)).as("retry %d", retry).isBetween(0L, retryCap);
      }
    }

    Set<Long> atCap = new HashSet<>();
    long min = Long.MAX_VALUE;
    long max = Long.MIN_VALUE;
    for (int i = 0; i < 1000; i++) {
      long delay = r.backoffNanos(30);
      atCap.add(delay);
      min = Math.min(min, delay);
      max = Math.max(max, delay);
    }
    // Every caller at the cap must not wake at the same time: the delays spread over [0, cap].
    assertThat(atCap).hasSizeGreaterThan(900);
    assertThat(min).isLessThan(cap / 4);
    assertThat(max).isGreaterThan(3 * cap / 4).isLessThanOrEqualTo(cap);
  }

  @Test
  void hugeRetryNumbersStayAtTheCap() {
    Retry r =
        retry("huge")
            .backoff(Duration.ofMillis(1), Duration.ofSeconds(5))
            .multiplier(100)
            .jitter(cap -> cap)
            .build();

    assertThat(r.backoffNanos(100)).isEqualTo(5_000 * MS);
    assertThat(r.backoffNanos(Integer.MAX_VALUE)).isEqualTo(5_000 * MS);
  }

  @Test
  void maxDurationStopsARetryThatWouldNotHaveItsMinimumAttemptTime() {
    Retry r =
        retry("bounded")
            .retryOn(IOException.class)
            .maxAttempts(10)
            .maxDuration(Duration.ofSeconds(1))
            .minAttemptTime(Duration.ofMillis(100))
            .jitter(cap -> cap)
            .build();
    AtomicInteger calls = new AtomicInteger();

    // Each attempt takes 100 ms. Before retry 3: 600 ms spent, 400 left, a 400 ms delay leaves 0.
    Throwable thrown =
        catchThrowable(
            () ->
                r.call(
                    () -> {
                      ticker.advance(Duration.ofMillis(100));
                      throw new IOException("attempt " + calls.incrementAndGet());
                    }));

    assertThat(thrown).hasMessage("attempt 3");
    assertThat(thrown.getSuppressed()).hasSize(2);
    assertThat(calls).hasValue(3);
    assertThat(sleeps).containsExactly(100 * MS, 200 * MS);
    assertThat(outcome("bounded", "deadline_exhausted")).isEqualTo(1.0);
    assertThat(outcome("bounded", "attempts_exhausted")).isZero();
  }

  @Test
  void aRetryStartsWhenExactlyMinAttemptTimeWouldRemain() {
    Retry r =
        retry("edge")
            .retryOn(IOException.class)
            .maxAttempts(10)
            .backoff(Duration.ofMillis(100), Duration.ofMillis(100))
            .maxDuration(Duration.ofMillis(300))
            .minAttemptTime(Duration.ofMillis(200))
            .jitter(cap -> cap)
            .build();
    AtomicInteger calls = new AtomicInteger();

    // Retry 1: 300 left - 100 delay = 200, enough. Retry 2: 200 left - 100 = 100, too little.
    catchThrowable(() -> r.call(failingTimes(100, calls)));

    assertThat(calls).hasValue(2);
    assertThat(outcome("edge", "deadline_exhausted")).isEqualTo(1.0);
  }

  @Test
  void theCurrentDeadlineBoundsTheRetriesToo() {
    Retry r =
        retry("deadline")
            .retryOn(IOException.class)
            .maxAttempts(10)
            .maxDuration(Duration.ofHours(1))
            .minAttemptTime(Duration.ofMillis(100))
            .jitter(cap -> cap)
            .build();
    AtomicInteger calls = new AtomicInteger();

    Throwable thrown;
    try (Deadline.Scope scope = Deadline.after(Duration.ofSeconds(1), ticker).enter()) {
      thrown =
          catchThrowable(
              () ->
                  r.call(
                      () -> {
                        ticker.advance(Duration.ofMillis(100));
                        throw new IOException("attempt " + calls.incrementAndGet());
                      }));
    }

    assertThat(thrown).hasMessage("attempt 3");
    assertThat(calls).hasValue(3);
    assertThat(sleeps).containsExactly(100 * MS, 200 * MS);
    assertThat(outcome("deadline", "deadline_exhausted")).isEqualTo(1.0);
  }

  @Test
  void anExpiredDeadlineAllowsNoAttempt() {
    Retry r = retry("expired").retryOn(IOException.class).maxAttempts(10).build();
    AtomicInteger calls = new AtomicInteger();

    try (Deadline.Scope scope = Deadline.after(Duration.ZERO, ticker).enter()) {
      assertThat(catchThrowable(() -> r.call(failingTimes(100, calls))))
          .isInstanceOf(TimeoutExceededException.class);
    }

    assertThat(calls).hasValue(0);
    assertThat(sleeps).isEmpty();
    assertThat(outcome("expired", "deadline_exhausted")).isEqualTo(1.0);
  }

  @Test
  void aBudgetKeepsDownstreamAttemptsWithinTenPercentOfCallsUnderFullFailure() {
    // The ticker never moves, so the budget's window never rolls and nothing is forgotten.
    RetryBudget budget =
        RetryBudget.builder("downstream").ratio(0.1).ticker(ticker).meterRegistry(registry).build();
    Retry r =
        Retry.builder("downstream")
            .retryOn(IOException.class)
            .maxAttempts(3)
            .budget(budget)
            .ticker(ticker)
            .sleeper(nanos -> {})
            .meterRegistry(registry)
            .build();
    AtomicInteger downstream = new AtomicInteger();
    int calls = 10_000;

    for (int i = 0; i < calls; i++) {
      Throwable thrown =
          catchThrowable(
              () ->
                  r.call(
                      () -> {
                        downstream.incrementAndGet();
                        throw new IOException("down");
                      }));
      assertThat(thrown).isInstanceOf(IOException.class);
    }

    assertThat((double) downstream.get() / calls).isLessThanOrEqualTo(1.1);
    assertThat(downstream.get()).isGreaterThan(calls);
    double budgetExhausted = outcome("downstream", "budget_exhausted");
    double attemptsExhausted = outcome("downstream", "attempts_exhausted");
    assertThat(budgetExhausted).isGreaterThan(0.9 * calls);
    assertThat(budgetExhausted + attemptsExhausted).isEqualTo(calls);
    assertThat(count("bulwark.timeouts.retry.attempts", "downstream")).isEqualTo(downstream.get());
    assertThat(count("bulwark.timeouts.retry.retries", "downstream"))
        .isEqualTo(downstream.get() - calls);
    assertThat(count("bulwark.timeouts.retry.budget.calls", "downstream")).isEqualTo(calls);
    assertThat(count("bulwark.timeouts.retry.budget.retries", "downstream"))
        .isEqualTo(downstream.get() - calls);
    assertThat(count("bulwark.timeouts.retry.budget.denied", "downstream"))
        .isEqualTo(budgetExhausted);
    assertThat(budget.snapshot().calls()).isEqualTo(calls);
  }

  @Test
  void anInterruptDuringTheBackoffStopsAndKeepsTheInterruptStatus() {
    InterruptedException interrupt = new InterruptedException("woken");
    AtomicInteger calls = new AtomicInteger();
    Retry r =
        Retry.builder("interrupted")
            .retryOn(IOException.class)
            .maxAttempts(5)
            .ticker(ticker)
            .sleeper(
                nanos -> {
                  if (calls.get() == 2) {
                    throw interrupt;
                  }
                })
            .meterRegistry(registry)
            .build();

    try {
      Throwable thrown = catchThrowable(() -> r.call(failingTimes(100, calls)));

      assertThat(Thread.currentThread().isInterrupted()).isTrue();
      assertThat(thrown).isInstanceOf(IOException.class).hasMessage("attempt 2");
      assertThat(thrown.getSuppressed()).contains(interrupt);
      assertThat(thrown.getSuppressed())
          .filteredOn(s -> s instanceof IOException)
          .extracting(Throwable::getMessage)
          .containsExactly("attempt 1");
      assertThat(calls).hasValue(2);
      assertThat(outcome("interrupted", "interrupted")).isEqualTo(1.0);
    } finally {
      Thread.interrupted();
    }
  }

  @Test
  void checkedExceptionsPassThroughWithTheirStaticType() {
    Retry r = retry("checked").retryOn(IOException.class).maxAttempts(2).build();

    try {
      r.call(
          () -> {
            throw new IOException("x");
          });
      fail("expected an IOException");
    } catch (IOException e) { // compiles only if call(...) is declared to throw IOException
      assertThat(e).hasMessage("x");
      assertThat(e.getSuppressed()).hasSize(1);
    }

    assertThat(callWithoutCheckedExceptions(r)).isEqualTo("no throws clause needed");
  }

  /** Compiles only if a call that throws nothing checked makes the retry throw nothing checked. */
  private static String callWithoutCheckedExceptions(Retry r) {
    return r.call(() -> "no throws clause needed");
  }

  @Test
  void uncheckedFailuresAreRetriedWhenNamed() {
    Retry r = retry("unchecked").retryOn(UncheckedIOException.class).maxAttempts(2).build();
    AtomicInteger calls = new AtomicInteger();

    String result =
        r.call(
            () -> {
              if (calls.incrementAndGet() == 1) {
                throw new UncheckedIOException(new IOException("reset"));
              }
              return "ok";
            });

    assertThat(result).isEqualTo("ok");
  }

  @Test
  void badValuesAreRejectedWithTheSettingTheRuleAndTheValue() {
    assertThatThrownBy(() -> Retry.builder("r").maxAttempts(0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("maxAttempts must be between 1 and 100, but was 0");
    assertThatThrownBy(() -> Retry.builder("r").maxAttempts(101))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("maxAttempts must be between 1 and 100, but was 101");
    assertThatThrownBy(() -> Retry.builder("r").backoff(Duration.ZERO, Duration.ofSeconds(1)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("initialBackoff must be positive, but was 0 ms");
    assertThatThrownBy(
            () -> Retry.builder("r").backoff(Duration.ofMillis(-5), Duration.ofSeconds(1)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("initialBackoff must be positive, but was -5 ms");
    assertThatThrownBy(() -> Retry.builder("r").backoff(Duration.ofSeconds(1), Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("maxBackoff must be positive, but was 0 ms");
    assertThatThrownBy(
            () -> Retry.builder("r").backoff(Duration.ofSeconds(1), Duration.ofMillis(500)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("maxBackoff must be at least initialBackoff (1000 ms), but was 500 ms");
    assertThatThrownBy(() -> Retry.builder("r").backoff(Duration.ofSeconds(1), Duration.ofDays(2)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("maxBackoff must be at most 1 day, but was 172800000 ms");
    assertThatThrownBy(() -> Retry.builder("r").maxDuration(Duration.ofMillis(5)).build())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("minAttemptTime must be shorter than maxDuration (5 ms), but was 10 ms");
    assertThatThrownBy(() -> Retry.builder("r").multiplier(0.5))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("multiplier must be between 1 and 100, but was 0.5");
    assertThatThrownBy(() -> Retry.builder("r").multiplier(Double.NaN))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("multiplier must be between 1 and 100, but was NaN");
    assertThatThrownBy(() -> Retry.builder("r").multiplier(101))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("multiplier must be between 1 and 100, but was 101.0");
    assertThatThrownBy(() -> Retry.builder("r").minAttemptTime(Duration.ofMillis(-1)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("minAttemptTime must not be negative, but was -1 ms");
    assertThatThrownBy(() -> Retry.builder("r").maxDuration(Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("maxDuration must be positive, but was 0 ms");
    assertThatThrownBy(() -> Retry.builder("r").maxDuration(Duration.ofNanos(-1)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("maxDuration must be positive, but was -1 ns");
  }

  @Test
  void aSettingGivenTwiceIsAnIllegalState() {
    assertThatThrownBy(() -> Retry.builder("r").maxAttempts(3).maxAttempts(4))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("maxAttempts was already set to 3");
    assertThatThrownBy(() -> Retry.builder("r").multiplier(2).multiplier(3))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("multiplier was already set to 2.0");
    assertThatThrownBy(() -> Retry.builder("r").retryIf(t -> true).retryIf(t -> false))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageStartingWith("retryIf was already set to ");
    Duration d = Duration.ofMillis(100);
    assertThatThrownBy(() -> Retry.builder("r").backoff(d, d).backoff(d, d))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("backoff was already set to 100 ms");
    assertThatThrownBy(() -> Retry.builder("r").maxDuration(d).maxDuration(d))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("maxDuration was already set to 100 ms");
    assertThatThrownBy(() -> Retry.builder("r").minAttemptTime(d).minAttemptTime(d))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("minAttemptTime was already set to 100 ms");
    RetryBudget budget = RetryBudget.builder("b").build();
    assertThatThrownBy(() -> Retry.builder("r").budget(budget).budget(budget))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("budget was already set to " + budget);
  }

  @Test
  void retryOnMayBeCalledMoreThanOnce() {
    Retry r =
        retry("twice")
            .retryOn(IOException.class)
            .retryOn(IllegalStateException.class)
            .maxAttempts(3)
            .build();
    AtomicInteger calls = new AtomicInteger();

    String result =
        r.call(
            () -> {
              int n = calls.incrementAndGet();
              if (n == 1) {
                throw new UncheckedIOException(new IOException("io"));
              }
              if (n == 2) {
                throw new IllegalStateException("state");
              }
              return "ok";
            });

    assertThat(result).isEqualTo("ok");
  }

  @Test
  void buildRejectsAMinAttemptTimeThatIsNotShorterThanMaxDuration() {
    assertThatThrownBy(
            () ->
                Retry.builder("r")
                    .minAttemptTime(Duration.ofSeconds(1))
                    .maxDuration(Duration.ofSeconds(1))
                    .build())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("minAttemptTime must be shorter than maxDuration (1000 ms), but was 1000 ms");
    assertThatThrownBy(
            () ->
                Retry.builder("r")
                    .maxDuration(Duration.ofMillis(500))
                    .minAttemptTime(Duration.ofSeconds(2))
                    .build())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("minAttemptTime must be shorter than maxDuration (500 ms), but was 2000 ms");
  }

  @Test
  void aBlankNameIsRejected() {
    assertThatThrownBy(() -> Retry.builder(" "))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("name must not be blank, but was \" \"");
    assertThatThrownBy(() -> Retry.builder(""))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("name must not be blank, but was \"\"");
  }

  @Test
  void toStringNamesTheRetryAndItsAttempts() {
    assertThat(Retry.builder("payments").maxAttempts(4).build())
        .hasToString("Retry[payments, maxAttempts=4]");
  }

  @Test
  void maxDurationIsTheDeadlineOfTheAttempts() {
    Retry r = Retry.builder("bounded").maxDuration(Duration.ofSeconds(1)).build();
    Deadline seen = r.call(() -> Deadline.current().orElseThrow());
    assertThat(seen.budget()).isEqualTo(Duration.ofSeconds(1));
    assertThat(Deadline.current()).isEmpty();
  }

  @Test
  void aSecondRetryOfTheSameNameInOneRegistryIsRefused() {
    Retry.builder("payments").meterRegistry(registry).build();

    assertThatThrownBy(() -> Retry.builder("payments").meterRegistry(registry).build())
        .isInstanceOf(IllegalStateException.class)
        .hasMessage(
            "meterRegistry already holds the meters of a retry named \"payments\": give each"
                + " retry its own name");
    // Another name, another registry, or no registry at all is fine.
    Retry.builder("orders").meterRegistry(registry).build();
    Retry.builder("payments").meterRegistry(new SimpleMeterRegistry()).build();
    Retry.builder("payments").build();
    // A budget of the same name has meters of its own.
    RetryBudget.builder("payments").meterRegistry(registry).build();
  }

  /**
   * What a user writes to test a backoff: a ticker and a sleeper of their own, the public API only.
   * The jitter is the real one, so each wait is checked against its cap, and the fake clock against
   * maxDuration.
   */
  @Test
  void aUsersTickerAndSleeperRunBackoffJitterAndMaxDurationWithoutRealWaiting() {
    long attemptNanos = 100 * MS;
    long maxDurationNanos = 3_000 * MS;
    long minAttemptNanos = 100 * MS;
    AtomicLong now = new AtomicLong(42 * MS);
    List<Long> waits = new ArrayList<>();
    Retry r =
        Retry.builder("user-backoff")
            .retryOn(IOException.class)
            .maxAttempts(100)
            .backoff(Duration.ofMillis(100), Duration.ofMillis(400))
            .maxDuration(Duration.ofNanos(maxDurationNanos))
            .minAttemptTime(Duration.ofNanos(minAttemptNanos))
            .ticker(now::get)
            .sleeper(
                nanos -> {
                  waits.add(nanos);
                  now.addAndGet(nanos);
                })
            .meterRegistry(registry)
            .build();

    long belowHalfTheCap = 0;
    int runs = 100;
    for (int run = 0; run < runs; run++) {
      waits.clear();
      long start = now.get();
      AtomicInteger attempts = new AtomicInteger();

      Throwable thrown =
          catchThrowable(
              () ->
                  r.call(
                      () -> {
                        now.addAndGet(attemptNanos);
                        throw new IOException("attempt " + attempts.incrementAndGet());
                      }));

      assertThat(thrown).hasMessage("attempt " + attempts.get());
      assertThat(thrown.getSuppressed()).hasSize(attempts.get() - 1);
      assertThat(waits).hasSize(attempts.get() - 1);
      for (int i = 0; i < waits.size(); i++) {
        long cap = Math.min(400 * MS, (100 * MS) << i);
        assertThat(waits.get(i)).as("run %d, wait %d", run, i + 1).isBetween(0L, cap);
        if (waits.get(i) < cap / 2) {
          belowHalfTheCap++;
        }
      }
      // Every wait went through the sleeper: the clock moved by the attempts and the waits only.
      long spent = now.get() - start;
      assertThat(spent)
          .isEqualTo(attempts.get() * attemptNanos + waits.stream().mapToLong(w -> w).sum());
      // A retry starts only with minAttemptTime left after its wait, so nothing ran past
      // maxDuration; and the retry stopped only when the next wait (at most the 400 ms cap) would
      // have left less than minAttemptTime.
      assertThat(spent).isLessThanOrEqualTo(maxDurationNanos);
      assertThat(maxDurationNanos - spent).isLessThan(minAttemptNanos + 400 * MS);
    }

    assertThat(outcome("user-backoff", "deadline_exhausted")).isEqualTo(runs);
    // Full jitter: waits spread below their caps instead of all waiting the cap.
    assertThat(belowHalfTheCap).isPositive();
  }

  @Test
  void tickerAndSleeperAreSetOnce() {
    Ticker ticker = () -> 0;
    Sleeper sleeper = nanos -> {};
    assertThatThrownBy(() -> Retry.builder("r").ticker(ticker).ticker(ticker))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("ticker was already set to " + ticker);
    assertThatThrownBy(() -> Retry.builder("r").sleeper(sleeper).sleeper(sleeper))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("sleeper was already set to " + sleeper);
    assertThatThrownBy(() -> Retry.builder("r").ticker(null))
        .isInstanceOf(NullPointerException.class)
        .hasMessage("ticker");
    assertThatThrownBy(() -> Retry.builder("r").sleeper(null))
        .isInstanceOf(NullPointerException.class)
        .hasMessage("sleeper");
  }
}

package dev.bulwark.timeouts;

import dev.bulwark.core.internal.Checks;
import dev.bulwark.core.internal.Meters;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.LongUnaryOperator;
import java.util.function.Predicate;
import org.jspecify.annotations.Nullable;

/**
 * Retries a call on the failures you name, with exponential backoff and full jitter, within a
 * number of attempts, a total time, the current {@link Deadline} and an optional {@link
 * RetryBudget}.
 *
 * <p>The delay before retry {@code n} (1-based) is a uniformly random time between zero and {@code
 * min(maxBackoff, initialBackoff * multiplier^(n-1))}: the cap is applied first and the jitter
 * after it, so callers that all reached the cap still spread out instead of waking together.
 *
 * <p>A retry happens only if every one of these holds, checked in this order:
 *
 * <ol>
 *   <li>the failure is retryable: an {@link Exception} (never an {@link Error}) that matches one of
 *       the {@linkplain Builder#retryOn types} or the {@linkplain Builder#retryIf predicate},
 *       itself or one of its causes; by default nothing is retryable;
 *   <li>attempts are left ({@code maxAttempts}, default 3);
 *   <li>after the delay, at least {@code minAttemptTime} would remain before the thread's current
 *       deadline, which {@code maxDuration} sets (or shortens) for the duration of the call;
 *   <li>the budget, if any, has room.
 * </ol>
 *
 * <p>{@code maxDuration}, when set, is the deadline of every attempt: a {@link Timeouts#within}, a
 * {@link Policies} time limit or a client helper inside an attempt is clamped to it. The first
 * attempt does not start, and {@link TimeoutExceededException} is thrown, when the current deadline
 * leaves less than {@code minAttemptTime}.
 *
 * <p>When a retry does not happen, the last failure is thrown as it is, with the earlier attempts'
 * failures added to it as suppressed exceptions: nothing is lost. An interrupt during the backoff
 * ends the retries at once, keeps the thread's interrupt status, and throws the last failure with
 * the {@link InterruptedException} suppressed.
 *
 * <p>Meters, when a registry is given, tagged {@code name}: counters {@code
 * bulwark.timeouts.retry.attempts} and {@code bulwark.timeouts.retry.retries}, and {@code
 * bulwark.timeouts.retry.calls} tagged {@code outcome}: {@code success}, {@code
 * success_after_retry}, {@code not_retryable}, {@code attempts_exhausted}, {@code
 * deadline_exhausted}, {@code budget_exhausted}, {@code interrupted}.
 *
 * <p>The retry reads its time from a {@link Ticker} and waits through a {@link Sleeper}, both
 * replaceable in the builder, so a test can run a retry with backoff, jitter and {@code
 * maxDuration} on a fake clock, without real waiting, and check each wait.
 *
 * <p>Immutable and thread-safe.
 */
public final class Retry {

  /** Default number of attempts, the first included: 3. */
  static final int DEFAULT_MAX_ATTEMPTS = 3;

  /** Default cap of the first backoff: 100 ms. */
  static final Duration DEFAULT_INITIAL_BACKOFF = Duration.ofMillis(100);

  /** Default cap of any backoff: 10 s. */
  static final Duration DEFAULT_MAX_BACKOFF = Duration.ofSeconds(10);

  /** Default growth of the backoff cap per retry: 2. */
  static final double DEFAULT_MULTIPLIER = 2.0;

  /** Default least time an attempt must have for it to start: 10 ms. */
  static final Duration DEFAULT_MIN_ATTEMPT_TIME = Duration.ofMillis(10);

  /** Longest backoff cap allowed: 1 day. */
  static final Duration MAX_BACKOFF_LIMIT = Duration.ofDays(1);

  /** Most attempts allowed: 100. */
  static final int MAX_ATTEMPTS_LIMIT = 100;

  private static final int CAUSE_DEPTH = 16;

  /** The meter every retry with a registry registers, by which a duplicate name is found. */
  private static final String ATTEMPTS_METER = "bulwark.timeouts.retry.attempts";

  /** Why a call ended, a tag value of {@code bulwark.timeouts.retry.calls}. */
  enum Outcome {
    SUCCESS,
    SUCCESS_AFTER_RETRY,
    NOT_RETRYABLE,
    ATTEMPTS_EXHAUSTED,
    DEADLINE_EXHAUSTED,
    BUDGET_EXHAUSTED,
    INTERRUPTED;

    String tag() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  private final String name;
  private final int maxAttempts;
  private final long initialBackoffNanos;
  private final long maxBackoffNanos;
  private final double multiplier;
  private final @Nullable Duration maxDuration;
  private final long minAttemptNanos;
  private final List<Class<? extends Throwable>> retryOn;
  private final @Nullable Predicate<Throwable> retryIf;
  private final @Nullable RetryBudget budget;
  private final Ticker ticker;
  private final Sleeper sleeper;
  private final LongUnaryOperator jitter;
  private final @Nullable Counter attempts;
  private final @Nullable Counter retries;
  private final Map<Outcome, Counter> outcomes = new EnumMap<>(Outcome.class);

  private Retry(Builder b) {
    this.name = b.name;
    this.maxAttempts = b.maxAttempts < 0 ? DEFAULT_MAX_ATTEMPTS : b.maxAttempts;
    Duration initial = b.initialBackoff == null ? DEFAULT_INITIAL_BACKOFF : b.initialBackoff;
    Duration max = b.maxBackoff == null ? DEFAULT_MAX_BACKOFF : b.maxBackoff;
    this.initialBackoffNanos = Checks.saturatedNanos(initial);
    this.maxBackoffNanos = Checks.saturatedNanos(max);
    this.multiplier = Double.isNaN(b.multiplier) ? DEFAULT_MULTIPLIER : b.multiplier;
    this.maxDuration = b.maxDuration;
    this.minAttemptNanos =
        Checks.saturatedNanos(
            b.minAttemptTime == null ? DEFAULT_MIN_ATTEMPT_TIME : b.minAttemptTime);
    this.retryOn = List.copyOf(b.retryOn);
    this.retryIf = b.retryIf;
    this.budget = b.budget;
    this.ticker = b.ticker;
    this.sleeper = b.sleeper;
    this.jitter = b.jitter;
    MeterRegistry registry = b.meterRegistry;
    if (registry != null) {
      attempts =
          Counter.builder(ATTEMPTS_METER)
              .description("Attempts made, first ones included")
              .tag(Meters.NAME_TAG, name)
              .register(registry);
      retries =
          Counter.builder("bulwark.timeouts.retry.retries")
              .description("Attempts after the first")
              .tag(Meters.NAME_TAG, name)
              .register(registry);
      for (Outcome outcome : Outcome.values()) {
        outcomes.put(
            outcome,
            Counter.builder("bulwark.timeouts.retry.calls")
                .description("Calls through the retry, by how they ended")
                .tag(Meters.NAME_TAG, name)
                .tag("outcome", outcome.tag())
                .register(registry));
      }
    } else {
      attempts = null;
      retries = null;
    }
  }

  /**
   * Returns a builder.
   *
   * @param name the retry's name, used in metrics; not blank
   * @return a new builder
   * @throws IllegalArgumentException if {@code name} is blank
   */
  public static Builder builder(String name) {
    return new Builder(name);
  }

  /** {@return the name} */
  public String name() {
    return name;
  }

  /** {@return the number of attempts, the first included} */
  public int maxAttempts() {
    return maxAttempts;
  }

  /**
   * Runs {@code call}, retrying it as configured.
   *
   * @param call the call
   * @param <T> the result type
   * @param <X> the checked exception the call may throw
   * @return what the first successful attempt returned
   * @throws X the last failure, with earlier ones suppressed, when no retry is left
   * @throws TimeoutExceededException if the current deadline leaves less than {@code
   *     minAttemptTime} before the first attempt
   */
  public <T, X extends Exception> T call(Call<T, X> call) throws X {
    Objects.requireNonNull(call, "call");
    if (maxDuration == null) {
      return attempts(call);
    }
    // maxDuration is the attempts' deadline: time limits and client helpers inside clamp to it.
    Deadline.Scope scope = Deadline.after(maxDuration, ticker).enter();
    try {
      return attempts(call);
    } finally {
      scope.close();
    }
  }

  private <T, X extends Exception> T attempts(Call<T, X> call) throws X {
    Deadline deadline = Deadline.currentOrNull();
    if (deadline != null && deadline.remainingNanos() < Math.max(1, minAttemptNanos)) {
      count(Outcome.DEADLINE_EXHAUSTED);
      throw new TimeoutExceededException(deadline.budget(), deadline.elapsed());
    }
    RetryBudget spend = budget;
    if (spend != null) {
      spend.recordCall();
    }
    List<Throwable> earlier = null;
    for (int attempt = 1; ; attempt++) {
      increment(attempts);
      if (attempt > 1) {
        increment(retries);
      }
      Throwable failure;
      try {
        T result = call.call();
        count(attempt == 1 ? Outcome.SUCCESS : Outcome.SUCCESS_AFTER_RETRY);
        return result;
      } catch (Throwable t) {
        failure = t;
      }
      Outcome stop = null;
      long delay = 0;
      if (!isRetryable(failure)) {
        stop = Outcome.NOT_RETRYABLE;
      } else if (attempt >= maxAttempts) {
        stop = Outcome.ATTEMPTS_EXHAUSTED;
      } else {
        delay = backoffNanos(attempt);
        if (deadline != null && deadline.remainingNanos() - delay < minAttemptNanos) {
          stop = Outcome.DEADLINE_EXHAUSTED;
        } else if (spend != null && !spend.tryAcquireRetry()) {
          stop = Outcome.BUDGET_EXHAUSTED;
        }
      }
      if (stop == null) {
        try {
          sleeper.sleep(delay);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          failure.addSuppressed(e);
          stop = Outcome.INTERRUPTED;
        }
      }
      if (stop != null) {
        count(stop);
        if (earlier != null) {
          suppress(failure, earlier);
        }
        throw TimeLimits.<X>rethrow(failure);
      }
      if (earlier == null) {
        earlier = new ArrayList<>(maxAttempts - 1);
      }
      earlier.add(failure);
    }
  }

  /** Attaches earlier failures once each: a cached exception thrown again is not piled up. */
  private static void suppress(Throwable failure, List<Throwable> earlier) {
    List<Throwable> already = Arrays.asList(failure.getSuppressed());
    for (Throwable previous : earlier) {
      if (previous != failure && !already.contains(previous)) {
        failure.addSuppressed(previous);
      }
    }
  }

  /** The delay before retry number {@code retry} (1-based): full jitter under the capped growth. */
  long backoffNanos(int retry) {
    double growth = initialBackoffNanos * Math.pow(multiplier, retry - 1);
    long cap = growth >= maxBackoffNanos ? maxBackoffNanos : (long) growth;
    return cap <= 0 ? 0 : jitter.applyAsLong(cap);
  }

  private boolean isRetryable(Throwable failure) {
    if (!(failure instanceof Exception)) {
      return false;
    }
    Throwable t = failure;
    for (int depth = 0; t != null && depth < CAUSE_DEPTH; depth++, t = t.getCause()) {
      for (Class<? extends Throwable> type : retryOn) {
        if (type.isInstance(t)) {
          return true;
        }
      }
      if (retryIf != null && retryIf.test(t)) {
        return true;
      }
    }
    return false;
  }

  private void count(Outcome outcome) {
    increment(outcomes.get(outcome));
  }

  private static void increment(@Nullable Counter counter) {
    if (counter != null) {
      counter.increment();
    }
  }

  @Override
  public String toString() {
    return "Retry[" + name + ", maxAttempts=" + maxAttempts + "]";
  }

  /** Configures a {@link Retry}. Each setting may be given once. Not thread-safe. */
  public static final class Builder {
    private final String name;
    private int maxAttempts = -1;
    private @Nullable Duration initialBackoff;
    private @Nullable Duration maxBackoff;
    private double multiplier = Double.NaN;
    private @Nullable Duration maxDuration;
    private @Nullable Duration minAttemptTime;
    private final List<Class<? extends Throwable>> retryOn = new ArrayList<>();
    private @Nullable Predicate<Throwable> retryIf;
    private @Nullable RetryBudget budget;
    private @Nullable MeterRegistry meterRegistry;
    private Ticker ticker = Ticker.system();
    private boolean tickerSet;
    private Sleeper sleeper = Sleeper.system();
    private boolean sleeperSet;
    private LongUnaryOperator jitter = cap -> ThreadLocalRandom.current().nextLong(cap + 1);

    private Builder(String name) {
      this.name = Checks.notBlank("name", name);
    }

    /**
     * Sets the number of attempts, the first included. Default: 3 attempts; 1 means no retry.
     *
     * @param maxAttempts between 1 and 100
     * @return this builder
     * @throws IllegalArgumentException if out of range
     * @throws IllegalStateException if already set
     */
    public Builder maxAttempts(int maxAttempts) {
      Checks.requireUnset("maxAttempts", this.maxAttempts >= 0, this.maxAttempts);
      this.maxAttempts = Checks.between("maxAttempts", maxAttempts, 1, MAX_ATTEMPTS_LIMIT);
      return this;
    }

    /**
     * Sets the backoff: the cap of the first delay, and the cap no delay exceeds. Defaults 100 ms
     * and 10 s. Each actual delay is random between zero and its cap.
     *
     * @param initial positive
     * @param max at least {@code initial}
     * @return this builder
     * @throws IllegalArgumentException if {@code initial} is not positive or {@code max} is shorter
     *     than {@code initial}
     * @throws IllegalStateException if already set
     */
    public Builder backoff(Duration initial, Duration max) {
      Checks.requireUnset("backoff", initialBackoff != null, initialBackoff);
      Checks.positive("initialBackoff", initial);
      Checks.positive("maxBackoff", max);
      if (max.compareTo(MAX_BACKOFF_LIMIT) > 0) {
        throw new IllegalArgumentException(
            Checks.format("maxBackoff must be at most 1 day, but was %s", Checks.duration(max)));
      }
      if (max.compareTo(initial) < 0) {
        throw new IllegalArgumentException(
            Checks.format(
                "maxBackoff must be at least initialBackoff (%s), but was %s",
                Checks.duration(initial), Checks.duration(max)));
      }
      this.initialBackoff = initial;
      this.maxBackoff = max;
      return this;
    }

    /**
     * Sets how much the delay cap grows per retry. Default: 2, the cap doubles.
     *
     * @param multiplier between 1 and 100; 1 keeps the cap constant
     * @return this builder
     * @throws IllegalArgumentException if out of range
     * @throws IllegalStateException if already set
     */
    public Builder multiplier(double multiplier) {
      Checks.requireUnset("multiplier", !Double.isNaN(this.multiplier), this.multiplier);
      if (!(multiplier >= 1 && multiplier <= 100)) {
        throw new IllegalArgumentException(
            Checks.format("multiplier must be between 1 and 100, but was %s", multiplier));
      }
      this.multiplier = multiplier;
      return this;
    }

    /**
     * Sets the most time all attempts and delays together may take, from the first attempt's start.
     * Default: none of its own, only the attempts and the current deadline bound it.
     *
     * @param maxDuration positive
     * @return this builder
     * @throws IllegalArgumentException if not positive
     * @throws IllegalStateException if already set
     */
    public Builder maxDuration(Duration maxDuration) {
      Checks.requireUnset("maxDuration", this.maxDuration != null, this.maxDuration);
      this.maxDuration = Checks.positive("maxDuration", maxDuration);
      return this;
    }

    /**
     * Sets the least time an attempt must have left, after its delay, for it to start: a retry that
     * could not finish anyway is not sent. Default 10 ms.
     *
     * @param minAttemptTime zero or more
     * @return this builder
     * @throws IllegalArgumentException if negative
     * @throws IllegalStateException if already set
     */
    public Builder minAttemptTime(Duration minAttemptTime) {
      Checks.requireUnset("minAttemptTime", this.minAttemptTime != null, this.minAttemptTime);
      this.minAttemptTime = Checks.notNegative("minAttemptTime", minAttemptTime);
      return this;
    }

    /**
     * Adds failure types to retry: a failure is retried if it, or one of its causes, is an instance
     * of one of them. Default: none. May be called more than once.
     *
     * @param types for example {@code IOException.class}; pgjdbc throws a plain {@code
     *     SQLException} for every server error, so for PostgreSQL use {@link #retryIf} with {@link
     *     RetryOn#postgresTransient()} instead of {@code SQLTransientException.class}
     * @return this builder
     * @throws IllegalArgumentException if a type is an {@link Error} (errors are never retried)
     */
    @SafeVarargs
    public final Builder retryOn(Class<? extends Throwable>... types) {
      for (Class<? extends Throwable> type : types) {
        Objects.requireNonNull(type, "type");
        if (Error.class.isAssignableFrom(type)) {
          throw new IllegalArgumentException(
              "retryOn must name exceptions, not errors, but was " + type.getName());
        }
        retryOn.add(type);
      }
      return this;
    }

    /**
     * Sets a predicate that marks failures as retryable, tested on the failure and its causes, in
     * addition to {@link #retryOn}. Default: none.
     *
     * @param predicate for example {@link RetryOn#postgresTransient()} or {@link
     *     RetryOn#redisTransient()}; combine several with {@link Predicate#or}
     * @return this builder
     * @throws IllegalStateException if already set
     */
    public Builder retryIf(Predicate<Throwable> predicate) {
      Checks.requireUnset("retryIf", retryIf != null, retryIf);
      this.retryIf = Objects.requireNonNull(predicate, "predicate");
      return this;
    }

    /**
     * Sets the budget retries are taken from; share one per dependency. Default: none.
     *
     * @param budget the budget
     * @return this builder
     * @throws IllegalStateException if already set
     */
    public Builder budget(RetryBudget budget) {
      Checks.requireUnset("budget", this.budget != null, this.budget);
      this.budget = Objects.requireNonNull(budget, "budget");
      return this;
    }

    /**
     * Registers the retry's meters in {@code registry}. Default: no meters.
     *
     * @param registry the registry
     * @return this builder
     * @throws IllegalStateException if already set
     */
    public Builder meterRegistry(MeterRegistry registry) {
      Checks.requireUnset("meterRegistry", meterRegistry != null, meterRegistry);
      this.meterRegistry = Objects.requireNonNull(registry, "registry");
      return this;
    }

    /**
     * Sets the clock of {@code maxDuration}: the attempts' deadline is measured on it, and so is
     * the check that a retry would still have {@code minAttemptTime} before that deadline. Default
     * {@link Ticker#system()}. A deadline the caller already had keeps reading its own ticker. To
     * test a backoff without real waiting, pass a ticker you advance and a {@link #sleeper} that
     * advances it.
     *
     * @param ticker the clock
     * @return this builder
     * @throws IllegalStateException if already set
     */
    public Builder ticker(Ticker ticker) {
      Checks.requireUnset("ticker", tickerSet, this.ticker);
      this.ticker = Objects.requireNonNull(ticker, "ticker");
      tickerSet = true;
      return this;
    }

    /**
     * Sets how the retry waits between attempts. Default {@link Sleeper#system()}, which parks the
     * thread. A test passes one that records the wait and advances its {@link #ticker} instead.
     *
     * @param sleeper the waits
     * @return this builder
     * @throws IllegalStateException if already set
     */
    public Builder sleeper(Sleeper sleeper) {
      Checks.requireUnset("sleeper", sleeperSet, this.sleeper);
      this.sleeper = Objects.requireNonNull(sleeper, "sleeper");
      sleeperSet = true;
      return this;
    }

    Builder jitter(LongUnaryOperator jitter) {
      this.jitter = jitter;
      return this;
    }

    /**
     * Builds the retry.
     *
     * @return a new retry
     * @throws IllegalArgumentException if {@code minAttemptTime} (10 ms unless set) is not shorter
     *     than {@code maxDuration}
     * @throws IllegalStateException if {@code meterRegistry} already holds the meters of a retry
     *     with this name: the two would count into each other's meters
     */
    public Retry build() {
      Duration minAttempt = minAttemptTime == null ? DEFAULT_MIN_ATTEMPT_TIME : minAttemptTime;
      if (maxDuration != null && minAttempt.compareTo(maxDuration) >= 0) {
        throw new IllegalArgumentException(
            Checks.format(
                "minAttemptTime must be shorter than maxDuration (%s), but was %s",
                Checks.duration(maxDuration), Checks.duration(minAttempt)));
      }
      if (meterRegistry != null) {
        Meters.requireUnused(meterRegistry, ATTEMPTS_METER, "retry", name, "name");
      }
      return new Retry(this);
    }
  }
}

package dev.bulwark.timeouts;

import dev.bulwark.core.internal.Checks;
import io.github.resilience4j.bulkhead.Bulkhead;
import io.github.resilience4j.bulkhead.BulkheadFullException;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import java.time.Duration;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * One entry point that runs a call through a retry, a circuit breaker, a bulkhead and a time limit,
 * in a fixed order:
 *
 * <pre>{@code Retry(CircuitBreaker(Bulkhead(TimeLimit(call))))}</pre>
 *
 * <ul>
 *   <li>the time limit is innermost, so each attempt gets its own limit, and a timed-out attempt
 *       counts as a failure in the breaker;
 *   <li>the bulkhead is inside the breaker, so an open breaker rejects without taking a slot; a
 *       full bulkhead is local overload, not a failure of the dependency, so its {@code
 *       BulkheadFullException} is not recorded by the breaker, which gets its permission back;
 *   <li>the retry is outermost, so it sees every rejection (breaker open, bulkhead full, timeout)
 *       and retries it only if told to ({@code retryOn(TimeoutExceededException.class)}, ...),
 *       within its attempts, budget and the current deadline.
 * </ul>
 *
 * <p>Any of the four may be left out. The order is not configurable: it is the one that works.
 *
 * <pre>{@code
 * Policies payments = Policies.builder()
 *     .retry(Retry.builder("payments").retryOn(IOException.class).budget(budget).build())
 *     .circuitBreaker(CircuitBreakers.builder("payments").build())
 *     .bulkhead(Bulkheads.builder("payments").maxConcurrentCalls(20).build())
 *     .timeLimit(Duration.ofSeconds(2))
 *     .build();
 * Receipt r = payments.call(() -> client.charge(order));
 * }</pre>
 *
 * <p>Immutable and thread-safe.
 */
public final class Policies {
  private final @Nullable Retry retry;
  private final @Nullable CircuitBreaker circuitBreaker;
  private final @Nullable Bulkhead bulkhead;
  private final @Nullable Duration timeLimit;
  private final @Nullable TimeLimiter timeLimiter;

  private Policies(Builder b) {
    this.retry = b.retry;
    this.circuitBreaker = b.circuitBreaker;
    this.bulkhead = b.bulkhead;
    this.timeLimit = b.timeLimit;
    this.timeLimiter = b.timeLimiter;
  }

  /**
   * Returns a builder.
   *
   * @return a new builder
   */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Runs {@code call} through the policies.
   *
   * @param call the call
   * @param <T> the result type
   * @param <X> the checked exception the call may throw
   * @return what the call returned
   * @throws X what the call threw, after the retry gave up
   * @throws TimeoutExceededException if an attempt ran past the time limit and was not retried
   */
  public <T, X extends Exception> T call(Call<T, X> call) throws X {
    Objects.requireNonNull(call, "call");
    return call(context -> call.call());
  }

  /**
   * Runs {@code call} through the policies; the call may register cancel hooks for its time limit.
   *
   * @param call the call
   * @param <T> the result type
   * @param <X> the checked exception the call may throw
   * @return what the call returned
   * @throws X what the call threw, after the retry gave up
   * @throws TimeoutExceededException if an attempt ran past the time limit and was not retried
   */
  public <T, X extends Exception> T call(CancellableCall<T, X> call) throws X {
    Objects.requireNonNull(call, "call");
    Call<T, X> attempt = () -> guarded(call);
    Retry r = retry;
    return r == null ? attempt.call() : r.call(attempt);
  }

  private <T, X extends Exception> T guarded(CancellableCall<T, X> call) throws X {
    CircuitBreaker breaker = circuitBreaker;
    if (breaker == null) {
      return bulkheaded(call);
    }
    breaker.acquirePermission();
    long start = breaker.getCurrentTimestamp();
    try {
      T result = bulkheaded(call);
      breaker.onResult(breaker.getCurrentTimestamp() - start, breaker.getTimestampUnit(), result);
      return result;
    } catch (BulkheadFullException e) {
      // Local overload, not a failure of the dependency: give the permission back unrecorded.
      breaker.releasePermission();
      throw e;
    } catch (Throwable t) {
      breaker.onError(breaker.getCurrentTimestamp() - start, breaker.getTimestampUnit(), t);
      throw t;
    }
  }

  private <T, X extends Exception> T bulkheaded(CancellableCall<T, X> call) throws X {
    Bulkhead b = bulkhead;
    if (b == null) {
      return limited(call);
    }
    b.acquirePermission();
    try {
      return limited(call);
    } finally {
      b.onComplete();
    }
  }

  private <T, X extends Exception> T limited(CancellableCall<T, X> call) throws X {
    if (timeLimiter != null) {
      return timeLimiter.call(call);
    }
    if (timeLimit != null) {
      return TimeLimits.run(Deadline.after(timeLimit), call);
    }
    Deadline current = Deadline.currentOrNull();
    if (current != null) {
      return TimeLimits.run(current, call);
    }
    return call.call(NoLimit.INSTANCE);
  }

  @Override
  public String toString() {
    StringBuilder s = new StringBuilder("Policies[");
    if (retry != null) {
      s.append(retry).append(" > ");
    }
    if (circuitBreaker != null) {
      s.append("CircuitBreaker[").append(circuitBreaker.getName()).append("] > ");
    }
    if (bulkhead != null) {
      s.append("Bulkhead[").append(bulkhead.getName()).append("] > ");
    }
    if (timeLimiter != null) {
      s.append(timeLimiter).append(" > ");
    } else if (timeLimit != null) {
      s.append("TimeLimit[").append(Checks.duration(timeLimit)).append("] > ");
    }
    return s.append("call]").toString();
  }

  /** The context of a call with no limit and no deadline: hooks can never fire. */
  private enum NoLimit implements TimeLimitContext {
    INSTANCE;

    @Override
    public Deadline deadline() {
      return Deadline.after(Duration.ofNanos(Long.MAX_VALUE));
    }

    @Override
    public void onTimeout(Hook hook) {
      Objects.requireNonNull(hook, "hook");
    }
  }

  /** Configures {@link Policies}. Each policy may be given once. Not thread-safe. */
  public static final class Builder {
    private @Nullable Retry retry;
    private @Nullable CircuitBreaker circuitBreaker;
    private @Nullable Bulkhead bulkhead;
    private @Nullable Duration timeLimit;
    private @Nullable TimeLimiter timeLimiter;

    private Builder() {}

    /**
     * Sets the outermost policy, the retry.
     *
     * @param retry the retry
     * @return this builder
     * @throws IllegalStateException if already set
     */
    public Builder retry(Retry retry) {
      Checks.requireUnset("retry", this.retry != null, this.retry);
      this.retry = Objects.requireNonNull(retry, "retry");
      return this;
    }

    /**
     * Sets the circuit breaker, inside the retry.
     *
     * @param circuitBreaker a Resilience4j breaker, for example from {@link CircuitBreakers}
     * @return this builder
     * @throws IllegalStateException if already set
     */
    public Builder circuitBreaker(CircuitBreaker circuitBreaker) {
      Checks.requireUnset("circuitBreaker", this.circuitBreaker != null, this.circuitBreaker);
      this.circuitBreaker = Objects.requireNonNull(circuitBreaker, "circuitBreaker");
      return this;
    }

    /**
     * Sets the bulkhead, inside the breaker.
     *
     * @param bulkhead a Resilience4j bulkhead, for example from {@link Bulkheads}
     * @return this builder
     * @throws IllegalStateException if already set
     */
    public Builder bulkhead(Bulkhead bulkhead) {
      Checks.requireUnset("bulkhead", this.bulkhead != null, this.bulkhead);
      this.bulkhead = Objects.requireNonNull(bulkhead, "bulkhead");
      return this;
    }

    /**
     * Sets the innermost policy, a time limit per attempt, on the caller's thread. Without one, an
     * attempt is still stopped at the thread's current deadline, if it has one.
     *
     * @param limit positive
     * @return this builder
     * @throws IllegalArgumentException if not positive
     * @throws IllegalStateException if a time limit or limiter is already set
     */
    public Builder timeLimit(Duration limit) {
      Checks.requireUnset("timeLimit", timeLimit != null || timeLimiter != null, timeLimitSet());
      this.timeLimit = Checks.positive("timeLimit", limit);
      return this;
    }

    /**
     * Sets the innermost policy as a named {@link TimeLimiter}, for its metrics.
     *
     * @param limiter the limiter; only its caller-thread {@code call} is used
     * @return this builder
     * @throws IllegalStateException if a time limit or limiter is already set
     */
    public Builder timeLimiter(TimeLimiter limiter) {
      Checks.requireUnset("timeLimit", timeLimit != null || timeLimiter != null, timeLimitSet());
      this.timeLimiter = Objects.requireNonNull(limiter, "limiter");
      return this;
    }

    private @Nullable Object timeLimitSet() {
      return timeLimit != null ? timeLimit : timeLimiter;
    }

    /**
     * Builds the composition.
     *
     * @return the policies
     * @throws IllegalStateException if no policy was given
     */
    public Policies build() {
      if (retry == null
          && circuitBreaker == null
          && bulkhead == null
          && timeLimit == null
          && timeLimiter == null) {
        throw new IllegalStateException("Policies needs at least one policy, but none was given");
      }
      return new Policies(this);
    }
  }
}

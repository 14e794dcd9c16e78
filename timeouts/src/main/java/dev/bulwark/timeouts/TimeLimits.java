package dev.bulwark.timeouts;

import java.time.Duration;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/**
 * The engine behind {@link Timeouts} and {@link TimeLimiter}: runs a call on the current thread.
 */
final class TimeLimits {
  private TimeLimits() {}

  /** The limits in force on this thread, innermost first, linked through their enclosing run. */
  private static final ThreadLocal<@Nullable LimitedRun> CURRENT_RUN = new ThreadLocal<>();

  /** Makes the exception of a run that timed out, from what the stopped call threw. */
  @FunctionalInterface
  interface Exceeded {
    TimeoutExceededException exceeded(@Nullable Throwable cause);
  }

  static <T, X extends Exception> T run(Deadline requested, CancellableCall<T, X> call) throws X {
    return run(requested, null, call);
  }

  /**
   * Runs {@code call} on the current thread under {@code requested}, or the thread's current
   * deadline if that is earlier. A timeout reports the limit the call was given: the requested one,
   * or what an earlier outer deadline had left when the call started; and the time from then.
   *
   * @param limiterName the name of the time limiter running the call, for its exception, or null
   */
  static <T, X extends Exception> T run(
      Deadline requested, @Nullable String limiterName, CancellableCall<T, X> call) throws X {
    try (Deadline.Scope scope = requested.enter()) {
      Deadline deadline = scope.deadline();
      Ticker ticker = deadline.ticker();
      long start = ticker.read();
      long left = deadline.remainingNanos();
      boolean own = deadline == requested;
      Duration limit = own ? requested.budget() : Duration.ofNanos(Math.max(0, left));
      if (left <= 0) {
        throw exceeded(limiterName, own, limit, Duration.ZERO, null);
      }
      return run(
          deadline,
          left,
          call,
          null,
          cause ->
              exceeded(limiterName, own, limit, Duration.ofNanos(ticker.read() - start), cause));
    }
  }

  /**
   * Runs a call that was submitted to a {@link TimeLimiter} on one of its pool threads. The
   * submitter chose {@code deadline}, and the limit to report and the start of the elapsed time are
   * the submission's, not this thread's, so {@code exceeded} makes the exception.
   *
   * @param started told of the run before the call starts, so it can be fired from outside; a run
   *     fired then does not start the call
   * @param exceeded makes the exception if the deadline passes, before or during the call
   */
  static <T, X extends Exception> T runSubmitted(
      Deadline deadline,
      CancellableCall<T, X> call,
      Consumer<LimitedRun> started,
      Exceeded exceeded)
      throws X {
    try (Deadline.Scope scope = deadline.enter()) {
      long left = scope.deadline().remainingNanos();
      if (left <= 0) {
        throw exceeded.exceeded(null);
      }
      return run(scope.deadline(), left, call, started, exceeded);
    }
  }

  /** Runs {@code call} under {@code deadline}, the thread's current one, which has time left. */
  // NullAway cannot see that result holds what the call returned whenever failure is null.
  @SuppressWarnings("NullAway")
  private static <T, X extends Exception> T run(
      Deadline deadline,
      long leftNanos,
      CancellableCall<T, X> call,
      @Nullable Consumer<LimitedRun> started,
      Exceeded exceeded)
      throws X {
    boolean interruptedBefore = Thread.currentThread().isInterrupted();
    LimitedRun enclosing = CURRENT_RUN.get();
    LimitedRun run = new LimitedRun(Thread.currentThread(), deadline, enclosing);
    CURRENT_RUN.set(run);
    T result = null;
    Throwable failure = null;
    try {
      if (started != null) {
        started.accept(run);
      }
      if (!run.fired()) { // fired from outside already: the call never starts
        run.arm(leftNanos);
        result = call.call(run);
      }
    } catch (Throwable t) {
      failure = t;
    } finally {
      if (enclosing == null) {
        CURRENT_RUN.remove();
      } else {
        CURRENT_RUN.set(enclosing);
      }
    }
    if (!run.finish(interruptedBefore, failure != null)) {
      throw exceeded.exceeded(failure);
    }
    if (failure != null) {
      throw TimeLimits.<X>rethrow(failure);
    }
    return result;
  }

  private static TimeoutExceededException exceeded(
      @Nullable String limiterName,
      boolean own,
      Duration limit,
      Duration elapsed,
      @Nullable Throwable cause) {
    return own
        ? TimeoutExceededException.limitExceeded(limiterName, limit, elapsed, cause)
        : TimeoutExceededException.deadlineExceeded(limiterName, limit, elapsed, cause);
  }

  /** Rethrows what a {@code Call<?, X>} threw: an unchecked exception, an error or an X. */
  // X is only returned so that callers can write "throw rethrow(t)"; they name it explicitly.
  @SuppressWarnings({"unchecked", "TypeParameterUnusedInFormals"})
  static <X extends Exception> X rethrow(Throwable failure) throws X {
    if (failure instanceof RuntimeException) {
      throw (RuntimeException) failure;
    }
    if (failure instanceof Error) {
      throw (Error) failure;
    }
    throw (X) failure;
  }
}

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

  static <T, X extends Exception> T run(Deadline requested, CancellableCall<T, X> call) throws X {
    return run(requested, null, call, null);
  }

  static <T, X extends Exception> T run(
      Deadline requested, CancellableCall<T, X> call, @Nullable Consumer<LimitedRun> started)
      throws X {
    return run(requested, null, call, started);
  }

  /**
   * Runs {@code call} on the current thread under {@code requested}, or the thread's current
   * deadline if that is earlier.
   *
   * @param limiterName the name of the time limiter running the call, for its exception, or null
   * @param started told of the run before the call starts, so it can be fired from outside
   */
  // NullAway cannot see that result holds what the call returned whenever failure is null.
  @SuppressWarnings("NullAway")
  static <T, X extends Exception> T run(
      Deadline requested,
      @Nullable String limiterName,
      CancellableCall<T, X> call,
      @Nullable Consumer<LimitedRun> started)
      throws X {
    try (Deadline.Scope scope = requested.enter()) {
      Deadline deadline = scope.deadline();
      long start = deadline.ticker().read();
      long left = deadline.remainingNanos();
      // Report the limit the call was given: the requested one, or what an earlier outer deadline
      // left of itself when the call started.
      boolean own = deadline == requested;
      Duration limit = own ? requested.budget() : Duration.ofNanos(left);
      if (left <= 0) {
        throw exceeded(limiterName, own, limit, Duration.ZERO, null);
      }
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
        run.arm(left);
        result = call.call(run);
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
        Duration elapsed = Duration.ofNanos(deadline.ticker().read() - start);
        throw exceeded(limiterName, own, limit, elapsed, failure);
      }
      if (failure != null) {
        throw TimeLimits.<X>rethrow(failure);
      }
      return result;
    }
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

package dev.bulwark.timeouts;

import java.time.Duration;

/**
 * The engine behind {@link Timeouts} and {@link TimeLimiter}: runs a call on the current thread.
 */
final class TimeLimits {
  private TimeLimits() {}

  /**
   * Runs {@code call} on the current thread under {@code requested}, or the thread's current
   * deadline if that is earlier.
   */
  static <T, X extends Exception> T run(Deadline requested, CancellableCall<T, X> call) throws X {
    try (Deadline.Scope scope = requested.enter()) {
      Deadline deadline = scope.deadline();
      long left = deadline.remainingNanos();
      if (left <= 0) {
        throw new TimeoutExceededException(limitOf(deadline), Duration.ZERO);
      }
      long start = deadline.ticker().read();
      boolean interruptedBefore = Thread.currentThread().isInterrupted();
      LimitedRun run = new LimitedRun(Thread.currentThread(), deadline);
      run.arm(left);
      T result = null;
      Throwable failure = null;
      try {
        result = call.call(run);
      } catch (Throwable t) {
        failure = t;
      }
      if (!run.finish(interruptedBefore)) {
        Duration elapsed = Duration.ofNanos(deadline.ticker().read() - start);
        throw new TimeoutExceededException(limitOf(deadline), elapsed, failure);
      }
      if (failure != null) {
        throw TimeLimits.<X>rethrow(failure);
      }
      return result;
    }
  }

  private static Duration limitOf(Deadline deadline) {
    return deadline.budget();
  }

  /** Rethrows what a {@code Call<?, X>} threw: an unchecked exception, an error or an X. */
  @SuppressWarnings("unchecked")
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

package dev.bulwark.timeouts;

/**
 * A call under a time limit that registers, through its {@link TimeLimitContext}, what to do when
 * it runs out of time: {@code ctx.onTimeout(statement::cancel)} for work that ignores interrupts.
 *
 * @param <T> the result type
 * @param <X> the checked exception the call may throw
 */
@FunctionalInterface
public interface CancellableCall<T, X extends Exception> {

  /**
   * Runs the call.
   *
   * @param context where to register cancel hooks, and the call's deadline
   * @return the result
   * @throws X if the call fails
   */
  T call(TimeLimitContext context) throws X;
}

package dev.bulwark.timeouts;

/**
 * What a call running under a time limit sees of it: its deadline, and a place to register cancel
 * hooks.
 *
 * <p>At the limit, the watchdog interrupts the calling thread and then runs the hooks, in the order
 * they were registered, on a small pool of {@code bulwark-timeouts-cancel-N} threads. Hooks are for
 * resources that ignore interrupts: a JDBC {@code Statement::cancel}, a socket's {@code close}. A
 * hook registered after the limit has fired runs at once. A hook that throws is logged and the rest
 * still run.
 *
 * <p>Thread-safe; valid only while the call runs.
 */
public interface TimeLimitContext {

  /**
   * {@return the deadline of the call: the earlier of its limit and the thread's outer deadline}
   */
  Deadline deadline();

  /**
   * Registers a hook to run if the call runs out of time. It never runs if the call finishes in
   * time.
   *
   * @param hook what to run, for example {@code statement::cancel}
   * @throws IllegalStateException if 16 hooks, the most one call may register, are already
   *     registered
   */
  void onTimeout(Hook hook);

  /** A cancel hook. */
  @FunctionalInterface
  interface Hook {
    /**
     * Cancels the resource.
     *
     * @throws Exception if it cannot; the failure is logged
     */
    void cancel() throws Exception;
  }
}

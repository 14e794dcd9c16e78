package dev.bulwark.testing;

import dev.bulwark.core.internal.Checks;
import java.time.Duration;
import java.util.Objects;

/**
 * Waits in a test for something that happens on another thread (a reconnect, a meter, a thread
 * reaching a lock) by polling a condition until it holds or a deadline passes, instead of a sleep
 * that guesses how long it takes.
 *
 * <pre>{@code
 * Await.until(Duration.ofSeconds(5), "reconnect", () -> connection.isOpen());
 * }</pre>
 *
 * <p>Stateless and thread-safe.
 */
public final class Await {
  private static final long POLL_MILLIS = 5;

  private Await() {}

  /** A condition to wait for; what it throws ends the wait. */
  @FunctionalInterface
  public interface Condition {
    /**
     * Checks the condition once.
     *
     * @return true once it holds
     * @throws Exception to end the wait with this failure
     */
    boolean holds() throws Exception;
  }

  /**
   * Checks {@code condition} every 5 ms, from the calling thread, until it holds.
   *
   * @param timeout how long to wait, more than zero
   * @param what what is awaited, for the failure's message
   * @param condition the condition; it runs at least once, even if the timeout is short
   * @throws AssertionError {@code "no <what> within <timeout>"} if it does not hold in time
   * @throws InterruptedException if the thread is interrupted while it waits
   * @throws Exception what the condition threw
   * @throws IllegalArgumentException if {@code timeout} is zero or negative
   */
  public static void until(Duration timeout, String what, Condition condition) throws Exception {
    Checks.positive("timeout", Objects.requireNonNull(timeout, "timeout"));
    Objects.requireNonNull(what, "what");
    Objects.requireNonNull(condition, "condition");
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!condition.holds()) {
      if (System.nanoTime() - deadline > 0) {
        throw new AssertionError("no " + what + " within " + Checks.duration(timeout));
      }
      Thread.sleep(POLL_MILLIS);
    }
  }
}

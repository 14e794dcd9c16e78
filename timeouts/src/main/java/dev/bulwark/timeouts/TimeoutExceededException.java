package dev.bulwark.timeouts;

import java.time.Duration;
import org.jspecify.annotations.Nullable;

/**
 * Thrown when a call runs past its time limit or deadline. It carries the limit and the time the
 * call had taken when it was stopped; its cause, if any, is what the stopped call threw (an {@link
 * InterruptedException}, a cancelled statement's {@code SQLException}, ...).
 */
public final class TimeoutExceededException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** The time limit that was exceeded. */
  private final Duration limit;

  /** The time the call had taken when it was stopped. */
  private final Duration elapsed;

  /**
   * Creates the exception.
   *
   * @param limit the time limit or deadline budget that was exceeded
   * @param elapsed the time the call had taken
   */
  public TimeoutExceededException(Duration limit, Duration elapsed) {
    this(limit, elapsed, null);
  }

  /**
   * Creates the exception with the failure of the stopped call.
   *
   * @param limit the time limit or deadline budget that was exceeded
   * @param elapsed the time the call had taken
   * @param cause what the stopped call threw, or null
   */
  public TimeoutExceededException(Duration limit, Duration elapsed, @Nullable Throwable cause) {
    super(
        "call exceeded its time limit of "
            + limit.toMillis()
            + " ms after "
            + elapsed.toMillis()
            + " ms",
        cause);
    this.limit = limit;
    this.elapsed = elapsed;
  }

  /** {@return the time limit that was exceeded} */
  public Duration limit() {
    return limit;
  }

  /** {@return the time the call had taken when it was stopped} */
  public Duration elapsed() {
    return elapsed;
  }
}

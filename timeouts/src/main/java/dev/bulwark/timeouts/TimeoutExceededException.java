package dev.bulwark.timeouts;

import dev.bulwark.core.internal.Checks;
import java.time.Duration;
import java.time.temporal.ChronoUnit;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * Thrown when a call runs past its time limit or deadline. It carries the limit, the time the call
 * had taken when it was stopped and, for a {@link TimeLimiter}, the limiter's name; its cause, if
 * any, is what the stopped call threw (an {@link InterruptedException}, a cancelled statement's
 * {@code SQLException}, a client's own timeout exception, ...).
 *
 * <p>A limited call ({@link Timeouts#within}, {@link TimeLimiter}, {@link Policies}) that fails
 * once its deadline has passed always fails with this exception, the call's failure as its cause:
 * whether the watchdog fired first or a client timeout clamped to the deadline did, the caller sees
 * one type.
 *
 * <p>The message names what ran out, its durations in milliseconds to the microsecond ({@code 0.25
 * ms}), or in nanoseconds below one:
 *
 * <ul>
 *   <li>{@code call exceeded its time limit of 200 ms after 201 ms}: the call's own limit;
 *   <li>{@code call exceeded its deadline (87 ms left when it started) after 88 ms}: an earlier
 *       outer deadline, which left the call less than its own limit;
 *   <li>either, prefixed with {@code time limiter payments: } when a {@link TimeLimiter} ran the
 *       call.
 * </ul>
 *
 * <p>Instances are made by this package only.
 */
public final class TimeoutExceededException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** The time limit that was exceeded. */
  private final Duration limit;

  /** The time the call had taken when it was stopped. */
  private final Duration elapsed;

  /** The name of the time limiter that ran the call, or null. */
  private final @Nullable String limiterName;

  /** Whether an earlier outer deadline, not the call's own limit, ran out. */
  private final boolean outerDeadline;

  /**
   * Creates the exception for a call's own limit, or a deadline's budget, without a cause.
   *
   * @param limit the time limit or deadline budget that was exceeded
   * @param elapsed the time the call had taken
   */
  TimeoutExceededException(Duration limit, Duration elapsed) {
    this(limit, elapsed, null);
  }

  /**
   * Creates the exception for a call's own limit, or a deadline's budget, with the failure of the
   * stopped call.
   *
   * @param limit the time limit or deadline budget that was exceeded
   * @param elapsed the time the call had taken
   * @param cause what the stopped call threw, or null
   */
  TimeoutExceededException(Duration limit, Duration elapsed, @Nullable Throwable cause) {
    this(null, false, limit, elapsed, cause);
  }

  private TimeoutExceededException(
      @Nullable String limiterName,
      boolean outerDeadline,
      Duration limit,
      Duration elapsed,
      @Nullable Throwable cause) {
    super(message(limiterName, outerDeadline, limit, elapsed), cause);
    this.limit = limit;
    this.elapsed = elapsed;
    this.limiterName = limiterName;
    this.outerDeadline = outerDeadline;
  }

  /**
   * Returns the exception for a call that ran past its own time limit.
   *
   * @param limiterName the name of the time limiter that ran the call, or null for an anonymous
   *     limit ({@link Timeouts#within}, {@link Policies})
   * @param limit the call's limit
   * @param elapsed the time the call had taken
   * @param cause what the stopped call threw, or null
   * @return the exception, to throw
   */
  static TimeoutExceededException limitExceeded(
      @Nullable String limiterName, Duration limit, Duration elapsed, @Nullable Throwable cause) {
    return new TimeoutExceededException(limiterName, false, limit, elapsed, cause);
  }

  /**
   * Returns the exception for a call stopped by an outer deadline that came before its own limit.
   *
   * @param limiterName the name of the time limiter that ran the call, or null for an anonymous
   *     limit
   * @param left what the outer deadline had left when the call started
   * @param elapsed the time the call had taken
   * @param cause what the stopped call threw, or null
   * @return the exception, to throw
   */
  static TimeoutExceededException deadlineExceeded(
      @Nullable String limiterName, Duration left, Duration elapsed, @Nullable Throwable cause) {
    return new TimeoutExceededException(limiterName, true, left, elapsed, cause);
  }

  /**
   * Returns this time-out without its cause: the same message, limit, elapsed time, limiter name
   * and stack trace, no cause and nothing suppressed. For a caller that classifies the time-out
   * itself, apart from what the stopped call threw: a {@link Retry} walks a failure's causes, so
   * {@code retryOn(IOException.class)} retries a time-out whose stopped call threw an {@code
   * IOException} on its interrupt; handed this copy, it retries the time-out only if it names
   * {@code TimeoutExceededException}.
   *
   * @return a new exception
   */
  public TimeoutExceededException withoutCause() {
    TimeoutExceededException copy =
        new TimeoutExceededException(limiterName, outerDeadline, limit, elapsed, null);
    copy.setStackTrace(getStackTrace());
    return copy;
  }

  private static String message(
      @Nullable String limiterName, boolean outerDeadline, Duration limit, Duration elapsed) {
    String prefix = limiterName == null ? "" : "time limiter " + limiterName + ": ";
    String what =
        outerDeadline
            ? "its deadline (" + shown(limit) + " left when it started)"
            : "its time limit of " + shown(limit);
    return prefix + "call exceeded " + what + " after " + shown(elapsed);
  }

  /**
   * A duration in the message: to the microsecond, since a nanosecond clock measured most of them,
   * or in nanoseconds below one microsecond, so that a limit that was not zero never shows as
   * {@code 0 ms}.
   */
  private static String shown(Duration value) {
    Duration micros = value.truncatedTo(ChronoUnit.MICROS);
    return Checks.duration(micros.isZero() ? value : micros);
  }

  /**
   * {@return the time the call had: its limit, a deadline's budget, or what an earlier outer
   * deadline left of itself when the call started}
   */
  public Duration limit() {
    return limit;
  }

  /**
   * Tells which limit ran out: an outer deadline (the thread's, or a submitter's for {@link
   * TimeLimiter#submit}) that was earlier than the call's own limit, or the call's own limit.
   *
   * @return true if an earlier outer deadline ran out, and {@link #limit()} is what it had left
   *     when the call started; false if the call's own limit, or a deadline's budget, ran out
   */
  public boolean outerDeadline() {
    return outerDeadline;
  }

  /** {@return the time the call had taken when it was stopped} */
  public Duration elapsed() {
    return elapsed;
  }

  /**
   * {@return the name of the {@link TimeLimiter} that ran the call, or empty for an anonymous limit
   * or a deadline}
   */
  public Optional<String> limiterName() {
    return Optional.ofNullable(limiterName);
  }
}

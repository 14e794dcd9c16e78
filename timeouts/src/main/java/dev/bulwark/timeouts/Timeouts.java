package dev.bulwark.timeouts;

import dev.bulwark.core.internal.Checks;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.util.Objects;

/**
 * Time limits that stop the work, on the caller's thread.
 *
 * <p>{@code Timeouts.within(limit, call)} runs {@code call} on the calling thread, so whatever is
 * bound to the thread (a JDBC transaction, the logging MDC, the current {@link Deadline}) stays
 * valid. While it runs, the call's deadline is the thread's {@linkplain Deadline#current() current
 * deadline}: the earlier of {@code limit} from now and any outer deadline, so the client helpers
 * inside it clamp their timeouts to it. One shared watchdog thread ({@code
 * bulwark-timeouts-watchdog-1}) fires at the limit: it interrupts the caller and runs the cancel
 * hooks the call registered through {@link TimeLimitContext#onTimeout}. The call then returns or
 * throws as the interrupt or the cancel makes it, and {@code within} throws {@link
 * TimeoutExceededException} with that failure as its cause.
 *
 * <p>A call that fails once its deadline has passed has timed out, whoever noticed first: a client
 * timeout clamped to the deadline ({@link HttpTimeouts}, {@link JdbcTimeouts}, {@link
 * RedisTimeouts}) ends at about the same moment as the watchdog, so its {@code
 * HttpTimeoutException}, {@code SQLException} (SQLState 57014) or {@code
 * RedisCommandTimeoutException} reaches the caller as the cause of a {@link
 * TimeoutExceededException}, every time. A failure before the deadline is thrown as it is.
 *
 * <p>Guarantees: a call that finishes before the watchdog fires is never interrupted, not even a
 * moment later; when the watchdog does fire, the interrupt status it set is cleared before {@code
 * within} returns or throws (an interrupt the thread had before the call is kept). A call that
 * ignores both interrupts and its hooks cannot be stopped by any library: {@code within} then
 * returns when the call does, still with {@link TimeoutExceededException}.
 *
 * <pre>{@code
 * Price p = Timeouts.within(Duration.ofSeconds(60), () -> calculator.price(order));
 *
 * List<Row> rows = Timeouts.within(Duration.ofSeconds(2), ctx -> {
 *   try (PreparedStatement ps = connection.prepareStatement(sql)) {
 *     ctx.onTimeout(ps::cancel);        // pgjdbc ignores interrupts; cancel reaches the server
 *     return read(ps.executeQuery());
 *   }
 * });
 * }</pre>
 *
 * <p>Limits nest: an inner limit that fires clears only its own interrupt, never an outer one's.
 *
 * <p>What an interrupt can do, and so what to keep out of a limited call: an interrupt closes an
 * {@link java.nio.channels.InterruptibleChannel} (a {@code FileChannel}, a {@code SocketChannel})
 * that the thread is blocked on, for every user of that channel; and it can land in the call's own
 * clean-up ({@code finally}, {@code close}). Work that must not be cut short belongs outside the
 * limit.
 *
 * <p>For metrics, a name and an asynchronous variant, use {@link TimeLimiter}. Thread-safe.
 */
public final class Timeouts {
  private Timeouts() {}

  /**
   * Runs {@code call} on this thread and stops it at {@code limit}.
   *
   * @param limit the time limit, positive
   * @param call the call
   * @param <T> the result type
   * @param <X> the checked exception the call may throw
   * @return what the call returned
   * @throws X what the call threw, if it failed before the deadline
   * @throws TimeoutExceededException if the limit, or an earlier outer deadline, passed: the
   *     watchdog fired, or the call failed after the deadline (its failure is the cause)
   * @throws IllegalArgumentException if {@code limit} is not positive
   */
  public static <T, X extends Exception> T within(Duration limit, Call<T, X> call) throws X {
    Objects.requireNonNull(call, "call");
    return within(limit, context -> call.call());
  }

  /**
   * Runs {@code call} on this thread and stops it at {@code limit}, running the cancel hooks the
   * call registers on its context.
   *
   * @param limit the time limit, positive
   * @param call the call
   * @param <T> the result type
   * @param <X> the checked exception the call may throw
   * @return what the call returned
   * @throws X what the call threw, if it failed before the deadline
   * @throws TimeoutExceededException if the limit, or an earlier outer deadline, passed: the
   *     watchdog fired, or the call failed after the deadline (its failure is the cause)
   * @throws IllegalArgumentException if {@code limit} is not positive
   */
  public static <T, X extends Exception> T within(Duration limit, CancellableCall<T, X> call)
      throws X {
    Checks.positive("limit", limit);
    Objects.requireNonNull(call, "call");
    return TimeLimits.run(Deadline.after(limit), call);
  }

  /**
   * Runs {@code call} on this thread and stops it at {@code deadline}.
   *
   * @param deadline the deadline; an expired one fails at once without running the call
   * @param call the call
   * @param <T> the result type
   * @param <X> the checked exception the call may throw
   * @return what the call returned
   * @throws X what the call threw, if it failed before the deadline
   * @throws TimeoutExceededException if the deadline, or an earlier outer one, passed: the watchdog
   *     fired, or the call failed after the deadline (its failure is the cause)
   */
  public static <T, X extends Exception> T within(Deadline deadline, Call<T, X> call) throws X {
    Objects.requireNonNull(call, "call");
    return within(deadline, context -> call.call());
  }

  /**
   * Runs {@code call} on this thread and stops it at {@code deadline}, running the cancel hooks the
   * call registers on its context.
   *
   * @param deadline the deadline; an expired one fails at once without running the call
   * @param call the call
   * @param <T> the result type
   * @param <X> the checked exception the call may throw
   * @return what the call returned
   * @throws X what the call threw, if it failed before the deadline
   * @throws TimeoutExceededException if the deadline, or an earlier outer one, passed: the watchdog
   *     fired, or the call failed after the deadline (its failure is the cause)
   */
  public static <T, X extends Exception> T within(Deadline deadline, CancellableCall<T, X> call)
      throws X {
    Objects.requireNonNull(deadline, "deadline");
    Objects.requireNonNull(call, "call");
    return TimeLimits.run(deadline, call);
  }

  /**
   * Counts the trouble of the JVM's shared cancel-hook pool in {@code registry}: a counter {@code
   * bulwark.timeouts.hooks} with tag {@code outcome}, {@code failed} (a hook threw), {@code
   * dropped} (1,024 calls' hooks were already queued, so these were not run) or {@code overdue} (a
   * timed-out call stopped waiting for its hooks after 5 s). The counts are kept from the JVM's
   * start, bound or not, so trouble before this call is not lost; each kind is also logged at ERROR
   * on its 1st, 2nd, 4th, 8th... occurrence.
   *
   * <p>Nothing is registered in Micrometer's global registry. Binding the same registry again does
   * nothing; several registries may be bound, each sees the same counts. A {@link TimeLimiter}
   * built with a {@code meterRegistry} binds that registry too. Thread-safe.
   *
   * @param registry the registry to show the counts in
   */
  public static void bindTo(MeterRegistry registry) {
    Objects.requireNonNull(registry, "registry");
    Watchdog.SHARED.bindTo(registry);
  }
}

package dev.bulwark.timeouts;

import dev.bulwark.core.internal.Checks;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.Executor;
import org.jspecify.annotations.Nullable;

/**
 * An absolute point in time on a monotonic {@link Ticker}, by which a call must be done.
 *
 * <p>A deadline is made once, where a request enters the service ({@code Deadline.after(2 s)}), and
 * travels with the call: {@link #call(Call)} and {@link #run(Runnable)} run code with it as the
 * thread's {@linkplain #current() current deadline} ({@link #enter()} does the same for a block of
 * code), {@link #wrap(Runnable)} and friends carry it into executor tasks, and the client helpers
 * ({@link JdbcTimeouts}, {@link RedisTimeouts}, {@link HttpTimeouts}) clamp each outgoing call's
 * timeout to the time left. A nested scope takes the earlier of the two deadlines: an inner call
 * can shorten the time the call has, never extend it.
 *
 * <pre>{@code
 * int rows = Deadline.after(Duration.ofSeconds(2)).call(() -> {
 *   JdbcTimeouts.applyTo(statement, Duration.ofSeconds(30)); // gets at most the ~2 s left
 *   return statement.executeUpdate();
 * });
 * }</pre>
 *
 * <p>A current deadline only informs: the helpers clamp to it and fail fast once it has passed, but
 * nothing interrupts code that runs past it. To stop the work at the deadline, run it with {@link
 * Timeouts#within(Deadline, Call)}.
 *
 * <p>Instances are immutable and thread-safe. The current deadline is per thread.
 */
public final class Deadline {

  private static final ThreadLocal<@Nullable Deadline> CURRENT = new ThreadLocal<>();

  private final Ticker ticker;
  private final long startNanos;
  private final long deadlineNanos;

  private Deadline(Ticker ticker, long startNanos, long deadlineNanos) {
    this.ticker = ticker;
    this.startNanos = startNanos;
    this.deadlineNanos = deadlineNanos;
  }

  /**
   * Returns a deadline {@code timeout} from now on the system ticker.
   *
   * @param timeout the time the call has; zero makes an already expired deadline; values too large
   *     for a {@code long} of nanoseconds saturate (about 292 years)
   * @return the deadline
   * @throws IllegalArgumentException if {@code timeout} is negative
   */
  public static Deadline after(Duration timeout) {
    return after(timeout, Ticker.system());
  }

  /**
   * Returns a deadline {@code timeout} from now on the given ticker.
   *
   * @param timeout the time the call has; zero makes an already expired deadline
   * @param ticker the clock, {@link Ticker#system()} outside tests
   * @return the deadline
   * @throws IllegalArgumentException if {@code timeout} is negative
   */
  public static Deadline after(Duration timeout, Ticker ticker) {
    Checks.notNegative("timeout", timeout);
    Objects.requireNonNull(ticker, "ticker");
    long now = ticker.read();
    long nanos = Checks.saturatedNanos(timeout);
    long end = now + nanos;
    if (((now ^ end) & (nanos ^ end)) < 0) { // overflow
      end = Long.MAX_VALUE;
    }
    return new Deadline(ticker, now, end);
  }

  /**
   * Returns the time left, never negative: {@link Duration#ZERO} once expired.
   *
   * @return the time left
   */
  public Duration remaining() {
    return Duration.ofNanos(Math.max(0, remainingNanos()));
  }

  /**
   * Returns the time left in nanoseconds; negative once expired, by how much it is overdue.
   *
   * @return nanoseconds left
   */
  public long remainingNanos() {
    return deadlineNanos - ticker.read();
  }

  /** {@return true once the deadline has passed} */
  public boolean isExpired() {
    return remainingNanos() <= 0;
  }

  /** {@return the time from this deadline's creation to now} */
  public Duration elapsed() {
    return Duration.ofNanos(ticker.read() - startNanos);
  }

  /** {@return the time this deadline was created with} */
  public Duration budget() {
    return Duration.ofNanos(deadlineNanos - startNanos);
  }

  /** {@return the ticker this deadline reads} */
  Ticker ticker() {
    return ticker;
  }

  /**
   * Returns the earlier of this deadline and {@code other}.
   *
   * @param other another deadline
   * @return whichever has less time left
   */
  public Deadline min(Deadline other) {
    return other.remainingNanos() < remainingNanos() ? other : this;
  }

  /**
   * Returns {@code timeout}, or the time left if that is shorter.
   *
   * @param timeout a per-call timeout
   * @return the smaller of {@code timeout} and {@link #remaining()}
   */
  public Duration clamp(Duration timeout) {
    Duration left = remaining();
    return left.compareTo(timeout) < 0 ? left : timeout;
  }

  /**
   * Throws if this deadline has passed. Call it before starting work that cannot be stopped.
   *
   * @throws TimeoutExceededException if the deadline has passed
   */
  public void checkNotExpired() {
    if (isExpired()) {
      throw new TimeoutExceededException(budget(), elapsed());
    }
  }

  /**
   * Makes this deadline, or the thread's current one if that is earlier, the current deadline of
   * this thread until the returned scope is closed.
   *
   * @return a scope to close, on this thread, when the call is done
   */
  public Scope enter() {
    Deadline previous = CURRENT.get();
    Deadline effective = previous == null ? this : previous.min(this);
    CURRENT.set(effective);
    return new Scope(previous, effective);
  }

  /**
   * Runs {@code call} on this thread with this deadline, or the thread's current one if that is
   * earlier, as the current deadline, and restores the previous one when it returns or throws. The
   * same as {@code try (Scope scope = enter()) { return call.call(); }}, without a scope variable
   * that the body never names (which {@code javac -Xlint:try} warns about).
   *
   * <p>It does not stop {@code call} at the deadline; {@link Timeouts#within(Deadline, Call)} does.
   *
   * @param call the call
   * @param <T> the result type
   * @param <X> the checked exception the call may throw, inferred from the lambda
   * @return what the call returned
   * @throws X what the call threw
   */
  public <T, X extends Exception> T call(Call<T, X> call) throws X {
    Objects.requireNonNull(call, "call");
    Scope scope = enter();
    try {
      return call.call();
    } finally {
      scope.close();
    }
  }

  /**
   * Runs {@code call} on this thread with no current deadline, and restores the thread's deadline
   * when it returns or throws: for work done on behalf of every caller rather than the one whose
   * thread starts it, such as a shared cache's refresh, which must not inherit that caller's
   * deadline (and fail, or be cut short, for all the others). A deadline made inside {@code call}
   * is its own.
   *
   * @param call the call
   * @param <T> the result type
   * @param <X> the checked exception the call may throw, inferred from the lambda
   * @return what the call returned
   * @throws X what the call threw
   */
  public static <T, X extends Exception> T detached(Call<T, X> call) throws X {
    Objects.requireNonNull(call, "call");
    Deadline previous = CURRENT.get();
    CURRENT.remove();
    try {
      return call.call();
    } finally {
      if (previous != null) {
        CURRENT.set(previous);
      }
    }
  }

  /**
   * Runs {@code task} on this thread with this deadline, or the thread's current one if that is
   * earlier, as the current deadline, and restores the previous one when it returns or throws. See
   * {@link #call(Call)}, which also passes on checked exceptions.
   *
   * @param task the task
   */
  public void run(Runnable task) {
    Objects.requireNonNull(task, "task");
    Scope scope = enter();
    try {
      task.run();
    } finally {
      scope.close();
    }
  }

  /**
   * Returns this thread's current deadline, if a scope has set one.
   *
   * @return the current deadline, or empty
   */
  public static Optional<Deadline> current() {
    return Optional.ofNullable(CURRENT.get());
  }

  static @Nullable Deadline currentOrNull() {
    return CURRENT.get();
  }

  /**
   * Returns {@code timeout} clamped to the time the current deadline has left, or {@code timeout}
   * itself when the thread has no deadline.
   *
   * @param timeout a per-call timeout
   * @return the timeout to use
   */
  public static Duration clampToCurrent(Duration timeout) {
    Deadline current = CURRENT.get();
    return current == null ? timeout : current.clamp(timeout);
  }

  /**
   * Returns {@code timeout} clamped to the current deadline, for a call about to be sent.
   *
   * @throws TimeoutExceededException if the current deadline has already passed
   */
  static Duration clampToCurrentOrFail(Duration timeout) {
    Deadline current = CURRENT.get();
    if (current == null) {
      return timeout;
    }
    current.checkNotExpired();
    return current.clamp(timeout);
  }

  /**
   * Returns a task that runs {@code task} under the deadline current now, on whatever thread runs
   * it. Returns {@code task} itself if there is none.
   *
   * @param task the task
   * @return a task that carries the deadline
   */
  public static Runnable wrap(Runnable task) {
    Objects.requireNonNull(task, "task");
    Deadline captured = CURRENT.get();
    if (captured == null) {
      return task;
    }
    return () -> {
      Scope scope = captured.enter();
      try {
        task.run();
      } finally {
        scope.close();
      }
    };
  }

  /**
   * Returns a task that runs {@code task} under the deadline current now, on whatever thread runs
   * it. Returns {@code task} itself if there is none.
   *
   * @param task the task
   * @param <T> the result type
   * @return a task that carries the deadline
   */
  public static <T> Callable<T> wrap(Callable<T> task) {
    Objects.requireNonNull(task, "task");
    Deadline captured = CURRENT.get();
    if (captured == null) {
      return task;
    }
    return () -> {
      Scope scope = captured.enter();
      try {
        return task.call();
      } finally {
        scope.close();
      }
    };
  }

  /**
   * Returns an executor that runs each task under the deadline that was current on the thread that
   * submitted it.
   *
   * @param executor the executor that runs the tasks
   * @return an executor that carries deadlines
   */
  public static Executor wrap(Executor executor) {
    Objects.requireNonNull(executor, "executor");
    return task -> executor.execute(wrap(task));
  }

  @Override
  public String toString() {
    long left = remainingNanos();
    return left > 0
        ? "Deadline[" + Checks.duration(Duration.ofNanos(left)) + " left]"
        : "Deadline[expired " + Checks.duration(Duration.ofNanos(-left)) + " ago]";
  }

  /**
   * The span during which a deadline is its thread's current one. Close it on the thread that
   * entered it; closing restores the deadline that was current before. Closing twice does nothing.
   * Not thread-safe: a scope belongs to one thread.
   */
  public static final class Scope implements AutoCloseable {
    private final @Nullable Deadline previous;
    private final Deadline effective;
    private final Thread owner = Thread.currentThread();
    private boolean closed;

    private Scope(@Nullable Deadline previous, Deadline effective) {
      this.previous = previous;
      this.effective = effective;
    }

    /** {@return the deadline in force inside this scope: the earlier of the new and the outer} */
    public Deadline deadline() {
      return effective;
    }

    /**
     * Restores the deadline that was current when this scope was entered.
     *
     * @throws IllegalStateException if called on another thread than the one that entered it
     */
    @Override
    public void close() {
      if (Thread.currentThread() != owner) {
        throw new IllegalStateException(
            "a deadline scope must be closed on the thread that entered it ("
                + owner.getName()
                + "), not on "
                + Thread.currentThread().getName());
      }
      if (closed) {
        return;
      }
      closed = true;
      if (previous == null) {
        CURRENT.remove();
      } else {
        CURRENT.set(previous);
      }
    }
  }
}

package dev.bulwark.timeouts;

import dev.bulwark.core.internal.Checks;
import dev.bulwark.core.internal.Meters;
import dev.bulwark.core.internal.NamedThreads;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.jspecify.annotations.Nullable;

/**
 * A named time limit with metrics, for calls on the caller's thread ({@link #call}) and on a
 * bounded pool of its own ({@link #submit}).
 *
 * <p>{@link #call} behaves exactly as {@link Timeouts#within(Duration, CancellableCall)}: the call
 * runs on the caller's thread and is interrupted, and its cancel hooks run, at the limit.
 *
 * <p>{@link #submit} runs the call on one of {@code asyncThreads} threads named {@code
 * bulwark-timeouts-<name>-<n>}. It takes exactly {@code asyncThreads + asyncQueueCapacity} calls at
 * once, running and waiting together, idle or not: a call past that is rejected (its future fails
 * at once with {@link RejectedExecutionException}, whose message gives the calls running and queued
 * and the two settings), never queued without bound. A call keeps its place until its work returns,
 * or until it leaves the queue unstarted (expired, cancelled, closed). The limit counts from
 * submission, queueing included, and carries the submitter's deadline if that is earlier. At the
 * limit the future fails with {@link TimeoutExceededException} at once, and the worker is
 * interrupted and the hooks run. Cancelling the future does the same to a running call.
 *
 * <p>Meters, when a registry is given: a timer {@code bulwark.timeouts.timelimiter.calls} tagged
 * {@code name} and {@code outcome} ({@code success}, {@code failure}, {@code timeout}, {@code
 * rejected}: full or closed, the futures {@link #close()} fails included); and the JVM's
 * cancel-hook trouble, as {@link Timeouts#bindTo} binds it. {@link #close()} removes the limiter's
 * own meters.
 *
 * <p>Thread-safe. {@link #close()} stops the pool, interrupting running calls.
 */
public final class TimeLimiter implements AutoCloseable {

  /** Default time limit: 30 seconds. */
  static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(30);

  /** Default number of threads for {@link #submit}: 2. */
  static final int DEFAULT_ASYNC_THREADS = 2;

  /** Default queue capacity for {@link #submit}: 100 calls. */
  static final int DEFAULT_ASYNC_QUEUE_CAPACITY = 100;

  private static final String CALLS_METER = "bulwark.timeouts.timelimiter.calls";

  private final String name;
  private final Duration timeout;
  private final int asyncThreads;
  private final int asyncQueueCapacity;
  private final AtomicReference<@Nullable ThreadPoolExecutor> executor = new AtomicReference<>();
  private final Admission admission;

  /** Calls whose future is not done yet; a SubmittedCall's equality is its identity. */
  private final Set<SubmittedCall<?>> pending = ConcurrentHashMap.newKeySet();

  private final Map<Outcome, Timer> timers = new EnumMap<>(Outcome.class);
  private final @Nullable MeterRegistry registry;
  private final AtomicBoolean metersRemoved = new AtomicBoolean();
  private volatile boolean closed;

  private TimeLimiter(Builder builder) {
    this.name = builder.name;
    this.timeout = builder.timeout == null ? DEFAULT_TIMEOUT : builder.timeout;
    this.asyncThreads = builder.asyncThreads < 0 ? DEFAULT_ASYNC_THREADS : builder.asyncThreads;
    this.asyncQueueCapacity =
        builder.asyncQueueCapacity < 0 ? DEFAULT_ASYNC_QUEUE_CAPACITY : builder.asyncQueueCapacity;
    Watchdog.touch(); // start the shared timer now, not inside the first call's budget
    this.admission = new Admission(asyncThreads + asyncQueueCapacity);
    MeterRegistry registry = builder.meterRegistry;
    this.registry = registry;
    if (registry != null) {
      Watchdog.SHARED.bindTo(registry);
      for (Outcome outcome : Outcome.values()) {
        timers.put(
            outcome,
            Timer.builder(CALLS_METER)
                .description("Calls run under a time limit, by outcome")
                .tag(Meters.NAME_TAG, name)
                .tag("outcome", outcome.tag())
                .register(registry));
      }
    }
  }

  /** How a call ended, a tag value of {@code bulwark.timeouts.timelimiter.calls}. */
  enum Outcome {
    SUCCESS,
    FAILURE,
    TIMEOUT,
    REJECTED;

    String tag() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  /**
   * Returns a builder.
   *
   * @param name the limiter's name, used in metrics and in its threads' names ({@code
   *     bulwark-timeouts-<name>-<n>}): 1 to 63 letters, digits, {@code '.'}, {@code '_'} or {@code
   *     '-'}, and neither {@code watchdog} nor {@code cancel}, the names of the shared timer's and
   *     cancel hooks' threads
   * @return a new builder
   * @throws IllegalArgumentException if {@code name} is not such a name
   */
  public static Builder builder(String name) {
    return new Builder(name);
  }

  /** {@return the name} */
  public String name() {
    return name;
  }

  /** {@return the time limit} */
  public Duration timeout() {
    return timeout;
  }

  /**
   * Runs {@code call} on this thread under the limit; see {@link Timeouts#within(Duration, Call)}.
   *
   * @param call the call
   * @param <T> the result type
   * @param <X> the checked exception the call may throw
   * @return what the call returned
   * @throws X what the call threw, if it failed in time
   * @throws TimeoutExceededException if the limit, or an earlier outer deadline, passed
   */
  public <T, X extends Exception> T call(Call<T, X> call) throws X {
    Objects.requireNonNull(call, "call");
    return call(context -> call.call());
  }

  /**
   * Runs {@code call} on this thread under the limit, with cancel hooks; see {@link
   * Timeouts#within(Duration, CancellableCall)}.
   *
   * @param call the call
   * @param <T> the result type
   * @param <X> the checked exception the call may throw
   * @return what the call returned
   * @throws X what the call threw, if it failed in time
   * @throws TimeoutExceededException if the limit, or an earlier outer deadline, passed
   */
  public <T, X extends Exception> T call(CancellableCall<T, X> call) throws X {
    Objects.requireNonNull(call, "call");
    long start = System.nanoTime();
    try {
      T result = TimeLimits.run(Deadline.after(timeout), name, call);
      record(Outcome.SUCCESS, start);
      return result;
    } catch (TimeoutExceededException e) {
      record(Outcome.TIMEOUT, start);
      throw e;
    } catch (Exception | Error e) {
      record(Outcome.FAILURE, start);
      throw e;
    }
  }

  /**
   * Runs {@code call} on this limiter's pool under the limit.
   *
   * <p>The call is admitted if fewer than {@code asyncThreads + asyncQueueCapacity} submitted calls
   * are running or waiting for a thread; otherwise its future fails at once. A call holds its place
   * until its work returns, or, if it never starts, until it leaves the queue: a call whose future
   * failed at the limit but whose work ignores its interrupt keeps its thread and its place. Stages
   * attached to the future without an executor may run on the thread that completes it: a pool
   * thread, or at the limit the JVM's one watchdog thread; attach slow work with an {@code *Async}
   * method.
   *
   * @param call the call
   * @param <T> the result type
   * @return a future that completes with the result, or fails with what the call threw, with {@link
   *     TimeoutExceededException} at the limit (already failed, and the call never queued, if the
   *     submitter's deadline has passed), or with {@link RejectedExecutionException} if the limiter
   *     is full or closed. Cancelling it interrupts the call and runs its cancel hooks, or removes
   *     it from the queue.
   */
  public <T> CompletableFuture<T> submit(CancellableCall<T, ? extends Exception> call) {
    Objects.requireNonNull(call, "call");
    long start = System.nanoTime();
    Deadline submitted = Deadline.after(timeout);
    Deadline outer = Deadline.currentOrNull();
    Deadline deadline = outer == null ? submitted : outer.min(submitted);
    long startTicks = deadline.ticker().read();
    Duration limit = deadline == submitted ? timeout : deadline.remaining();
    ThreadPoolExecutor pool;
    try {
      pool = executor();
    } catch (RejectedExecutionException e) {
      record(Outcome.REJECTED, start);
      return CompletableFuture.failedFuture(e);
    }
    if (deadline.isExpired()) { // nothing to run: never handed to the pool
      record(Outcome.TIMEOUT, start);
      return CompletableFuture.failedFuture(
          deadline == submitted
              ? TimeoutExceededException.limitExceeded(name, limit, Duration.ZERO, null)
              : TimeoutExceededException.deadlineExceeded(name, limit, Duration.ZERO, null));
    }
    long full = admission.tryAdmit();
    if (full != Admission.ADMITTED) {
      record(Outcome.REJECTED, start);
      return CompletableFuture.failedFuture(
          new RejectedExecutionException(
              Checks.format(
                  "time limiter %s is full: %d calls running and %d queued"
                      + " (asyncThreads=%d, asyncQueueCapacity=%d)",
                  name,
                  Admission.running(full),
                  Admission.queued(full),
                  asyncThreads,
                  asyncQueueCapacity)));
    }
    SubmittedCall<T> submittedCall =
        new SubmittedCall<>(
            this, admission, pool, call, deadline, limit, deadline != submitted, start, startTicks);
    submittedCall.submit(pending);
    return submittedCall.future();
  }

  /**
   * Runs {@code call} on this limiter's pool under the limit; see {@link #submit(CancellableCall)}.
   *
   * @param call the call
   * @param <T> the result type
   * @return a future of the result
   */
  public <T> CompletableFuture<T> submit(Call<T, ? extends Exception> call) {
    Objects.requireNonNull(call, "call");
    return submit(context -> call.call());
  }

  private ThreadPoolExecutor executor() {
    if (closed) {
      throw closedException();
    }
    ThreadPoolExecutor current = executor.get();
    if (current != null) {
      return current;
    }
    ThreadPoolExecutor created =
        new ThreadPoolExecutor(
            asyncThreads,
            asyncThreads,
            0,
            TimeUnit.MILLISECONDS,
            // Admission keeps at most this many calls in the pool: the queue never refuses one.
            new LinkedBlockingQueue<>(asyncThreads + asyncQueueCapacity),
            NamedThreads.daemon("timeouts", name),
            new ThreadPoolExecutor.AbortPolicy());
    if (executor.compareAndSet(null, created)) {
      if (closed) {
        created.shutdownNow();
        throw closedException();
      }
      return created;
    }
    created.shutdownNow();
    ThreadPoolExecutor winner = executor.get();
    if (winner == null) {
      throw closedException();
    }
    return winner;
  }

  boolean isClosed() {
    return closed;
  }

  RejectedExecutionException closedException() {
    return new RejectedExecutionException("time limiter " + name + " is closed");
  }

  void record(Outcome outcome, long startNanos) {
    Timer timer = timers.get(outcome);
    if (timer != null) {
      timer.record(System.nanoTime() - startNanos, TimeUnit.NANOSECONDS);
    }
  }

  /**
   * Stops the pool of {@link #submit}: every future not yet complete fails at once with {@link
   * RejectedExecutionException}, counted as {@code rejected}; queued calls never start, and running
   * calls are interrupted and their cancel hooks run. Then it removes this limiter's meters from
   * the registry (the JVM's cancel-hook counts stay), so a new limiter of the same name can be
   * built on it. {@link #call} still works, counted in the removed meters. Calling it again does
   * nothing more.
   */
  @Override
  public void close() {
    closed = true;
    RejectedExecutionException closing =
        new RejectedExecutionException("time limiter " + name + " was closed");
    for (SubmittedCall<?> call : List.copyOf(pending)) {
      call.close(closing);
    }
    ThreadPoolExecutor current = executor.getAndSet(null);
    if (current != null) {
      current.shutdownNow();
    }
    // Once only: Micrometer removes by id, which a new limiter of this name may hold by now.
    if (registry != null && metersRemoved.compareAndSet(false, true)) {
      for (Timer timer : timers.values()) {
        registry.remove(timer);
      }
    }
  }

  /**
   * Returns what the pool of {@link #submit} is doing now, for health checks. The running and
   * queued counts are one atomic reading, the ones admission uses: {@code running + queued} never
   * exceeds {@code asyncThreads + queueCapacity}.
   *
   * @return a snapshot; all zeros before the first {@code submit}; after {@link #close()}, only the
   *     calls whose work has not returned yet
   */
  public Snapshot snapshot() {
    long counts = admission.now();
    return new Snapshot(
        name,
        timeout,
        Admission.running(counts),
        Admission.queued(counts),
        asyncQueueCapacity,
        pending.size());
  }

  @Override
  public String toString() {
    return "TimeLimiter[" + name + ", " + Checks.duration(timeout) + "]";
  }

  /**
   * The asynchronous side of a {@link TimeLimiter} at one moment.
   *
   * @param name the limiter's name
   * @param timeout its time limit
   * @param running calls whose work runs on its threads, those past their limit that ignore their
   *     interrupt included; at most {@code asyncThreads}
   * @param queued calls admitted that no thread has started yet; it can exceed {@code
   *     queueCapacity} for the moment a free thread takes to pick the next call up
   * @param queueCapacity the most calls that may wait
   * @param pending futures not yet complete, running and queued calls included
   */
  public record Snapshot(
      String name, Duration timeout, int running, int queued, int queueCapacity, int pending) {}

  /** Configures a {@link TimeLimiter}. Each setting may be given once. Not thread-safe. */
  public static final class Builder {
    private final String name;
    private @Nullable Duration timeout;
    private int asyncThreads = -1;
    private int asyncQueueCapacity = -1;
    private @Nullable MeterRegistry meterRegistry;

    private Builder(String name) {
      this.name = Checks.identifier("name", name);
      if (name.equals("watchdog") || name.equals("cancel")) {
        throw Checks.invalid(
            "name must not be watchdog or cancel (the shared threads' names), but was \"%s\"",
            name);
      }
    }

    /**
     * Sets the time limit. Default: 30 s.
     *
     * @param timeout positive
     * @return this builder
     * @throws IllegalArgumentException if not positive
     * @throws IllegalStateException if already set
     */
    public Builder timeout(Duration timeout) {
      Checks.requireUnset("timeout", this.timeout != null, this.timeout);
      this.timeout = Checks.positive("timeout", timeout);
      return this;
    }

    /**
     * Sets the number of threads {@link TimeLimiter#submit} uses, created on first use. Default: 2
     * threads.
     *
     * @param threads between 1 and 1024
     * @return this builder
     * @throws IllegalArgumentException if out of range
     * @throws IllegalStateException if already set
     */
    public Builder asyncThreads(int threads) {
      Checks.requireUnset("asyncThreads", asyncThreads >= 0, asyncThreads);
      this.asyncThreads = Checks.between("asyncThreads", threads, 1, 1024);
      return this;
    }

    /**
     * Sets how many submitted calls may wait for a thread when every thread is busy: the limiter
     * takes {@code asyncThreads + capacity} calls at once, and rejects the next. Default: 100
     * calls.
     *
     * @param capacity between 1 and 1,000,000
     * @return this builder
     * @throws IllegalArgumentException if out of range
     * @throws IllegalStateException if already set
     */
    public Builder asyncQueueCapacity(int capacity) {
      Checks.requireUnset("asyncQueueCapacity", asyncQueueCapacity >= 0, asyncQueueCapacity);
      this.asyncQueueCapacity = Checks.between("asyncQueueCapacity", capacity, 1, 1_000_000);
      return this;
    }

    /**
     * Registers the limiter's meters in {@code registry}, and binds the JVM's cancel-hook trouble
     * counts to it as {@link Timeouts#bindTo} does; {@link TimeLimiter#close()} removes the
     * limiter's meters again, and leaves the hook counts. Default: no meters.
     *
     * @param registry the registry
     * @return this builder
     * @throws IllegalStateException if already set
     */
    public Builder meterRegistry(MeterRegistry registry) {
      Checks.requireUnset("meterRegistry", meterRegistry != null, meterRegistry);
      this.meterRegistry = Objects.requireNonNull(registry, "registry");
      return this;
    }

    /**
     * Builds the limiter.
     *
     * @return a new limiter
     * @throws IllegalStateException if {@code meterRegistry} already holds the meters of a time
     *     limiter with this name that is not closed: the two would count into each other's meters
     */
    public TimeLimiter build() {
      if (meterRegistry != null) {
        Meters.requireUnused(meterRegistry, CALLS_METER, "time limiter", name, "name");
      }
      return new TimeLimiter(this);
    }
  }
}

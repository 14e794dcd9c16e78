package dev.bulwark.timeouts;

import dev.bulwark.core.internal.Checks;
import dev.bulwark.core.internal.NamedThreads;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
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
 * bulwark-timeouts-<name>-<n>}, behind a queue of at most {@code asyncQueueCapacity} calls; a call
 * that finds the queue full is rejected (its future fails with {@link RejectedExecutionException}),
 * never queued without bound. The limit counts from submission, queueing included, and carries the
 * submitter's deadline if that is earlier. At the limit the future fails with {@link
 * TimeoutExceededException} at once, and the worker is interrupted and the hooks run. Cancelling
 * the future interrupts the worker.
 *
 * <p>Meters, when a registry is given: a timer {@code bulwark.timeouts.timelimiter.calls} tagged
 * {@code name} and {@code outcome} ({@code success}, {@code failure}, {@code timeout}, {@code
 * rejected}).
 *
 * <p>Thread-safe. {@link #close()} stops the pool, interrupting running calls.
 */
public final class TimeLimiter implements AutoCloseable {

  /** Default time limit: 30 seconds. */
  public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(30);

  /** Default number of threads for {@link #submit}: 2. */
  public static final int DEFAULT_ASYNC_THREADS = 2;

  /** Default queue capacity for {@link #submit}: 100 calls. */
  public static final int DEFAULT_ASYNC_QUEUE_CAPACITY = 100;

  private final String name;
  private final Duration timeout;
  private final int asyncThreads;
  private final int asyncQueueCapacity;
  private final AtomicReference<@Nullable ThreadPoolExecutor> executor = new AtomicReference<>();
  private final Set<CompletableFuture<?>> pending = ConcurrentHashMap.newKeySet();
  private final @Nullable Timer success;
  private final @Nullable Timer failure;
  private final @Nullable Timer timedOut;
  private final @Nullable Timer rejected;
  private volatile boolean closed;

  private TimeLimiter(Builder builder) {
    this.name = builder.name;
    this.timeout = builder.timeout == null ? DEFAULT_TIMEOUT : builder.timeout;
    this.asyncThreads = builder.asyncThreads < 0 ? DEFAULT_ASYNC_THREADS : builder.asyncThreads;
    this.asyncQueueCapacity =
        builder.asyncQueueCapacity < 0 ? DEFAULT_ASYNC_QUEUE_CAPACITY : builder.asyncQueueCapacity;
    Watchdog.touch(); // start the shared timer now, not inside the first call's budget
    MeterRegistry registry = builder.meterRegistry;
    this.success = timer(registry, "success");
    this.failure = timer(registry, "failure");
    this.timedOut = timer(registry, "timeout");
    this.rejected = timer(registry, "rejected");
  }

  private @Nullable Timer timer(@Nullable MeterRegistry registry, String outcome) {
    if (registry == null) {
      return null;
    }
    return Timer.builder("bulwark.timeouts.timelimiter.calls")
        .description("Calls run under a time limit, by outcome")
        .tag("name", name)
        .tag("outcome", outcome)
        .register(registry);
  }

  /**
   * Returns a builder.
   *
   * @param name the limiter's name, used in metrics and thread names; not blank
   * @return a new builder
   * @throws IllegalArgumentException if {@code name} is blank
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
      T result = TimeLimits.run(Deadline.after(timeout), call);
      record(success, start);
      return result;
    } catch (TimeoutExceededException e) {
      record(timedOut, start);
      throw e;
    } catch (Exception | Error e) {
      record(failure, start);
      throw e;
    }
  }

  /**
   * Runs {@code call} on this limiter's pool under the limit.
   *
   * @param call the call
   * @param <T> the result type
   * @return a future that completes with the result, or fails with what the call threw, with {@link
   *     TimeoutExceededException} at the limit, or with {@link RejectedExecutionException} if the
   *     queue is full or the limiter is closed. Cancelling it interrupts the call.
   */
  // pending holds CompletableFutures, whose equality is Object's identity, as it needs.
  @SuppressWarnings("CollectionUndefinedEquality")
  public <T> CompletableFuture<T> submit(CancellableCall<T, ? extends Exception> call) {
    Objects.requireNonNull(call, "call");
    long start = System.nanoTime();
    Deadline submitted = Deadline.after(timeout);
    Deadline outer = Deadline.currentOrNull();
    Deadline deadline = outer == null ? submitted : outer.min(submitted);
    Duration limit = deadline == submitted ? timeout : deadline.remaining();
    CompletableFuture<T> result = new CompletableFuture<>();
    AtomicReference<@Nullable LimitedRun> running = new AtomicReference<>();
    ThreadPoolExecutor pool;
    Future<?> task;
    try {
      pool = executor();
      task =
          pool.submit(
              () -> {
                if (result.isDone()) {
                  return; // expired or cancelled while queued
                }
                try {
                  T value =
                      TimeLimits.run(
                          deadline,
                          call,
                          run -> {
                            running.set(run);
                            if (result.isCancelled()) {
                              run.run(); // cancelled just as it started
                            }
                          });
                  if (result.complete(value)) {
                    record(success, start);
                  }
                } catch (TimeoutExceededException e) {
                  if (result.completeExceptionally(e)) {
                    record(timedOut, start);
                  }
                } catch (Throwable t) {
                  if (result.completeExceptionally(t)) {
                    record(failure, start);
                  }
                }
              });
    } catch (RejectedExecutionException e) {
      record(rejected, start);
      result.completeExceptionally(
          closed
              ? e
              : new RejectedExecutionException(
                  Checks.format(
                      "time limiter %s is full: %d calls running and %d queued"
                          + " (asyncThreads=%d, asyncQueueCapacity=%d)",
                      name, asyncThreads, asyncQueueCapacity, asyncThreads, asyncQueueCapacity)));
      return result;
    }
    pending.add(result);
    // A call that has not started leaves the queue before its future completes, so whoever sees
    // the future done also sees the slot free.
    Runnable dequeue =
        () -> {
          if (task.cancel(false)) { // false once the call has started
            pool.remove((Runnable) task);
          }
        };
    // The future fails at the limit even if the work, queued or ignoring its interrupt, goes on.
    ScheduledFuture<?> expiry =
        Watchdog.SHARED.schedule(
            () -> {
              dequeue.run();
              if (result.completeExceptionally(
                  new TimeoutExceededException(
                      limit, Duration.ofNanos(System.nanoTime() - start)))) {
                record(timedOut, start);
              }
            },
            Math.max(0, deadline.remainingNanos()));
    // Clean-up only: callers wait on result, not on the stage whenComplete returns.
    CompletableFuture<T> unused =
        result.whenComplete(
            (value, error) -> {
              pending.remove(result);
              expiry.cancel(false);
              LimitedRun run = running.get();
              if (run != null && result.isCancelled()) {
                run.run(); // interrupt and cancel hooks, as at the limit
              }
              dequeue.run();
            });
    return result;
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
      throw new RejectedExecutionException("time limiter " + name + " is closed");
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
            new ArrayBlockingQueue<>(asyncQueueCapacity),
            NamedThreads.daemon("timeouts", name),
            new ThreadPoolExecutor.AbortPolicy());
    if (executor.compareAndSet(null, created)) {
      if (closed) {
        created.shutdownNow();
        throw new RejectedExecutionException("time limiter " + name + " is closed");
      }
      return created;
    }
    created.shutdownNow();
    ThreadPoolExecutor winner = executor.get();
    if (winner == null) {
      throw new RejectedExecutionException("time limiter " + name + " is closed");
    }
    return winner;
  }

  private static void record(@Nullable Timer timer, long startNanos) {
    if (timer != null) {
      timer.record(System.nanoTime() - startNanos, TimeUnit.NANOSECONDS);
    }
  }

  /**
   * Stops the pool of {@link #submit}: running calls are interrupted and every future not yet
   * complete fails at once with {@link RejectedExecutionException}. {@link #call} still works.
   */
  @Override
  public void close() {
    closed = true;
    ThreadPoolExecutor current = executor.getAndSet(null);
    if (current != null) {
      current.shutdownNow();
    }
    RejectedExecutionException closing =
        new RejectedExecutionException("time limiter " + name + " was closed");
    for (CompletableFuture<?> future : List.copyOf(pending)) {
      future.completeExceptionally(closing);
    }
  }

  /**
   * Returns what the pool of {@link #submit} is doing now, for health checks.
   *
   * @return a snapshot; all zeros before the first {@code submit} and after {@link #close()}
   */
  public Snapshot snapshot() {
    ThreadPoolExecutor current = executor.get();
    int running = current == null ? 0 : current.getActiveCount();
    int queued = current == null ? 0 : current.getQueue().size();
    return new Snapshot(name, timeout, running, queued, asyncQueueCapacity, pending.size());
  }

  @Override
  public String toString() {
    return "TimeLimiter[" + name + ", " + timeout.toMillis() + " ms]";
  }

  /**
   * The asynchronous side of a {@link TimeLimiter} at one moment.
   *
   * @param name the limiter's name
   * @param timeout its time limit
   * @param running calls running on its threads
   * @param queued calls waiting for a thread
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
      this.name = Checks.notBlank("name", name);
    }

    /**
     * Sets the time limit. Default {@link TimeLimiter#DEFAULT_TIMEOUT} (30 s).
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
     * Sets the number of threads {@link TimeLimiter#submit} uses, created on first use. Default
     * {@value TimeLimiter#DEFAULT_ASYNC_THREADS}.
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
     * Sets how many submitted calls may wait for a thread; past that, calls are rejected. Default
     * {@value TimeLimiter#DEFAULT_ASYNC_QUEUE_CAPACITY}.
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
     * Registers the limiter's meters in {@code registry}. Default: no meters.
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
     */
    public TimeLimiter build() {
      return new TimeLimiter(this);
    }
  }
}

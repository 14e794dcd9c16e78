package dev.bulwark.timeouts;

import java.time.Duration;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;

/**
 * One call given to {@link TimeLimiter#submit}: the races between a pool thread starting it, its
 * limit expiring, its caller cancelling (or completing) its future, and the limiter closing. It is
 * to the asynchronous path what {@link LimitedRun} is to the synchronous one, and it uses a {@code
 * LimitedRun} for the call once it runs.
 *
 * <p>The call has a place in the limiter's {@link Admission} from before it is created. Its {@code
 * state} moves once, out of {@code QUEUED}:
 *
 * <pre>
 * QUEUED --a pool thread takes it----------------------&gt; STARTED --work returns--&gt; place freed
 *   |
 *   +----expiry, cancel or completion, close, refusal--&gt; ABANDONED: left the queue, place freed
 * </pre>
 *
 * <ul>
 *   <li><b>Start against everything else.</b> One compare-and-set out of {@code QUEUED} decides. If
 *       the thread wins ({@code STARTED}), the call runs, unless its future is already done, and
 *       its place is freed when the work returns, whatever happened to the future meanwhile: work
 *       that ignores its interrupt keeps its thread, and so its place, until it returns. If the
 *       other side wins ({@code ABANDONED}), it removes the task from the executor's queue and
 *       frees the place before it completes the future, so whoever sees the future done sees the
 *       place free. A thread that took the task from the queue just before it lost returns without
 *       running it.
 *   <li><b>Who completes the future.</b> The first completion wins, as {@link CompletableFuture}
 *       makes it: the thread with the call's result, its failure or the {@link
 *       TimeoutExceededException} of its {@code LimitedRun}; the expiry, at the deadline, even if
 *       the work goes on; the caller, by cancelling or completing it; {@link TimeLimiter#close()},
 *       with {@link RejectedExecutionException}. The thread's, the expiry's and the close's wins
 *       are counted in the limiter's meters (a close's as {@code rejected}); the caller's are not,
 *       since the caller knows of them. The thread frees the call's place before it completes the
 *       future, so here too the place is free when the future is seen done.
 *   <li><b>A future done from outside stops the work.</b> Once the future is done, the call's
 *       {@code LimitedRun} fires: the thread is interrupted and the cancel hooks run, as at the
 *       limit. The thread publishes its run and then looks at the future; the completion looks for
 *       a run after the future is done: one of the two sees the other, and a run fires at most
 *       once. Fired after its work returned, a run does nothing.
 *   <li><b>Expiry timer.</b> Armed once the call is in the pool's queue (so that an expiry always
 *       finds the task it removes) and cancelled once the future is done, by whichever comes
 *       second. A thread may start, and even finish, the call before its expiry is armed; the
 *       expiry's delay is read before the hand-over, so a call that started at once and took time
 *       does not shorten it.
 * </ul>
 *
 * <p>Thread-safe: each transition is an atomic operation.
 */
final class SubmittedCall<T> implements Runnable {
  private static final int QUEUED = 0;
  private static final int STARTED = 1;
  private static final int ABANDONED = 2;

  private final TimeLimiter limiter;
  private final Admission admission;
  private final ThreadPoolExecutor pool;
  private final CancellableCall<T, ? extends Exception> call;
  private final Deadline deadline;
  private final Duration limit;
  private final boolean outerDeadline;
  private final long startNanos;
  private final long startTicks;
  private final AtomicInteger state = new AtomicInteger(QUEUED);
  private final CompletableFuture<T> future = new CompletableFuture<>();
  private volatile @Nullable LimitedRun run;
  private volatile @Nullable ScheduledFuture<?> expiry;

  /**
   * Creates the call, which already holds a place in {@code admission}.
   *
   * @param limit the limit to report at a timeout: the limiter's, or what an earlier outer deadline
   *     had left at submission
   * @param outerDeadline whether {@code deadline} is the submitter's earlier deadline
   * @param startNanos the submission, on {@link System#nanoTime()}, for the limiter's meters
   * @param startTicks the submission, on the ticker of {@code deadline}, for a timeout's elapsed
   *     time
   */
  SubmittedCall(
      TimeLimiter limiter,
      Admission admission,
      ThreadPoolExecutor pool,
      CancellableCall<T, ? extends Exception> call,
      Deadline deadline,
      Duration limit,
      boolean outerDeadline,
      long startNanos,
      long startTicks) {
    this.limiter = limiter;
    this.admission = admission;
    this.pool = pool;
    this.call = call;
    this.deadline = deadline;
    this.limit = limit;
    this.outerDeadline = outerDeadline;
    this.startNanos = startNanos;
    this.startTicks = startTicks;
  }

  /** {@return the future the caller gets} */
  CompletableFuture<T> future() {
    return future;
  }

  /**
   * Registers the call as pending, hands it to the pool and arms its expiry; call once.
   *
   * <p>The expiry is armed after the call is in the pool's queue: an expiry that ran first (its
   * deadline passed meanwhile) would find nothing to remove and free the place, and the pool would
   * then queue a dead task, which keeps a slot of the pool's bounded queue until a thread comes
   * free. Only {@link #close} can come first, and the limiter's close shuts the pool down.
   *
   * @param pending told of the call now; the call leaves it when its future is done
   */
  void submit(Set<SubmittedCall<?>> pending) {
    // Clean-up only: callers wait on the future itself, not on the stage whenComplete returns.
    CompletableFuture<T> unused = future.whenComplete((value, error) -> completed(pending));
    pending.add(this);
    if (limiter.isClosed()) { // closed since admission, perhaps without seeing this call
      close(limiter.closedException());
      return;
    }
    // Read before the call is handed over: a thread that starts it at once may take time (or, on
    // a test's ticker, advance it), and the expiry counts from submission, not from arming.
    long remainingNanos = Math.max(0, deadline.remainingNanos());
    try {
      pool.execute(this);
    } catch (RejectedExecutionException e) { // the pool shut down since admission
      close(limiter.isClosed() ? limiter.closedException() : e);
      return;
    }
    ScheduledFuture<?> timer = Watchdog.SHARED.schedule(this::expire, remainingNanos);
    expiry = timer;
    if (future.isDone()) {
      timer.cancel(false);
    }
  }

  /** The pool thread's side: starts the call unless it was abandoned. */
  @Override
  public void run() {
    if (!state.compareAndSet(QUEUED, STARTED)) {
      return; // abandoned: it already freed its place
    }
    admission.started();
    T value = null;
    Throwable failure = null;
    try {
      if (!future.isDone()) { // cancelled or expired just before it started
        value = TimeLimits.runSubmitted(deadline, call, this::started, this::exceeded);
      }
    } catch (Throwable t) {
      failure = t;
    } finally {
      admission.finished();
    }
    if (failure == null) {
      if (future.complete(value)) {
        limiter.record(TimeLimiter.Outcome.SUCCESS, startNanos);
      }
    } else if (future.completeExceptionally(failure)) {
      limiter.record(
          failure instanceof TimeoutExceededException
              ? TimeLimiter.Outcome.TIMEOUT
              : TimeLimiter.Outcome.FAILURE,
          startNanos);
    }
  }

  /** Publishes the run before the call starts, then fires it if the future is already done. */
  private void started(LimitedRun started) {
    run = started;
    if (future.isDone()) {
      started.run();
    }
  }

  /** The watchdog's side, at the deadline. */
  private void expire() {
    leaveQueue();
    if (future.completeExceptionally(exceeded(null))) {
      limiter.record(TimeLimiter.Outcome.TIMEOUT, startNanos);
    }
  }

  /**
   * The call's timeout, at expiry or from its run: the limit it was given at submission, which
   * deadline that was, and the time since submission, queueing included.
   */
  private TimeoutExceededException exceeded(@Nullable Throwable cause) {
    Duration elapsed = Duration.ofNanos(deadline.ticker().read() - startTicks);
    String name = limiter.name();
    return outerDeadline
        ? TimeoutExceededException.deadlineExceeded(name, limit, elapsed, cause)
        : TimeoutExceededException.limitExceeded(name, limit, elapsed, cause);
  }

  /**
   * Fails the call with {@code failure}, freeing its place first if it has not started, and counts
   * it as rejected if that completed the future.
   *
   * @param failure what the future fails with
   */
  void close(RejectedExecutionException failure) {
    leaveQueue();
    if (future.completeExceptionally(failure)) {
      limiter.record(TimeLimiter.Outcome.REJECTED, startNanos);
    }
  }

  /** Abandons the call if no thread has started it: it leaves the queue and frees its place. */
  private void leaveQueue() {
    if (state.compareAndSet(QUEUED, ABANDONED)) {
      pool.remove(this);
      admission.left();
    }
  }

  /** Runs once the future is done, by whomever. */
  private void completed(Set<SubmittedCall<?>> pending) {
    pending.remove(this);
    ScheduledFuture<?> timer = expiry;
    if (timer != null) {
      timer.cancel(false);
    }
    leaveQueue(); // cancelled or completed by the caller while queued
    LimitedRun started = run;
    if (started != null) {
      started.run(); // interrupt and cancel hooks, as at the limit; nothing once the work returned
    }
  }
}

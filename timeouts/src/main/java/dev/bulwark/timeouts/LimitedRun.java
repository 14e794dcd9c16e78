package dev.bulwark.timeouts;

import dev.bulwark.core.internal.Checks;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;

/**
 * One call under a time limit: the race between the call finishing and the limit firing.
 *
 * <p>Exactly one side wins the compare-and-set out of {@code RUNNING}. If the caller wins ({@code
 * DONE}), nothing fires, ever: a call that returns just as the limit fires is never interrupted
 * afterwards; if it failed, and the deadline has passed, it still counts as timed out. If the limit
 * wins ({@code FIRING}), it interrupts the caller and then publishes {@code FIRED}; the caller,
 * seeing it lost, waits for {@code FIRED} (a few instructions), clears the interrupt, and waits a
 * bounded time for the cancel hooks, so neither the interrupt nor a hook reaches the caller's later
 * code.
 *
 * <p>Runs nest: an inner limit that fires clears only its own interrupt, and interrupts the thread
 * again if an enclosing limit fired meanwhile or the thread was interrupted before the inner call.
 */
final class LimitedRun implements TimeLimitContext, Runnable {
  /** The most hooks one call may register. */
  static final int MAX_HOOKS = 16;

  /** How long a timed-out call waits for its cancel hooks before it returns anyway. */
  static final long HOOK_WAIT_NANOS = TimeUnit.SECONDS.toNanos(5);

  private static final int RUNNING = 0;
  private static final int DONE = 1;
  private static final int FIRING = 2;
  private static final int FIRED = 3;

  private final AtomicInteger state = new AtomicInteger(RUNNING);
  private final Thread worker;
  private final Deadline deadline;
  private final @Nullable LimitedRun enclosing;
  private final List<Hook> hooks = new ArrayList<>(2);
  private final CountDownLatch hooksDone = new CountDownLatch(1);
  private boolean hooksReleased;
  private @Nullable ScheduledFuture<?> timer;

  LimitedRun(Thread worker, Deadline deadline, @Nullable LimitedRun enclosing) {
    this.worker = worker;
    this.deadline = deadline;
    this.enclosing = enclosing;
  }

  /**
   * Arms the watchdog; call once, from the worker, before the call starts. {@link #finish} cancels
   * it, whoever fired the run.
   */
  void arm(long delayNanos) {
    timer = Watchdog.SHARED.schedule(this, delayNanos);
  }

  @Override
  public Deadline deadline() {
    return deadline;
  }

  @Override
  public void onTimeout(Hook hook) {
    Objects.requireNonNull(hook, "hook");
    boolean runNow;
    synchronized (hooks) {
      if (hooks.size() >= MAX_HOOKS) {
        throw new IllegalStateException(
            Checks.format("at most %d cancel hooks may be registered per call", MAX_HOOKS));
      }
      runNow = hooksReleased;
      if (!runNow) {
        hooks.add(hook);
      }
    }
    if (runNow) {
      // Registered by the call after its limit fired: run it here, before the call goes on.
      Watchdog.runQuietly(hook);
    }
  }

  /** The watchdog's side, or a cancellation's: fires the limit unless the call is done. */
  @Override
  public void run() {
    if (!state.compareAndSet(RUNNING, FIRING)) {
      return;
    }
    try {
      worker.interrupt();
    } finally {
      state.set(FIRED);
    }
    List<Hook> toRun;
    synchronized (hooks) {
      hooksReleased = true;
      toRun = List.copyOf(hooks);
    }
    if (toRun.isEmpty()) {
      hooksDone.countDown();
    } else {
      Watchdog.SHARED.runHooks(toRun, hooksDone);
    }
  }

  /**
   * The worker's side, called once the call has returned or thrown.
   *
   * <p>A call that failed once its deadline had passed has timed out, even if the watchdog has not
   * fired yet: a client timeout clamped to the deadline (an HTTP request's, a {@code SET LOCAL
   * statement_timeout}, a Lettuce command's) ends at the deadline too, and which of the two comes
   * first is chance. Nothing fires then: the call is over, so neither interrupt nor hooks are due.
   *
   * @param interruptedBefore whether the worker was interrupted before the call started, to keep
   * @param failed whether the call threw
   * @return true if the call finished in time, false if the limit fired or the call failed after
   *     its deadline
   */
  boolean finish(boolean interruptedBefore, boolean failed) {
    boolean inTime = state.compareAndSet(RUNNING, DONE);
    // Fired from outside (a cancel, an expiry, a close), the timer would hold this run, its thread
    // and its hooks in the watchdog's queue until the deadline.
    ScheduledFuture<?> armed = timer;
    if (armed != null) {
      armed.cancel(false);
    }
    if (inTime) {
      return !(failed && deadline.isExpired());
    }
    while (state.get() == FIRING) {
      Thread.onSpinWait();
    }
    Thread.interrupted(); // this limit's interrupt
    awaitHooks();
    if (interruptedBefore || enclosingFired()) {
      worker.interrupt();
    }
    return false;
  }

  private void awaitHooks() {
    long end = System.nanoTime() + HOOK_WAIT_NANOS;
    boolean interrupted = false;
    try {
      for (long left = HOOK_WAIT_NANOS; left > 0; left = end - System.nanoTime()) {
        try {
          if (hooksDone.await(left, TimeUnit.NANOSECONDS)) {
            return;
          }
        } catch (InterruptedException e) {
          interrupted = true; // someone else's interrupt: keep it, keep waiting
        }
      }
      Watchdog.SHARED.hooksOverdue();
    } finally {
      if (interrupted) {
        worker.interrupt();
      }
    }
  }

  private boolean enclosingFired() {
    for (LimitedRun outer = enclosing; outer != null; outer = outer.enclosing) {
      if (outer.fired()) {
        return true;
      }
    }
    return false;
  }

  /**
   * {@return true while the watchdog holds this run's timer: armed, neither fired nor cancelled}
   */
  boolean timerPending() {
    ScheduledFuture<?> armed = timer;
    return armed != null && !armed.isDone();
  }

  /** {@return true if this limit has fired} */
  boolean fired() {
    return state.get() >= FIRING;
  }
}

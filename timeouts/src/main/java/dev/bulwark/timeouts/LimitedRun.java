package dev.bulwark.timeouts;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;

/**
 * One call under a time limit: the race between the call finishing and the watchdog firing.
 *
 * <p>Exactly one side wins the compare-and-set out of {@code RUNNING}. If the caller wins ({@code
 * DONE}), the watchdog does nothing, ever: a call that returns just as the limit fires is never
 * interrupted afterwards. If the watchdog wins ({@code FIRING}), it interrupts the caller and then
 * publishes {@code FIRED}; the caller, seeing it lost, waits for {@code FIRED} (a few instructions)
 * and clears the interrupt, so the interrupt never leaks into the caller's later code.
 */
final class LimitedRun implements TimeLimitContext, Runnable {
  private static final int RUNNING = 0;
  private static final int DONE = 1;
  private static final int FIRING = 2;
  private static final int FIRED = 3;

  private final AtomicInteger state = new AtomicInteger(RUNNING);
  private final Thread worker;
  private final Deadline deadline;
  private final List<Hook> hooks = new ArrayList<>(2);
  private boolean hooksReleased;
  private @Nullable ScheduledFuture<?> timer;

  LimitedRun(Thread worker, Deadline deadline) {
    this.worker = worker;
    this.deadline = deadline;
  }

  /** Arms the watchdog; call once, from the worker, before the call starts. */
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
      Watchdog.SHARED.runHook(hook);
    }
  }

  /** The watchdog's side. */
  @Override
  public void run() {
    if (!state.compareAndSet(RUNNING, FIRING)) {
      return;
    }
    worker.interrupt();
    state.set(FIRED);
    List<Hook> toRun;
    synchronized (hooks) {
      hooksReleased = true;
      toRun = new ArrayList<>(hooks);
    }
    for (Hook hook : toRun) {
      Watchdog.SHARED.runHook(hook);
    }
  }

  /**
   * The worker's side, called once the call has returned or thrown.
   *
   * @param interruptedBefore whether the worker was interrupted before the call started, to keep
   * @return true if the call finished in time, false if the watchdog fired
   */
  boolean finish(boolean interruptedBefore) {
    if (state.compareAndSet(RUNNING, DONE)) {
      ScheduledFuture<?> armed = timer;
      if (armed != null) {
        armed.cancel(false);
      }
      return true;
    }
    while (state.get() == FIRING) {
      Thread.onSpinWait();
    }
    // Clear the watchdog's interrupt; keep one the caller had before it started.
    Thread.interrupted();
    if (interruptedBefore) {
      worker.interrupt();
    }
    return false;
  }

  /** Returns true if the watchdog has fired. */
  boolean fired() {
    return state.get() >= FIRING;
  }
}

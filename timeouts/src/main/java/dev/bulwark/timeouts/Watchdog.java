package dev.bulwark.timeouts;

import dev.bulwark.core.internal.Checks;
import dev.bulwark.core.internal.NamedThreads;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The JVM's one timer for time limits, and the small pool that runs cancel hooks so that a slow
 * hook ({@code Statement.cancel} opens a connection) never delays another call's limit.
 *
 * <p>Hook trouble is counted here from the JVM's start, whether or not a registry is bound: {@code
 * failed} (a hook threw), {@code dropped} (the queue of {@value #HOOK_QUEUE} calls' hooks was
 * full), {@code overdue} (a timed-out call stopped waiting for its hooks after 5 s). {@link
 * #bindTo} shows the counts in a registry as {@code bulwark.timeouts.hooks} with tag {@code
 * outcome}, so trouble before the binding is not lost. Each is logged at the 1st, 2nd, 4th, 8th...
 * occurrence, so a storm cannot flood the log.
 */
final class Watchdog {
  static final Watchdog SHARED = new Watchdog();

  static final int HOOK_THREADS = 4;
  static final int HOOK_QUEUE = 1024;

  private static final String HOOKS_METER = "bulwark.timeouts.hooks";

  private static final Logger LOG = LoggerFactory.getLogger(Watchdog.class);

  private final ScheduledThreadPoolExecutor timer;
  private final ThreadPoolExecutor hooks;
  private final Trouble failed = new Trouble("failed");
  private final Trouble dropped = new Trouble("dropped");
  private final Trouble overdue = new Trouble("overdue");

  private Watchdog() {
    timer = new ScheduledThreadPoolExecutor(1, NamedThreads.daemon("timeouts", "watchdog"));
    timer.setRemoveOnCancelPolicy(true);
    timer.setExecuteExistingDelayedTasksAfterShutdownPolicy(false);
    hooks =
        new ThreadPoolExecutor(
            HOOK_THREADS,
            HOOK_THREADS,
            30,
            TimeUnit.SECONDS,
            new ArrayBlockingQueue<>(HOOK_QUEUE),
            NamedThreads.daemon("timeouts", "cancel"),
            new ThreadPoolExecutor.AbortPolicy());
    hooks.allowCoreThreadTimeOut(true);
  }

  /**
   * Shows the hook trouble counts in {@code registry}. A registry that holds them already is left
   * alone: registering them again would make Micrometer log a warning. Synchronized so that two
   * limiters built at once on one registry do not both register.
   */
  synchronized void bindTo(MeterRegistry registry) {
    for (Trouble trouble : List.of(failed, dropped, overdue)) {
      if (registry.find(HOOKS_METER).tag("outcome", trouble.outcome).functionCounter() != null) {
        continue;
      }
      FunctionCounter.builder(HOOKS_METER, trouble, Trouble::count)
          .description("Cancel hooks that failed, were dropped, or were not waited for")
          .tag("outcome", trouble.outcome)
          .register(registry);
    }
  }

  /** Initialises the shared timer, so its start-up cost is not paid inside a call's limit. */
  static void touch() {
    SHARED.timer.prestartCoreThread();
  }

  ScheduledFuture<?> schedule(Runnable task, long delayNanos) {
    return timer.schedule(task, delayNanos, TimeUnit.NANOSECONDS);
  }

  /** Runs one call's hooks one after another, in order, then counts {@code done} down. */
  void runHooks(List<TimeLimitContext.Hook> toRun, CountDownLatch done) {
    try {
      hooks.execute(
          () -> {
            try {
              for (TimeLimitContext.Hook hook : toRun) {
                runQuietly(hook);
              }
            } finally {
              done.countDown();
            }
          });
    } catch (RejectedExecutionException e) {
      done.countDown();
      dropped.record(
          Checks.format(
              "%d cancel hooks dropped: %d calls' hooks already queued; the call runs on",
              toRun.size(), HOOK_QUEUE),
          null);
    }
  }

  static void runQuietly(TimeLimitContext.Hook hook) {
    try {
      hook.cancel();
    } catch (Exception | LinkageError | AssertionError e) {
      SHARED.failed.record("cancel hook failed after a time limit", e);
    }
  }

  void hooksOverdue() {
    overdue.record(
        Checks.format(
            "a timed-out call stopped waiting for its cancel hooks after %d s",
            TimeUnit.NANOSECONDS.toSeconds(LimitedRun.HOOK_WAIT_NANOS)),
        null);
  }

  /** A counted kind of trouble, logged at its 1st, 2nd, 4th, 8th... occurrence. */
  private static final class Trouble {
    private final String outcome;
    private final AtomicLong count = new AtomicLong();

    Trouble(String outcome) {
      this.outcome = outcome;
    }

    double count() {
      return count.get();
    }

    void record(String text, @Nullable Throwable error) {
      long n = count.incrementAndGet();
      if (Long.bitCount(n) == 1) {
        LOG.error("{} (occurrence {})", text, n, error);
      }
    }
  }
}

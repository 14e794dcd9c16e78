package dev.bulwark.timeouts;

import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The JVM's one timer for time limits, and the small pool that runs cancel hooks so a slow hook
 * ({@code Statement.cancel} opens a connection) never delays another call's limit.
 */
final class Watchdog {
  static final Watchdog SHARED = new Watchdog();

  private static final Logger LOG = LoggerFactory.getLogger(Watchdog.class);
  private static final int HOOK_THREADS = 4;
  private static final int HOOK_QUEUE = 1024;

  private final ScheduledThreadPoolExecutor timer;
  private final ThreadPoolExecutor hooks;
  private final AtomicLong droppedHooks = new AtomicLong();

  private Watchdog() {
    timer = new ScheduledThreadPoolExecutor(1, daemonThreads("bulwark-timeouts-watchdog-"));
    timer.setRemoveOnCancelPolicy(true);
    timer.setExecuteExistingDelayedTasksAfterShutdownPolicy(false);
    hooks =
        new ThreadPoolExecutor(
            HOOK_THREADS,
            HOOK_THREADS,
            30,
            TimeUnit.SECONDS,
            new ArrayBlockingQueue<>(HOOK_QUEUE),
            daemonThreads("bulwark-timeouts-cancel-"),
            (task, executor) -> {
              long dropped = droppedHooks.incrementAndGet();
              LOG.error(
                  "cancel hook dropped: {} hooks already queued ({} dropped so far)",
                  HOOK_QUEUE,
                  dropped);
            });
    hooks.allowCoreThreadTimeOut(true);
  }

  ScheduledFuture<?> schedule(Runnable task, long delayNanos) {
    return timer.schedule(task, delayNanos, TimeUnit.NANOSECONDS);
  }

  void runHook(TimeLimitContext.Hook hook) {
    hooks.execute(
        () -> {
          try {
            hook.cancel();
          } catch (Exception | LinkageError e) {
            LOG.warn("cancel hook failed after a time limit: {}", e.toString());
          }
        });
  }

  long droppedHooks() {
    return droppedHooks.get();
  }

  static ThreadFactory daemonThreads(String prefix) {
    AtomicInteger count = new AtomicInteger();
    return task -> {
      Thread thread = new Thread(task, prefix + count.incrementAndGet());
      thread.setDaemon(true);
      return thread;
    };
  }
}

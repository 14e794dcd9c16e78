package dev.bulwark.timeouts;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The races of one submitted call, each forced into its worst order. */
class SubmittedCallTest {

  private static void await(CountDownLatch latch) {
    try {
      if (!latch.await(10, TimeUnit.SECONDS)) {
        throw new AssertionError("not counted down within 10 s");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }

  /**
   * A pool that, before it takes a submitted call, lets the watchdog run whatever is due now: an
   * expiry armed with no delay before the call was handed over runs first. The watchdog is one
   * thread, and runs tasks due at the same time in the order they were scheduled.
   */
  private static ThreadPoolExecutor expiryFirstPool() {
    return new ThreadPoolExecutor(
        1, 1, 0, TimeUnit.MILLISECONDS, new LinkedBlockingQueue<>(2), TestThread::new) {
      @Override
      public void execute(Runnable task) {
        if (task instanceof SubmittedCall) {
          CountDownLatch due = new CountDownLatch(1);
          Watchdog.SHARED.schedule(due::countDown, 0);
          await(due);
        }
        super.execute(task);
      }
    };
  }

  @Test
  void aCallWhoseExpiryFiresAtOnceLeavesNoDeadTaskInThePool() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    ThreadPoolExecutor pool = expiryFirstPool();
    try (TimeLimiter limiter = TimeLimiter.builder("reports").build()) {
      pool.execute(() -> await(release)); // the one thread is busy: a queued task stays queued
      Admission admission = new Admission(2);
      assertThat(admission.tryAdmit()).isEqualTo(Admission.ADMITTED);
      Deadline passed = Deadline.after(Duration.ZERO);
      SubmittedCall<String> call =
          new SubmittedCall<>(
              limiter,
              admission,
              pool,
              ctx -> "never",
              passed,
              Duration.ZERO,
              true,
              System.nanoTime(),
              passed.ticker().read());

      call.submit(ConcurrentHashMap.newKeySet());

      Throwable failure = catchThrowable(() -> call.future().get(10, TimeUnit.SECONDS));
      assertThat(failure).hasCauseInstanceOf(TimeoutExceededException.class);
      // Its place is free and its task left the pool's queue before the future failed: no dead
      // task holds a slot of the pool's bounded queue.
      assertThat(admission.now()).isZero();
      assertThat(pool.getQueue()).isEmpty();
    } finally {
      release.countDown();
      pool.shutdown();
    }
  }

  /** Plain daemon threads, so that a failed test leaves nothing running. */
  private static final class TestThread extends Thread {
    TestThread(Runnable task) {
      super(task, "submitted-call-test");
      setDaemon(true);
    }
  }
}

package dev.bulwark.timeouts;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** A run fired from outside (a cancel, an expiry, a close) before or during its call. */
class LimitedRunTest {
  private static final Duration LONG = Duration.ofMinutes(10);

  @AfterEach
  void nothingLeaks() {
    assertThat(Thread.interrupted()).as("interrupt status leaked").isFalse();
    assertThat(Deadline.current()).isEmpty();
  }

  @Test
  void aRunFiredFromOutsideLeavesNoTimerInTheWatchdog() {
    AtomicReference<LimitedRun> seen = new AtomicReference<>();
    Throwable thrown =
        catchThrowable(
            () ->
                TimeLimits.run(
                    Deadline.after(LONG),
                    ctx -> {
                      LimitedRun run = (LimitedRun) ctx;
                      seen.set(run);
                      assertThat(run.timerPending()).isTrue();
                      Thread canceller = new Thread(run, "canceller");
                      canceller.start();
                      canceller.join();
                      Thread.sleep(600_000); // interrupted already
                      return "never";
                    }));

    assertThat(thrown)
        .isInstanceOf(TimeoutExceededException.class)
        .hasCauseInstanceOf(InterruptedException.class);
    // Not held by the watchdog until the deadline, 10 minutes from now, with its thread and hooks.
    assertThat(seen.get().timerPending()).isFalse();
  }

  @Test
  void aRunFiredBeforeItsCallStartsNeverStartsIt() {
    AtomicBoolean ran = new AtomicBoolean();
    AtomicReference<LimitedRun> seen = new AtomicReference<>();
    Throwable thrown =
        catchThrowable(
            () ->
                TimeLimits.runSubmitted(
                    Deadline.after(LONG),
                    ctx -> {
                      ran.set(true);
                      return "ran";
                    },
                    run -> {
                      seen.set(run);
                      run.run(); // a future cancelled just before its call started
                    },
                    cause -> new TimeoutExceededException(LONG, Duration.ZERO, cause)));

    assertThat(thrown).isInstanceOf(TimeoutExceededException.class).hasNoCause();
    assertThat(ran).isFalse();
    assertThat(seen.get().timerPending()).isFalse();
  }

  @Test
  void aCancelledSubmittedCallLeavesNoTimerInTheWatchdog() throws Exception {
    AtomicReference<LimitedRun> seen = new AtomicReference<>();
    CountDownLatch started = new CountDownLatch(1);
    try (TimeLimiter limiter = TimeLimiter.builder("reports").timeout(LONG).build()) {
      CompletableFuture<String> f =
          limiter.submit(
              ctx -> {
                seen.set((LimitedRun) ctx);
                started.countDown();
                Thread.sleep(600_000);
                return "never";
              });
      assertThat(started.await(10, TimeUnit.SECONDS)).isTrue();
      assertThat(f.cancel(true)).isTrue();
      // The work returns at the interrupt; its timer goes with it, not at the limit.
      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (seen.get().timerPending() && System.nanoTime() < end) {
        Thread.onSpinWait();
      }
      assertThat(seen.get().timerPending()).isFalse();
    }
  }
}

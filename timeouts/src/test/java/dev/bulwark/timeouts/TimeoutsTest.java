package dev.bulwark.timeouts;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class TimeoutsTest {

  @AfterEach
  void nothingLeaks() {
    assertThat(Thread.interrupted()).as("interrupt status leaked").isFalse();
    assertThat(Deadline.current()).isEmpty();
  }

  @Test
  void returnsTheResultOfACallThatFinishesInTime() {
    assertThat(Timeouts.within(Duration.ofSeconds(5), () -> "done")).isEqualTo("done");
  }

  @Test
  void runsOnTheCallersThreadWithTheLimitAsCurrentDeadline() {
    Thread caller = Thread.currentThread();
    Timeouts.within(
        Duration.ofSeconds(5),
        ctx -> {
          assertThat(Thread.currentThread()).isSameAs(caller);
          assertThat(Deadline.current()).containsSame(ctx.deadline());
          assertThat(ctx.deadline().remaining()).isLessThanOrEqualTo(Duration.ofSeconds(5));
          return null;
        });
  }

  @Test
  void interruptsACallThatRunsPastTheLimit() {
    long start = System.nanoTime();
    assertThatThrownBy(
            () ->
                Timeouts.within(
                    Duration.ofMillis(100),
                    () -> {
                      Thread.sleep(30_000);
                      return "never";
                    }))
        .isInstanceOf(TimeoutExceededException.class)
        .hasCauseInstanceOf(InterruptedException.class)
        .hasMessageStartingWith("call exceeded its time limit of 100 ms after ")
        .satisfies(
            e ->
                assertThat(((TimeoutExceededException) e).elapsed())
                    .isGreaterThanOrEqualTo(Duration.ofMillis(100)));
    // Far below the 30 s the call wanted; a bound that a slow machine cannot break.
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(10));
  }

  @Test
  void theWatchdogsInterruptNeverLeaksIntoLaterCode() throws Exception {
    assertThatThrownBy(
            () ->
                Timeouts.within(
                    Duration.ofMillis(20),
                    () -> {
                      // Ignore the interrupt and keep going: the status stays set.
                      long end = System.nanoTime() + Duration.ofMillis(200).toNanos();
                      while (System.nanoTime() < end) {
                        Thread.onSpinWait();
                      }
                      return null;
                    }))
        .isInstanceOf(TimeoutExceededException.class)
        .hasNoCause();
    assertThat(Thread.currentThread().isInterrupted()).isFalse();
    Thread.sleep(1); // would throw if the interrupt had leaked
  }

  @Test
  void keepsAnInterruptTheCallerHadBefore() {
    Thread.currentThread().interrupt();
    assertThat(Timeouts.within(Duration.ofSeconds(5), () -> 1)).isEqualTo(1);
    assertThat(Thread.interrupted()).isTrue();
  }

  @Test
  void callsThatFinishJustUnderTheLimitAreNeverInterruptedAfterwards() {
    // Each call spins until its deadline is almost due, racing the watchdog. Whichever side wins,
    // no interrupt may survive the call.
    int calls = 100_000;
    int timedOut = 0;
    for (int i = 0; i < calls; i++) {
      try {
        Timeouts.within(
            Duration.ofNanos(100_000),
            ctx -> {
              Deadline d = ctx.deadline();
              while (d.remainingNanos() > 20_000) {
                Thread.onSpinWait();
              }
              return null;
            });
      } catch (TimeoutExceededException e) {
        timedOut++;
      }
      if (Thread.interrupted()) {
        throw new AssertionError("interrupt status leaked after call " + i);
      }
    }
    assertThat(timedOut).isBetween(0, calls);
  }

  @Test
  void anExpiredDeadlineFailsWithoutRunningTheCall() {
    AtomicBoolean ran = new AtomicBoolean();
    assertThatThrownBy(
            () ->
                Timeouts.within(
                    Deadline.after(Duration.ZERO),
                    () -> {
                      ran.set(true);
                      return null;
                    }))
        .isInstanceOf(TimeoutExceededException.class);
    assertThat(ran).isFalse();
  }

  @Test
  void anOuterDeadlineShortensALongerLimit() {
    try (Deadline.Scope outer = Deadline.after(Duration.ofMillis(50)).enter()) {
      long start = System.nanoTime();
      assertThatThrownBy(
              () ->
                  Timeouts.within(
                      Duration.ofSeconds(30),
                      () -> {
                        Thread.sleep(30_000);
                        return null;
                      }))
          .isInstanceOf(TimeoutExceededException.class);
      assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(10));
      assertThat(Deadline.current()).containsSame(outer.deadline());
    }
  }

  @Test
  void cancelHooksRunAtTheLimitAndNotWhenTheCallIsInTime() throws Exception {
    CountDownLatch cancelled = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    assertThatThrownBy(
            () ->
                Timeouts.within(
                    Duration.ofMillis(50),
                    ctx -> {
                      // A resource that ignores interrupts: only the hook releases it.
                      ctx.onTimeout(
                          () -> {
                            cancelled.countDown();
                            release.countDown();
                          });
                      while (true) {
                        try {
                          if (release.await(10, TimeUnit.SECONDS)) {
                            return null;
                          }
                        } catch (InterruptedException ignored) {
                          // like a blocking socket read
                        }
                      }
                    }))
        .isInstanceOf(TimeoutExceededException.class);
    assertThat(cancelled.await(10, TimeUnit.SECONDS)).isTrue();

    AtomicBoolean ran = new AtomicBoolean();
    Timeouts.within(
        Duration.ofSeconds(5),
        ctx -> {
          ctx.onTimeout(() -> ran.set(true));
          return null;
        });
    assertThat(ran).isFalse();
  }

  @Test
  void aHookRegisteredAfterTheLimitRunsAtOnce() throws Exception {
    CountDownLatch hook = new CountDownLatch(1);
    assertThatThrownBy(
            () ->
                Timeouts.within(
                    Duration.ofMillis(20),
                    ctx -> {
                      try {
                        Thread.sleep(30_000);
                      } catch (InterruptedException e) {
                        ctx.onTimeout(hook::countDown);
                      }
                      return null;
                    }))
        .isInstanceOf(TimeoutExceededException.class);
    assertThat(hook.await(10, TimeUnit.SECONDS)).isTrue();
  }

  @Test
  void aFailingHookDoesNotStopTheOthers() throws Exception {
    CountDownLatch second = new CountDownLatch(1);
    assertThatThrownBy(
            () ->
                Timeouts.within(
                    Duration.ofMillis(20),
                    ctx -> {
                      ctx.onTimeout(
                          () -> {
                            throw new IOException("cannot cancel");
                          });
                      ctx.onTimeout(second::countDown);
                      Thread.sleep(30_000);
                      return null;
                    }))
        .isInstanceOf(TimeoutExceededException.class);
    assertThat(second.await(10, TimeUnit.SECONDS)).isTrue();
  }

  @Test
  void hooksAreBounded() {
    assertThatThrownBy(
            () ->
                Timeouts.within(
                    Duration.ofSeconds(5),
                    ctx -> {
                      for (int i = 0; i <= LimitedRun.MAX_HOOKS; i++) {
                        ctx.onTimeout(() -> {});
                      }
                      return null;
                    }))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("at most 16 cancel hooks may be registered per call");
  }

  @Test
  void failuresInTimePassThroughUnchanged() {
    IOException io = new IOException("disk");
    assertThatThrownBy(
            () ->
                Timeouts.within(
                    Duration.ofSeconds(5),
                    () -> {
                      throw io;
                    }))
        .isSameAs(io);
    IllegalStateException ise = new IllegalStateException("state");
    assertThatThrownBy(
            () ->
                Timeouts.within(
                    Duration.ofSeconds(5),
                    () -> {
                      throw ise;
                    }))
        .isSameAs(ise);
  }

  @Test
  void checkedExceptionTypeIsInferredFromTheCall() throws IOException {
    // Compiles only because X is inferred as IOException, and RuntimeException for a plain lambda.
    String fine = Timeouts.within(Duration.ofSeconds(1), () -> "no checked exception");
    AtomicReference<String> read = new AtomicReference<>();
    read.set(
        Timeouts.within(
            Duration.ofSeconds(1),
            () -> {
              if (fine.isEmpty()) {
                throw new IOException("x");
              }
              return "io";
            }));
    assertThat(read.get()).isEqualTo("io");
  }

  @Test
  void rejectsALimitThatIsNotPositive() {
    assertThatThrownBy(() -> Timeouts.within(Duration.ZERO, () -> 1))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("limit must be positive, but was 0 ms");
    assertThatThrownBy(() -> Timeouts.within(Duration.ofMillis(-1), () -> 1))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("limit must be positive, but was -1 ms");
  }

  @Test
  void anInnerLimitThatFiresKeepsTheOuterLimitsInterrupt() {
    long start = System.nanoTime();
    assertThatThrownBy(
            () ->
                Timeouts.within(
                    Duration.ofMillis(150),
                    () -> {
                      try {
                        Timeouts.within(
                            Duration.ofMillis(50),
                            () -> {
                              // Deaf to interrupts past both limits.
                              long end = System.nanoTime() + Duration.ofMillis(400).toNanos();
                              while (System.nanoTime() < end) {
                                Thread.onSpinWait();
                              }
                              return null;
                            });
                      } catch (TimeoutExceededException inner) {
                        // The outer limit has fired meanwhile: its interrupt must still be there.
                      }
                      Thread.sleep(30_000);
                      return null;
                    }))
        .isInstanceOf(TimeoutExceededException.class)
        .hasCauseInstanceOf(InterruptedException.class);
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(10));
  }

  @Test
  void anInnerLimitThatIsInTimeLeavesTheOuterOneWorking() {
    assertThatThrownBy(
            () ->
                Timeouts.within(
                    Duration.ofMillis(100),
                    () -> {
                      Timeouts.within(Duration.ofSeconds(10), () -> 1);
                      Thread.sleep(30_000);
                      return null;
                    }))
        .isInstanceOf(TimeoutExceededException.class)
        .hasCauseInstanceOf(InterruptedException.class);
  }

  @Test
  void hooksHaveRunBeforeWithinReturns() {
    AtomicBoolean hookDone = new AtomicBoolean();
    assertThatThrownBy(
            () ->
                Timeouts.within(
                    Duration.ofMillis(20),
                    ctx -> {
                      ctx.onTimeout(
                          () -> {
                            Thread.sleep(200);
                            hookDone.set(true);
                          });
                      Thread.sleep(30_000);
                      return null;
                    }))
        .isInstanceOf(TimeoutExceededException.class);
    assertThat(hookDone).isTrue();
  }

  @Test
  void hooksRunInTheOrderTheyWereRegistered() {
    java.util.List<Integer> order = new java.util.concurrent.CopyOnWriteArrayList<>();
    assertThatThrownBy(
            () ->
                Timeouts.within(
                    Duration.ofMillis(20),
                    ctx -> {
                      for (int i = 0; i < 8; i++) {
                        int n = i;
                        ctx.onTimeout(() -> order.add(n));
                      }
                      Thread.sleep(30_000);
                      return null;
                    }))
        .isInstanceOf(TimeoutExceededException.class);
    assertThat(order).containsExactly(0, 1, 2, 3, 4, 5, 6, 7);
  }

  @Test
  void aLimitInsideAnOuterDeadlineReportsTheTimeTheCallHad() {
    try (Deadline.Scope outer = Deadline.after(Duration.ofMillis(100)).enter()) {
      assertThatThrownBy(
              () ->
                  Timeouts.within(
                      Duration.ofSeconds(30),
                      () -> {
                        Thread.sleep(30_000);
                        return null;
                      }))
          .isInstanceOf(TimeoutExceededException.class)
          .satisfies(
              e ->
                  assertThat(((TimeoutExceededException) e).limit())
                      .isLessThanOrEqualTo(Duration.ofMillis(100)));
    }
  }
}

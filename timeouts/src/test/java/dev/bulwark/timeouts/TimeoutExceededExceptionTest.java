package dev.bulwark.timeouts;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.io.IOException;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** What a timeout says about the limit that fired. */
class TimeoutExceededExceptionTest {

  @AfterEach
  void nothingLeaks() {
    assertThat(Thread.interrupted()).as("interrupt status leaked").isFalse();
    assertThat(Deadline.current()).isEmpty();
  }

  @Test
  void anAnonymousLimitIsNamedByItsLength() {
    TimeoutExceededException e =
        new TimeoutExceededException(Duration.ofMillis(200), Duration.ofMillis(201));
    assertThat(e).hasMessage("call exceeded its time limit of 200 ms after 201 ms").hasNoCause();
    assertThat(e.limiterName()).isEmpty();
    assertThat(e.limit()).isEqualTo(Duration.ofMillis(200));
    assertThat(e.elapsed()).isEqualTo(Duration.ofMillis(201));
  }

  @Test
  void aLimiterIsNamed() {
    IOException cause = new IOException("read timed out");
    TimeoutExceededException e =
        TimeoutExceededException.limitExceeded(
            "payments", Duration.ofMillis(200), Duration.ofMillis(201), cause);
    assertThat(e)
        .hasMessage("time limiter payments: call exceeded its time limit of 200 ms after 201 ms")
        .hasCause(cause);
    assertThat(e.limiterName()).contains("payments");
  }

  @Test
  void aCopyWithoutItsCauseKeepsTheRest() {
    IOException cause = new IOException("interrupted");
    TimeoutExceededException e =
        TimeoutExceededException.deadlineExceeded(
            "payments", Duration.ofMillis(87), Duration.ofMillis(88), cause);
    e.addSuppressed(new IOException("earlier"));

    TimeoutExceededException bare = e.withoutCause();

    assertThat(bare).isNotSameAs(e).hasMessage(e.getMessage()).hasNoCause();
    assertThat(bare.getSuppressed()).isEmpty();
    assertThat(bare.limiterName()).contains("payments");
    assertThat(bare.outerDeadline()).isTrue();
    assertThat(bare.limit()).isEqualTo(Duration.ofMillis(87));
    assertThat(bare.elapsed()).isEqualTo(Duration.ofMillis(88));
    assertThat(bare.getStackTrace()).isEqualTo(e.getStackTrace());
    assertThat(e).hasCause(cause);
  }

  @Test
  void anOuterDeadlineIsToldApartFromTheCallsOwnLimit() {
    assertThat(
            TimeoutExceededException.deadlineExceeded(
                null, Duration.ofMillis(87), Duration.ofMillis(88), null))
        .hasMessage("call exceeded its deadline (87 ms left when it started) after 88 ms");
    TimeoutExceededException named =
        TimeoutExceededException.deadlineExceeded(
            "payments", Duration.ofMillis(87), Duration.ofMillis(88), null);
    assertThat(named)
        .hasMessage(
            "time limiter payments: call exceeded its deadline (87 ms left when it started)"
                + " after 88 ms");
    assertThat(named.limiterName()).contains("payments");
    assertThat(named.limit()).isEqualTo(Duration.ofMillis(87));
  }

  @Test
  void aSubMillisecondLimitIsShownToTheMicrosecond() {
    assertThat(
            TimeoutExceededException.limitExceeded(
                null, Duration.ofNanos(250_000), Duration.ofNanos(300_000), null))
        .hasMessage("call exceeded its time limit of 0.25 ms after 0.3 ms");
    assertThat(
            TimeoutExceededException.deadlineExceeded(
                "payments", Duration.ofNanos(87_654_321), Duration.ofNanos(88_000_999), null))
        .hasMessage(
            "time limiter payments: call exceeded its deadline (87.654 ms left when it started)"
                + " after 88 ms");
    // Below a microsecond, in nanoseconds: never "0 ms" for a limit that was not zero.
    assertThat(
            TimeoutExceededException.limitExceeded(
                null, Duration.ofNanos(500), Duration.ofNanos(999), null))
        .hasMessage("call exceeded its time limit of 500 ns after 999 ns");
  }

  @Test
  void outerDeadlineSaysWhichLimitRanOut() {
    Duration ms = Duration.ofMillis(1);
    assertThat(TimeoutExceededException.limitExceeded(null, ms, ms, null).outerDeadline())
        .isFalse();
    assertThat(TimeoutExceededException.deadlineExceeded(null, ms, ms, null).outerDeadline())
        .isTrue();
    assertThat(new TimeoutExceededException(ms, ms).outerDeadline()).isFalse();
  }

  @Test
  void withinSaysWhetherItsLimitOrAnOuterDeadlineFired() {
    TimeoutExceededException own =
        catchThrowableOfType(
            TimeoutExceededException.class,
            () -> Timeouts.within(Duration.ofMillis(50), () -> sleep()));
    assertThat(own).hasMessageStartingWith("call exceeded its time limit of 50 ms after ");
    assertThat(own.limiterName()).isEmpty();

    TimeoutExceededException outer =
        catchThrowableOfType(
            TimeoutExceededException.class,
            () ->
                Deadline.after(Duration.ofMillis(50))
                    .call(() -> Timeouts.within(Duration.ofSeconds(30), () -> sleep())));
    assertThat(outer).hasMessageStartingWith("call exceeded its deadline (");
    assertThat(outer.limit()).isLessThanOrEqualTo(Duration.ofMillis(50));
  }

  @Test
  void anOuterDeadlineThatHadPassedLeftTheCallNothing() {
    TimeoutExceededException e =
        catchThrowableOfType(
            TimeoutExceededException.class,
            () ->
                Deadline.after(Duration.ZERO)
                    .call(() -> Timeouts.within(Duration.ofSeconds(30), () -> sleep())));
    assertThat(e)
        .hasMessage("call exceeded its deadline (0 ms left when it started) after 0 ms")
        .hasNoCause();
    assertThat(e.limit()).isZero();
    assertThat(e.outerDeadline()).isTrue();
  }

  @Test
  void aNamedRunNamesItsLimiterWhicheverLimitFired() {
    // The way a TimeLimiter runs its calls.
    TimeoutExceededException own =
        catchThrowableOfType(
            TimeoutExceededException.class,
            () -> TimeLimits.run(Deadline.after(Duration.ofMillis(50)), "reports", ctx -> sleep()));
    assertThat(own)
        .hasMessageStartingWith(
            "time limiter reports: call exceeded its time limit of 50 ms after ")
        .hasCauseInstanceOf(InterruptedException.class);
    assertThat(own.limiterName()).contains("reports");

    TimeoutExceededException outer =
        catchThrowableOfType(
            TimeoutExceededException.class,
            () ->
                Deadline.after(Duration.ofMillis(50))
                    .call(
                        () ->
                            TimeLimits.run(
                                Deadline.after(Duration.ofSeconds(30)),
                                "reports",
                                ctx -> sleep())));
    assertThat(outer).hasMessageStartingWith("time limiter reports: call exceeded its deadline (");

    TimeoutExceededException expired =
        catchThrowableOfType(
            TimeoutExceededException.class,
            () -> TimeLimits.run(Deadline.after(Duration.ZERO), "reports", ctx -> sleep()));
    assertThat(expired)
        .hasMessage("time limiter reports: call exceeded its time limit of 0 ms after 0 ms");
  }

  private static String sleep() throws InterruptedException {
    Thread.sleep(30_000);
    return "never";
  }
}

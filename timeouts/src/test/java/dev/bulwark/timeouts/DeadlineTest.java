package dev.bulwark.timeouts;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class DeadlineTest {
  private final AtomicLong now = new AtomicLong(1_000_000_000L);
  private final Ticker ticker = now::get;

  @AfterEach
  void noDeadlineLeaks() {
    assertThat(Deadline.current()).isEmpty();
  }

  @Test
  void remainingCountsDownOnTheTickerAndNeverGoesNegative() {
    Deadline d = Deadline.after(Duration.ofMillis(100), ticker);
    assertThat(d.remaining()).isEqualTo(Duration.ofMillis(100));
    assertThat(d.isExpired()).isFalse();
    now.addAndGet(Duration.ofMillis(60).toNanos());
    assertThat(d.remaining()).isEqualTo(Duration.ofMillis(40));
    assertThat(d.elapsed()).isEqualTo(Duration.ofMillis(60));
    now.addAndGet(Duration.ofMillis(50).toNanos());
    assertThat(d.isExpired()).isTrue();
    assertThat(d.remaining()).isEqualTo(Duration.ZERO);
    assertThat(d.remainingNanos()).isEqualTo(-Duration.ofMillis(10).toNanos());
    assertThat(d.budget()).isEqualTo(Duration.ofMillis(100));
    assertThat(d).hasToString("Deadline[expired 10 ms ago]");
  }

  @Test
  void zeroIsAlreadyExpiredAndHugeSaturates() {
    assertThat(Deadline.after(Duration.ZERO, ticker).isExpired()).isTrue();
    Deadline forever = Deadline.after(Duration.ofSeconds(Long.MAX_VALUE), ticker);
    assertThat(forever.isExpired()).isFalse();
    assertThat(forever.remainingNanos()).isPositive();
  }

  @Test
  void rejectsANegativeTimeout() {
    assertThatThrownBy(() -> Deadline.after(Duration.ofMillis(-5)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("timeout must not be negative, but was -5 ms");
  }

  @Test
  void minAndClampTakeTheEarlier() {
    Deadline a = Deadline.after(Duration.ofMillis(100), ticker);
    Deadline b = Deadline.after(Duration.ofMillis(300), ticker);
    assertThat(a.min(b)).isSameAs(a);
    assertThat(b.min(a)).isSameAs(a);
    assertThat(a.clamp(Duration.ofSeconds(30))).isEqualTo(Duration.ofMillis(100));
    assertThat(a.clamp(Duration.ofMillis(20))).isEqualTo(Duration.ofMillis(20));
  }

  @Test
  void checkNotExpiredThrowsWithTheBudgetAndElapsed() {
    Deadline d = Deadline.after(Duration.ofMillis(100), ticker);
    d.checkNotExpired();
    now.addAndGet(Duration.ofMillis(150).toNanos());
    assertThatThrownBy(d::checkNotExpired)
        .isInstanceOf(TimeoutExceededException.class)
        .hasMessage("call exceeded its time limit of 100 ms after 150 ms")
        .satisfies(
            e -> {
              TimeoutExceededException t = (TimeoutExceededException) e;
              assertThat(t.limit()).isEqualTo(Duration.ofMillis(100));
              assertThat(t.elapsed()).isEqualTo(Duration.ofMillis(150));
            });
  }

  @Test
  void nestedScopeTakesTheEarlierDeadlineAndNeverExtends() {
    Deadline outer = Deadline.after(Duration.ofMillis(100), ticker);
    Deadline later = Deadline.after(Duration.ofSeconds(10), ticker);
    Deadline sooner = Deadline.after(Duration.ofMillis(10), ticker);
    try (Deadline.Scope o = outer.enter()) {
      assertThat(Deadline.current()).containsSame(outer);
      try (Deadline.Scope inner = later.enter()) {
        assertThat(inner.deadline()).isSameAs(outer);
        assertThat(Deadline.current()).containsSame(outer);
        assertThat(Deadline.clampToCurrent(Duration.ofSeconds(30)))
            .isEqualTo(Duration.ofMillis(100));
      }
      try (Deadline.Scope inner = sooner.enter()) {
        assertThat(Deadline.current()).containsSame(sooner);
      }
      assertThat(Deadline.current()).containsSame(outer);
    }
    assertThat(Deadline.current()).isEmpty();
    assertThat(Deadline.clampToCurrent(Duration.ofSeconds(30))).isEqualTo(Duration.ofSeconds(30));
  }

  @Test
  void closingAScopeTwiceDoesNothing() {
    Deadline outer = Deadline.after(Duration.ofMillis(100), ticker);
    try (Deadline.Scope o = outer.enter()) {
      Deadline.Scope inner = Deadline.after(Duration.ofMillis(5), ticker).enter();
      inner.close();
      inner.close();
      assertThat(Deadline.current()).containsSame(outer);
    }
  }

  @Test
  void wrappedTasksCarryTheDeadlineToAnotherThread() throws Exception {
    ExecutorService pool = Executors.newSingleThreadExecutor();
    try {
      Deadline d = Deadline.after(Duration.ofSeconds(5), ticker);
      AtomicReference<Optional<Deadline>> seenByRunnable = new AtomicReference<>();
      Future<Optional<Deadline>> seenByCallable;
      AtomicReference<Optional<Deadline>> seenByExecutor = new AtomicReference<>();
      Future<?> executed;
      try (Deadline.Scope scope = d.enter()) {
        pool.submit(Deadline.wrap(() -> seenByRunnable.set(Deadline.current())))
            .get(10, TimeUnit.SECONDS);
        Callable<Optional<Deadline>> current = Deadline::current;
        seenByCallable = pool.submit(Deadline.wrap(current));
        executed = pool.submit(() -> {});
        Deadline.wrap(pool).execute(() -> seenByExecutor.set(Deadline.current()));
      }
      assertThat(seenByRunnable.get()).containsSame(d);
      assertThat(seenByCallable.get(10, TimeUnit.SECONDS)).containsSame(d);
      executed.get(10, TimeUnit.SECONDS);
      pool.submit(() -> {}).get(10, TimeUnit.SECONDS);
      assertThat(seenByExecutor.get()).containsSame(d);
      // The pool thread is left with no deadline once the task is done.
      assertThat(pool.submit(Deadline::current).get(10, TimeUnit.SECONDS)).isEmpty();
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void wrapWithoutADeadlineReturnsTheTaskItself() {
    Runnable task = () -> {};
    Callable<String> callable = () -> "x";
    assertThat(Deadline.wrap(task)).isSameAs(task);
    assertThat(Deadline.wrap(callable)).isSameAs(callable);
  }

  @Test
  void aScopeClosedOnAnotherThreadIsRefused() throws Exception {
    Deadline.Scope scope = Deadline.after(Duration.ofSeconds(1), ticker).enter();
    try {
      ExecutorService other = Executors.newSingleThreadExecutor();
      try {
        Future<?> closing = other.submit(scope::close);
        assertThatThrownBy(() -> closing.get(10, TimeUnit.SECONDS))
            .hasCauseInstanceOf(IllegalStateException.class)
            .cause()
            .hasMessageStartingWith(
                "a deadline scope must be closed on the thread that entered it");
      } finally {
        other.shutdownNow();
      }
    } finally {
      scope.close();
    }
  }

  @Test
  void callAndRunMakeTheDeadlineCurrentAndRestoreThePreviousOne() throws IOException {
    Deadline outer = Deadline.after(Duration.ofSeconds(10), ticker);
    Deadline inner = Deadline.after(Duration.ofMillis(100), ticker);
    Deadline later = Deadline.after(Duration.ofMinutes(1), ticker);
    try (Deadline.Scope o = outer.enter()) {
      assertThat(inner.call(Deadline::current)).containsSame(inner);
      // Never extends: the outer deadline stays in force.
      assertThat(later.call(Deadline::current)).containsSame(outer);
      AtomicReference<Optional<Deadline>> seen = new AtomicReference<>();
      inner.run(() -> seen.set(Deadline.current()));
      assertThat(seen.get()).containsSame(inner);
      assertThat(Deadline.current()).containsSame(outer);
    }
    assertThat(inner.call(() -> "result")).isEqualTo("result");
    assertThat(Deadline.current()).isEmpty();
  }

  @Test
  void callAndRunRestoreThePreviousDeadlineWhenTheCallThrows() {
    Deadline d = Deadline.after(Duration.ofSeconds(1), ticker);
    IOException io = new IOException("disk");
    // The checked exception is inferred from the lambda and passed on as it is.
    assertThatThrownBy(
            () ->
                d.call(
                    () -> {
                      throw io;
                    }))
        .isSameAs(io);
    assertThat(Deadline.current()).isEmpty();
    IllegalStateException ise = new IllegalStateException("state");
    assertThatThrownBy(
            () ->
                d.run(
                    () -> {
                      throw ise;
                    }))
        .isSameAs(ise);
    assertThat(Deadline.current()).isEmpty();
  }

  @Test
  void callDoesNotStopTheWorkAtTheDeadline() {
    Deadline d = Deadline.after(Duration.ofMillis(100), ticker);
    String result =
        d.call(
            () -> {
              now.addAndGet(Duration.ofSeconds(1).toNanos()); // well past the deadline
              assertThat(Deadline.current().orElseThrow().isExpired()).isTrue();
              return "done";
            });
    assertThat(result).isEqualTo("done");
  }

  @Test
  void aDetachedCallHasNoDeadlineAndTheThreadsComesBackAfterIt() throws Exception {
    Deadline outer = Deadline.after(Duration.ofMillis(100));
    outer.run(
        () -> {
          assertThat(Deadline.current()).containsSame(outer);
          Optional<Deadline> inside = Deadline.detached(Deadline::current);
          assertThat(inside).isEmpty();
          Deadline own = Deadline.after(Duration.ofSeconds(5));
          Deadline made = Deadline.detached(() -> own.call(() -> Deadline.current().orElseThrow()));
          assertThat(made).isSameAs(own); // not clamped to the outer 100 ms
          assertThatThrownBy(
                  () ->
                      Deadline.detached(
                          () -> {
                            throw new IllegalStateException("boom");
                          }))
              .hasMessage("boom");
          assertThat(Deadline.current()).containsSame(outer);
        });
    assertThat(Deadline.current()).isEmpty();
    assertThat(Deadline.detached(() -> "plain")).isEqualTo("plain");
  }
}

package dev.bulwark.jobs;

import static org.assertj.core.api.Assertions.assertThat;

import com.zaxxer.hikari.HikariDataSource;
import dev.bulwark.testing.Await;
import dev.bulwark.testing.PostgresExtension;
import dev.bulwark.testing.TestDatabase;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * {@code close()} in the middle of a run: the run finishes or is cancelled within the deadline, its
 * lock is released, and no other instance runs its period again.
 */
@ExtendWith(PostgresExtension.class)
class ShutdownTest {
  private static final long KEY = LockKeys.of("reports", "report");

  private final List<AutoCloseable> open = new ArrayList<>();
  private final CountDownLatch started = new CountDownLatch(1);
  private final AtomicReference<Instant> closedPeriod = new AtomicReference<>();
  private TestDatabase db;

  @BeforeEach
  void table(TestDatabase db) throws Exception {
    this.db = db;
    Db.execute(db, "create table ticks (period timestamptz not null, instance text not null)");
  }

  @AfterEach
  void closeAll() throws Exception {
    for (int i = open.size() - 1; i >= 0; i--) {
      open.get(i).close();
    }
  }

  /** A scheduler whose job, on its first run, does what {@code firstRun} says. */
  private LockingScheduler instance(String instance, Duration shutdownTimeout, Job firstRun)
      throws Exception {
    HikariDataSource pool = Db.pool(db, instance, 3);
    open.add(pool);
    LockingScheduler scheduler =
        LockingScheduler.postgres(pool)
            .name("reports")
            .instance(instance)
            .shutdownTimeout(shutdownTimeout)
            .build();
    open.add(scheduler);
    AtomicBoolean first = new AtomicBoolean(true);
    scheduler.schedule(
        "report",
        Schedule.fixedRate(Duration.ofSeconds(1)),
        context -> {
          insert(pool, context.periodStart(), instance);
          if (first.compareAndSet(true, false)) {
            closedPeriod.set(context.periodStart());
            started.countDown();
            firstRun.run(context);
          }
        });
    return scheduler;
  }

  /** The other instance, whose job never blocks. */
  private LockingScheduler other() throws Exception {
    HikariDataSource pool = Db.pool(db, "other", 3);
    open.add(pool);
    LockingScheduler scheduler =
        LockingScheduler.postgres(pool).name("reports").instance("other").build();
    open.add(scheduler);
    scheduler.schedule(
        "report",
        Schedule.fixedRate(Duration.ofSeconds(1)),
        context -> insert(pool, context.periodStart(), "other"));
    return scheduler;
  }

  @Test
  void aRunThatFinishesWithinTheDeadlineEndsAsASuccess() throws Exception {
    CountDownLatch finish = new CountDownLatch(1);
    LockingScheduler closing =
        instance("closing", Duration.ofSeconds(30), context -> finish.await(30, TimeUnit.SECONDS));
    assertThat(started.await(30, TimeUnit.SECONDS)).isTrue();
    LockingScheduler other = other();

    CompletableFuture<Void> close = CompletableFuture.runAsync(closing::close);
    Await.until(
        Duration.ofSeconds(10),
        "the other instance to skip a period the closing one holds the lock of",
        () -> other.snapshot("report").orElseThrow().skippedLockHeld() >= 1);
    assertThat(close).isNotDone();
    finish.countDown();
    close.get(30, TimeUnit.SECONDS);

    JobSnapshot snapshot = closing.snapshot("report").orElseThrow();
    assertThat(snapshot.runs()).isOne();
    assertThat(snapshot.successes()).isOne();
    assertThat(Db.lockHolders(db, KEY)).isEmpty();
    assertOtherNeverRanTheClosedPeriod(other);
  }

  @Test
  void aRunPastTheDeadlineIsCancelledAndReleasesItsLock() throws Exception {
    AtomicBoolean cancelled = new AtomicBoolean();
    AtomicBoolean interrupted = new AtomicBoolean();
    LockingScheduler closing =
        instance(
            "closing",
            Duration.ofMillis(200),
            context -> {
              try {
                new CountDownLatch(1).await(60, TimeUnit.SECONDS);
              } catch (InterruptedException e) {
                interrupted.set(true);
                cancelled.set(context.isCancelled());
              }
            });
    assertThat(started.await(30, TimeUnit.SECONDS)).isTrue();
    LockingScheduler other = other();

    closing.close();

    assertThat(interrupted).isTrue();
    assertThat(cancelled).isTrue();
    assertThat(Db.lockHolders(db, KEY)).isEmpty();
    JobSnapshot snapshot = closing.snapshot("report").orElseThrow();
    assertThat(snapshot.failures()).isOne();
    assertThat(snapshot.lastFailureMessage()).isEqualTo("was cancelled by the scheduler's close");
    assertThat(Db.strings(db, "select outcome from bulwark_job_runs where owner = 'closing'"))
        .containsExactly("cancelled");
    assertOtherNeverRanTheClosedPeriod(other);
  }

  @Test
  void aRunThatIgnoresItsCancellationLosesItsLockAndKeepsItsPeriod() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    LockingScheduler closing =
        instance(
            "closing",
            Duration.ZERO,
            context -> {
              while (true) {
                try {
                  if (release.await(60, TimeUnit.SECONDS)) {
                    return;
                  }
                } catch (InterruptedException ignored) {
                  // A job that will not stop.
                }
              }
            });
    assertThat(started.await(30, TimeUnit.SECONDS)).isTrue();
    LockingScheduler other = other();

    closing.close();

    // close() returned with the job still running: its lock connection was aborted, so the server
    // released the lock, and the period stays recorded.
    assertThat(closing.snapshot("report").orElseThrow().running()).isTrue();
    Await.until(
        Duration.ofSeconds(10), "the lock's release", () -> Db.lockHolders(db, KEY).isEmpty());
    assertOtherNeverRanTheClosedPeriod(other);
    release.countDown();
    Await.until(
        Duration.ofSeconds(10),
        "the abandoned run's end",
        () -> !closing.snapshot("report").orElseThrow().running());
  }

  /** The other instance runs later periods, never the one that was running at the close. */
  private void assertOtherNeverRanTheClosedPeriod(LockingScheduler other) throws Exception {
    long before = other.snapshot("report").orElseThrow().runs();
    Await.until(
        Duration.ofSeconds(30),
        "two runs of the other instance after the close",
        () -> other.snapshot("report").orElseThrow().runs() >= before + 2);
    other.close();
    Instant period = closedPeriod.get();
    assertThat(
            Db.count(
                db,
                "select count(*) from ticks where period = '" + RunTable.timestamp(period) + "'"))
        .isOne();
    assertThat(Db.count(db, "select count(*) from ticks"))
        .isEqualTo(Db.count(db, "select count(distinct period) from ticks"));
  }

  private static void insert(HikariDataSource pool, Instant period, String instance)
      throws Exception {
    try (Connection c = pool.getConnection();
        PreparedStatement s =
            c.prepareStatement("insert into ticks (period, instance) values (?, ?)")) {
      s.setObject(1, RunTable.timestamp(period));
      s.setString(2, instance);
      s.executeUpdate();
    }
  }
}

package dev.bulwark.jobs;

import static org.assertj.core.api.Assertions.assertThat;

import com.zaxxer.hikari.HikariDataSource;
import dev.bulwark.testing.Await;
import dev.bulwark.testing.PostgresExtension;
import dev.bulwark.testing.TestDatabase;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The lock holder's backend is terminated in the middle of a run. */
@ExtendWith(PostgresExtension.class)
class LockLossTest {
  private final List<AutoCloseable> open = new ArrayList<>();

  @AfterEach
  void closeAll() throws Exception {
    for (int i = open.size() - 1; i >= 0; i--) {
      open.get(i).close();
    }
  }

  @Test
  void aTerminatedBackendStopsTheRunAndAnotherInstanceRunsTheNextPeriod(TestDatabase db)
      throws Exception {
    Db.execute(db, "create table ticks (period timestamptz not null, instance text not null)");
    AtomicBoolean first = new AtomicBoolean(true);
    CountDownLatch started = new CountDownLatch(1);
    CountDownLatch toldToStop = new CountDownLatch(1);
    CountDownLatch laterPeriodRan = new CountDownLatch(1);
    AtomicReference<String> holder = new AtomicReference<>();
    AtomicReference<Instant> heldPeriod = new AtomicReference<>();
    AtomicBoolean lockHeldWhenTold = new AtomicBoolean(true);
    AtomicBoolean cancelledWhenTold = new AtomicBoolean(false);
    SimpleMeterRegistry[] registries = {new SimpleMeterRegistry(), new SimpleMeterRegistry()};
    List<LockingScheduler> schedulers = new ArrayList<>();
    for (int i = 0; i < 2; i++) {
      String instance = "instance-" + i;
      HikariDataSource pool = Db.pool(db, instance, 3);
      open.add(pool);
      LockingScheduler scheduler =
          LockingScheduler.postgres(pool)
              .name("exports")
              .instance(instance)
              .lockCheckInterval(Duration.ofMillis(50))
              .meterRegistry(registries[i])
              .build();
      open.add(scheduler);
      schedulers.add(scheduler);
      scheduler.schedule(
          "export",
          Schedule.fixedRate(Duration.ofSeconds(1)),
          context -> {
            insert(pool, context.periodStart(), instance);
            if (first.compareAndSet(true, false)) {
              holder.set(instance);
              heldPeriod.set(context.periodStart());
              started.countDown();
              try {
                new CountDownLatch(1).await(60, TimeUnit.SECONDS);
              } catch (InterruptedException e) {
                lockHeldWhenTold.set(context.isLockHeld());
                cancelledWhenTold.set(context.isCancelled());
                toldToStop.countDown();
                // Still running: the other instance must be able to run later periods meanwhile.
                laterPeriodRan.await(30, TimeUnit.SECONDS);
              }
            } else if (heldPeriod.get() != null
                && context.periodStart().isAfter(heldPeriod.get())) {
              laterPeriodRan.countDown();
            }
          });
    }

    assertThat(started.await(30, TimeUnit.SECONDS)).isTrue();
    long key = LockKeys.of("exports", "export");
    List<Integer> holders = Db.lockHolders(db, key);
    assertThat(holders).hasSize(1);
    assertThat(db.server().terminateBackend(holders.get(0))).isTrue();

    assertThat(toldToStop.await(30, TimeUnit.SECONDS)).isTrue();
    assertThat(lockHeldWhenTold).isFalse();
    assertThat(cancelledWhenTold).isTrue();
    assertThat(laterPeriodRan.await(30, TimeUnit.SECONDS)).isTrue();

    int lost = "instance-0".equals(holder.get()) ? 0 : 1;
    LockingScheduler loser = schedulers.get(lost);
    Await.until(
        Duration.ofSeconds(10),
        "the lost run's end",
        () -> !loser.snapshot("export").orElseThrow().running());
    JobSnapshot snapshot = loser.snapshot("export").orElseThrow();
    assertThat(snapshot.lockLosses()).isOne();
    assertThat(snapshot.failures()).isOne();
    assertThat(snapshot.lastFailureMessage()).startsWith("lost its lock");
    assertThat(
            registries[lost]
                .get("bulwark.jobs.runs")
                .tag("job", "export")
                .tag("outcome", "lock_lost")
                .timer()
                .count())
        .isOne();
    // The run's end is recorded through another connection, since its own died with the lock.
    assertThat(Db.strings(db, "select outcome from bulwark_job_runs where outcome = 'lock_lost'"))
        .hasSize(1);
    // The loser goes on: its pool replaced the dead connection, and it runs later periods.
    long runsBefore = snapshot.runs();
    Await.until(
        Duration.ofSeconds(30),
        "a run of the instance that lost its lock",
        () ->
            loser.snapshot("export").orElseThrow().successes() >= 1
                && loser.snapshot("export").orElseThrow().runs() > runsBefore);
    for (LockingScheduler scheduler : schedulers) {
      scheduler.close();
    }
    assertThat(Db.count(db, "select count(*) from ticks"))
        .as("no period ran twice")
        .isEqualTo(Db.count(db, "select count(distinct period) from ticks"));
  }

  @Test
  void aRunStuckPastItsTimeLimitGivesUpItsLock(TestDatabase db) throws Exception {
    HikariDataSource pool = Db.pool(db, "stuck", 3);
    open.add(pool);
    LockingScheduler scheduler = LockingScheduler.postgres(pool).name("stuck").build();
    open.add(scheduler);
    CountDownLatch started = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    scheduler.schedule(
        "import",
        Schedule.fixedRate(Duration.ofSeconds(1)),
        Duration.ofMillis(200),
        context -> {
          started.countDown();
          while (true) {
            try {
              if (release.await(60, TimeUnit.SECONDS)) {
                return;
              }
            } catch (InterruptedException ignored) {
              // A call that does not stop when interrupted.
            }
          }
        });
    assertThat(started.await(30, TimeUnit.SECONDS)).isTrue();
    long key = LockKeys.of("stuck", "import");
    Await.until(
        Duration.ofSeconds(10),
        "the lock's release a second after the time limit",
        () -> Db.lockHolders(db, key).isEmpty());
    assertThat(scheduler.snapshot("import").orElseThrow().running()).isTrue();
    release.countDown();
    Await.until(
        Duration.ofSeconds(10),
        "the stuck run's end",
        () -> scheduler.snapshot("import").orElseThrow().timeouts() == 1);
    assertThat(scheduler.snapshot("import").orElseThrow().lastFailureMessage())
        .isEqualTo("passed its time limit");
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

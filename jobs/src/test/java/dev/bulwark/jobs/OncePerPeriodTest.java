package dev.bulwark.jobs;

import static org.assertj.core.api.Assertions.assertThat;

import com.zaxxer.hikari.HikariDataSource;
import dev.bulwark.testing.Await;
import dev.bulwark.testing.PostgresExtension;
import dev.bulwark.testing.TestDatabase;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Four scheduler instances, each on its own pool, share one database: each period of a 1-second job
 * runs exactly once, though two of the instances' JVM clocks are minutes off.
 */
@ExtendWith(PostgresExtension.class)
class OncePerPeriodTest {
  private final List<AutoCloseable> open = new ArrayList<>();

  @AfterEach
  void closeAll() throws Exception {
    for (int i = open.size() - 1; i >= 0; i--) {
      open.get(i).close();
    }
  }

  @Test
  void fourInstancesRunEachPeriodExactlyOnceWithSkewedClocks(TestDatabase db) throws Exception {
    Db.execute(db, "create table ticks (period timestamptz not null, instance text not null)");
    Duration[] skew = {
      Duration.ZERO, Duration.ofMinutes(-3), Duration.ofMinutes(5), Duration.ofSeconds(1)
    };
    List<LockingScheduler> schedulers = new ArrayList<>();
    for (int i = 0; i < skew.length; i++) {
      String instance = "instance-" + i;
      HikariDataSource pool = Db.pool(db, instance, 3);
      open.add(pool);
      LockingScheduler scheduler =
          LockingScheduler.postgres(pool)
              .name("billing")
              .instance(instance)
              .clock(Clock.offset(Clock.systemUTC(), skew[i]))
              .build();
      open.add(scheduler);
      schedulers.add(scheduler);
      scheduler.schedule(
          "tick",
          Schedule.fixedRate(Duration.ofSeconds(1)),
          context -> {
            try (Connection c = pool.getConnection();
                PreparedStatement s =
                    c.prepareStatement("insert into ticks (period, instance) values (?, ?)")) {
              s.setObject(1, RunTable.timestamp(context.periodStart()));
              s.setString(2, instance);
              s.executeUpdate();
            }
          });
    }

    Await.until(
        Duration.ofSeconds(60),
        "21 periods",
        () -> Db.count(db, "select count(distinct period) from ticks") >= 21);
    for (LockingScheduler scheduler : schedulers) {
      scheduler.close();
    }

    long rows = Db.count(db, "select count(*) from ticks");
    long periods = Db.count(db, "select count(distinct period) from ticks");
    long span =
        Db.count(db, "select extract(epoch from max(period) - min(period))::bigint + 1 from ticks");
    assertThat(rows).as("duplicates").isEqualTo(periods);
    // The first period may start before every instance is up; after it, none is missed.
    assertThat(periods).as("misses").isEqualTo(span);
    assertThat(Db.count(db, "select count(*) from bulwark_job_runs where job = 'tick'"))
        .isEqualTo(periods);
    long runs = 0;
    long skipped = 0;
    for (LockingScheduler scheduler : schedulers) {
      JobSnapshot tick = scheduler.snapshot("tick").orElseThrow();
      assertThat(tick.failures()).isZero();
      assertThat(tick.errors()).isZero();
      runs += tick.runs();
      skipped += tick.skippedLockHeld() + tick.skippedAlreadyRan();
      assertThat(tick.missed()).isZero();
    }
    assertThat(runs).isEqualTo(periods);
    assertThat(skipped).isGreaterThan(0);
    // The skewed clocks were in use: they stamp the snapshots, and only the snapshots.
    JobSnapshot ahead = schedulers.get(2).snapshot("tick").orElseThrow();
    if (ahead.lastStart() != null) {
      assertThat(Duration.between(ahead.lastPeriod(), ahead.lastStart()))
          .isGreaterThan(Duration.ofMinutes(4));
    }
  }

  @Test
  void aSchedulerWithRoomForOneJobKeepsRunningIt(TestDatabase db) throws Exception {
    // A run that overruns its period makes the next attempt start at once, while the last one's
    // thread is still finishing: with one thread, the attempt must wait for it, not be refused.
    HikariDataSource pool = Db.pool(db, "single", 3);
    open.add(pool);
    LockingScheduler scheduler = LockingScheduler.postgres(pool).name("single").maxJobs(1).build();
    open.add(scheduler);
    AtomicInteger runs = new AtomicInteger();
    scheduler.schedule(
        "tick",
        Schedule.fixedRate(Duration.ofSeconds(1)),
        context -> {
          if (runs.incrementAndGet() == 1) {
            Thread.sleep(1_500); // the workload: longer than the period
          }
        });
    Await.until(Duration.ofSeconds(30), "four runs", () -> runs.get() >= 4);
    JobSnapshot tick = scheduler.snapshot("tick").orElseThrow();
    assertThat(tick.errors()).isZero();
    assertThat(tick.successes()).isGreaterThanOrEqualTo(3);
  }

  @Test
  void twoSchedulersWithJobsOfTheSameNameDoNotFenceEachOther(TestDatabase db) throws Exception {
    HikariDataSource pool = Db.pool(db, "shared", 4);
    open.add(pool);
    AtomicInteger billing = new AtomicInteger();
    AtomicInteger reports = new AtomicInteger();
    for (String name : new String[] {"billing", "reports"}) {
      LockingScheduler scheduler = LockingScheduler.postgres(pool).name(name).build();
      open.add(scheduler);
      AtomicInteger runs = name.equals("billing") ? billing : reports;
      scheduler.schedule(
          "cleanup", Schedule.fixedRate(Duration.ofSeconds(1)), context -> runs.incrementAndGet());
    }
    Await.until(
        Duration.ofSeconds(30),
        "three runs of each application's cleanup",
        () -> billing.get() >= 3 && reports.get() >= 3);
    assertThat(
            Db.strings(
                db,
                "select distinct scheduler from bulwark_job_runs where job = 'cleanup' order by 1"))
        .containsExactly("billing", "reports");
  }

  @Test
  void periodsWithoutARunAnywhereAreCountedByTheRunAfterThem(TestDatabase db) throws Exception {
    HikariDataSource pool = Db.pool(db, "missed", 3);
    open.add(pool);
    LockingScheduler scheduler = LockingScheduler.postgres(pool).name("missed").build();
    open.add(scheduler);
    // A run recorded some seconds ago, and nothing since: as if every instance had been down.
    Db.execute(
        db,
        "insert into bulwark_job_runs (scheduler, job, period_start, owner, started_at, finished_at)"
            + " select 'missed', 'tick', date_trunc('second', clock_timestamp()) - interval '6 s',"
            + " 'gone', clock_timestamp(), clock_timestamp()");
    Instant recorded =
        Instant.parse(
            Db.strings(
                    db,
                    "select to_char(period_start at time zone 'UTC',"
                        + " 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') from bulwark_job_runs")
                .get(0));
    AtomicInteger runs = new AtomicInteger();
    scheduler.schedule(
        "tick", Schedule.fixedRate(Duration.ofSeconds(1)), context -> runs.incrementAndGet());
    Await.until(Duration.ofSeconds(30), "a run", () -> runs.get() >= 1);
    JobSnapshot tick = scheduler.snapshot("tick").orElseThrow();
    long expected = Duration.between(recorded, tick.lastPeriod()).getSeconds() - 1;
    assertThat(tick.missed()).isEqualTo(expected).isGreaterThanOrEqualTo(5);
  }
}

package dev.bulwark.jobs;

import static org.assertj.core.api.Assertions.assertThat;

import com.zaxxer.hikari.HikariDataSource;
import dev.bulwark.pool.Pools;
import dev.bulwark.testing.Await;
import dev.bulwark.testing.FaultProxy;
import dev.bulwark.testing.PostgresExtension;
import dev.bulwark.testing.TestDatabase;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Runs against the real PostgreSQL: a run past its time limit, a failing run, a fixed delay across
 * two instances, an outage of the database behind a fault proxy, the meters, a job without a
 * context, the pruning of the run table, two schedulers of different names on one table, and a
 * scheduler with as many jobs as its maxJobs.
 */
@ExtendWith(PostgresExtension.class)
class SchedulerRunsTest {
  private static final Schedule EVERY_SECOND = Schedule.fixedRate(Duration.ofSeconds(1));
  private static final Duration WAIT = Duration.ofSeconds(20);

  private final List<AutoCloseable> open = new ArrayList<>();

  @AfterEach
  void closeAll() throws Exception {
    for (int i = open.size() - 1; i >= 0; i--) {
      open.get(i).close();
    }
  }

  private <T extends AutoCloseable> T opened(T resource) {
    open.add(resource);
    return resource;
  }

  private static JobSnapshot snapshot(LockingScheduler scheduler, String job) {
    return scheduler.snapshot(job).orElseThrow();
  }

  private static Timer runs(MeterRegistry registry, String scheduler, String job, String outcome) {
    return registry
        .get("bulwark.jobs.runs")
        .tags("name", scheduler, "job", job, "outcome", outcome)
        .timer();
  }

  private static FunctionCounter skips(
      MeterRegistry registry, String scheduler, String job, String reason) {
    return registry
        .get("bulwark.jobs.skips")
        .tags("name", scheduler, "job", job, "reason", reason)
        .functionCounter();
  }

  private static FunctionCounter errors(MeterRegistry registry, String scheduler, String job) {
    return registry
        .get("bulwark.jobs.errors")
        .tags("name", scheduler, "job", job)
        .functionCounter();
  }

  @Test
  void aRunPastItsTimeLimitIsInterruptedCountedAndReleasesItsLock(TestDatabase db)
      throws Exception {
    HikariDataSource pool = opened(Db.pool(db, "limit", 3));
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    LockingScheduler scheduler =
        opened(LockingScheduler.postgres(pool).name("limits").meterRegistry(registry).build());
    CountDownLatch never = new CountDownLatch(1);
    AtomicInteger calls = new AtomicInteger();
    AtomicBoolean cancelledWhenInterrupted = new AtomicBoolean();
    AtomicBoolean lockHeldWhenInterrupted = new AtomicBoolean();
    List<Instant> periods = new CopyOnWriteArrayList<>();
    scheduler.schedule(
        "slow",
        EVERY_SECOND,
        Duration.ofMillis(300),
        context -> {
          periods.add(context.periodStart());
          if (calls.getAndIncrement() == 0) {
            try {
              never.await();
            } catch (InterruptedException e) {
              cancelledWhenInterrupted.set(context.isCancelled());
              lockHeldWhenInterrupted.set(context.isLockHeld());
              throw e;
            }
          }
        });

    Await.until(WAIT, "a run after the timeout", () -> snapshot(scheduler, "slow").successes() > 0);
    assertThat(cancelledWhenInterrupted).isTrue();
    assertThat(lockHeldWhenInterrupted).isTrue();
    JobSnapshot slow = snapshot(scheduler, "slow");
    assertThat(slow.timeouts()).isOne();
    assertThat(slow.failures()).isOne();
    assertThat(slow.lockLosses()).isZero();
    assertThat(slow.errors()).isZero();
    assertThat(slow.lastFailure()).isNotNull();
    assertThat(slow.lastFailureMessage()).isEqualTo("passed its time limit");
    Timer timeouts = runs(registry, "limits", "slow", "timeout");
    assertThat(timeouts.count()).isOne();
    // Not a speed: the run cannot have ended before its limit interrupted it.
    assertThat(timeouts.totalTime(TimeUnit.MILLISECONDS)).isGreaterThanOrEqualTo(300);
    assertThat(runs(registry, "limits", "slow", "failure").count()).isZero();
    assertThat(periods).doesNotHaveDuplicates();
    assertThat(periods.get(1)).isAfter(periods.get(0));
    assertThat(
            Db.strings(
                db,
                "select outcome from bulwark_job_runs where job = 'slow' and period_start = '"
                    + periods.get(0)
                    + "'"))
        .containsExactly("timeout");
    // Between runs, no session holds the job's lock.
    long key = LockKeys.of("limits", "slow");
    Await.until(WAIT, "the lock free", () -> Db.lockFree(db, key));
  }

  @Test
  void aFailingRunIsCountedMaskedAndNotRetried(TestDatabase db) throws Exception {
    HikariDataSource pool = opened(Db.pool(db, "failing", 3));
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    LockingScheduler scheduler =
        opened(LockingScheduler.postgres(pool).name("failing").meterRegistry(registry).build());
    AtomicInteger calls = new AtomicInteger();
    List<Instant> periods = new CopyOnWriteArrayList<>();
    scheduler.schedule(
        "fetch",
        EVERY_SECOND,
        context -> {
          periods.add(context.periodStart());
          if (calls.getAndIncrement() == 0) {
            throw new IllegalStateException("cannot reach postgresql://user:s3cr3t@host/db");
          }
        });

    Await.until(
        WAIT, "a run after the failure", () -> snapshot(scheduler, "fetch").successes() > 0);
    JobSnapshot fetch = snapshot(scheduler, "fetch");
    assertThat(fetch.failures()).isOne();
    assertThat(fetch.timeouts()).isZero();
    assertThat(fetch.lastFailure()).isNotNull();
    assertThat(fetch.lastSuccess()).isAfterOrEqualTo(fetch.lastFailure());
    assertThat(fetch.lastFailureMessage())
        .isEqualTo(
            "failed: java.lang.IllegalStateException: cannot reach postgresql://***@host/db");
    assertThat(runs(registry, "failing", "fetch", "failure").count()).isOne();
    assertThat(runs(registry, "failing", "fetch", "timeout").count()).isZero();
    // The failed period was not run again: the next run was for the next period.
    assertThat(periods).doesNotHaveDuplicates();
    assertThat(periods.get(1)).isAfter(periods.get(0));
    assertThat(
            Db.strings(
                db,
                "select outcome from bulwark_job_runs where job = 'fetch' and period_start = '"
                    + periods.get(0)
                    + "'"))
        .containsExactly("failure");
  }

  @Test
  void aFixedDelayOnTwoInstancesStartsEachRunADelayAfterTheLastEnded(TestDatabase db)
      throws Exception {
    List<LockingScheduler> schedulers = new ArrayList<>();
    List<String> calls = new CopyOnWriteArrayList<>();
    for (String instance : new String[] {"a", "b"}) {
      HikariDataSource pool = opened(Db.pool(db, "delay-" + instance, 3));
      LockingScheduler scheduler =
          opened(LockingScheduler.postgres(pool).name("delays").instance(instance).build());
      schedulers.add(scheduler);
      scheduler.schedule(
          "beat", Schedule.fixedDelay(Duration.ofSeconds(1)), () -> calls.add(instance));
    }

    Await.until(
        WAIT,
        "6 finished runs",
        () ->
            Db.count(
                    db,
                    "select count(*) from bulwark_job_runs where job = 'beat'"
                        + " and finished_at is not null")
                >= 6);
    for (LockingScheduler scheduler : schedulers) {
      scheduler.close();
    }

    // A period claimed as close() began is recorded but not run ("no run starts after this call
    // begins"): it has no end. Every other row is a run, and ended.
    String ran =
        "select count(*) from bulwark_job_runs where job = 'beat' and finished_at is not null";
    assertThat(Db.count(db, ran)).isEqualTo(calls.size());
    // On the database's clock: each run started at least the delay after the one before ended,
    // so none overlapped.
    List<String> gaps =
        Db.strings(
            db,
            "select extract(epoch from started_at - lag(finished_at) over (order by started_at))"
                + " from bulwark_job_runs where job = 'beat' and finished_at is not null"
                + " order by started_at");
    assertThat(gaps.get(0)).isNull();
    for (String gap : gaps.subList(1, gaps.size())) {
      assertThat(Double.parseDouble(gap)).as(gaps.toString()).isGreaterThanOrEqualTo(1.0);
    }
    // Which instance ran which is not promised; what each ran is recorded as its own.
    assertThat(Db.strings(db, "select distinct owner from bulwark_job_runs")).isSubsetOf("a", "b");
    for (int i = 0; i < 2; i++) {
      String owner = i == 0 ? "a" : "b";
      JobSnapshot beat = snapshot(schedulers.get(i), "beat");
      assertThat(beat.runs())
          .isEqualTo(Db.count(db, ran + " and owner = '" + owner + "'"))
          .isEqualTo(calls.stream().filter(owner::equals).count());
      assertThat(beat.failures()).isZero();
      assertThat(beat.errors()).isZero();
    }
  }

  @Test
  void anOutageOfTheDatabaseIsCountedAndRunsResumeWithoutRunningAPeriodTwice(TestDatabase db)
      throws Exception {
    FaultProxy proxy = opened(FaultProxy.to(db.server().host(), db.server().port()));
    HikariDataSource pool =
        opened(
            Pools.postgres(
                    "jdbc:postgresql://" + proxy.host() + ":" + proxy.port() + "/" + db.database(),
                    db.user(),
                    db.password())
                .poolName("outage")
                .maximumPoolSize(3)
                .connectionTimeout(Duration.ofSeconds(1))
                .build());
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    LockingScheduler scheduler =
        opened(
            LockingScheduler.postgres(pool)
                .name("outage")
                .meterRegistry(registry)
                .statementTimeout(Duration.ofSeconds(1))
                .build());
    List<Instant> periods = new CopyOnWriteArrayList<>();
    scheduler.schedule("tick", EVERY_SECOND, context -> periods.add(context.periodStart()));
    Await.until(WAIT, "a run", () -> snapshot(scheduler, "tick").successes() > 0);
    // Between two runs, once the last one's end is recorded: the outage starts between attempts.
    Await.until(
        WAIT,
        "the run's end recorded",
        () ->
            Db.count(
                    db,
                    "select count(*) from bulwark_job_runs where job = 'tick'"
                        + " and finished_at is null")
                == 0);

    proxy.refuseNewConnections(true);
    proxy.resetConnections();
    Await.until(WAIT, "a failed attempt", () -> snapshot(scheduler, "tick").errors() > 0);
    JobSnapshot down = snapshot(scheduler, "tick");
    assertThat(down.lastFailure()).as(down.toString()).isNotNull();
    assertThat(down.lastFailureMessage())
        .as(down.toString())
        .startsWith("could not make an attempt: ")
        .containsAnyOf(
            "java.sql.SQLTransientConnectionException: outage - Connection is not available",
            "org.postgresql.util.PSQLException: An I/O error occurred");
    FunctionCounter errors = errors(registry, "outage", "tick");

    int atHeal = periods.size();
    proxy.refuseNewConnections(false);
    // An attempt that failed tries again 5 s later. No run could succeed in the outage: the reset
    // closed every connection, and no new one was let through.
    Await.until(WAIT, "a run after the outage", () -> periods.size() > atHeal);
    scheduler.close();

    assertThat(periods).doesNotHaveDuplicates();
    JobSnapshot after = snapshot(scheduler, "tick");
    assertThat(after.errors()).isPositive();
    assertThat(errors.count()).isEqualTo(after.errors());
    assertThat(after.runs()).isEqualTo(periods.size());
    assertThat(after.successes()).isEqualTo(periods.size());
    assertThat(after.failures()).isZero();
    try (Connection c = db.connect()) {
      for (Instant period : periods) {
        assertThat(
                Db.count(
                    c,
                    "select count(*) from bulwark_job_runs where job = 'tick' and period_start = '"
                        + period
                        + "'"))
            .as(period.toString())
            .isOne();
      }
    }
  }

  @Test
  void theMetersAgreeWithTheSnapshotsAndCloseRemovesThem(TestDatabase db) throws Exception {
    List<LockingScheduler> schedulers = new ArrayList<>();
    List<MeterRegistry> registries = new ArrayList<>();
    for (String instance : new String[] {"a", "b"}) {
      HikariDataSource pool = opened(Db.pool(db, "meters-" + instance, 4));
      SimpleMeterRegistry registry = new SimpleMeterRegistry();
      LockingScheduler scheduler =
          opened(
              LockingScheduler.postgres(pool)
                  .name("metered")
                  .instance(instance)
                  .meterRegistry(registry)
                  .build());
      scheduler.schedule("tick", EVERY_SECOND, () -> {});
      schedulers.add(scheduler);
      registries.add(registry);
    }
    LockingScheduler a = schedulers.get(0);
    MeterRegistry registry = registries.get(0);
    // Eleven per job (five run timers, two skip counters, errors, missed, running, last success)
    // and the scheduler's count of jobs.
    assertThat(registry.getMeters()).hasSize(12);

    // A run that waits for the test: the running gauge is 1 while it runs, 0 after.
    CountDownLatch entered = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    a.schedule(
        "held",
        Schedule.fixedDelay(Duration.ofMinutes(10)),
        context -> {
          entered.countDown();
          release.await();
        });
    Gauge running = registry.get("bulwark.jobs.running").tags("job", "held").gauge();
    Gauge lastSuccess = registry.get("bulwark.jobs.last.success").tags("job", "held").gauge();
    assertThat(lastSuccess.value()).isNaN();
    assertThat(entered.await(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
    assertThat(running.value()).isEqualTo(1.0);
    assertThat(snapshot(a, "held").running()).isTrue();
    release.countDown();
    Await.until(WAIT, "the run's end", () -> running.value() == 0.0);
    Await.until(WAIT, "the success", () -> snapshot(a, "held").successes() == 1);
    assertThat(snapshot(a, "held").running()).isFalse();
    assertThat(lastSuccess.value())
        .isEqualTo(snapshot(a, "held").lastSuccess().toEpochMilli() / 1000.0);

    Await.until(
        WAIT,
        "3 runs of tick and a skip",
        () -> {
          long ran = 0;
          long skipped = 0;
          for (LockingScheduler scheduler : schedulers) {
            JobSnapshot tick = snapshot(scheduler, "tick");
            ran += tick.successes();
            skipped += tick.skippedLockHeld() + tick.skippedAlreadyRan();
          }
          return ran >= 3 && skipped > 0;
        });
    List<List<Object>> meters = new ArrayList<>();
    for (MeterRegistry each : registries) {
      meters.add(
          List.of(
              runs(each, "metered", "tick", "success"),
              skips(each, "metered", "tick", "lock_held"),
              skips(each, "metered", "tick", "already_ran"),
              errors(each, "metered", "tick")));
    }
    for (LockingScheduler scheduler : schedulers) {
      scheduler.close();
    }

    for (int i = 0; i < 2; i++) {
      JobSnapshot tick = snapshot(schedulers.get(i), "tick");
      List<Object> its = meters.get(i);
      assertThat(((Timer) its.get(0)).count()).isEqualTo(tick.successes());
      assertThat(((FunctionCounter) its.get(1)).count()).isEqualTo(tick.skippedLockHeld());
      assertThat(((FunctionCounter) its.get(2)).count()).isEqualTo(tick.skippedAlreadyRan());
      assertThat(((FunctionCounter) its.get(3)).count()).isEqualTo(tick.errors());
      assertThat(registries.get(i).getMeters()).as("meters after close").isEmpty();
    }
  }

  @Test
  void aRunnableJobRuns(TestDatabase db) throws Exception {
    HikariDataSource pool = opened(Db.pool(db, "runnable", 3));
    LockingScheduler scheduler = opened(LockingScheduler.postgres(pool).name("plain").build());
    CountDownLatch ran = new CountDownLatch(1);
    scheduler.schedule("plain", EVERY_SECOND, ran::countDown);
    assertThat(ran.await(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
    Await.until(WAIT, "the success", () -> snapshot(scheduler, "plain").successes() > 0);
    JobSnapshot plain = snapshot(scheduler, "plain");
    assertThat(plain.schedule()).isEqualTo("fixedRate(1 s)");
    assertThat(plain.lastPeriod()).isNotNull();
    assertThat(plain.lastStart()).isNotNull();
    assertThat(plain.lastDuration()).isNotNull();
    assertThat(plain.failures()).isZero();
  }

  @Test
  void aRunDeletesItsJobsRowsOlderThanTheHistory(TestDatabase db) throws Exception {
    HikariDataSource pool = opened(Db.pool(db, "history", 3));
    LockingScheduler scheduler =
        opened(
            LockingScheduler.postgres(pool)
                .name("pruning")
                .instance("pod")
                .history(Duration.ofMinutes(1))
                .build());
    for (String job : new String[] {"rate", "delay", "other"}) {
      insertRun(db, "pruning", job, "1 hour", "old");
      insertRun(db, "pruning", job, "30 seconds", "recent");
    }
    insertRun(db, "elsewhere", "rate", "1 hour", "old");
    scheduler.schedule("rate", EVERY_SECOND, () -> {});
    scheduler.schedule("delay", Schedule.fixedDelay(Duration.ofSeconds(1)), () -> {});

    Await.until(
        WAIT,
        "a run of each",
        () ->
            snapshot(scheduler, "rate").successes() > 0
                && snapshot(scheduler, "delay").successes() > 0);
    for (String job : new String[] {"rate", "delay"}) {
      assertThat(owners(db, job)).as(job).doesNotContain("old").contains("recent", "pod");
    }
    assertThat(owners(db, "other")).containsExactlyInAnyOrder("old", "recent");
    assertThat(
            Db.strings(
                db,
                "select owner from bulwark_job_runs where scheduler = 'elsewhere' and job = 'rate'"))
        .containsExactly("old");
  }

  /** A finished run of a job, of a period that started {@code ago} ago. */
  private static void insertRun(
      TestDatabase db, String scheduler, String job, String ago, String owner) throws SQLException {
    try (Connection c = db.connect();
        PreparedStatement s =
            c.prepareStatement(
                "insert into bulwark_job_runs"
                    + " (scheduler, job, period_start, owner, started_at, finished_at, outcome)"
                    + " select ?, ?, date_trunc('second', t), ?, t, t, 'success'"
                    + " from (select now() - ?::interval as t) ago")) {
      s.setString(1, scheduler);
      s.setString(2, job);
      s.setString(3, owner);
      s.setString(4, ago);
      s.executeUpdate();
    }
  }

  @Test
  void schedulersOfDifferentNamesShareTheTableWithoutSeeingEachOthersRuns(TestDatabase db)
      throws Exception {
    HikariDataSource pool = opened(Db.pool(db, "apart", 4));
    List<LockingScheduler> schedulers = new ArrayList<>();
    for (String name : new String[] {"billing", "shipping"}) {
      LockingScheduler scheduler = opened(LockingScheduler.postgres(pool).name(name).build());
      scheduler.schedule("cleanup", EVERY_SECOND, () -> {});
      scheduler.schedule("sweep", Schedule.fixedDelay(Duration.ofSeconds(1)), () -> {});
      schedulers.add(scheduler);
    }
    Await.until(
        WAIT,
        "2 runs of each job on each",
        () -> {
          for (LockingScheduler scheduler : schedulers) {
            if (snapshot(scheduler, "cleanup").successes() < 2
                || snapshot(scheduler, "sweep").successes() < 2) {
              return false;
            }
          }
          return true;
        });
    for (LockingScheduler scheduler : schedulers) {
      scheduler.close();
    }

    for (LockingScheduler scheduler : schedulers) {
      for (String job : new String[] {"cleanup", "sweep"}) {
        JobSnapshot snapshot = snapshot(scheduler, job);
        String which = scheduler.name() + " " + job;
        assertThat(snapshot.skippedAlreadyRan()).as(which).isZero();
        assertThat(snapshot.skippedLockHeld()).as(which).isZero();
        assertThat(
                Db.count(
                    db,
                    "select count(*) from bulwark_job_runs where finished_at is not null"
                        + " and scheduler = '"
                        + scheduler.name()
                        + "' and job = '"
                        + job
                        + "'"))
            .as(which)
            .isEqualTo(snapshot.runs());
      }
    }
  }

  @Test
  void aSchedulerWithAsManyJobsAsMaxJobsKeepsRunningThem(TestDatabase db) throws Exception {
    // A fixed delay's first attempt hands over to the next at once, when the scheduler's one
    // thread may still be on its way back from the first: the second must wait for it, not be
    // dropped. Twenty schedulers make that moment come, most times, to one of them.
    HikariDataSource pool = opened(Db.pool(db, "single", 5));
    List<AtomicInteger> calls = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      LockingScheduler scheduler =
          opened(LockingScheduler.postgres(pool).name("single-" + i).maxJobs(1).build());
      AtomicInteger count = new AtomicInteger();
      scheduler.schedule(
          "only", Schedule.fixedDelay(Duration.ofSeconds(1)), count::incrementAndGet);
      calls.add(count);
    }
    Await.until(WAIT, "2 runs on each", () -> calls.stream().allMatch(c -> c.get() >= 2));
  }

  private static Set<String> owners(TestDatabase db, String job) throws SQLException {
    return new HashSet<>(
        Db.strings(
            db,
            "select owner from bulwark_job_runs where scheduler = 'pruning' and job = '"
                + job
                + "'"));
  }
}

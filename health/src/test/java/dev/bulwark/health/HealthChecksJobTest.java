package dev.bulwark.health;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.zaxxer.hikari.HikariDataSource;
import dev.bulwark.jobs.JobSnapshot;
import dev.bulwark.jobs.LockingScheduler;
import dev.bulwark.jobs.Schedule;
import dev.bulwark.pool.Pools;
import dev.bulwark.testing.Await;
import dev.bulwark.testing.Closer;
import dev.bulwark.testing.PostgresExtension;
import dev.bulwark.testing.TestDatabase;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.time.LocalTime;
import java.time.ZoneOffset;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The job check on a real {@link LockingScheduler} on PostgreSQL, on a clock the test sets: each
 * job runs at most once in a test (a one-day fixed delay runs at once, then a day later), so its
 * last success stays put while the clock moves.
 */
@ExtendWith(PostgresExtension.class)
class HealthChecksJobTest {
  private static final Duration WAIT = Duration.ofSeconds(20);
  private static final Schedule ONCE = Schedule.fixedDelay(Duration.ofDays(1));
  private static final Duration MAX_AGE = Duration.ofHours(25);

  private final Closer closer = new Closer();
  private final AtomicReference<Instant> now = new AtomicReference<>(Instant.now());
  private final InstantSource clock = now::get;

  @AfterEach
  void tearDown() throws Exception {
    closer.close();
  }

  private LockingScheduler scheduler(TestDatabase db) {
    HikariDataSource pool =
        closer.add(
            Pools.postgres(db.jdbcUrl(), db.user(), db.password())
                .poolName("health-jobs")
                .maximumPoolSize(3)
                .build());
    return closer.add(LockingScheduler.postgres(pool).name("billing").build());
  }

  private static JobSnapshot snapshot(LockingScheduler scheduler, String job) {
    return scheduler.snapshot(job).orElseThrow();
  }

  /** Whether the job's one run has ended and been counted. */
  private static boolean isOver(JobSnapshot job) {
    return job.runs() == 1 && job.successes() + job.failures() == 1 && !job.running();
  }

  @Test
  void passesUntilTheLastSuccessIsOlderThanMaxAge(TestDatabase db) throws Exception {
    LockingScheduler scheduler = scheduler(db);
    scheduler.schedule("rates", ONCE, () -> {});
    // The run is over once it is counted and no longer running: its time is set before either.
    Await.until(WAIT, "a success", () -> isOver(snapshot(scheduler, "rates")));
    JobSnapshot ran = snapshot(scheduler, "rates");
    Instant success = ran.lastSuccess();
    HealthCheck check = HealthChecks.job(scheduler, "rates", MAX_AGE, clock);
    assertThat(check).hasToString("HealthChecks.job");
    assertThat(((BuiltInCheck) check).isExternal()).isFalse();

    now.set(success.plusSeconds(3_600));
    HealthResult fresh = check.check();
    assertThat(fresh.status()).isEqualTo(Status.PASS);
    assertThat(fresh.output()).isNull();
    assertThat(fresh.observedValue()).isEqualTo(3_600L);
    assertThat(fresh.observedUnit()).isEqualTo("s");
    assertThat(fresh.componentType()).isEqualTo("component");
    assertThat(fresh.details())
        .containsEntry("schedule", ran.schedule())
        .containsEntry("running", false)
        .containsEntry("maxAgeSeconds", 90_000L)
        .containsEntry("lastSuccess", success.toString())
        .containsEntry("runs", 1L)
        .containsEntry("successes", 1L)
        .containsEntry("failures", 0L)
        .containsEntry("missed", 0L)
        .containsEntry("errors", 0L)
        .containsKey("nextRun")
        .doesNotContainKeys("lastFailure", "lastFailureMessage");

    now.set(success.plus(MAX_AGE));
    assertThat(check.check().status()).as("at max age").isEqualTo(Status.PASS);

    now.set(success.plus(MAX_AGE).plusSeconds(1));
    HealthResult stale = check.check();
    assertThat(stale.status()).isEqualTo(Status.FAIL);
    assertThat(stale.output())
        .isEqualTo("job rates last succeeded 90001 s ago, at " + success + ", max age 90000 s");
    assertThat(stale.observedValue()).isEqualTo(90_001L);
  }

  @Test
  void aJobThatNeverRanIsJudgedFromWhenTheCheckWasMade(TestDatabase db) throws Exception {
    LockingScheduler scheduler = scheduler(db);
    // Twelve hours from now: it does not run during the test.
    LocalTime later = LocalTime.now(ZoneOffset.UTC).plusHours(12);
    scheduler.schedule("nightly", Schedule.dailyAt(later, ZoneOffset.UTC), () -> {});
    Instant made = now.get();
    HealthCheck check = HealthChecks.job(scheduler, "nightly", Duration.ofHours(1), clock);

    now.set(made.plusSeconds(60));
    HealthResult waiting = check.check();
    assertThat(waiting.status()).isEqualTo(Status.PASS);
    assertThat(waiting.output()).isEqualTo("no successful run yet");
    assertThat(waiting.observedValue()).isNull();
    assertThat(waiting.details()).containsEntry("runs", 0L).doesNotContainKey("lastSuccess");

    now.set(made.plusSeconds(7_200));
    HealthResult overdue = check.check();
    assertThat(overdue.status()).isEqualTo(Status.FAIL);
    assertThat(overdue.output())
        .isEqualTo(
            "job nightly has not succeeded in the 7200 s since the check was made, max age 3600 s");
  }

  @Test
  void aFailedLastAttemptWarnsWithItsMaskedMessage(TestDatabase db) throws Exception {
    LockingScheduler scheduler = scheduler(db);
    scheduler.schedule(
        "export",
        ONCE,
        () -> {
          throw new IllegalStateException("upload to https://user:S3cret@example.com/in failed");
        });
    Await.until(WAIT, "a failure", () -> isOver(snapshot(scheduler, "export")));
    JobSnapshot failed = snapshot(scheduler, "export");
    assertThat(failed.lastFailureMessage()).doesNotContain("S3cret").contains("failed");
    Instant made = now.get();
    HealthCheck check = HealthChecks.job(scheduler, "export", MAX_AGE, clock);

    HealthResult warn = check.check();
    assertThat(warn.status()).isEqualTo(Status.WARN);
    String failure =
        "last attempt failed at " + failed.lastFailure() + ": " + failed.lastFailureMessage();
    assertThat(warn.output()).isEqualTo("job export: " + failure);
    assertThat(warn.details())
        .containsEntry("lastFailure", failed.lastFailure().toString())
        .containsEntry("lastFailureMessage", failed.lastFailureMessage())
        .containsEntry("failures", 1L);

    now.set(made.plus(MAX_AGE).plusSeconds(10));
    HealthResult fail = check.check();
    assertThat(fail.status()).isEqualTo(Status.FAIL);
    assertThat(fail.output())
        .isEqualTo(
            "job export has not succeeded in the 90010 s since the check was made, max age 90000 s; "
                + failure);
  }

  @Test
  void aSuccessAfterAFailureClearsTheWarning() {
    Instant success = Instant.parse("2025-01-02T10:00:02Z");
    Instant failure = Instant.parse("2025-01-01T10:00:03Z");
    JobSnapshot snapshot =
        new JobSnapshot(
            "rates",
            "dailyAt(10:00 UTC)",
            false,
            success,
            success,
            Duration.ofSeconds(1),
            success,
            failure,
            "java.io.IOException: timeout",
            2,
            1,
            1,
            0,
            0,
            0,
            0,
            0,
            0,
            null);
    HealthResult result =
        JobCheck.rate(snapshot, MAX_AGE, success.minusSeconds(86_400), success.plusSeconds(5));
    assertThat(result.status()).isEqualTo(Status.PASS);
    assertThat(result.observedValue()).isEqualTo(5L);
    assertThat(result.details())
        .containsEntry("lastFailureMessage", "java.io.IOException: timeout")
        .doesNotContainKey("nextRun");
  }

  @Test
  void aJobThatIsNotScheduledFails(TestDatabase db) throws Exception {
    LockingScheduler scheduler = scheduler(db);
    HealthResult result = HealthChecks.job(scheduler, "missing", MAX_AGE).check();
    assertThat(result.status()).isEqualTo(Status.FAIL);
    assertThat(result.output()).isEqualTo("scheduler billing has no job named missing");
    assertThat(result.details()).isEqualTo(Map.of());
  }

  @Test
  void argumentsAreValidated(TestDatabase db) {
    LockingScheduler scheduler = scheduler(db);
    assertThatThrownBy(() -> HealthChecks.job(scheduler, "rates", Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("maxAge must be positive, but was 0 ms");
    assertThatThrownBy(() -> HealthChecks.job(scheduler, "two words", MAX_AGE))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("job must be 1 to 63 letters, digits, '.', '_' or '-', but was \"two words\"");
    assertThatThrownBy(() -> HealthChecks.job(null, "rates", MAX_AGE))
        .isInstanceOf(NullPointerException.class)
        .hasMessage("scheduler");
    assertThatThrownBy(() -> HealthChecks.job(scheduler, null, MAX_AGE))
        .isInstanceOf(NullPointerException.class)
        .hasMessage("job");
    assertThatThrownBy(() -> HealthChecks.job(scheduler, "rates", null))
        .isInstanceOf(NullPointerException.class)
        .hasMessage("maxAge");
  }
}

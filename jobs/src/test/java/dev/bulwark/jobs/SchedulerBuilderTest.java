package dev.bulwark.jobs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;
import static org.assertj.core.api.Assertions.assertThatIllegalStateException;
import static org.assertj.core.api.Assertions.assertThatNullPointerException;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.zaxxer.hikari.HikariDataSource;
import dev.bulwark.testing.FaultProxy;
import dev.bulwark.testing.NoSecrets;
import dev.bulwark.testing.PostgresExtension;
import dev.bulwark.testing.TestDatabase;
import dev.bulwark.testing.TestPostgres;
import dev.bulwark.testing.TestRole;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.lang.management.ManagementFactory;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * Every setting's bounds and every refusal of the builder and of {@code schedule()}, with their
 * texts (the texts are API); what {@code build()} makes in the database, when builds race, and what
 * it says when the database cannot be reached.
 */
@ExtendWith(PostgresExtension.class)
class SchedulerBuilderTest {
  /** The default instance name: the JVM's {@code pid@host}. */
  private static final String JVM = ManagementFactory.getRuntimeMXBean().getName();

  private static final String SECRET = "S3cr3t-pw";
  private static final String WRONG = "Wr0ng-pw";
  private static final String TABLE_RULE =
      "table must be a lowercase name, optionally schema-qualified"
          + " ([a-z_][a-z0-9_]{0,62}(\\.[a-z_][a-z0-9_]{0,62})?), but was ";
  private static final Schedule DAILY = Schedule.fixedRate(Duration.ofDays(1));
  private static final Job NOTHING = context -> {};

  private final List<AutoCloseable> open = new ArrayList<>();

  @AfterEach
  void closeAll() throws Exception {
    for (int i = open.size() - 1; i >= 0; i--) {
      open.get(i).close();
    }
  }

  /** A builder on a data source that is never connected: for the setters' checks. */
  private static LockingScheduler.Builder builder() {
    return LockingScheduler.postgres(new PGSimpleDataSource());
  }

  private <T extends AutoCloseable> T opened(T resource) {
    open.add(resource);
    return resource;
  }

  @Test
  void aDataSourceIsRequired() {
    assertThatNullPointerException()
        .isThrownBy(() -> LockingScheduler.postgres(null))
        .withMessage("dataSource");
  }

  @Test
  void aNameIsAnIdentifierGivenOnce() {
    String rule = "name must be 1 to 63 letters, digits, '.', '_' or '-', but was ";
    assertThatIllegalArgumentException()
        .isThrownBy(() -> builder().name("two words"))
        .withMessage(rule + "\"two words\"");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> builder().name(""))
        .withMessage(rule + "\"\"");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> builder().name("a\nb"))
        .withMessage(rule + "\"a\nb\"");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> builder().name("x".repeat(64)))
        .withMessage(rule + "\"" + "x".repeat(64) + "\"");
    assertThat(builder().name("x".repeat(63))).isNotNull();
    assertThat(builder().name("Billing.v2_eu-1")).isNotNull();
    assertThatNullPointerException().isThrownBy(() -> builder().name(null)).withMessage("name");
    assertThatIllegalStateException()
        .isThrownBy(() -> builder().name("billing").name("shipping"))
        .withMessage("name was already set to billing");
  }

  @Test
  void aTableIsALowercaseNameOptionallySchemaQualified() {
    for (String bad :
        new String[] {
          "Runs",
          "1runs",
          "job-runs",
          "a.b.c",
          "runs; drop table users",
          "\"runs\"",
          "",
          "jobs.",
          "x".repeat(64),
          "jobs." + "x".repeat(64)
        }) {
      assertThatIllegalArgumentException()
          .as(bad)
          .isThrownBy(() -> builder().table(bad))
          .withMessage(TABLE_RULE + "\"" + bad + "\"");
    }
    assertThat(builder().table("runs")).isNotNull();
    assertThat(builder().table("_runs_2")).isNotNull();
    assertThat(builder().table("jobs.runs")).isNotNull();
    assertThat(builder().table("x".repeat(63) + "." + "y".repeat(63))).isNotNull();
    assertThatNullPointerException().isThrownBy(() -> builder().table(null)).withMessage("table");
    assertThatIllegalStateException()
        .isThrownBy(() -> builder().table("runs").table("other"))
        .withMessage("table was already set to runs");
  }

  @Test
  void anInstanceIsNotBlankAndAtMost200Characters() {
    assertThatIllegalArgumentException()
        .isThrownBy(() -> builder().instance(""))
        .withMessage("instance must not be blank, but was \"\"");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> builder().instance(" \t"))
        .withMessage("instance must not be blank, but was \" \t\"");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> builder().instance("p".repeat(201)))
        .withMessage("instance length must be between 1 and 200, but was 201");
    assertThat(builder().instance("p".repeat(200))).isNotNull();
    assertThat(builder().instance("pod billing-7f9c (eu-west-1)")).isNotNull();
    assertThatNullPointerException()
        .isThrownBy(() -> builder().instance(null))
        .withMessage("instance");
    assertThatIllegalStateException()
        .isThrownBy(() -> builder().instance("pod-1").instance("pod-2"))
        .withMessage("instance was already set to pod-1");
  }

  @Test
  void aTimeLimitIsFrom10MillisecondsTo7Days() {
    assertThatIllegalArgumentException()
        .isThrownBy(() -> builder().timeLimit(Duration.ofMillis(9)))
        .withMessage("timeLimit must be between 10 ms and 604800000 ms, but was 9 ms");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> builder().timeLimit(Duration.ofDays(7).plusMillis(1)))
        .withMessage("timeLimit must be between 10 ms and 604800000 ms, but was 604800001 ms");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> builder().timeLimit(Duration.ofNanos(9_999_999)))
        .withMessage("timeLimit must be between 10 ms and 604800000 ms, but was 9999999 ns");
    assertThat(builder().timeLimit(Duration.ofMillis(10))).isNotNull();
    assertThat(builder().timeLimit(Duration.ofDays(7))).isNotNull();
    assertThatNullPointerException()
        .isThrownBy(() -> builder().timeLimit(null))
        .withMessage("timeLimit");
    assertThatIllegalStateException()
        .isThrownBy(
            () -> builder().timeLimit(Duration.ofMinutes(5)).timeLimit(Duration.ofMinutes(6)))
        .withMessage("timeLimit was already set to 300000 ms");
  }

  @Test
  void aLockCheckIntervalIsFrom10MillisecondsTo1Minute() {
    assertThatIllegalArgumentException()
        .isThrownBy(() -> builder().lockCheckInterval(Duration.ofMillis(9)))
        .withMessage("lockCheckInterval must be between 10 ms and 60000 ms, but was 9 ms");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> builder().lockCheckInterval(Duration.ofMinutes(1).plusMillis(1)))
        .withMessage("lockCheckInterval must be between 10 ms and 60000 ms, but was 60001 ms");
    assertThat(builder().lockCheckInterval(Duration.ofMillis(10))).isNotNull();
    assertThat(builder().lockCheckInterval(Duration.ofMinutes(1))).isNotNull();
    assertThatNullPointerException()
        .isThrownBy(() -> builder().lockCheckInterval(null))
        .withMessage("lockCheckInterval");
    assertThatIllegalStateException()
        .isThrownBy(
            () ->
                builder()
                    .lockCheckInterval(Duration.ofMillis(250))
                    .lockCheckInterval(Duration.ofSeconds(1)))
        .withMessage("lockCheckInterval was already set to 250 ms");
  }

  @Test
  void aShutdownTimeoutIsFromZeroTo1Hour() {
    assertThatIllegalArgumentException()
        .isThrownBy(() -> builder().shutdownTimeout(Duration.ofMillis(-1)))
        .withMessage("shutdownTimeout must be between 0 ms and 3600000 ms, but was -1 ms");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> builder().shutdownTimeout(Duration.ofHours(1).plusMillis(1)))
        .withMessage("shutdownTimeout must be between 0 ms and 3600000 ms, but was 3600001 ms");
    assertThat(builder().shutdownTimeout(Duration.ZERO)).isNotNull();
    assertThat(builder().shutdownTimeout(Duration.ofHours(1))).isNotNull();
    assertThatNullPointerException()
        .isThrownBy(() -> builder().shutdownTimeout(null))
        .withMessage("shutdownTimeout");
    assertThatIllegalStateException()
        .isThrownBy(() -> builder().shutdownTimeout(Duration.ZERO).shutdownTimeout(Duration.ZERO))
        .withMessage("shutdownTimeout was already set to 0 ms");
  }

  @Test
  void aStatementTimeoutIsFrom100MillisecondsTo1Minute() {
    assertThatIllegalArgumentException()
        .isThrownBy(() -> builder().statementTimeout(Duration.ofMillis(99)))
        .withMessage("statementTimeout must be between 100 ms and 60000 ms, but was 99 ms");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> builder().statementTimeout(Duration.ofSeconds(61)))
        .withMessage("statementTimeout must be between 100 ms and 60000 ms, but was 61000 ms");
    assertThat(builder().statementTimeout(Duration.ofMillis(100))).isNotNull();
    assertThat(builder().statementTimeout(Duration.ofMinutes(1))).isNotNull();
    assertThatNullPointerException()
        .isThrownBy(() -> builder().statementTimeout(null))
        .withMessage("statementTimeout");
    assertThatIllegalStateException()
        .isThrownBy(
            () ->
                builder()
                    .statementTimeout(Duration.ofSeconds(2))
                    .statementTimeout(Duration.ofSeconds(3)))
        .withMessage("statementTimeout was already set to 2000 ms");
  }

  @Test
  void aHistoryIsFrom1MinuteTo3650Days() {
    assertThatIllegalArgumentException()
        .isThrownBy(() -> builder().history(Duration.ofSeconds(59)))
        .withMessage("history must be between 60000 ms and 315360000000 ms, but was 59000 ms");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> builder().history(Duration.ofDays(3650).plusMillis(1)))
        .withMessage(
            "history must be between 60000 ms and 315360000000 ms, but was 315360000001 ms");
    assertThat(builder().history(Duration.ofMinutes(1))).isNotNull();
    assertThat(builder().history(Duration.ofDays(3650))).isNotNull();
    assertThatNullPointerException()
        .isThrownBy(() -> builder().history(null))
        .withMessage("history");
    assertThatIllegalStateException()
        .isThrownBy(() -> builder().history(Duration.ofDays(1)).history(Duration.ofDays(2)))
        .withMessage("history was already set to 86400000 ms");
  }

  @Test
  void maxJobsIsFrom1To10000() {
    assertThatIllegalArgumentException()
        .isThrownBy(() -> builder().maxJobs(0))
        .withMessage("maxJobs must be between 1 and 10000, but was 0");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> builder().maxJobs(10_001))
        .withMessage("maxJobs must be between 1 and 10000, but was 10001");
    assertThat(builder().maxJobs(1)).isNotNull();
    assertThat(builder().maxJobs(10_000)).isNotNull();
    assertThatIllegalStateException()
        .isThrownBy(() -> builder().maxJobs(5).maxJobs(6))
        .withMessage("maxJobs was already set to 5");
    // A refused value leaves the setting unset.
    LockingScheduler.Builder builder = builder();
    assertThatIllegalArgumentException().isThrownBy(() -> builder.maxJobs(-1));
    assertThat(builder.maxJobs(3)).hasToString("LockingScheduler.Builder{maxJobs=3}");
  }

  @Test
  void aMeterRegistryIsGivenOnce() {
    assertThatNullPointerException()
        .isThrownBy(() -> builder().meterRegistry(null))
        .withMessage("meterRegistry");
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    assertThatIllegalStateException()
        .isThrownBy(() -> builder().meterRegistry(registry).meterRegistry(registry))
        .withMessage("meterRegistry was already set to " + registry);
  }

  @Test
  void toStringShowsOnlyWhatWasSet() {
    assertThat(builder()).hasToString("LockingScheduler.Builder{}");
    assertThat(builder().name("billing").maxJobs(5))
        .hasToString("LockingScheduler.Builder{name=billing, maxJobs=5}");
    assertThat(
            builder()
                .maxJobs(5)
                .history(Duration.ofDays(1))
                .statementTimeout(Duration.ofSeconds(2))
                .shutdownTimeout(Duration.ZERO)
                .lockCheckInterval(Duration.ofMillis(500))
                .timeLimit(Duration.ofMinutes(5))
                .instance("pod-1")
                .table("jobs.runs")
                .name("billing")
                .meterRegistry(new SimpleMeterRegistry()))
        .hasToString(
            "LockingScheduler.Builder{name=billing, table=jobs.runs, instance=pod-1,"
                + " timeLimit=300000 ms, lockCheckInterval=500 ms, shutdownTimeout=0 ms,"
                + " statementTimeout=2000 ms, history=86400000 ms, maxJobs=5}");
  }

  @Test
  void buildCreatesTheRunTableWithItsKey(TestDatabase db) throws Exception {
    HikariDataSource pool = opened(Db.pool(db, "build", 2));
    LockingScheduler scheduler = opened(LockingScheduler.postgres(pool).build());
    assertThat(scheduler.name()).isEqualTo("default");
    assertThat(scheduler)
        .hasToString(
            "LockingScheduler[name=default, instance=" + JVM + ", table=bulwark_job_runs, jobs=0]");
    assertThat(columns(db, "public", "bulwark_job_runs"))
        .containsExactly(
            "scheduler text NO",
            "job text NO",
            "period_start timestamp with time zone NO",
            "owner text NO",
            "started_at timestamp with time zone NO",
            "finished_at timestamp with time zone YES",
            "outcome text YES");
    assertThat(primaryKey(db, "public", "bulwark_job_runs"))
        .containsExactly("scheduler", "job", "period_start");

    // Again, on the table that exists now.
    LockingScheduler again = opened(LockingScheduler.postgres(pool).name("again").build());
    assertThat(again.name()).isEqualTo("again");
    assertThat(tables(db, "bulwark_job_runs")).isOne();
    scheduler.close();
    assertThat(scheduler)
        .hasToString(
            "LockingScheduler[name=default, instance="
                + JVM
                + ", table=bulwark_job_runs, jobs=0, closed]");
  }

  @Test
  void buildCreatesASchemaQualifiedTable(TestDatabase db) throws Exception {
    Db.execute(db, "create schema jobs");
    HikariDataSource pool = opened(Db.pool(db, "schema", 2));
    LockingScheduler scheduler =
        opened(LockingScheduler.postgres(pool).name("billing").table("jobs.runs").build());
    assertThat(scheduler)
        .hasToString(
            "LockingScheduler[name=billing, instance=" + JVM + ", table=jobs.runs, jobs=0]");
    assertThat(primaryKey(db, "jobs", "runs")).containsExactly("scheduler", "job", "period_start");
    assertThat(tables(db, "bulwark_job_runs")).isZero();
  }

  @Test
  void fourBuildsRacingOnAFreshDatabaseAllSucceedAndMakeOneTable(TestDatabase db) throws Exception {
    // Each build holds two connections at once: eight, so that no build waits for another's.
    HikariDataSource pool = opened(Db.pool(db, "race", 8));
    ExecutorService threads = Executors.newFixedThreadPool(4);
    try {
      CountDownLatch ready = new CountDownLatch(4);
      CountDownLatch go = new CountDownLatch(1);
      List<Future<LockingScheduler>> builds = new ArrayList<>();
      for (int i = 0; i < 4; i++) {
        String name = "racer-" + i;
        builds.add(
            threads.submit(
                () -> {
                  ready.countDown();
                  go.await();
                  return LockingScheduler.postgres(pool).name(name).build();
                }));
      }
      ready.await();
      go.countDown();
      for (Future<LockingScheduler> build : builds) {
        opened(build.get(30, TimeUnit.SECONDS));
      }
    } finally {
      threads.shutdownNow();
    }
    assertThat(tables(db, "bulwark_job_runs")).isOne();
    assertThat(primaryKey(db, "public", "bulwark_job_runs"))
        .containsExactly("scheduler", "job", "period_start");
  }

  @Test
  void aRegistryRefusesASecondSchedulerOfTheSameName(TestDatabase db) throws Exception {
    HikariDataSource pool = opened(Db.pool(db, "meters", 3));
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    LockingScheduler first =
        opened(LockingScheduler.postgres(pool).name("billing").meterRegistry(registry).build());
    first.schedule("tick", DAILY, NOTHING);

    assertThatIllegalStateException()
        .isThrownBy(
            () -> LockingScheduler.postgres(pool).name("billing").meterRegistry(registry).build())
        .withMessage(
            "meterRegistry already holds the meters of a scheduler named \"billing\": give each"
                + " scheduler its own name");
    opened(LockingScheduler.postgres(pool).name("shipping").meterRegistry(registry).build());
    // close() removes the meters, and with them the refusal.
    first.close();
    opened(LockingScheduler.postgres(pool).name("billing").meterRegistry(registry).build());
  }

  @Test
  void anUnreachableServerFailsTheBuildNamingTheSchedulerAndTableWithoutThePassword(
      TestPostgres postgres, TestDatabase db) {
    assumeTrue(postgres.isEmbedded(), "needs a server this JVM owns");
    TestRole role = opened(postgres.newRole());
    FaultProxy proxy = opened(FaultProxy.to(postgres.host(), postgres.port()));
    proxy.refuseNewConnections(true);
    PGSimpleDataSource dataSource = new PGSimpleDataSource();
    dataSource.setUrl(
        "jdbc:postgresql://"
            + proxy.host()
            + ":"
            + proxy.port()
            + "/"
            + db.database()
            + "?user="
            + role.name()
            + "&password="
            + role.password());
    dataSource.setUser(role.name());
    dataSource.setPassword(role.password());
    dataSource.setConnectTimeout(2);
    dataSource.setLoginTimeout(2);

    Throwable thrown =
        catchThrowable(
            () -> LockingScheduler.postgres(dataSource).name("billing").table("job_runs").build());
    assertThat(thrown)
        .isInstanceOf(IllegalStateException.class)
        .hasMessage(
            "scheduler billing: could not prepare the run table job_runs:"
                + " org.postgresql.util.PSQLException: The connection attempt failed.")
        .hasCauseInstanceOf(SQLException.class);
    NoSecrets.assertHidden(thrown, role.password());
  }

  @Test
  void aWrongPasswordFailsTheBuildWithoutShowingIt(TestPostgres postgres, TestDatabase db) {
    assumeTrue(postgres.isEmbedded(), "needs a server this JVM owns");
    TestRole role = opened(postgres.newRole());
    PGSimpleDataSource dataSource = new PGSimpleDataSource();
    dataSource.setUrl(db.jdbcUrl());
    dataSource.setUser(role.name());
    dataSource.setPassword(WRONG);

    Throwable thrown = catchThrowable(() -> LockingScheduler.postgres(dataSource).build());
    assertThat(thrown)
        .isInstanceOf(IllegalStateException.class)
        .hasMessageStartingWith(
            "scheduler default: could not prepare the run table bulwark_job_runs:"
                + " org.postgresql.util.PSQLException: ")
        .hasMessageContaining("password authentication failed")
        .hasCauseInstanceOf(SQLException.class);
    assertThat(((SQLException) thrown.getCause()).getSQLState()).isEqualTo("28P01");
    NoSecrets.assertHidden(thrown, WRONG, role.password(), SECRET);
  }

  @Test
  void scheduleRefusesABadNameADuplicateAndABadTimeLimit(TestDatabase db) throws Exception {
    HikariDataSource pool = opened(Db.pool(db, "refusals", 3));
    LockingScheduler scheduler = opened(LockingScheduler.postgres(pool).name("billing").build());
    scheduler.schedule("tick", DAILY, NOTHING);

    assertThatIllegalStateException()
        .isThrownBy(() -> scheduler.schedule("tick", DAILY, NOTHING))
        .withMessage("scheduler billing already has a job named tick");
    assertThatIllegalStateException()
        .isThrownBy(() -> scheduler.schedule("tick", DAILY, () -> {}))
        .withMessage("scheduler billing already has a job named tick");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> scheduler.schedule("two words", DAILY, NOTHING))
        .withMessage(
            "name must be 1 to 63 letters, digits, '.', '_' or '-', but was \"two words\"");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> scheduler.schedule("", DAILY, NOTHING))
        .withMessage("name must be 1 to 63 letters, digits, '.', '_' or '-', but was \"\"");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> scheduler.schedule("x", DAILY, Duration.ofMillis(9), NOTHING))
        .withMessage("timeLimit must be between 10 ms and 604800000 ms, but was 9 ms");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> scheduler.schedule("x", DAILY, Duration.ofDays(7).plusMillis(1), NOTHING))
        .withMessage("timeLimit must be between 10 ms and 604800000 ms, but was 604800001 ms");
    assertThatNullPointerException()
        .isThrownBy(() -> scheduler.schedule(null, DAILY, NOTHING))
        .withMessage("name");
    assertThatNullPointerException()
        .isThrownBy(() -> scheduler.schedule("x", null, NOTHING))
        .withMessage("schedule");
    assertThatNullPointerException()
        .isThrownBy(() -> scheduler.schedule("x", DAILY, (Job) null))
        .withMessage("job");
    assertThatNullPointerException()
        .isThrownBy(() -> scheduler.schedule("x", DAILY, (Runnable) null))
        .withMessage("job");
    assertThatNullPointerException()
        .isThrownBy(() -> scheduler.schedule("x", DAILY, null, NOTHING))
        .withMessage("timeLimit");
    // Nothing refused was added; both bounds of the time limit are accepted.
    assertThat(scheduler.snapshots()).extracting(JobSnapshot::name).containsExactly("tick");
    scheduler.schedule("shortest", DAILY, Duration.ofMillis(10), NOTHING);
    scheduler.schedule("longest", DAILY, Duration.ofDays(7), NOTHING);
    assertThat(scheduler.snapshots())
        .extracting(JobSnapshot::name)
        .containsExactlyInAnyOrder("tick", "shortest", "longest");
    assertThat(scheduler)
        .hasToString(
            "LockingScheduler[name=billing, instance=" + JVM + ", table=bulwark_job_runs, jobs=3]");
  }

  @Test
  void scheduleRefusesAJobPastMaxJobsAndAfterClose(TestDatabase db) throws Exception {
    HikariDataSource pool = opened(Db.pool(db, "limits", 3));
    LockingScheduler scheduler =
        opened(LockingScheduler.postgres(pool).name("billing").maxJobs(2).build());
    scheduler.schedule("a", DAILY, NOTHING);
    scheduler.schedule("b", DAILY, () -> {});
    assertThatIllegalStateException()
        .isThrownBy(() -> scheduler.schedule("c", DAILY, NOTHING))
        .withMessage("scheduler billing already has maxJobs=2 jobs: job c cannot be added");
    // A name already taken is named as such, even at the limit.
    assertThatIllegalStateException()
        .isThrownBy(() -> scheduler.schedule("a", DAILY, NOTHING))
        .withMessage("scheduler billing already has a job named a");

    scheduler.close();
    assertThatIllegalStateException()
        .isThrownBy(() -> scheduler.schedule("late", DAILY, NOTHING))
        .withMessage("scheduler billing is closed: job late cannot be scheduled");
    // close() is idempotent.
    scheduler.close();
  }

  @Test
  void aNewJobsSnapshotHasItsScheduleAndNoCounts(TestDatabase db) throws Exception {
    HikariDataSource pool = opened(Db.pool(db, "snapshot", 3));
    LockingScheduler scheduler = opened(LockingScheduler.postgres(pool).name("billing").build());
    scheduler.schedule("tick", DAILY, NOTHING);
    assertThat(scheduler.snapshot("other")).isEmpty();
    JobSnapshot tick = scheduler.snapshot("tick").orElseThrow();
    // The next run is set once the first attempt has read the database's clock.
    assertThat(tick)
        .isEqualTo(
            new JobSnapshot(
                "tick",
                "fixedRate(86400 s)",
                false,
                null,
                null,
                null,
                null,
                null,
                null,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                tick.nextRun()));
  }

  /** The columns of a table, as {@code "<name> <type> <nullable>"}, in their order. */
  private static List<String> columns(TestDatabase db, String schema, String table)
      throws SQLException {
    return Db.strings(
        db,
        "select column_name || ' ' || data_type || ' ' || is_nullable from"
            + " information_schema.columns where table_schema = '"
            + schema
            + "' and table_name = '"
            + table
            + "' order by ordinal_position");
  }

  /** The columns of a table's primary key, in their order. */
  private static List<String> primaryKey(TestDatabase db, String schema, String table)
      throws SQLException {
    return Db.strings(
        db,
        "select a.attname from pg_index i"
            + " join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any (i.indkey)"
            + " where i.indisprimary and i.indrelid = '"
            + schema
            + "."
            + table
            + "'::regclass order by array_position(i.indkey::int2[], a.attnum)");
  }

  private static long tables(TestDatabase db, String table) throws SQLException {
    return Db.count(
        db, "select count(*) from information_schema.tables where table_name = '" + table + "'");
  }
}

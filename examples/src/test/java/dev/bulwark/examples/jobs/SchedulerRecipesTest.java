package dev.bulwark.examples.jobs;

import static org.assertj.core.api.Assertions.assertThat;

import com.zaxxer.hikari.HikariDataSource;
import dev.bulwark.jobs.JobSnapshot;
import dev.bulwark.jobs.LockingScheduler;
import dev.bulwark.jobs.Schedule;
import dev.bulwark.pool.PoolProfile;
import dev.bulwark.pool.Pools;
import dev.bulwark.testing.Await;
import dev.bulwark.testing.PostgresExtension;
import dev.bulwark.testing.TestDatabase;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalTime;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.List;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The scheduler recipes of {@code docs/jobs.md}, run as written against the embedded PostgreSQL.
 */
@ExtendWith(PostgresExtension.class)
class SchedulerRecipesTest {
  private final List<AutoCloseable> closing = new ArrayList<>();

  @AfterEach
  void close() throws Exception {
    for (int i = closing.size() - 1; i >= 0; i--) {
      closing.get(i).close();
    }
  }

  /** Fetches the day's rates and stores them once per day: the audit's 10:00 Moscow job. */
  static final class ExchangeRates {
    private final DataSource dataSource;

    ExchangeRates(DataSource dataSource) {
      this.dataSource = dataSource;
    }

    void fetchAndStore(Instant day) throws SQLException {
      try (Connection c = dataSource.getConnection();
          PreparedStatement s =
              c.prepareStatement("insert into rates (day, usd_rub) values (?, 81.5)")) {
        s.setObject(1, day.atZone(ZoneId.of("Europe/Moscow")).toLocalDate());
        s.executeUpdate();
      }
    }
  }

  private HikariDataSource pool(TestDatabase db, String name) {
    HikariDataSource pool =
        Pools.postgres(db.jdbcUrl(), db.user(), db.password())
            .profile(PoolProfile.WORKER)
            .poolName(name)
            .build();
    closing.add(pool);
    return pool;
  }

  @Test
  void theDailyExchangeRateFetchIsPlacedAtTenMoscowTime(TestDatabase db) throws Exception {
    List<LockingScheduler> instances = new ArrayList<>();
    for (String instance : new String[] {"api-1", "api-2"}) {
      HikariDataSource dataSource = pool(db, instance);
      MeterRegistry registry = new SimpleMeterRegistry();
      ExchangeRates rates = new ExchangeRates(dataSource);
      // snippet:begin jobs-exchange-rates
      LockingScheduler scheduler =
          LockingScheduler.postgres(dataSource)
              .name("billing") // the same on every instance: it names the locks
              .meterRegistry(registry)
              .build();
      scheduler.schedule(
          "exchange-rates",
          Schedule.dailyAt(LocalTime.of(10, 0), ZoneId.of("Europe/Moscow")),
          Duration.ofMinutes(5), // the run's time limit
          context -> rates.fetchAndStore(context.periodStart()));
      // snippet:end
      closing.add(scheduler);
      instances.add(scheduler);
    }

    ZonedDateTime now = ZonedDateTime.now(ZoneId.of("Europe/Moscow"));
    ZonedDateTime ten = now.with(LocalTime.of(10, 0));
    Instant expected = (ten.isAfter(now) ? ten : ten.plusDays(1)).toInstant();
    for (LockingScheduler scheduler : instances) {
      Await.until(
          Duration.ofSeconds(10),
          "the first attempt's reading of the database's clock",
          () -> scheduler.snapshot("exchange-rates").orElseThrow().nextRun() != null);
      JobSnapshot snapshot = scheduler.snapshot("exchange-rates").orElseThrow();
      assertThat(snapshot.schedule()).isEqualTo("dailyAt(10:00 Europe/Moscow)");
      assertThat(snapshot.nextRun()).isEqualTo(expected);
      // Started in the middle of a period: no catch-up run at start-up.
      assertThat(snapshot.runs()).isZero();
    }
  }

  @Test
  void twoInstancesRunEachPeriodOnce(TestDatabase db) throws Exception {
    execute(db, "create table heartbeats (period timestamptz primary key, instance text)");
    List<LockingScheduler> instances = new ArrayList<>();
    for (String instance : new String[] {"worker-1", "worker-2"}) {
      HikariDataSource dataSource = pool(db, instance);
      // snippet:begin jobs-fixed-rate
      LockingScheduler scheduler =
          LockingScheduler.postgres(dataSource).name("reports").instance(instance).build();
      scheduler.schedule(
          "heartbeat",
          Schedule.fixedRate(Duration.ofSeconds(1)),
          context -> {
            try (Connection c = dataSource.getConnection();
                PreparedStatement s = c.prepareStatement("insert into heartbeats values (?, ?)")) {
              s.setObject(1, context.periodStart().atOffset(ZoneOffset.UTC));
              s.setString(2, instance);
              s.executeUpdate(); // a second run of a period would fail on the primary key
            }
          });
      // snippet:end
      closing.add(scheduler);
      instances.add(scheduler);
    }

    Await.until(Duration.ofSeconds(30), "five periods", () -> count(db) >= 5);
    for (LockingScheduler scheduler : instances) {
      scheduler.close();
    }
    long runs = 0;
    long failures = 0;
    for (LockingScheduler scheduler : instances) {
      JobSnapshot heartbeat = scheduler.snapshot("heartbeat").orElseThrow();
      runs += heartbeat.runs();
      failures += heartbeat.failures();
    }
    assertThat(failures).isZero();
    assertThat(runs).isEqualTo(count(db));
  }

  private static long count(TestDatabase db) throws SQLException {
    try (Connection c = db.connect();
        Statement s = c.createStatement();
        ResultSet r = s.executeQuery("select count(*) from heartbeats")) {
      r.next();
      return r.getLong(1);
    }
  }

  private static void execute(TestDatabase db, String sql) throws SQLException {
    try (Connection c = db.connect();
        Statement s = c.createStatement()) {
      s.execute(sql);
    }
  }
}

package dev.bulwark.health;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.entry;

import com.zaxxer.hikari.HikariDataSource;
import dev.bulwark.pool.Pools;
import dev.bulwark.testing.Await;
import dev.bulwark.testing.Closer;
import dev.bulwark.testing.PostgresExtension;
import dev.bulwark.testing.TestDatabase;
import java.sql.Connection;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** {@link HealthChecks#pool}: a real HikariCP pool of real PostgreSQL connections. */
@ExtendWith(PostgresExtension.class)
class PoolCheckTest {
  private static final Duration WAIT = Duration.ofSeconds(10);

  private final Closer closer = new Closer();

  @AfterEach
  void tearDown() throws Exception {
    closer.close();
  }

  /** A pool of 5 whose connections are all open before the test starts. */
  private HikariDataSource pool(TestDatabase db) throws Exception {
    HikariDataSource pool =
        closer.add(
            Pools.postgres(db.jdbcUrl(), db.user(), db.password())
                .poolName("health-pool")
                .maximumPoolSize(5)
                .connectionTimeout(Duration.ofSeconds(30))
                .build());
    Await.until(WAIT, "5 open connections", () -> Pools.snapshot(pool).total() == 5);
    return pool;
  }

  private Connection hold(HikariDataSource pool) throws Exception {
    return closer.add(pool.getConnection());
  }

  @Test
  void anIdlePoolPassesAndReportsItsCounts(TestDatabase db) throws Exception {
    HikariDataSource pool = pool(db);

    HealthResult result = HealthChecks.pool(pool).check();

    assertThat(result.status()).isEqualTo(Status.PASS);
    assertThat(result.output()).isNull();
    assertThat(result.observedValue()).isEqualTo(0.0);
    assertThat(result.observedUnit()).isEqualTo("%");
    assertThat(result.componentType()).isEqualTo("component");
    assertThat(result.details())
        .containsExactly(
            entry("active", 0),
            entry("idle", 5),
            entry("pending", 0),
            entry("total", 5),
            entry("max", 5));
    assertThat(HealthChecks.pool(pool)).hasToString("HealthChecks.pool");
    assertThat(((BuiltInCheck) HealthChecks.pool(pool)).isExternal()).isTrue();
  }

  @Test
  void warnsFromEightyPercentAndBorrowsNothing(TestDatabase db) throws Exception {
    HikariDataSource pool = pool(db);
    HealthCheck check = HealthChecks.pool(pool);
    for (int i = 0; i < 3; i++) {
      hold(pool);
    }
    assertThat(check.check().status()).isEqualTo(Status.PASS);
    hold(pool);

    HealthResult result = check.check();

    assertThat(result.status()).isEqualTo(Status.WARN);
    assertThat(result.output())
        .isEqualTo("4 of 5 connections in use (80%), at or above the warning level of 80%");
    assertThat(result.observedValue()).isEqualTo(80.0);
    assertThat(result.details()).containsEntry("active", 4).containsEntry("pending", 0);
    // The check borrowed nothing: the one connection left is still free.
    assertThat(Pools.snapshot(pool).active()).isEqualTo(4);
    assertThat(Pools.snapshot(pool).idle()).isEqualTo(1);
  }

  @Test
  void warnsWhenThreadsWaitForAConnection(TestDatabase db) throws Exception {
    HikariDataSource pool = pool(db);
    Connection first = pool.getConnection();
    for (int i = 1; i < 5; i++) {
      hold(pool);
    }
    // Never fails, never warns on the utilization: only the waiting thread can make it warn.
    HealthCheck check = HealthChecks.pool(pool, Threshold.none());
    assertThat(check.check().status()).isEqualTo(Status.PASS);
    CompletableFuture<Connection> borrower =
        CompletableFuture.supplyAsync(
            () -> {
              try {
                return pool.getConnection();
              } catch (java.sql.SQLException e) {
                throw new IllegalStateException(e);
              }
            });
    Await.until(WAIT, "a waiting borrower", () -> Pools.snapshot(pool).pending() > 0);

    HealthResult result = check.check();

    assertThat(result.status()).isEqualTo(Status.WARN);
    assertThat(result.output()).isEqualTo("pool full: 5 of 5 connections in use, 1 thread waiting");
    assertThat(result.observedValue()).isEqualTo(100.0);
    assertThat(result.details()).containsEntry("active", 5).containsEntry("pending", 1);
    assertThat(Pools.snapshot(pool).active()).isEqualTo(5);
    assertThat(Pools.snapshot(pool).pending()).isEqualTo(1);

    first.close(); // the borrower gets it
    borrower.get(WAIT.toSeconds(), TimeUnit.SECONDS).close();
    assertThat(check.check().status()).isEqualTo(Status.PASS); // nobody waits any more
  }

  @Test
  void failsAtTheFailureLevel(TestDatabase db) throws Exception {
    HikariDataSource pool = pool(db);
    hold(pool);
    hold(pool);

    HealthResult result = HealthChecks.pool(pool, Threshold.of(20, 40)).check();

    assertThat(result.status()).isEqualTo(Status.FAIL);
    assertThat(result.output())
        .isEqualTo("2 of 5 connections in use (40%), at or above the failure level of 40%");
  }

  @Test
  void aClosedPoolFails(TestDatabase db) throws Exception {
    HikariDataSource pool = pool(db);
    HealthCheck check = HealthChecks.pool(pool);
    pool.close();

    HealthResult result = check.check();

    assertThat(result.status()).isEqualTo(Status.FAIL);
    assertThat(result.output()).isEqualTo("pool health-pool is closed");
    assertThat(result.componentType()).isEqualTo("component");
  }

  @Test
  void aPoolNotStartedYetWarns() throws Exception {
    try (HikariDataSource lazy = new HikariDataSource()) {
      lazy.setPoolName("lazy");

      HealthResult result = HealthChecks.pool(lazy).check();

      assertThat(result.status()).isEqualTo(Status.WARN);
      assertThat(result.output())
          .isEqualTo("pool lazy has not started: it opens on its first borrow");
    }
  }

  @Test
  void refusesLevelsThatAreNoPercentages() {
    try (HikariDataSource lazy = new HikariDataSource()) {
      assertThatThrownBy(() -> HealthChecks.pool(lazy, Threshold.warnAt(120)))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessage(
              "utilizationPercent.warnAt must be more than 0 and at most 100, or infinite for"
                  + " never, but was 120 %");
      assertThatThrownBy(() -> HealthChecks.pool(lazy, Threshold.of(50, 100.5)))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessage(
              "utilizationPercent.failAt must be more than 0 and at most 100, or infinite for"
                  + " never, but was 100.5 %");
      assertThatThrownBy(() -> HealthChecks.pool(lazy, Threshold.warnAt(0)))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessage(
              "utilizationPercent.warnAt must be more than 0 and at most 100, or infinite for"
                  + " never, but was 0 %");
      assertThatThrownBy(() -> HealthChecks.pool(null))
          .isInstanceOf(NullPointerException.class)
          .hasMessage("dataSource");
      assertThatThrownBy(() -> HealthChecks.pool(lazy, null))
          .isInstanceOf(NullPointerException.class)
          .hasMessage("utilizationPercent");
    }
  }
}

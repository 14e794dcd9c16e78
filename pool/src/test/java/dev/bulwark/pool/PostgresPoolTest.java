package dev.bulwark.pool;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.zaxxer.hikari.HikariDataSource;
import com.zaxxer.hikari.pool.HikariPool.PoolInitializationException;
import dev.bulwark.testing.Await;
import dev.bulwark.testing.PostgresExtension;
import dev.bulwark.testing.TestDatabase;
import dev.bulwark.testing.TestPostgres;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.SQLTransientConnectionException;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** Pools against a real PostgreSQL server. */
@ExtendWith(PostgresExtension.class)
class PostgresPoolTest {

  private static PostgresPoolBuilder pool(TestPostgres postgres) {
    return Pools.postgres(postgres.jdbcUrl(), postgres.user(), postgres.password());
  }

  @Test
  void everyConnectionCarriesTheServerLimits(TestPostgres postgres) throws SQLException {
    try (HikariDataSource ds = pool(postgres).maximumPoolSize(2).build();
        Connection a = ds.getConnection();
        Connection b = ds.getConnection()) {
      for (Connection c : new Connection[] {a, b}) {
        assertThat(Sql.show(c, "statement_timeout")).isEqualTo("30s");
        assertThat(Sql.show(c, "idle_in_transaction_session_timeout")).isEqualTo("1min");
        assertThat(Sql.show(c, "lock_timeout")).isEqualTo("10s");
        assertThat(Sql.show(c, "application_name")).isEqualTo("api");
        // pgjdbc's socketTimeout, in milliseconds; HikariCP restores it after each validation.
        assertThat(c.getNetworkTimeout()).isEqualTo(45_000);
      }
      // The limits are the session's defaults, so application code cannot reset them away.
      Sql.execute(a, "set statement_timeout = 0");
      Sql.execute(a, "reset all");
      assertThat(Sql.show(a, "statement_timeout")).isEqualTo("30s");
    }
  }

  @Test
  void statementTimeoutCancelsARunawayQuery(TestPostgres postgres) throws SQLException {
    try (HikariDataSource ds = pool(postgres).statementTimeout(Duration.ofSeconds(1)).build();
        Connection c = ds.getConnection()) {
      long start = System.nanoTime();
      SQLException e =
          assertThrows(SQLException.class, () -> Sql.execute(c, "select pg_sleep(30)"));
      long elapsed = System.nanoTime() - start;
      assertThat(e.getSQLState()).isEqualTo("57014");
      assertThat(e.getMessage()).contains("canceling statement due to statement timeout");
      assertThat(Duration.ofNanos(elapsed)).isLessThan(Duration.ofSeconds(30));
      // The server cancelled the statement, not the session: the connection is still good.
      assertThat(Sql.text(c, "select 1")).isEqualTo("1");
    }
  }

  @Test
  void idleInTransactionTimeoutEndsAnAbandonedTransaction(TestPostgres postgres) throws Exception {
    try (HikariDataSource ds =
        pool(postgres)
            .profile(PoolProfile.WORKER)
            .maximumPoolSize(1)
            .idleInTransactionSessionTimeout(Duration.ofMillis(500))
            .build()) {
      int abandoned;
      try (Connection c = ds.getConnection()) {
        c.setAutoCommit(false);
        abandoned = TestPostgres.backendPid(c);
        Sql.execute(c, "select 1"); // a transaction is open and now idles
        Await.until(
            Duration.ofSeconds(10),
            "end of the idle transaction's backend",
            () -> !Sql.backendExists(postgres, abandoned));
        SQLException e = assertThrows(SQLException.class, () -> Sql.execute(c, "select 1"));
        assertThat(e.getSQLState()).isEqualTo("25P03");
      }
      // The pool notices the dead connection and hands out a new one.
      try (Connection c = ds.getConnection()) {
        assertThat(TestPostgres.backendPid(c)).isNotEqualTo(abandoned);
        assertThat(Sql.text(c, "select 1")).isEqualTo("1");
      }
    }
  }

  @Test
  void lockTimeoutGivesUpOnABlockedStatement(TestDatabase db) throws SQLException {
    try (HikariDataSource ds =
            Pools.postgres(db.jdbcUrl(), db.user(), db.password())
                .maximumPoolSize(2)
                .lockTimeout(Duration.ofMillis(300))
                .build();
        Connection holder = ds.getConnection();
        Connection waiter = ds.getConnection()) {
      Sql.execute(holder, "create table t(id int)");
      holder.setAutoCommit(false);
      Sql.execute(holder, "lock table t in access exclusive mode");
      SQLException e =
          assertThrows(SQLException.class, () -> Sql.execute(waiter, "select * from t"));
      assertThat(e.getSQLState()).isEqualTo("55P03");
      holder.rollback();
    }
  }

  @Test
  void borrowerBeyondThePoolFailsWithinTheConnectionTimeout(TestPostgres postgres)
      throws SQLException {
    // 5 s, so that the 20 % allowance is a full second of slack on a loaded machine.
    Duration timeout = Duration.ofSeconds(5);
    try (HikariDataSource ds =
            pool(postgres)
                .poolName("exhausted")
                .maximumPoolSize(2)
                .connectionTimeout(timeout)
                .build();
        Connection a = ds.getConnection();
        Connection b = ds.getConnection()) {
      long start = System.nanoTime();
      SQLTransientConnectionException e =
          assertThrows(SQLTransientConnectionException.class, ds::getConnection);
      Duration elapsed = Duration.ofNanos(System.nanoTime() - start);
      assertThat(elapsed).isBetween(timeout, timeout.plus(timeout.dividedBy(5)));
      assertThat(e.getMessage())
          .startsWith("exhausted - Connection is not available, request timed out after");
    }
  }

  @Test
  void snapshotShowsAnExhaustedPool(TestPostgres postgres) throws Exception {
    // The third borrower must still be waiting when the snapshot is read: give it 30 s.
    try (HikariDataSource ds =
        pool(postgres)
            .poolName("snap")
            .maximumPoolSize(2)
            .connectionTimeout(Duration.ofSeconds(30))
            .build()) {
      // The pool opens its first connection in build() and fills up in the background.
      Await.until(Duration.ofSeconds(5), "a full pool", () -> Pools.snapshot(ds).total() == 2);
      assertThat(Pools.snapshot(ds)).isEqualTo(new PoolSnapshot("snap", 0, 2, 0, 2, 2, 0.0));
      Connection a = ds.getConnection();
      Connection b = ds.getConnection();
      CompletableFuture<Connection> third =
          CompletableFuture.supplyAsync(
              () -> {
                try {
                  return ds.getConnection();
                } catch (SQLException e) {
                  throw new IllegalStateException(e);
                }
              });
      Await.until(
          Duration.ofSeconds(5), "waiting borrower", () -> Pools.snapshot(ds).pending() == 1);
      PoolSnapshot full = Pools.snapshot(ds);
      assertThat(full.active()).isEqualTo(2);
      assertThat(full.idle()).isZero();
      assertThat(full.utilization()).isEqualTo(1.0);

      a.close();
      third.get(5, TimeUnit.SECONDS).close();
      b.close();
    }
  }

  @Test
  void snapshotOfAClosedPoolIsRefused(TestPostgres postgres) {
    HikariDataSource ds = pool(postgres).poolName("gone").build();
    ds.close();
    assertThatThrownBy(() -> Pools.snapshot(ds))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("pool gone is closed");
  }

  @Test
  void metersArePublishedAndRemovedOnClose(TestPostgres postgres) throws Exception {
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    HikariDataSource ds =
        pool(postgres).poolName("metered").maximumPoolSize(2).meterRegistry(registry).build();
    try (Connection c = ds.getConnection()) {
      // HikariCP refreshes the figures behind its gauges at most once a second.
      Await.until(
          Duration.ofSeconds(5),
          "utilization 0.5",
          () ->
              registry.get("bulwark.pool.utilization").tag("name", "metered").gauge().value()
                  == 0.5);
      assertThat(registry.get("hikaricp.connections.active").tag("pool", "metered").gauge().value())
          .isEqualTo(1.0);
      assertThat(registry.get("hikaricp.connections.max").tag("pool", "metered").gauge().value())
          .isEqualTo(2.0);
    } finally {
      ds.close();
    }
    assertThat(registry.find("bulwark.pool.utilization").gauge()).isNull();
    assertThat(registry.find("hikaricp.connections.active").gauge()).isNull();
  }

  @Test
  void readOnlyPoolRefusesWritesEvenInAutoCommit(TestDatabase db) throws SQLException {
    for (ServerSettings via : ServerSettings.values()) {
      try (HikariDataSource ds =
              Pools.postgres(db.jdbcUrl(), db.user(), db.password())
                  .poolName("read-only-" + via.name().toLowerCase(Locale.ROOT))
                  .maximumPoolSize(2)
                  .readOnly(true)
                  .serverSettingsVia(via)
                  .build();
          Connection c = ds.getConnection()) {
        assertThat(c.getAutoCommit()).as(via.name()).isTrue();
        assertReadOnly(c, via + ", auto-commit");

        // What application code's RESET ALL leaves: auto-commit statements stay read-only only
        // where the setting is the session's default; transactions still begin READ ONLY.
        Sql.execute(c, "reset all");
        if (via == ServerSettings.STARTUP_OPTIONS) {
          assertReadOnly(c, via + ", auto-commit after RESET ALL");
        } else {
          Sql.execute(c, "create table lifted_" + via.ordinal() + "(id int)");
        }
        c.setAutoCommit(false);
        assertReadOnly(c, via + ", transaction after RESET ALL");
        c.rollback();
      }
    }
  }

  private static void assertReadOnly(Connection c, String when) {
    SQLException e =
        assertThrows(SQLException.class, () -> Sql.execute(c, "create table t(id int)"), when);
    assertThat(e.getSQLState()).as(when).isEqualTo("25006");
  }

  @Test
  void twoPoolsOfOneNameCannotShareARegistry(TestPostgres postgres) throws Exception {
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    try (HikariDataSource first =
        pool(postgres).poolName("twin").maximumPoolSize(2).meterRegistry(registry).build()) {
      assertThatThrownBy(
              () ->
                  pool(postgres)
                      .poolName("twin")
                      .maximumPoolSize(2)
                      .meterRegistry(registry)
                      .build())
          .isInstanceOf(IllegalStateException.class)
          .hasMessage(
              "meterRegistry already holds the meters of a pool named \"twin\": give each pool"
                  + " its own poolName");
      try (Connection c = first.getConnection()) {
        Await.until(
            Duration.ofSeconds(5),
            "utilization 0.5 of the first pool",
            () ->
                registry.get("bulwark.pool.utilization").tag("name", "twin").gauge().value()
                    == 0.5);
      }
    }
    // Closing the pool frees its name.
    try (HikariDataSource again =
        pool(postgres).poolName("twin").maximumPoolSize(2).meterRegistry(registry).build()) {
      assertThat(registry.get("bulwark.pool.utilization").tag("name", "twin").gauge()).isNotNull();
    }
  }

  @Test
  void theDocumentedLowerBoundsBuild(TestPostgres postgres) {
    try (HikariDataSource ds =
        pool(postgres)
            .poolName("short-lived")
            .maximumPoolSize(2)
            .minimumIdle(1)
            .maxLifetime(Duration.ofSeconds(30))
            .build()) {
      assertThat(ds.getMaxLifetime()).isEqualTo(30_000);
      assertThat(ds.getKeepaliveTime()).isZero();
      // HikariCP turns off an idle timeout within 1 s of maxLifetime, with a warning; half is kept.
      assertThat(ds.getIdleTimeout()).isEqualTo(15_000);
    }
    try (HikariDataSource ds =
        pool(postgres)
            .poolName("tight-firewall")
            .maximumPoolSize(2)
            .infrastructureIdleLimit(Duration.ofSeconds(35))
            .build()) {
      assertThat(ds.getMaxLifetime()).isEqualTo(30_000);
      assertThat(ds.getKeepaliveTime()).isZero();
    }
  }

  @Test
  void connectionInitSqlSetsTheSameLimitsButResetDropsThem(TestPostgres postgres)
      throws SQLException {
    try (HikariDataSource ds =
            pool(postgres).serverSettingsVia(ServerSettings.CONNECTION_INIT_SQL).build();
        Connection c = ds.getConnection()) {
      assertThat(Sql.show(c, "statement_timeout")).isEqualTo("30s");
      assertThat(Sql.show(c, "idle_in_transaction_session_timeout")).isEqualTo("1min");
      assertThat(Sql.show(c, "lock_timeout")).isEqualTo("10s");
      Sql.execute(c, "reset all");
      assertThat(Sql.show(c, "statement_timeout")).isEqualTo("0");
    }
  }

  @Test
  void serverDefaultsSendNothingAndUseWhatTheServerHas(TestDatabase db) throws SQLException {
    try (Connection admin = db.connect()) {
      Sql.execute(admin, "alter database " + db.database() + " set statement_timeout = '7s'");
    }
    try (HikariDataSource ds =
            Pools.postgres(db.jdbcUrl(), db.user(), db.password())
                .serverSettingsVia(ServerSettings.SERVER_DEFAULTS)
                .statementTimeout(Duration.ofSeconds(7))
                .build();
        Connection c = ds.getConnection()) {
      assertThat(Sql.show(c, "statement_timeout")).isEqualTo("7s");
      assertThat(Sql.show(c, "lock_timeout")).isEqualTo("0");
    }
  }

  /**
   * Why the limits are not set per borrow: HikariCP does not reset session state when a connection
   * comes back, so one borrower's {@code SET} reaches the next borrower.
   */
  @Test
  void sessionStateSurvivesTheReturnToThePool(TestPostgres postgres) throws SQLException {
    try (HikariDataSource ds =
        pool(postgres).profile(PoolProfile.WORKER).maximumPoolSize(1).build()) {
      try (Connection first = ds.getConnection()) {
        Sql.execute(first, "set statement_timeout = '1h'");
      }
      try (Connection next = ds.getConnection()) {
        assertThat(Sql.show(next, "statement_timeout")).isEqualTo("1h");
      }
    }
  }

  @Test
  void aBuiltPoolGivesTheSettingsItRunsWith(TestPostgres postgres) throws SQLException {
    PostgresPoolBuilder builder =
        pool(postgres)
            .profile(PoolProfile.WORKER)
            .maximumPoolSize(2)
            .statementTimeout(Duration.ofSeconds(2))
            .poolName("described");
    try (HikariDataSource ds = builder.build();
        Connection c = ds.getConnection()) {
      PoolSettings settings = Pools.settings(ds);
      assertThat(settings).isEqualTo(builder.settings());
      // What the settings say is what HikariCP, pgjdbc and the server were given.
      assertThat(settings.poolName()).isEqualTo(ds.getPoolName()).isEqualTo("described");
      assertThat(settings.maximumPoolSize()).isEqualTo(ds.getMaximumPoolSize()).isEqualTo(2);
      assertThat(settings.minimumIdle()).isEqualTo(ds.getMinimumIdle());
      assertThat(settings.connectionTimeout().toMillis()).isEqualTo(ds.getConnectionTimeout());
      assertThat(settings.validationTimeout().toMillis()).isEqualTo(ds.getValidationTimeout());
      assertThat(settings.maxLifetime().toMillis()).isEqualTo(ds.getMaxLifetime());
      assertThat(settings.keepaliveTime().toMillis()).isEqualTo(ds.getKeepaliveTime());
      assertThat(settings.socketTimeout().toMillis()).isEqualTo(c.getNetworkTimeout());
      assertThat(Sql.show(c, "statement_timeout")).isEqualTo("2s");
      assertThat(Sql.show(c, "lock_timeout")).isEqualTo("666ms");
      assertThat(settings.lockTimeout()).isEqualTo(Duration.ofMillis(666));
      assertThat(Sql.show(c, "application_name")).isEqualTo(settings.applicationName());
      assertThat(settings.jdbcUrl()).isEqualTo(postgres.jdbcUrl());
      assertThat(settings.toString()).contains("statementTimeout=2000 ms", "profile=WORKER");
    }
  }

  @Test
  void settingsOfAPoolBuiltElsewhereAreRefused() {
    try (HikariDataSource elsewhere = new HikariDataSource()) {
      elsewhere.setPoolName("elsewhere");
      assertThatThrownBy(() -> Pools.settings(elsewhere))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessage(
              "dataSource must be a pool built by PostgresPoolBuilder, but was HikariDataSource"
                  + " \"elsewhere\"");
    }
  }

  @Test
  void buildFailsAtOnceWhenTheServerIsUnreachable() {
    long start = System.nanoTime();
    assertThatThrownBy(
            () -> Pools.postgres("jdbc:postgresql://127.0.0.1:1/none", "app", "").build())
        .isInstanceOf(PoolInitializationException.class)
        .hasMessageContaining("Failed to initialize pool");
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(10));
  }
}

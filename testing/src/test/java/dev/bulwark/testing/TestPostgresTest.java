package dev.bulwark.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(PostgresExtension.class)
class TestPostgresTest {

  @Test
  void selectVersionReportsARealPostgreSQL(TestPostgres postgres) throws SQLException {
    try (Connection c = postgres.connect();
        Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("select version()")) {
      rs.next();
      assertThat(rs.getString(1)).startsWith("PostgreSQL ");
    }
  }

  @Test
  void newDatabaseIsEmptyAndDroppedOnClose(TestPostgres postgres) throws SQLException {
    TestDatabase db = postgres.newDatabase();
    try (Connection c = db.connect();
        Statement s = c.createStatement()) {
      s.execute("create table t(id int)");
      s.execute("insert into t values (1)");
    }
    assertThat(databaseExists(postgres, db.database())).isTrue();
    db.close();
    assertThat(databaseExists(postgres, db.database())).isFalse();
  }

  @Test
  void newSchemaIsFirstOnTheSearchPath(TestPostgres postgres) throws SQLException {
    try (TestDatabase schema = postgres.newSchema();
        Connection c = schema.dataSource().getConnection();
        Statement s = c.createStatement()) {
      s.execute("create table t(id int)");
      try (ResultSet rs =
          s.executeQuery(
              "select table_schema from information_schema.tables where table_name='t'")) {
        rs.next();
        assertThat(rs.getString(1)).isEqualTo(schema.schema());
      }
    }
  }

  @Test
  void injectedDatabaseIsFreshForEachTest(TestDatabase db) throws SQLException {
    try (Connection c = db.connect();
        Statement s = c.createStatement();
        ResultSet rs =
            s.executeQuery(
                "select count(*) from information_schema.tables where table_schema='public'")) {
      rs.next();
      assertThat(rs.getInt(1)).isZero();
      assertThat(c.getCatalog()).isEqualTo(db.database());
    }
  }

  @Test
  void terminateBackendClosesTheClientsConnection(TestPostgres postgres) throws SQLException {
    try (Connection victim = postgres.connect()) {
      int pid = TestPostgres.backendPid(victim);
      assertThat(postgres.terminateBackend(pid)).isTrue();
      assertThatThrownBy(
              () -> {
                try (Statement s = victim.createStatement()) {
                  s.execute("select 1");
                }
              })
          .isInstanceOf(SQLException.class);
      assertThat(victim.isValid(1)).isFalse();
    }
    // Terminating a pid that does not exist is reported, not thrown.
    assertThat(postgres.terminateBackend(Integer.MAX_VALUE)).isFalse();
  }

  @Test
  void cancelBackendStopsAHangingQueryAndKeepsTheSession(TestPostgres postgres) throws Exception {
    try (Connection c = postgres.connect()) {
      int pid = TestPostgres.backendPid(c);
      CompletableFuture<SQLException> hanging =
          CompletableFuture.supplyAsync(
              () -> {
                try (Statement s = c.createStatement()) {
                  s.execute("select pg_sleep(30)");
                  return null;
                } catch (SQLException e) {
                  return e;
                }
              });
      awaitActive(postgres, pid, Duration.ofSeconds(10));
      assertThat(postgres.cancelBackend(pid)).isTrue();
      SQLException e = hanging.get(10, TimeUnit.SECONDS);
      assertThat((Throwable) e).isNotNull();
      assertThat(e.getSQLState()).isEqualTo("57014");
      assertThat(c.isValid(1)).isTrue();
    }
  }

  @Test
  void parsesLibpqAndJdbcUrls() {
    TestPostgres a = TestPostgres.fromUrl("postgresql://app:p%40ss@db.local:6543/orders");
    assertThat(a.host()).isEqualTo("db.local");
    assertThat(a.port()).isEqualTo(6543);
    assertThat(a.database()).isEqualTo("orders");
    assertThat(a.user()).isEqualTo("app");
    assertThat(a.password()).isEqualTo("p@ss");
    assertThat(a.isEmbedded()).isFalse();
    assertThat(a.jdbcUrl()).isEqualTo("jdbc:postgresql://db.local:6543/orders");

    TestPostgres b = TestPostgres.fromUrl("jdbc:postgresql://10.1.1.1/x?user=u&password=pw");
    assertThat(b.port()).isEqualTo(5432);
    assertThat(b.user()).isEqualTo("u");
    assertThat(b.password()).isEqualTo("pw");
    assertThat(b.database()).isEqualTo("x");

    assertThatThrownBy(() -> TestPostgres.fromUrl("mysql://h/db"))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage(
            "BULWARK_TEST_POSTGRES_URL must look like postgresql://user:password@host:port/database,"
                + " but was mysql://h/db");
  }

  private static boolean databaseExists(TestPostgres postgres, String name) throws SQLException {
    try (Connection c = postgres.connect();
        Statement s = c.createStatement();
        ResultSet rs =
            s.executeQuery("select count(*) from pg_database where datname = '" + name + "'")) {
      rs.next();
      return rs.getInt(1) == 1;
    }
  }

  private static void awaitActive(TestPostgres postgres, int pid, Duration timeout)
      throws SQLException {
    long deadline = System.nanoTime() + timeout.toNanos();
    try (Connection c = postgres.connect();
        Statement s = c.createStatement()) {
      while (System.nanoTime() < deadline) {
        try (ResultSet rs =
            s.executeQuery(
                "select count(*) from pg_stat_activity where state = 'active' and pid = " + pid)) {
          rs.next();
          if (rs.getInt(1) == 1) {
            return;
          }
        }
        Thread.onSpinWait();
      }
    }
    throw new AssertionError("backend " + pid + " never became active");
  }
}

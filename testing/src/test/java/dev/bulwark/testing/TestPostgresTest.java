package dev.bulwark.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.sql.Connection;
import java.sql.DriverManager;
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

  @Test
  void envUrlsThatDoNotParseAreRefusedMasked() {
    String shape =
        "BULWARK_TEST_POSTGRES_URL must look like postgresql://user:password@host:port/database,"
            + " but was ";
    assertRefused("mysql://app:S3cr3t@db.local/orders", shape + "mysql://***@db.local/orders");
    assertRefused(
        "postgresql://app:S3cr3t@db.local:notaport/orders",
        shape + "postgresql://***@db.local:notaport/orders");
    assertRefused(
        "postgresql://app:S3cr3t@db.local:0/orders", shape + "postgresql://***@db.local:0/orders");
    assertRefused(
        "postgresql://app:S3cr3t@db.local:70000/orders",
        shape + "postgresql://***@db.local:70000/orders");
    assertRefused(
        "jdbc:postgresql://db.local:notaport/orders?user=app&password=S3cr3t",
        shape + "jdbc:postgresql://db.local:***");
    assertRefused(
        "postgresql://app:S3cr3t@db local/orders",
        "BULWARK_TEST_POSTGRES_URL is not a PostgreSQL URL: postgresql://***@db local/orders");
  }

  private static void assertRefused(String url, String message) {
    Throwable thrown = catchThrowable(() -> TestPostgres.fromUrl(url));
    assertThat(thrown).isInstanceOf(IllegalStateException.class).hasMessage(message).hasNoCause();
    NoSecrets.assertHidden(thrown, "S3cr3t");
  }

  @Test
  void anUnreachableEnvServerFailsWithoutShowingThePassword() {
    TestPostgres unreachable =
        TestPostgres.fromUrl(
            "postgresql://app:S3cr3t@127.0.0.1:" + Ports.freeLoopbackPort() + "/orders");
    SQLException refused = catchThrowableOfType(SQLException.class, unreachable::connect);
    assertThat(refused.getSQLState()).isEqualTo("08001");
    NoSecrets.assertHidden(refused, "S3cr3t");
    Throwable failed = catchThrowable(unreachable::newDatabase);
    assertThat(failed)
        .isInstanceOf(IllegalStateException.class)
        .hasCauseInstanceOf(SQLException.class);
    NoSecrets.assertHidden(failed, "S3cr3t");
  }

  @Test
  void aWrongPasswordFromTheEnvFailsWithoutShowingIt(TestPostgres postgres) throws SQLException {
    assumeTrue(postgres.isEmbedded(), "needs a server this JVM owns");
    try (TestRole role = postgres.newRole()) {
      String server = "@127.0.0.1:" + postgres.port() + "/postgres";
      TestPostgres wrong =
          TestPostgres.fromUrl("postgresql://" + role.name() + ":Wr0ngS3cr3t" + server);
      SQLException refused = catchThrowableOfType(SQLException.class, wrong::connect);
      assertThat(refused.getSQLState()).isEqualTo("28P01");
      NoSecrets.assertHidden(refused, "Wr0ngS3cr3t", role.password());
      // The same URL with the right password logs in: the failure above was the password.
      TestPostgres right =
          TestPostgres.fromUrl("postgresql://" + role.name() + ":" + role.password() + server);
      try (Connection c = right.connect()) {
        assertThat(c.isValid(1)).isTrue();
      }
    }
  }

  @Test
  void newRoleHasItsPasswordCheckedAndCloseDropsIt(TestPostgres postgres) throws SQLException {
    assumeTrue(postgres.isEmbedded(), "needs a server this JVM owns");
    TestRole role = postgres.newRole();
    try {
      assertThat(role.password()).matches("[A-Za-z0-9]{24}");
      assertThat(role.toString()).isEqualTo("role " + role.name()).doesNotContain(role.password());
      try (Connection c =
              DriverManager.getConnection(postgres.jdbcUrl(), role.name(), role.password());
          Statement s = c.createStatement();
          ResultSet rs = s.executeQuery("select current_user")) {
        rs.next();
        assertThat(rs.getString(1)).isEqualTo(role.name());
      }
      SQLException wrong =
          catchThrowableOfType(
              SQLException.class,
              () -> DriverManager.getConnection(postgres.jdbcUrl(), role.name(), "wrong"));
      assertThat(wrong.getSQLState()).isEqualTo("28P01");
      // Every other role is still trusted.
      try (Connection c =
          DriverManager.getConnection(postgres.jdbcUrl(), postgres.user(), "anything")) {
        assertThat(c.isValid(1)).isTrue();
      }
    } finally {
      role.close();
    }
    assertThat(
            count(postgres, "select count(*) from pg_roles where rolname = '" + role.name() + "'"))
        .isZero();
    assertThat(
            count(
                postgres,
                "select count(*) from pg_hba_file_rules where '"
                    + role.name()
                    + "' = any(user_name)"))
        .isZero();
  }

  @Test
  void newRoleNeedsAServerThisJvmStarted() {
    TestPostgres elsewhere = TestPostgres.fromUrl("postgresql://app:S3cr3t@db.local/orders");
    assertThatThrownBy(elsewhere::newRole)
        .isInstanceOf(UnsupportedOperationException.class)
        .hasMessage(
            "cannot make a role with a checked password on a PostgreSQL server this JVM did not"
                + " start (it came from BULWARK_TEST_POSTGRES_URL)");
  }

  private static int count(TestPostgres postgres, String sql) throws SQLException {
    try (Connection c = postgres.connect();
        Statement s = c.createStatement();
        ResultSet rs = s.executeQuery(sql)) {
      rs.next();
      return rs.getInt(1);
    }
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

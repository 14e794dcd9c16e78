package dev.bulwark.timeouts;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import com.zaxxer.hikari.HikariDataSource;
import dev.bulwark.pool.PoolProfile;
import dev.bulwark.pool.Pools;
import dev.bulwark.testing.PostgresExtension;
import dev.bulwark.testing.TestPostgres;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The JDBC helpers on a pool from {@code Pools.postgres}: a 500 ms statement timeout and a 6 s
 * socket timeout (the least the builder accepts over it), so a statement timeout above 1 s would
 * lose the connection to the socket timeout instead of being cancelled by the server.
 */
@ExtendWith(PostgresExtension.class)
class JdbcTimeoutsPoolTest {
  private static final int SOCKET_TIMEOUT_MS = 6_000;

  private HikariDataSource pool;

  @BeforeEach
  void pool(TestPostgres postgres) {
    pool =
        Pools.postgres(postgres.jdbcUrl(), postgres.user(), postgres.password())
            .profile(PoolProfile.WORKER)
            .poolName("jdbc-timeouts")
            .maximumPoolSize(1)
            .statementTimeout(Duration.ofMillis(500))
            .socketTimeout(Duration.ofMillis(SOCKET_TIMEOUT_MS))
            .build();
  }

  @AfterEach
  void close() {
    pool.close();
    assertThat(Thread.interrupted()).as("interrupt status leaked").isFalse();
    assertThat(Deadline.current()).isEmpty();
  }

  @Test
  void aStatementTimeoutTooCloseToTheSocketTimeoutIsRefused() throws SQLException {
    try (Connection c = pool.getConnection()) {
      assertThat(c.getNetworkTimeout()).isEqualTo(SOCKET_TIMEOUT_MS);
      c.setAutoCommit(false);
      assertThatThrownBy(() -> JdbcTimeouts.setLocalStatementTimeout(c, Duration.ofMillis(1001)))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessage(
              "timeout must be at most the connection's network timeout (6000 ms) - 5000 ms,"
                  + " but was 1001 ms");
      // The argument is checked, not what the deadline leaves of it: the same call fails the same
      // way however much time is left.
      assertThatThrownBy(
              () ->
                  Deadline.after(Duration.ofMillis(100))
                      .call(() -> JdbcTimeouts.setLocalStatementTimeout(c, Duration.ofSeconds(30))))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessage(
              "timeout must be at most the connection's network timeout (6000 ms) - 5000 ms,"
                  + " but was 30000 ms");
      // Nothing was sent: the pool's statement timeout is still in force.
      assertThat(show(c, "statement_timeout")).isEqualTo("500ms");

      assertThat(JdbcTimeouts.setLocalStatementTimeout(c, Duration.ofMillis(1000))).isEqualTo(1000);
      assertThat(show(c, "statement_timeout")).isEqualTo("1s");
      c.rollback();
    }
  }

  @Test
  void aQueryTimeoutTooCloseToTheSocketTimeoutIsRefused() throws SQLException {
    try (Connection c = pool.getConnection();
        Statement s = c.createStatement()) {
      // 1001 ms is a 2 s query timeout.
      assertThatThrownBy(() -> JdbcTimeouts.applyTo(s, Duration.ofMillis(1001)))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessage(
              "timeout rounded up to whole seconds must be at most the connection's network"
                  + " timeout (6000 ms) - 5000 ms, but was 2000 ms");
      assertThat(s.getQueryTimeout()).isZero();
      assertThat(JdbcTimeouts.applyTo(s, Duration.ofSeconds(1))).isEqualTo(1);
    }
  }

  @Test
  void theServerCancelsTheStatementAndTheConnectionStays() throws SQLException {
    try (Connection c = pool.getConnection()) {
      int pid = TestPostgres.backendPid(c);
      c.setAutoCommit(false);
      JdbcTimeouts.setLocalStatementTimeout(c, Duration.ofSeconds(1));
      assertThat(sqlState(() -> execute(c, "select pg_sleep(10)"))).isEqualTo("57014");
      c.rollback();
      try (Statement s = c.createStatement()) {
        JdbcTimeouts.applyTo(s, Duration.ofSeconds(1));
        assertThat(sqlState(() -> s.execute("select pg_sleep(10)"))).isEqualTo("57014");
      }
      c.rollback();
      assertThat(c.isValid(1)).isTrue();
      assertThat(TestPostgres.backendPid(c)).isEqualTo(pid);
    }
  }

  @Test
  void aRaisedNetworkTimeoutAllowsALongerStatementTimeout() throws SQLException {
    try (Connection c = pool.getConnection()) {
      c.setAutoCommit(false);
      c.setNetworkTimeout(Runnable::run, 20_000);
      assertThat(JdbcTimeouts.setLocalStatementTimeout(c, Duration.ofSeconds(15)))
          .isEqualTo(15_000);
      // The deadline still shortens it.
      long millis =
          Deadline.after(Duration.ofMillis(300))
              .call(() -> JdbcTimeouts.setLocalStatementTimeout(c, Duration.ofSeconds(15)));
      assertThat(millis).isBetween(1L, 300L);
      assertThat(sqlState(() -> execute(c, "select pg_sleep(10)"))).isEqualTo("57014");
      c.rollback();
    }
  }

  @Test
  void whatIsRefusedWouldHaveLostTheConnection() throws SQLException {
    try (Connection c = pool.getConnection()) {
      c.setAutoCommit(false);
      c.setNetworkTimeout(Runnable::run, 1000);
      assertThatThrownBy(() -> JdbcTimeouts.setLocalStatementTimeout(c, Duration.ofSeconds(3)))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessage(
              "timeout must be at most the connection's network timeout (1000 ms) - 5000 ms,"
                  + " but was 3000 ms");
      // Set by hand, the same timeout loses the race: the client gives up on the silent server
      // after 1 s and the connection is gone.
      execute(c, "set local statement_timeout = 3000");
      assertThat(sqlState(() -> execute(c, "select pg_sleep(10)"))).isEqualTo("08006");
      assertThat(c.isValid(1)).isFalse();
    }
  }

  @Test
  void aStatementCancelledAtTheDeadlineFailsTheLimitedCallAsATimeoutEveryTime()
      throws SQLException {
    try (Connection c = pool.getConnection()) {
      int pid = TestPostgres.backendPid(c);
      c.setAutoCommit(false);
      // The server cancels each statement at the deadline, and its 57014 races the watchdog,
      // whose interrupt pgjdbc ignores.
      int cancelledByServer = 0;
      for (int i = 0; i < 20; i++) {
        Throwable thrown =
            catchThrowable(
                () ->
                    Timeouts.within(
                        Duration.ofMillis(50),
                        () -> {
                          JdbcTimeouts.setLocalStatementTimeout(c, Duration.ofSeconds(1));
                          return execute(c, "select pg_sleep(10)");
                        }));
        c.rollback();
        assertThat(thrown).as("call %d", i).isInstanceOf(TimeoutExceededException.class);
        Throwable cause = thrown.getCause();
        if (cause instanceof SQLException) {
          assertThat(((SQLException) cause).getSQLState()).as("call %d", i).isEqualTo("57014");
          cancelledByServer++;
        } else {
          // Only on a machine so slow that the 50 ms were gone before the helper ran.
          assertThat(cause).as("call %d", i).isInstanceOf(TimeoutExceededException.class);
        }
        assertThat(Thread.interrupted()).as("interrupt leaked after call %d", i).isFalse();
      }
      assertThat(cancelledByServer).isPositive();
      assertThat(TestPostgres.backendPid(c)).isEqualTo(pid);
    }
  }

  private interface SqlCall {
    void run() throws SQLException;
  }

  private static String sqlState(SqlCall call) {
    try {
      call.run();
    } catch (SQLException e) {
      return e.getSQLState();
    }
    throw new AssertionError("the statement did not fail");
  }

  private static boolean execute(Connection c, String sql) throws SQLException {
    try (Statement s = c.createStatement()) {
      return s.execute(sql);
    }
  }

  private static String show(Connection c, String setting) throws SQLException {
    try (Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("show " + setting)) {
      rs.next();
      return rs.getString(1);
    }
  }
}

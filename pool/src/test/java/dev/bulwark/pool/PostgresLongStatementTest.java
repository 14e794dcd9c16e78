package dev.bulwark.pool;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.zaxxer.hikari.HikariDataSource;
import dev.bulwark.testing.PostgresExtension;
import dev.bulwark.testing.TestPostgres;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.parallel.Execution;
import org.junit.jupiter.api.parallel.ExecutionMode;

/**
 * The recipe for one statement longer than the pool's statement timeout, scaled down: a pool with a
 * 1 s statement timeout and a 6 s socket timeout (the least the builder accepts over 1 s), and a 7
 * s statement. {@code SET LOCAL statement_timeout} alone is not enough: pgjdbc's socket timeout
 * gives up first and the connection is lost. Raising the connection's network timeout for that
 * borrow is, and HikariCP restores it when the connection is returned. The statements wait; the
 * class runs beside the others.
 */
@ExtendWith(PostgresExtension.class)
@Execution(ExecutionMode.CONCURRENT)
class PostgresLongStatementTest {

  private static final int SOCKET_TIMEOUT_MS = 6_000;

  private static HikariDataSource pool(TestPostgres postgres, String name) {
    return Pools.postgres(postgres.jdbcUrl(), postgres.user(), postgres.password())
        .profile(PoolProfile.WORKER)
        .poolName(name)
        .maximumPoolSize(1)
        .statementTimeout(Duration.ofSeconds(1))
        .socketTimeout(Duration.ofMillis(SOCKET_TIMEOUT_MS))
        .build();
  }

  @Test
  void setLocalWithARaisedNetworkTimeoutRunsTheLongStatement(TestPostgres postgres)
      throws SQLException {
    try (HikariDataSource ds = pool(postgres, "long-statement")) {
      int pid;
      try (Connection c = ds.getConnection()) {
        pid = TestPostgres.backendPid(c);
        assertThat(c.getNetworkTimeout()).isEqualTo(SOCKET_TIMEOUT_MS);
        c.setAutoCommit(false);
        c.setNetworkTimeout(Runnable::run, 20_000); // the raised statement timeout + 10 s
        Sql.execute(c, "set local statement_timeout = '10s'");
        Sql.execute(c, "select pg_sleep(7)");
        c.commit();
        // SET LOCAL ended with the transaction.
        assertThat(Sql.show(c, "statement_timeout")).isEqualTo("1s");
      }
      try (Connection c = ds.getConnection()) {
        // The same connection, back from the pool with the pool's network timeout again.
        assertThat(TestPostgres.backendPid(c)).isEqualTo(pid);
        assertThat(c.getNetworkTimeout()).isEqualTo(SOCKET_TIMEOUT_MS);
      }
    }
  }

  @Test
  void setLocalAloneLosesTheConnectionToTheSocketTimeout(TestPostgres postgres)
      throws SQLException {
    try (HikariDataSource ds = pool(postgres, "set-local-only");
        Connection c = ds.getConnection()) {
      c.setAutoCommit(false);
      Sql.execute(c, "set local statement_timeout = '10s'");
      long start = System.nanoTime();
      SQLException e = assertThrows(SQLException.class, () -> Sql.execute(c, "select pg_sleep(7)"));
      assertThat(Duration.ofNanos(System.nanoTime() - start))
          .isGreaterThanOrEqualTo(Duration.ofMillis(SOCKET_TIMEOUT_MS));
      assertThat(e.getSQLState()).isEqualTo("08006"); // connection failure: the socket is closed
      assertThat(c.isValid(1)).isFalse();
    }
  }
}

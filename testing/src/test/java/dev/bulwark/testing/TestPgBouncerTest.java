package dev.bulwark.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith({PgBouncerExtension.class, PostgresExtension.class})
class TestPgBouncerTest {

  @Test
  void transactionModeMovesASessionBetweenBackends(TestPgBouncer bouncer, TestDatabase db)
      throws SQLException {
    // A database of its own: PgBouncer keeps one pool per database and user, so no other test's
    // clients share these server connections.
    String url = bouncer.transactionJdbcUrl(db.database());
    try (Connection client = connect(bouncer, url)) {
      int first = TestPostgres.backendPid(client);
      // Another client's open transaction pins the server connection that ran the first
      // statement; until it ends, no other client's statement can run there.
      List<Connection> pinning = pinBackend(bouncer, url, first);
      try {
        int second = TestPostgres.backendPid(client);
        assertThat(second).isNotEqualTo(first);
      } finally {
        closeAll(pinning);
      }
    }
  }

  @Test
  void sessionModeKeepsOneBackendPerClient(TestPgBouncer bouncer, TestDatabase db)
      throws SQLException {
    String url = bouncer.sessionJdbcUrl(db.database());
    try (Connection client = connect(bouncer, url);
        Connection other = connect(bouncer, url)) {
      int first = TestPostgres.backendPid(client);
      other.setAutoCommit(false);
      int otherPid = TestPostgres.backendPid(other);
      int second = TestPostgres.backendPid(client);
      other.commit();
      int third = TestPostgres.backendPid(client);

      assertThat(otherPid).isNotEqualTo(first);
      assertThat(second).isEqualTo(first);
      assertThat(third).isEqualTo(first);
    }
  }

  @Test
  void transactionModeUrlKeepsPreparedStatementsWorkingAcrossBackends(
      TestPgBouncer bouncer, TestDatabase db) throws SQLException {
    String url = bouncer.transactionJdbcUrl(db.database());
    assertThat(url).endsWith("?prepareThreshold=0");
    assertThat(runPreparedAcrossBackends(bouncer, url)).isEqualTo(10);
  }

  /**
   * Runs one prepared statement more often than pgjdbc's default {@code prepareThreshold} of 5, on
   * one backend, then once more while another client's transaction holds that backend.
   */
  private static int runPreparedAcrossBackends(TestPgBouncer bouncer, String url)
      throws SQLException {
    try (Connection client = connect(bouncer, url);
        PreparedStatement statement = client.prepareStatement("select pg_backend_pid(), ?::int")) {
      int pid = 0;
      for (int i = 0; i < 9; i++) {
        statement.setInt(1, i);
        try (ResultSet rs = statement.executeQuery()) {
          rs.next();
          pid = rs.getInt(1);
        }
      }
      List<Connection> pinning = pinBackend(bouncer, url, pid);
      try {
        statement.setInt(1, 10);
        try (ResultSet rs = statement.executeQuery()) {
          rs.next();
          assertThat(rs.getInt(1)).isNotEqualTo(pid);
          return rs.getInt(2);
        }
      } finally {
        closeAll(pinning);
      }
    }
  }

  @Test
  void refusesTheOptionsStartupParameter(TestPgBouncer bouncer) {
    assertThatThrownBy(
            () ->
                connect(bouncer, bouncer.sessionJdbcUrl() + "?options=-c%20statement_timeout=1000")
                    .close())
        .isInstanceOf(SQLException.class)
        .hasMessageContaining("unsupported startup parameter: options");
  }

  @Test
  void shutdownEndsBothProcessesAndRemovesTheFolder(TestPgBouncer shared) {
    TestPgBouncer bouncer =
        TestPgBouncer.start(
            TestPgBouncer.requireBinary(
                System.getProperty(TestPgBouncer.BINARY_PROPERTY), System.getenv("PATH")),
            TestPostgres.get());
    List<ProcessHandle> processes = bouncer.processes();
    Path dir = bouncer.directory();
    assertThat(processes).hasSize(2).allMatch(ProcessHandle::isAlive);
    assertThat(bouncer.transactionPort())
        .isNotIn(bouncer.sessionPort(), shared.transactionPort(), shared.sessionPort());

    bouncer.shutdown();

    // shutdown() waits for each process to exit; its handle may lag a moment behind.
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (processes.stream().anyMatch(ProcessHandle::isAlive)
        && System.nanoTime() - deadline < 0) {
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(10));
    }
    assertThat(processes).noneMatch(ProcessHandle::isAlive);
    assertThat(Files.exists(dir)).isFalse();
    assertThat(shared.processes()).allMatch(ProcessHandle::isAlive);
  }

  /**
   * Opens client transactions until one runs on the given backend, and returns them open. PgBouncer
   * hands a client an idle server connection before it opens a new one, so the first usually does;
   * every open transaction holds a server connection of its own, so the pool's {@value
   * TestPgBouncer#POOL_SIZE} bound the tries.
   */
  private static List<Connection> pinBackend(TestPgBouncer bouncer, String url, int pid)
      throws SQLException {
    List<Connection> open = new ArrayList<>();
    for (int i = 0; i < TestPgBouncer.POOL_SIZE - 1; i++) {
      Connection connection = connect(bouncer, url);
      open.add(connection);
      connection.setAutoCommit(false);
      if (TestPostgres.backendPid(connection) == pid) {
        return open;
      }
    }
    closeAll(open);
    throw new AssertionError("no transaction ran on backend " + pid);
  }

  private static void closeAll(List<Connection> connections) throws SQLException {
    for (Connection connection : connections) {
      connection.rollback();
      connection.close();
    }
  }

  private static Connection connect(TestPgBouncer bouncer, String url) throws SQLException {
    return DriverManager.getConnection(url, bouncer.user(), bouncer.password());
  }
}

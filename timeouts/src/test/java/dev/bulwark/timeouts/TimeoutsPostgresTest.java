package dev.bulwark.timeouts;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.bulwark.testing.PostgresExtension;
import dev.bulwark.testing.TestDatabase;
import dev.bulwark.testing.TestPostgres;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** Time limits and deadline clamps against a real PostgreSQL. */
@ExtendWith(PostgresExtension.class)
class TimeoutsPostgresTest {
  private HikariDataSource pool;
  private TestPostgres postgres;

  @BeforeEach
  void pool(TestDatabase db) {
    postgres = db.server();
    HikariConfig config = new HikariConfig();
    config.setJdbcUrl(db.jdbcUrl());
    config.setUsername(db.user());
    config.setPassword(db.password());
    config.setMaximumPoolSize(2);
    config.setPoolName("timeouts-test");
    pool = new HikariDataSource(config);
  }

  @AfterEach
  void close() {
    pool.close();
    assertThat(Thread.interrupted()).isFalse();
  }

  @Test
  void aHangingQueryIsCancelledOnTheServerAndTheConnectionIsReusable() throws Exception {
    try (Connection connection = pool.getConnection()) {
      int pid = TestPostgres.backendPid(connection);
      long start = System.nanoTime();
      assertThatThrownBy(
              () ->
                  Timeouts.within(
                      Duration.ofMillis(200),
                      ctx -> {
                        try (PreparedStatement ps =
                            connection.prepareStatement("select pg_sleep(10)")) {
                          ctx.onTimeout(ps::cancel);
                          return ps.executeQuery();
                        }
                      }))
          .isInstanceOf(TimeoutExceededException.class)
          .cause()
          .isInstanceOf(SQLException.class)
          .satisfies(e -> assertThat(((SQLException) e).getSQLState()).isEqualTo("57014"));
      Duration waited = Duration.ofNanos(System.nanoTime() - start);
      // Promptly: far below the 10 s the statement asked for.
      assertThat(waited).isLessThan(Duration.ofSeconds(3));

      // Gone from the server within 1 s.
      assertThat(activeQueriesWithin(pid, Duration.ofSeconds(1))).isZero();

      // The same connection works.
      try (Statement s = connection.createStatement();
          ResultSet rs = s.executeQuery("select 1")) {
        rs.next();
        assertThat(rs.getInt(1)).isEqualTo(1);
      }
    }
    // And the pool hands out working connections.
    try (Connection again = pool.getConnection();
        Statement s = again.createStatement();
        ResultSet rs = s.executeQuery("select 2")) {
      rs.next();
      assertThat(rs.getInt(1)).isEqualTo(2);
    }
  }

  @Test
  void setLocalStatementTimeoutFollowsTheDeadlineAndEndsWithTheTransaction() throws Exception {
    try (Connection c = pool.getConnection()) {
      c.setAutoCommit(false);
      try (Deadline.Scope scope = Deadline.after(Duration.ofMillis(300)).enter()) {
        long millis = JdbcTimeouts.setLocalStatementTimeout(c, Duration.ofSeconds(30));
        assertThat(millis).isBetween(1L, 300L);
        try (Statement s = c.createStatement()) {
          assertThatThrownBy(() -> s.execute("select pg_sleep(10)"))
              .isInstanceOf(SQLException.class)
              .satisfies(e -> assertThat(((SQLException) e).getSQLState()).isEqualTo("57014"));
        }
      }
      c.rollback();
      // SET LOCAL ended with the transaction: the next borrower sees the default.
      try (Statement s = c.createStatement();
          ResultSet rs = s.executeQuery("show statement_timeout")) {
        rs.next();
        assertThat(rs.getString(1)).isEqualTo("0");
      }
      c.setAutoCommit(true);
    }
  }

  @Test
  void setLocalStatementTimeoutRefusesAutoCommit() throws Exception {
    try (Connection c = pool.getConnection()) {
      assertThatThrownBy(() -> JdbcTimeouts.setLocalStatementTimeout(c, Duration.ofSeconds(1)))
          .isInstanceOf(IllegalStateException.class)
          .hasMessage("SET LOCAL statement_timeout needs a transaction, but auto-commit is on");
    }
  }

  @Test
  void queryTimeoutIsClampedToTheDeadlineAndRoundedUpToSeconds() throws Exception {
    try (Connection c = pool.getConnection();
        Statement s = c.createStatement()) {
      assertThat(JdbcTimeouts.applyTo(s, Duration.ofSeconds(30))).isEqualTo(30);
      try (Deadline.Scope scope = Deadline.after(Duration.ofMillis(200)).enter()) {
        assertThat(JdbcTimeouts.applyTo(s, Duration.ofSeconds(30))).isEqualTo(1);
        assertThat(s.getQueryTimeout()).isEqualTo(1);
        long start = System.nanoTime();
        assertThatThrownBy(() -> s.execute("select pg_sleep(10)"))
            .isInstanceOf(SQLException.class)
            .satisfies(e -> assertThat(((SQLException) e).getSQLState()).isEqualTo("57014"));
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));
      }
    }
  }

  @Test
  void anExpiredDeadlineNeverReachesTheDatabase() throws Exception {
    try (Connection c = pool.getConnection();
        Statement s = c.createStatement();
        Deadline.Scope scope = Deadline.after(Duration.ZERO).enter()) {
      assertThatThrownBy(() -> JdbcTimeouts.applyTo(s, Duration.ofSeconds(1)))
          .isInstanceOf(TimeoutExceededException.class);
    }
  }

  private int activeQueriesWithin(int pid, Duration timeout) throws SQLException {
    long deadline = System.nanoTime() + timeout.toNanos();
    int active;
    try (Connection c = postgres.connect();
        PreparedStatement ps =
            c.prepareStatement(
                "select count(*) from pg_stat_activity where pid = ? and state = 'active'"
                    + " and query like '%pg_sleep%'")) {
      ps.setInt(1, pid);
      do {
        try (ResultSet rs = ps.executeQuery()) {
          rs.next();
          active = rs.getInt(1);
        }
      } while (active > 0 && System.nanoTime() < deadline);
    }
    return active;
  }
}

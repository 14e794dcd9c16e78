package dev.bulwark.queries;

import static org.assertj.core.api.Assertions.assertThat;

import com.zaxxer.hikari.HikariDataSource;
import dev.bulwark.pool.Pools;
import dev.bulwark.testing.PostgresExtension;
import dev.bulwark.testing.TestDatabase;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * {@code defaultFetchSize}: pgjdbc reads a result in parts only inside a transaction. Whether it
 * does is seen on the server: a result read in parts keeps its portal open between the parts, and
 * {@code pg_cursors} lists the session's open portals (by the statement's text).
 */
@ExtendWith(PostgresExtension.class)
class FetchSizeTest {
  private static final String READ = "select g from generate_series(1, 10000) g";

  private HikariDataSource pool;

  @BeforeEach
  void pool(TestDatabase db) {
    pool = Pools.postgres(db.jdbcUrl(), db.user(), db.password()).maximumPoolSize(2).build();
  }

  @AfterEach
  void close() {
    pool.close();
  }

  /** Portals of this session still open on {@code sql}: a result not read whole yet. */
  private static long openPortals(Connection c, String sql) throws SQLException {
    try (PreparedStatement s =
        c.prepareStatement("select count(*) from pg_cursors where statement = ?")) {
      s.setString(1, sql);
      try (ResultSet r = s.executeQuery()) {
        r.next();
        return r.getLong(1);
      }
    }
  }

  /** Reads the open result to its end. */
  private static int rest(ResultSet r) throws SQLException {
    int rows = 0;
    while (r.next()) {
      rows++;
    }
    return rows;
  }

  @Test
  void aStatementWithoutAFetchSizeGetsTheDefaultAndALargeResultIsReadInParts() throws SQLException {
    QueryGuard guard =
        QueryGuard.builder().rowsWarning(1_000_000_000L).defaultFetchSize(100).build();
    DataSource db = guard.wrap(pool);
    QueryScope scope = guard.begin("GET /export");
    try (scope;
        Connection c = db.getConnection()) {
      c.setAutoCommit(false);
      try (Statement s = c.createStatement();
          ResultSet r = s.executeQuery(READ)) {
        assertThat(s.getFetchSize()).isEqualTo(100);
        assertThat(r.getFetchSize()).isEqualTo(100);
        assertThat(r.next()).isTrue();
        // 9,999 rows are still on the server, in the statement's portal.
        assertThat(openPortals(c, READ)).isOne();
        assertThat(rest(r)).isEqualTo(9_999);
      }
      try (PreparedStatement s = c.prepareStatement(READ);
          ResultSet r = s.executeQuery()) {
        assertThat(s.getFetchSize()).isEqualTo(100);
        assertThat(r.next()).isTrue();
        assertThat(openPortals(c, READ)).isOne();
        assertThat(rest(r)).isEqualTo(9_999);
      }
      c.commit();
    }
    // Every row counted, read in parts or not: 2 x 10,000 and the two counts of portals.
    assertThat(scope.rows()).isEqualTo(20_002);
    assertThat(scope.statements()).isEqualTo(4);
  }

  @Test
  void aFetchSizeTheCodeSetIsKept() throws SQLException {
    QueryGuard guard =
        QueryGuard.builder().rowsWarning(1_000_000_000L).defaultFetchSize(100).build();
    DataSource db = guard.wrap(pool);
    try (Connection c = db.getConnection()) {
      c.setAutoCommit(false);
      try (Statement s = c.createStatement()) {
        s.setFetchSize(10);
        try (ResultSet r = s.executeQuery(READ)) {
          assertThat(s.getFetchSize()).isEqualTo(10);
          assertThat(r.getFetchSize()).isEqualTo(10);
          assertThat(r.next()).isTrue();
          assertThat(openPortals(c, READ)).isOne();
        }
      }
      c.commit();
    }
  }

  @Test
  void withoutTheSettingPgjdbcReadsTheWholeResultAtOnce() throws SQLException {
    QueryGuard guard = QueryGuard.builder().rowsWarning(1_000_000_000L).build();
    DataSource db = guard.wrap(pool);
    try (Connection c = db.getConnection()) {
      c.setAutoCommit(false);
      try (Statement s = c.createStatement();
          ResultSet r = s.executeQuery(READ)) {
        assertThat(s.getFetchSize()).isZero();
        assertThat(r.next()).isTrue();
        // Read whole: no portal is left open, though 9,999 rows are still to be read here.
        assertThat(openPortals(c, READ)).isZero();
        assertThat(rest(r)).isEqualTo(9_999);
      }
      c.commit();
    }
  }

  @Test
  void inAutoCommitPgjdbcReadsTheWholeResultWhateverTheFetchSize() throws SQLException {
    QueryGuard guard =
        QueryGuard.builder().rowsWarning(1_000_000_000L).defaultFetchSize(100).build();
    DataSource db = guard.wrap(pool);
    try (Connection c = db.getConnection();
        Statement s = c.createStatement();
        ResultSet r = s.executeQuery(READ)) {
      assertThat(c.getAutoCommit()).isTrue();
      assertThat(s.getFetchSize()).isEqualTo(100);
      assertThat(r.next()).isTrue();
      assertThat(openPortals(c, READ)).isZero();
      assertThat(rest(r)).isEqualTo(9_999);
    }
  }
}

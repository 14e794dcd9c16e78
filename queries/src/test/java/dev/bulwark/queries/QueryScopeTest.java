package dev.bulwark.queries;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.tuple;

import com.zaxxer.hikari.HikariDataSource;
import dev.bulwark.pool.Pools;
import dev.bulwark.testing.PostgresExtension;
import dev.bulwark.testing.TestDatabase;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
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

/** What a scope counts, and when: open, nested, closed, and outside any. */
@ExtendWith(PostgresExtension.class)
class QueryScopeTest {
  private static final String BY_ID = "select name from customers where id = ?";

  private HikariDataSource pool;
  private final SimpleMeterRegistry registry = new SimpleMeterRegistry();

  @BeforeEach
  void schema(TestDatabase db) throws SQLException {
    pool = Pools.postgres(db.jdbcUrl(), db.user(), db.password()).maximumPoolSize(2).build();
    try (Connection c = pool.getConnection();
        Statement s = c.createStatement()) {
      s.execute("create table customers (id bigint primary key, name text not null)");
      s.execute("insert into customers select g, 'customer ' || g from generate_series(1, 20) g");
    }
  }

  @AfterEach
  void close() {
    pool.close();
  }

  /** Runs {@link #BY_ID} for ids 1 to {@code n}, reading each row. */
  static void byId(DataSource db, int n) throws SQLException {
    try (Connection c = db.getConnection();
        PreparedStatement s = c.prepareStatement(BY_ID)) {
      for (int id = 1; id <= n; id++) {
        s.setLong(1, id);
        try (ResultSet r = s.executeQuery()) {
          r.next();
        }
      }
    }
  }

  private double events(String kind) {
    return registry.get("bulwark.queries.events").tag("kind", kind).counter().count();
  }

  @Test
  void anOpenScopesRecordingHasTheLimitsBrokenSoFarAndTheyAreCountedOnceItCloses()
      throws SQLException {
    QueryGuard guard =
        QueryGuard.builder()
            .policy(QueryPolicy.COUNT)
            .maxStatements(6)
            .rowsWarning(5)
            .meterRegistry(registry)
            .build();
    DataSource db = guard.wrap(pool);
    QueryScope scope = guard.begin("GET /customers");
    try (scope) {
      byId(db, 7);
      QueryRecording open = scope.recording();
      assertThat(open.events())
          .extracting(QueryEvent::kind, QueryEvent::count)
          .containsExactly(
              tuple(QueryEvent.Kind.N_PLUS_ONE, 7L),
              tuple(QueryEvent.Kind.STATEMENT_BUDGET, 7L),
              tuple(QueryEvent.Kind.ROWS_WARNING, 7L));
      assertThat(open.events(QueryEvent.Kind.N_PLUS_ONE).get(0).callSite())
          .startsWith("dev.bulwark.queries.QueryScopeTest.byId(QueryScopeTest.java:");
      // So an assertion inside the scope fails on it, as QueryAssert's example has it.
      assertThatThrownBy(() -> QueryAssert.assertThat(open).hasNoNPlusOne())
          .isInstanceOf(AssertionError.class)
          .hasMessageStartingWith(
              "scope GET /customers: expected no N+1, but found:\n  N+1 in GET /customers: 7"
                  + " executions (threshold 5) of select name from customers where id = ? at"
                  + " dev.bulwark.queries.QueryScopeTest.byId(QueryScopeTest.java:");
      // Neither counted nor logged before the scope ends.
      assertThat(events("n_plus_one")).isZero();
      assertThat(events("statement_budget")).isZero();
      assertThat(events("rows_warning")).isZero();
      byId(db, 2);
    }
    // Closed: made once, with the final counts.
    assertThat(scope.recording().events())
        .extracting(QueryEvent::kind, QueryEvent::count)
        .containsExactly(
            tuple(QueryEvent.Kind.N_PLUS_ONE, 9L),
            tuple(QueryEvent.Kind.STATEMENT_BUDGET, 9L),
            tuple(QueryEvent.Kind.ROWS_WARNING, 9L));
    assertThat(events("n_plus_one")).isOne();
    assertThat(events("statement_budget")).isOne();
    assertThat(events("rows_warning")).isOne();
  }
}

package dev.bulwark.queries;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.assertj.core.api.Assertions.tuple;

import com.zaxxer.hikari.HikariDataSource;
import dev.bulwark.pool.Pools;
import dev.bulwark.queries.dao.CustomerDao;
import dev.bulwark.testing.PostgresExtension;
import dev.bulwark.testing.TestDatabase;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
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

  @Test
  void aStatementOutsideAnyScopeIsTimedButCountedInNoScope() throws Exception {
    QueryGuard guard =
        QueryGuard.builder().rowsWarning(1_000_000_000L).meterRegistry(registry).build();
    DataSource db = guard.wrap(pool);
    QueryScope closed = guard.begin("GET /before");
    closed.close();
    // A scope open on another thread is not this thread's.
    CountDownLatch opened = new CountDownLatch(1);
    CountDownLatch done = new CountDownLatch(1);
    AtomicReference<QueryScope> elsewhere = new AtomicReference<>();
    Thread other =
        new Thread(
            () -> {
              try (QueryScope scope = guard.begin("GET /elsewhere")) {
                elsewhere.set(scope);
                opened.countDown();
                done.await();
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
            });
    other.start();
    try {
      assertThat(opened.await(10, TimeUnit.SECONDS)).isTrue();
      assertThat(guard.current()).isEmpty();
      byId(db, 3);
      assertThat(elsewhere.get().statements()).isZero();
      assertThat(elsewhere.get().rows()).isZero();
    } finally {
      done.countDown();
      other.join(10_000);
    }
    assertThat(closed.statements()).isZero();
    String id = Shapes.id(BY_ID);
    assertThat(guard.shapes()).containsEntry(id, BY_ID);
    assertThat(registry.get("bulwark.queries.statements").tag("shape", id).timer().count())
        .isEqualTo(3);
    assertThat(registry.get("bulwark.queries.rows").counter().count()).isEqualTo(3);
    // Three runs of one shape, in no scope: no N+1 either way (the threshold is 5).
    assertThat(events("n_plus_one")).isZero();
  }

  @Test
  void anInnerScopeCountsItsOwnAndTheOuterOneResumesWhenItCloses() throws SQLException {
    QueryGuard guard =
        QueryGuard.builder().rowsWarning(1_000_000_000L).policy(QueryPolicy.COUNT).build();
    DataSource db = guard.wrap(pool);
    try (QueryScope outer = guard.begin("job nightly")) {
      byId(db, 1);
      QueryScope inner = guard.begin("job nightly: customer 1");
      try (inner) {
        assertThat(guard.current()).containsSame(inner);
        byId(db, 2);
      }
      assertThat(guard.current()).containsSame(outer);
      byId(db, 4);
      assertThat(inner.statements()).isEqualTo(2);
      // The outer one does not count the inner one's statements: 1 + 4, so no N+1 (5 at most).
      assertThat(outer.statements()).isEqualTo(5);
      assertThat(outer.rows()).isEqualTo(5);
      assertThat(outer.recording().events()).isEmpty();
    }
    assertThat(guard.current()).isEmpty();
  }

  @Test
  void aScopeClosedTwiceEndsOnce() throws SQLException {
    QueryGuard guard =
        QueryGuard.builder()
            .rowsWarning(1_000_000_000L)
            .policy(QueryPolicy.COUNT)
            .meterRegistry(registry)
            .build();
    DataSource db = guard.wrap(pool);
    QueryScope outer = guard.begin("outer");
    QueryScope first = guard.begin("first");
    byId(db, 6);
    first.close();
    assertThat(first).hasToString("QueryScope[first: 6 statements, 6 rows, closed]");
    QueryScope second = guard.begin("second");
    // Closing the first again neither counts its N+1 again nor takes the second's place.
    first.close();
    assertThat(first.recording().events(QueryEvent.Kind.N_PLUS_ONE)).hasSize(1);
    assertThat(events("n_plus_one")).isOne();
    assertThat(guard.current()).containsSame(second);
    byId(db, 1);
    assertThat(first.statements()).isEqualTo(6);
    assertThat(second.statements()).isOne();
    second.close();
    assertThat(guard.current()).containsSame(outer);
    outer.close();
    outer.close();
    assertThat(guard.current()).isEmpty();
    byId(db, 1);
    assertThat(outer.statements()).isZero();
  }

  @Test
  void aPackageGivenToSkipCallSitesIsNeverTheCallSite() throws SQLException {
    QueryGuard plain =
        QueryGuard.builder().rowsWarning(1_000_000_000L).policy(QueryPolicy.THROW).build();
    QueryGuard skipping =
        QueryGuard.builder()
            .rowsWarning(1_000_000_000L)
            .policy(QueryPolicy.THROW)
            .skipCallSites("dev.bulwark.queries.dao.")
            .build();
    assertThat(nPlusOneCallSite(plain))
        .startsWith("dev.bulwark.queries.dao.CustomerDao.name(CustomerDao.java:");
    // The loop that called the data-access class.
    assertThat(nPlusOneCallSite(skipping))
        .startsWith("dev.bulwark.queries.QueryScopeTest.loop(QueryScopeTest.java:");
  }

  private String nPlusOneCallSite(QueryGuard guard) {
    CustomerDao customers = new CustomerDao(guard.wrap(pool));
    try (QueryScope scope = guard.begin("GET /customers")) {
      QueryLimitExceededException thrown =
          catchThrowableOfType(QueryLimitExceededException.class, () -> loop(customers));
      assertThat(thrown.event().kind()).isEqualTo(QueryEvent.Kind.N_PLUS_ONE);
      return thrown.event().callSite();
    }
  }

  private static void loop(CustomerDao customers) throws SQLException {
    for (long id = 1; id <= 20; id++) {
      customers.name(id);
    }
  }
}

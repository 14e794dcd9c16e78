package dev.bulwark.queries;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

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
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The guard against a real PostgreSQL, through a real HikariCP pool. */
@ExtendWith(PostgresExtension.class)
class QueryGuardTest {
  private HikariDataSource pool;

  @BeforeEach
  void schema(TestDatabase db) throws SQLException {
    pool = Pools.postgres(db.jdbcUrl(), db.user(), db.password()).maximumPoolSize(4).build();
    try (Connection c = pool.getConnection();
        Statement s = c.createStatement()) {
      s.execute("create table customers (id bigint primary key, name text not null)");
      s.execute(
          "create table appointments (id bigint primary key,"
              + " customer_id bigint not null references customers, at timestamptz not null)");
      s.execute("insert into customers select g, 'customer ' || g from generate_series(1, 20) g");
      s.execute(
          "insert into appointments select g, 1 + (g % 20), now() from generate_series(1, 400) g");
    }
  }

  @AfterEach
  void close() {
    pool.close();
  }

  /** The audit's loop: one query for the customers, then one per customer. */
  static int appointmentsPerRow(DataSource db) throws SQLException {
    int total = 0;
    try (Connection c = db.getConnection()) {
      List<Long> ids = new ArrayList<>();
      try (Statement s = c.createStatement();
          ResultSet r = s.executeQuery("select id from customers order by id")) {
        while (r.next()) {
          ids.add(r.getLong(1));
        }
      }
      for (long id : ids) {
        try (PreparedStatement s =
            c.prepareStatement("select count(*) from appointments where customer_id = ?")) {
          s.setLong(1, id);
          try (ResultSet r = s.executeQuery()) {
            r.next();
            total += r.getInt(1);
          }
        }
      }
    }
    return total;
  }

  static int appointmentsJoined(DataSource db) throws SQLException {
    try (Connection c = db.getConnection();
        Statement s = c.createStatement();
        ResultSet r =
            s.executeQuery(
                "select count(a.id) from customers c left join appointments a on a.customer_id = c.id")) {
      r.next();
      return r.getInt(1);
    }
  }

  @Test
  void aQueryPerRowIsAnNPlusOneWithItsCountShapeAndCallSite() throws SQLException {
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    QueryGuard guard =
        QueryGuard.builder().policy(QueryPolicy.COUNT).meterRegistry(registry).build();
    DataSource db = guard.wrap(pool);
    QueryRecording recording;
    try (QueryScope scope = guard.begin("GET /customers/appointments")) {
      assertThat(appointmentsPerRow(db)).isEqualTo(400);
      recording = scope.recording();
      // Counted (and logged, under LOG) when the scope ends; the open scope's recording has it.
      assertThat(recording.events(QueryEvent.Kind.N_PLUS_ONE))
          .extracting(QueryEvent::count)
          .containsExactly(20L);
      assertThat(registry.get("bulwark.queries.events").tag("kind", "n_plus_one").counter().count())
          .isZero();
      scope.close();
      recording = scope.recording();
    }
    assertThat(recording.statements()).isEqualTo(21);
    assertThat(recording.shapes())
        .containsEntry("select count(*) from appointments where customer_id = ?", 20L)
        .containsEntry("select id from customers order by id", 1L);
    List<QueryEvent> nPlusOne = recording.events(QueryEvent.Kind.N_PLUS_ONE);
    assertThat(nPlusOne).hasSize(1);
    QueryEvent event = nPlusOne.get(0);
    assertThat(event.count()).isEqualTo(20);
    assertThat(event.limit()).isEqualTo(5);
    assertThat(event.scope()).isEqualTo("GET /customers/appointments");
    assertThat(event.shape()).isEqualTo("select count(*) from appointments where customer_id = ?");
    assertThat(event.callSite())
        .startsWith("dev.bulwark.queries.QueryGuardTest.appointmentsPerRow(QueryGuardTest.java:");
    assertThat(event.describe())
        .startsWith(
            "N+1 in GET /customers/appointments: 20 executions (threshold 5) of select count(*)"
                + " from appointments where customer_id = ? at dev.bulwark.queries.QueryGuardTest");
    assertThat(registry.get("bulwark.queries.events").tag("kind", "n_plus_one").counter().count())
        .isEqualTo(1);
    assertThatThrownBy(() -> QueryAssert.assertThat(recording_(guard, db)).hasNoNPlusOne())
        .isInstanceOf(AssertionError.class)
        .hasMessageContaining("expected no N+1, but found:")
        .hasMessageContaining("20 x select count(*) from appointments where customer_id = ?");
  }

  private static QueryRecording recording_(QueryGuard guard, DataSource db) throws SQLException {
    QueryScope scope = guard.begin("again");
    try (scope) {
      appointmentsPerRow(db);
    }
    return scope.recording();
  }

  @Test
  void theJoinIsNotAnNPlusOne() throws SQLException {
    QueryGuard guard = QueryGuard.builder().policy(QueryPolicy.THROW).build();
    DataSource db = guard.wrap(pool);
    QueryScope scope = guard.begin("GET /customers/appointments");
    try (scope) {
      assertThat(appointmentsJoined(db)).isEqualTo(400);
    }
    QueryAssert.assertThat(scope.recording()).hasNoNPlusOne().hasStatementCount(1);
  }

  @Test
  void underThrowTheLoopStopsAtTheStatementThatBreaksTheThreshold() {
    QueryGuard guard = QueryGuard.builder().policy(QueryPolicy.THROW).build();
    DataSource db = guard.wrap(pool);
    try (QueryScope scope = guard.begin("GET /customers/appointments")) {
      assertThatThrownBy(() -> appointmentsPerRow(db))
          .isInstanceOf(QueryLimitExceededException.class)
          .hasMessageStartingWith(
              "N+1 in GET /customers/appointments: 6 executions (threshold 5) of select count(*)"
                  + " from appointments where customer_id = ? at");
      // The sixth did not run.
      assertThat(scope.recording().shapes())
          .containsEntry("select count(*) from appointments where customer_id = ?", 6L);
    }
  }

  @Test
  void aStatementBudgetPerScopeName() throws SQLException {
    QueryGuard guard =
        QueryGuard.builder()
            .policy(QueryPolicy.THROW)
            .nPlusOneThreshold(100)
            .scope("GET /customers/{id}", ScopeLimits.none().maxStatements(4))
            .build();
    DataSource db = guard.wrap(pool);
    try (QueryScope scope = guard.begin("GET /customers/{id}")) {
      assertThatThrownBy(() -> appointmentsPerRow(db))
          .isInstanceOf(QueryLimitExceededException.class)
          .hasMessageStartingWith(
              "statement budget in GET /customers/{id}: 5 statements (budget 4) at");
    }
    // Another scope name has no budget.
    try (QueryScope scope = guard.begin("GET /customers")) {
      assertThat(appointmentsPerRow(db)).isEqualTo(400);
    }
  }

  @Test
  void aBatchIsOneExecution() throws SQLException {
    QueryGuard guard = QueryGuard.builder().policy(QueryPolicy.THROW).build();
    DataSource db = guard.wrap(pool);
    QueryScope scope = guard.begin("POST /customers");
    try (scope;
        Connection c = db.getConnection();
        PreparedStatement insert = c.prepareStatement("insert into customers values (?, ?)")) {
      for (int i = 100; i < 150; i++) {
        insert.setLong(1, i);
        insert.setString(2, "batch " + i);
        insert.addBatch();
      }
      assertThat(insert.executeBatch()).hasSize(50);
    }
    QueryAssert.assertThat(scope.recording()).hasStatementCount(1).hasNoNPlusOne();
  }

  @Test
  void theRowsGuardStopsAScopeThatReadsTooMuch() throws SQLException {
    QueryGuard guard =
        QueryGuard.builder().policy(QueryPolicy.THROW).rowsWarning(1_000).rowsLimit(5_000).build();
    DataSource db = guard.wrap(pool);
    try (QueryScope scope = guard.begin("GET /export");
        Connection c = db.getConnection();
        Statement s = c.createStatement();
        ResultSet r = s.executeQuery("select g from generate_series(1, 10000) g")) {
      assertThatThrownBy(
              () -> {
                while (r.next()) {
                  r.getInt(1);
                }
              })
          .isInstanceOf(QueryLimitExceededException.class)
          .hasMessageStartingWith("rows read in GET /export: 5001 (limit 5000) at");
      assertThat(scope.rows()).isEqualTo(5_001);
    }
  }

  @Test
  void underLogAScopeOverTheRowsWarningIsReportedWithItsFinalCount() throws SQLException {
    QueryGuard guard = QueryGuard.builder().rowsWarning(1_000).build();
    DataSource db = guard.wrap(pool);
    QueryScope scope = guard.begin("GET /export");
    try (scope;
        Connection c = db.getConnection();
        Statement s = c.createStatement();
        ResultSet r = s.executeQuery("select g from generate_series(1, 10000) g")) {
      while (r.next()) {
        r.getInt(1);
      }
    }
    List<QueryEvent> warnings = scope.recording().events(QueryEvent.Kind.ROWS_WARNING);
    assertThat(warnings).hasSize(1);
    assertThat(warnings.get(0).count()).isEqualTo(10_000);
  }

  @Test
  void scopesDoNotLeakBetweenThreadsAndAWrappedTaskCountsInItsScope() throws Exception {
    QueryGuard guard = QueryGuard.builder().policy(QueryPolicy.COUNT).build();
    DataSource db = guard.wrap(pool);
    ExecutorService executor = Executors.newFixedThreadPool(2);
    try {
      QueryScope scope = guard.begin("GET /report");
      try (scope) {
        // A plain task runs outside the scope; a wrapped one inside it.
        executor.submit(() -> appointmentsJoined(db)).get(10, TimeUnit.SECONDS);
        assertThat(scope.statements()).isZero();
        Future<?> wrapped =
            executor.submit(
                guard.wrap(
                    () -> {
                      try {
                        appointmentsJoined(db);
                      } catch (SQLException e) {
                        throw new IllegalStateException(e);
                      }
                    }));
        wrapped.get(10, TimeUnit.SECONDS);
        guard.wrap(executor).execute(() -> {});
        assertThat(scope.statements()).isOne();
      }
      // The pool's threads hold no scope after the task.
      assertThat(executor.submit(() -> guard.current().isPresent()).get(10, TimeUnit.SECONDS))
          .isFalse();
      assertThat(guard.current()).isEmpty();
    } finally {
      executor.shutdownNow();
    }
  }

  @Test
  void tenThousandShapesMakeAtMostTheCapPlusOneTimers() throws SQLException {
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    QueryGuard guard = QueryGuard.builder().maxShapes(50).meterRegistry(registry).build();
    DataSource db = guard.wrap(pool);
    try (Connection c = db.getConnection();
        Statement s = c.createStatement()) {
      for (int i = 0; i < 10_000; i++) {
        s.execute("select 1 as c" + i);
      }
    }
    assertThat(registry.find("bulwark.queries.statements").timers()).hasSize(51);
    assertThat(registry.get("bulwark.queries.statements").tag("shape", "other").timer().count())
        .isEqualTo(10_000 - 50);
    assertThat(guard.shapes()).hasSize(50).containsValue("select ? as c0");
  }

  @Test
  void badSettingsNameTheSettingTheValueAndTheRange() {
    assertThatIllegalArgumentException()
        .isThrownBy(() -> QueryGuard.builder().nPlusOneThreshold(0))
        .withMessage("nPlusOneThreshold must be between 1 and 1000000, but was 0");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> QueryGuard.builder().maxShapes(0))
        .withMessage("maxShapes must be between 1 and 100000, but was 0");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> ScopeLimits.none().maxStatements(0))
        .withMessage("maxStatements must be between 1 and 1000000, but was 0");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> QueryGuard.builder().rowsWarning(10).rowsLimit(5).build())
        .withMessage("rowsWarning must be at most rowsLimit (5), but was 10");
    assertThatThrownBy(() -> QueryGuard.builder().maxShapes(5).maxShapes(6))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("maxShapes was already set to 5");
  }

  @Test
  void withoutARowsLimitRowsAreNotCountedAndResultSetsNotProxied() throws SQLException {
    QueryGuard guard = QueryGuard.builder().build();
    DataSource db = guard.wrap(pool);
    try (QueryScope scope = guard.begin("GET /customers");
        Connection c = db.getConnection();
        Statement s = c.createStatement();
        ResultSet r = s.executeQuery("select id from customers")) {
      while (r.next()) {
        r.getLong(1);
      }
      assertThat(scope.rows()).isZero();
      assertThat(scope.statements()).isOne();
      // The pool's own result set: no datasource-proxy proxy between the rows and the application.
      assertThat(r.getClass().getName()).startsWith("com.zaxxer.hikari.");
    }
  }
}

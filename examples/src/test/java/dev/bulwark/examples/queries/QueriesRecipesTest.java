package dev.bulwark.examples.queries;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.zaxxer.hikari.HikariDataSource;
import dev.bulwark.pool.Pools;
import dev.bulwark.queries.QueryAssert;
import dev.bulwark.queries.QueryEvent;
import dev.bulwark.queries.QueryGuard;
import dev.bulwark.queries.QueryLimitExceededException;
import dev.bulwark.queries.QueryPolicy;
import dev.bulwark.queries.QueryScope;
import dev.bulwark.queries.ScopeLimits;
import dev.bulwark.testing.PostgresExtension;
import dev.bulwark.testing.TestDatabase;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.StringWriter;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The recipes of {@code docs/queries.md}, run as written against the embedded PostgreSQL. */
@ExtendWith(PostgresExtension.class)
class QueriesRecipesTest {
  private HikariDataSource pool;

  /** A customer's appointments, as the audit's endpoint fetched them: one query per row. */
  static final class AppointmentsRepository {
    private final DataSource dataSource;

    AppointmentsRepository(DataSource dataSource) {
      this.dataSource = dataSource;
    }

    List<String> perRow(long customerId) throws SQLException {
      List<String> out = new ArrayList<>();
      try (Connection c = dataSource.getConnection()) {
        List<Long> ids = new ArrayList<>();
        try (PreparedStatement s =
            c.prepareStatement("select id from appointments where customer_id = ? order by id")) {
          s.setLong(1, customerId);
          try (ResultSet r = s.executeQuery()) {
            while (r.next()) {
              ids.add(r.getLong(1));
            }
          }
        }
        for (long id : ids) {
          try (PreparedStatement s =
              c.prepareStatement("select at::text from appointments where id = ?")) {
            s.setLong(1, id);
            try (ResultSet r = s.executeQuery()) {
              r.next();
              out.add(r.getString(1));
            }
          }
        }
      }
      return out;
    }

    List<String> joined(long customerId) throws SQLException {
      List<String> out = new ArrayList<>();
      try (Connection c = dataSource.getConnection();
          PreparedStatement s =
              c.prepareStatement(
                  "select at::text from appointments where customer_id = ? order by id")) {
        s.setLong(1, customerId);
        try (ResultSet r = s.executeQuery()) {
          while (r.next()) {
            out.add(r.getString(1));
          }
        }
      }
      return out;
    }
  }

  @BeforeEach
  void schema(TestDatabase db) throws SQLException {
    pool = Pools.postgres(db.jdbcUrl(), db.user(), db.password()).build();
    try (Connection c = pool.getConnection();
        Statement s = c.createStatement()) {
      s.execute(
          "create table appointments (id bigint primary key, customer_id bigint not null,"
              + " at timestamptz not null)");
      s.execute(
          "insert into appointments select g, 1 + g % 50, now() from generate_series(1, 1000) g");
      s.execute("create table orders (id bigint primary key, total numeric not null)");
      s.execute("insert into orders select g, g * 2.5 from generate_series(1, 20000) g");
    }
  }

  @AfterEach
  void close() {
    pool.close();
  }

  @Test
  void theNPlusOneIsFoundAndThenPinned() throws SQLException {
    // snippet:begin queries-test-n-plus-one
    QueryGuard guard = QueryGuard.builder().policy(QueryPolicy.THROW).build();
    AppointmentsRepository repository = new AppointmentsRepository(guard.wrap(pool));

    try (QueryScope scope = guard.begin("GET /customers/{id}/appointments")) {
      // 1 query for the ids, then 1 per appointment: the sixth of one shape throws
      assertThatThrownBy(() -> repository.perRow(7))
          .isInstanceOf(QueryLimitExceededException.class)
          .hasMessageContaining("N+1 in GET /customers/{id}/appointments")
          .hasMessageContaining("select at::text from appointments where id = ?")
          .hasMessageContaining(
              "at dev.bulwark.examples.queries.QueriesRecipesTest$AppointmentsRepository.perRow(");
    }

    // The fix, pinned: one statement, however many appointments the customer has.
    try (QueryScope scope = guard.begin("GET /customers/{id}/appointments")) {
      assertThat(repository.joined(7)).hasSize(20);
      QueryAssert.assertThat(scope.recording()).hasNoNPlusOne().hasStatementCount(1);
    }
    // snippet:end
    // The page quotes the message with its line number: the executeQuery of perRow.
    try (QueryScope scope = guard.begin("GET /customers/{id}/appointments")) {
      assertThatThrownBy(() -> repository.perRow(7))
          .hasMessageEndingWith("perRow(QueriesRecipesTest.java:64)");
    }
  }

  @Test
  void inProductionTheGuardLogsAndCountsAndKeepsABudget() throws SQLException {
    MeterRegistry registry = new SimpleMeterRegistry();
    HikariDataSource hikari = pool;
    // snippet:begin queries-production
    QueryGuard guard =
        QueryGuard.builder()
            .name("orders-db")
            .slowThreshold(Duration.ofMillis(500)) // logged once a minute per shape
            .rowsWarning(10_000)
            .scope("GET /customers/{id}", ScopeLimits.none().maxStatements(4))
            .meterRegistry(registry)
            .build(); // policy LOG: events are logged and counted, requests go on
    DataSource dataSource = guard.wrap(hikari); // hand this one to the application

    try (QueryScope scope = guard.begin("GET /customers/{id}/appointments")) {
      new AppointmentsRepository(dataSource).perRow(7); // logged when the scope ends
    }
    // snippet:end
    assertThat(
            registry
                .get("bulwark.queries.events")
                .tags("name", "orders-db", "kind", "n_plus_one")
                .counter()
                .count())
        .isEqualTo(1);
    assertThat(registry.find("bulwark.queries.statements").tag("name", "orders-db").timers())
        .hasSize(2);
  }

  @Test
  void aLargeExportStreamsInsteadOfLoadingWhole() throws SQLException {
    StringWriter csv = new StringWriter();
    // snippet:begin queries-stream-export
    QueryGuard guard =
        QueryGuard.builder()
            .defaultFetchSize(500) // 500 rows per round trip, not the whole result at once
            .rowsWarning(100_000)
            .build();
    DataSource dataSource = guard.wrap(pool);

    try (QueryScope scope = guard.begin("GET /orders/export");
        Connection c = dataSource.getConnection()) {
      c.setAutoCommit(false); // pgjdbc streams only inside a transaction
      try (PreparedStatement s = c.prepareStatement("select id, total from orders order by id");
          ResultSet r = s.executeQuery()) {
        while (r.next()) {
          csv.write(r.getLong(1) + "," + r.getBigDecimal(2) + "\n");
        }
      }
      c.commit();
      assertThat(scope.rows()).isEqualTo(20_000);
    }
    // snippet:end
    assertThat(csv.toString()).startsWith("1,2.5\n").contains("20000,50000.0\n");
  }

  @Test
  void aStatementBudgetBrokenIsAnEvent() throws SQLException {
    QueryGuard guard =
        QueryGuard.builder()
            .policy(QueryPolicy.COUNT)
            .nPlusOneThreshold(1_000)
            .scope("GET /customers/{id}", ScopeLimits.none().maxStatements(4))
            .build();
    QueryScope scope = guard.begin("GET /customers/{id}");
    try (scope) {
      new AppointmentsRepository(guard.wrap(pool)).perRow(7);
    }
    List<QueryEvent> budget = scope.recording().events(QueryEvent.Kind.STATEMENT_BUDGET);
    assertThat(budget).hasSize(1);
    assertThat(budget.get(0).count()).isEqualTo(21);
  }
}

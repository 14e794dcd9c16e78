package dev.bulwark.examples.queries;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.zaxxer.hikari.HikariDataSource;
import dev.bulwark.pool.Pools;
import dev.bulwark.queries.Explain;
import dev.bulwark.testing.PostgresExtension;
import dev.bulwark.testing.TestDatabase;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.OffsetDateTime;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The EXPLAIN recipes of {@code docs/queries.md}, on a seeded table of 100,000 appointments. */
@ExtendWith(PostgresExtension.class)
class ExplainRecipesTest {
  private static final OffsetDateTime FEBRUARY = OffsetDateTime.parse("2024-02-01T00:00Z");

  private static TestDatabase db;
  private static HikariDataSource pool;

  @BeforeAll
  static void seed(TestDatabase database) throws SQLException {
    db = database;
    try (Connection c = db.connect();
        Statement s = c.createStatement()) {
      s.execute(
          "create table appointments (id bigint primary key, customer_id int not null,"
              + " status text not null, starts_at timestamptz not null)"
              + " with (autovacuum_enabled = false)");
      s.execute(
          "insert into appointments select g, g % 10000 + 1,"
              + " case when g % 1000 = 0 then 'cancelled' else 'done' end,"
              + " timestamptz '2024-01-01 00:00Z' + g * interval '1 minute'"
              + " from generate_series(1, 100000) g");
      s.execute("analyze appointments");
    }
    pool = Pools.postgres(db.jdbcUrl(), db.user(), db.password()).maximumPoolSize(2).build();
  }

  @AfterAll
  static void close() {
    pool.close();
  }

  @Test
  void theIndexIsProvedUsedOnceItExists() throws SQLException {
    DataSource dataSource = pool;
    // Without the index, the assertion fails, naming the table and showing the plan.
    assertThatThrownBy(
            () ->
                Explain.of(dataSource, "select * from appointments where customer_id = ?", 42)
                    .assertNoSequentialScan("appointments"))
        .isInstanceOf(AssertionError.class)
        .hasMessageStartingWith(
            "expected no sequential scan on appointments, but found Seq Scan on appointments")
        .hasMessageContaining("plan:\n");
    try (Connection c = db.connect();
        Statement s = c.createStatement()) {
      s.execute("create index appointments_customer_id_idx on appointments (customer_id)");
      s.execute("analyze appointments");
    }
    // snippet:begin queries-explain-assert
    Explain.of(dataSource, "select * from appointments where customer_id = ?", 42)
        .assertNoSequentialScan("appointments")
        .assertUsesIndex("appointments_customer_id_idx");
    // snippet:end
  }

  @Test
  void anIndexCanBeTriedInATransactionFirst() throws SQLException {
    try (Connection c = db.connect()) {
      c.setAutoCommit(false);
      try (Statement s = c.createStatement()) {
        // snippet:begin queries-explain-try-index
        s.execute("create index appointments_starts_at_idx on appointments (starts_at)");
        Explain.of(c, "select * from appointments where starts_at = ?", FEBRUARY)
            .assertUsesIndex("appointments_starts_at_idx");
        c.rollback();
        // snippet:end
      }
    }
  }

  @Test
  void theGenericPlanIsShownForAPreparedStatement() throws SQLException {
    try (Connection c = db.connect();
        Statement s = c.createStatement()) {
      // snippet:begin queries-explain-generic
      s.execute("prepare by_status(text) as select * from appointments where status = $1");
      s.execute("set plan_cache_mode = force_generic_plan");
      Explain generic = Explain.of(c, "execute by_status('cancelled')");
      // snippet:end
      assertThat(generic.plan()).isEqualTo(Explain.of(c, "execute by_status('done')").plan());
    }
  }
}

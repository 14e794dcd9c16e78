package dev.bulwark.queries;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;
import static org.assertj.core.api.Assertions.assertThatIllegalStateException;
import static org.assertj.core.api.Assertions.assertThatNullPointerException;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.assertj.core.api.Assertions.tuple;

import com.zaxxer.hikari.HikariDataSource;
import dev.bulwark.pool.Pools;
import dev.bulwark.testing.NoSecrets;
import dev.bulwark.testing.PostgresExtension;
import dev.bulwark.testing.TestDatabase;
import java.io.IOException;
import java.io.PrintWriter;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.logging.Logger;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.postgresql.core.BaseConnection;
import org.postgresql.core.TransactionState;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * {@link Explain} against the embedded PostgreSQL: one database for the class, seeded once with
 * 10,000 customers and 100,000 appointments ({@code insert ... select generate_series}, then {@code
 * analyze}), indexed on {@code customer_id} and on a skewed {@code status} (0.1% {@code
 * cancelled}); the before-and-after test seeds a table of its own. The texts of the assertions and
 * of the failures are API, so each is asserted whole. The plan text itself is asserted exactly on
 * hand-written JSON, whose figures do not depend on the planner's statistics.
 */
@ExtendWith(PostgresExtension.class)
class ExplainTest {
  private static final String SECRET = "S3cr3t-pw";
  private static final OffsetDateTime FEBRUARY = OffsetDateTime.parse("2024-02-01T00:00Z");

  private static TestDatabase db;
  private static HikariDataSource dataSource;

  @BeforeAll
  static void seed(TestDatabase database) throws SQLException {
    db = database;
    // Autovacuum is off so that no vacuum or re-analyze changes the statistics between tests.
    execute(
        "create table customers (id int primary key, name text not null)"
            + " with (autovacuum_enabled = false)",
        "insert into customers select g, 'customer ' || g from generate_series(1, 10000) g",
        "create table appointments (id bigint primary key, customer_id int not null,"
            + " status text not null, starts_at timestamptz not null)"
            + " with (autovacuum_enabled = false)",
        "insert into appointments select g, g % 10000 + 1,"
            + " case when g % 1000 = 0 then 'cancelled' else 'done' end,"
            + " timestamptz '2024-01-01 00:00Z' + g * interval '1 minute'"
            + " from generate_series(1, 100000) g",
        "create index appointments_customer_id_idx on appointments (customer_id)",
        "create index appointments_status_idx on appointments (status)",
        "analyze customers",
        "analyze appointments");
    dataSource =
        Pools.postgres(db.jdbcUrl(), db.user(), db.password())
            .poolName("explain")
            .maximumPoolSize(2)
            .build();
  }

  @AfterAll
  static void closePool() {
    dataSource.close();
  }

  private static void execute(String... statements) throws SQLException {
    try (Connection c = db.connect();
        Statement s = c.createStatement()) {
      for (String sql : statements) {
        s.execute(sql);
      }
    }
  }

  private static long count(String sql) throws SQLException {
    try (Connection c = db.connect();
        Statement s = c.createStatement();
        ResultSet r = s.executeQuery(sql)) {
      r.next();
      return r.getLong(1);
    }
  }

  /** What every assertion's message ends with. */
  private static String tail(Explain explain) {
    return "\nstatement: " + explain.sql() + "\nplan:\n" + explain.plan();
  }

  // The audit's case: a table without the index its query needs, then with it.

  @Test
  void aMissingIndexFailsBothAssertionsAndTheIndexThenPassesThem() throws SQLException {
    execute(
        "create table activity_log (id bigint primary key, user_id int not null,"
            + " created_at timestamptz not null, action text not null)"
            + " with (autovacuum_enabled = false)",
        "insert into activity_log select g, g % 5000 + 1,"
            + " timestamptz '2024-01-01 00:00Z' + g * interval '1 second', 'login'"
            + " from generate_series(1, 100000) g",
        "analyze activity_log");
    String sql = "select * from activity_log where user_id = ? order by created_at desc limit 50";

    Explain before = Explain.of(dataSource, sql, 42);
    assertThat(before.plan().toString()).contains("Seq Scan on activity_log");
    assertThatThrownBy(() -> before.assertNoSequentialScan("activity_log"))
        .isExactlyInstanceOf(AssertionError.class)
        .hasMessage(
            "expected no sequential scan on activity_log, but found Seq Scan on activity_log"
                + tail(before));
    assertThatThrownBy(() -> before.assertUsesIndex("activity_log_user_id_idx"))
        .isExactlyInstanceOf(AssertionError.class)
        .hasMessage(
            "expected a scan using index activity_log_user_id_idx, but the plan uses no index"
                + tail(before));

    execute(
        "create index activity_log_user_id_idx on activity_log (user_id)", "analyze activity_log");
    Explain after = Explain.of(dataSource, sql, 42);
    assertThatCode(
            () ->
                after
                    .assertNoSequentialScan("activity_log")
                    .assertUsesIndex("activity_log_user_id_idx")
                    .assertUsesIndex("public.activity_log_user_id_idx")
                    .assertNoSequentialScan("public.activity_log"))
        .doesNotThrowAnyException();
    assertThat(after.plan().toString())
        .contains("activity_log_user_id_idx")
        .doesNotContain("Seq Scan");
  }

  @Test
  void theRecipeOfTheDocsPasses() {
    Explain.of(dataSource, "select * from appointments where customer_id = ?", 42)
        .assertNoSequentialScan("appointments")
        .assertUsesIndex("appointments_customer_id_idx");
  }

  @Test
  void aBitmapIndexScanCountsAsUsingTheIndex() {
    Explain explain =
        Explain.of(
            dataSource,
            "select * from appointments where customer_id in (?, ?, ?, ?, ?)",
            1,
            2,
            3,
            4,
            5);
    assertThat(explain.plan().nodes())
        .extracting(ExplainPlan::nodeType, ExplainPlan::indexName, ExplainPlan::relationName)
        .contains(
            tuple("Bitmap Index Scan", "appointments_customer_id_idx", null),
            tuple("Bitmap Heap Scan", null, "appointments"));
    assertThatCode(
            () ->
                explain
                    .assertUsesIndex("appointments_customer_id_idx")
                    .assertNoSequentialScan("appointments"))
        .doesNotThrowAnyException();
  }

  @Test
  void inAJoinTheUnindexedSideIsReportedByNameAndTheIndexedSidePasses() {
    Explain explain =
        Explain.of(
            dataSource,
            "select c.name, a.starts_at from customers c"
                + " join appointments a on a.customer_id = c.id where c.name = ?",
            "customer 7");
    assertThatThrownBy(() -> explain.assertNoSequentialScan("customers"))
        .isExactlyInstanceOf(AssertionError.class)
        .hasMessage(
            "expected no sequential scan on customers, but found Seq Scan on customers c"
                + tail(explain));
    assertThatCode(
            () ->
                explain
                    .assertNoSequentialScan("appointments")
                    .assertUsesIndex("appointments_customer_id_idx"))
        .doesNotThrowAnyException();
  }

  @Test
  void aSequentialScanInACteOrASubplanIsFound() {
    Explain cte =
        Explain.of(
            dataSource,
            "with recent as materialized (select * from appointments where starts_at > ?)"
                + " select count(*) from recent",
            FEBRUARY);
    assertThat(cte.plan().toString()).contains("CTE recent\n    ->  Seq Scan on appointments");
    assertThatThrownBy(() -> cte.assertNoSequentialScan("appointments"))
        .hasMessage(
            "expected no sequential scan on appointments, but found Seq Scan on appointments"
                + tail(cte));

    Explain subplan =
        Explain.of(
            dataSource,
            "select c.id, (select count(*) from appointments a"
                + " where a.starts_at::date = date '2024-01-01' + c.id)"
                + " from customers c where c.id = ?",
            3);
    assertThat(subplan.plan().toString()).contains("SubPlan 1");
    assertThatThrownBy(() -> subplan.assertNoSequentialScan("appointments"))
        .hasMessage(
            "expected no sequential scan on appointments, but found Seq Scan on appointments a"
                + tail(subplan));
    assertThatCode(
            () -> subplan.assertNoSequentialScan("customers").assertUsesIndex("customers_pkey"))
        .doesNotThrowAnyException();
  }

  @Test
  void aParallelSequentialScanIsASequentialScan() throws SQLException {
    try (Connection c = db.connect();
        Statement s = c.createStatement()) {
      // A table of 736 pages is below min_parallel_table_scan_size; make parallel plans free.
      s.execute("set min_parallel_table_scan_size = 0");
      s.execute("set parallel_setup_cost = 0");
      s.execute("set parallel_tuple_cost = 0");
      Explain explain =
          Explain.of(c, "select count(*) from appointments where starts_at > ?", FEBRUARY);
      assertThat(explain.plan().toString()).contains("Gather");
      assertThatThrownBy(() -> explain.assertNoSequentialScan("appointments"))
          .hasMessage(
              "expected no sequential scan on appointments, but found Parallel Seq Scan on"
                  + " appointments"
                  + tail(explain));
    }
  }

  // Parameters, and which plan they get.

  @Test
  void eachValueGetsACustomPlanAlsoOnceTheExplainIsServerPrepared() throws SQLException {
    String sql = "select * from appointments where status = ?";
    try (Connection c = db.connect()) {
      // 0.1% of the rows: the index. 99.9%: the whole table, whatever indexes it has.
      Explain.of(c, sql, "cancelled").assertUsesIndex("appointments_status_idx");
      Explain common = Explain.of(c, sql, "done");
      assertThatThrownBy(() -> common.assertNoSequentialScan("appointments"))
          .hasMessageStartingWith(
              "expected no sequential scan on appointments, but found Seq Scan on appointments");

      // pgjdbc makes a statement server-prepared from its fifth use on a connection, and
      // PostgreSQL could choose a generic plan for it after five custom ones: go past both.
      for (int i = 0; i < 10; i++) {
        Explain.of(c, sql, "done");
      }
      try (Statement s = c.createStatement();
          ResultSet r =
              s.executeQuery(
                  "select count(*) from pg_prepared_statements"
                      + " where not from_sql and statement like 'EXPLAIN%status = $1'")) {
        r.next();
        assertThat(r.getLong(1)).isEqualTo(1);
      }
      Explain rare = Explain.of(c, sql, "cancelled");
      assertThat(rare.plan().planRows()).isLessThan(1_000);
      rare.assertUsesIndex("appointments_status_idx").assertNoSequentialScan("appointments");
    }
  }

  @Test
  void aGenericPlanIsTheSameForEveryValue() throws SQLException {
    try (Connection c = db.connect();
        Statement s = c.createStatement()) {
      s.execute("prepare by_status(text) as select * from appointments where status = $1");
      s.execute("set plan_cache_mode = force_generic_plan");
      Explain generic = Explain.of(c, "execute by_status('cancelled')");
      Explain genericCommon = Explain.of(c, "execute by_status('done')");
      assertThat(generic.plan()).isEqualTo(genericCommon.plan());
      Explain custom = Explain.of(c, "select * from appointments where status = ?", "cancelled");
      assertThat(custom.plan().planRows()).isLessThan(generic.plan().planRows());
    }
  }

  // ANALYZE, transactions and connections.

  @Test
  void analyzeRunsTheStatementAndOnADataSourceRollsItBack() throws SQLException {
    Explain select =
        Explain.analyze(dataSource, "select * from appointments where customer_id = ?", 7);
    assertThat(select.analyzed()).isTrue();
    assertThat(select.plan().actualRows()).isEqualTo(10.0);
    assertThat(select.plan().actualLoops()).isEqualTo(1L);
    assertThat(select.plan().toString()).contains(" (actual rows=10 loops=1)");
    assertThat(select.toString()).startsWith("EXPLAIN ANALYZE select * from appointments");

    Explain delete =
        Explain.analyze(dataSource, "delete from appointments where customer_id = ?", 7);
    assertThat(delete.plan().nodeType()).isEqualTo("ModifyTable");
    assertThat(delete.plan().relationName()).isEqualTo("appointments");
    assertThat(delete.plan().plans().get(0).actualRows()).isEqualTo(10.0);
    assertThat(count("select count(*) from appointments where customer_id = 7")).isEqualTo(10);
  }

  @Test
  void aPlainExplainRunsNothing() throws SQLException {
    Explain delete = Explain.of(dataSource, "delete from appointments where customer_id = ?", 8);
    assertThat(delete.analyzed()).isFalse();
    assertThat(delete.plan().actualRows()).isNull();
    assertThat(delete.plan().actualLoops()).isNull();
    assertThat(delete.toString()).startsWith("EXPLAIN delete from appointments");
    // The transaction is read-only: a second statement in the text cannot change anything.
    assertThatIllegalStateException()
        .isThrownBy(() -> Explain.of(dataSource, "select 1; delete from appointments"))
        .withMessage(
            "EXPLAIN failed for: select 1; delete from appointments\n"
                + "org.postgresql.util.PSQLException:"
                + " ERROR: cannot execute DELETE in a read-only transaction");
    assertThat(count("select count(*) from appointments")).isEqualTo(100_000);
  }

  @Test
  void onAConnectionItRunsInItsTransaction() throws SQLException {
    try (Connection c = db.connect()) {
      c.setAutoCommit(false);
      try (Statement s = c.createStatement()) {
        s.execute("create index appointments_starts_at_idx on appointments (starts_at)");
        Explain.of(c, "select * from appointments where starts_at = ?", FEBRUARY)
            .assertUsesIndex("appointments_starts_at_idx");
        c.rollback();
      }
      assertThat(c.getAutoCommit()).isFalse();
    }
    assertThat(
            count("select count(*) from pg_indexes where indexname = 'appointments_starts_at_idx'"))
        .isZero();
  }

  @Test
  void aDataSourcesConnectionIsHandedBackAsItWasLent() throws SQLException {
    try (Connection real = db.connect()) {
      DataSource single = new SingleConnectionDataSource(real);
      Explain.of(single, "select * from appointments where customer_id = ?", 1);
      assertLentState(real);
      Explain.analyze(single, "select * from appointments where customer_id = ?", 1);
      assertLentState(real);
      assertThatIllegalStateException()
          .isThrownBy(() -> Explain.of(single, "select * from nowhere"));
      assertLentState(real);
    }
  }

  private static void assertLentState(Connection real) throws SQLException {
    assertThat(real.getAutoCommit()).isTrue();
    assertThat(real.isReadOnly()).isFalse();
    assertThat(real.unwrap(BaseConnection.class).getTransactionState())
        .isEqualTo(TransactionState.IDLE);
  }

  // The assertions' other failures.

  @Test
  void aNameThePlanDoesNotReadFailsAndListsWhatItReads() {
    Explain explain =
        Explain.of(dataSource, "select * from appointments where customer_id = ?", 42);
    assertThatThrownBy(() -> explain.assertNoSequentialScan("apointments"))
        .hasMessage(
            "expected no sequential scan on apointments, but the plan reads no table apointments"
                + " (it reads appointments)"
                + tail(explain));
    assertThatThrownBy(() -> explain.assertNoSequentialScan("Appointments"))
        .hasMessageStartingWith(
            "expected no sequential scan on Appointments, but the plan reads no table"
                + " Appointments (it reads appointments)\n");
    assertThatThrownBy(() -> explain.assertNoSequentialScan("shop.appointments"))
        .hasMessageStartingWith(
            "expected no sequential scan on shop.appointments, but the plan reads no table"
                + " shop.appointments (it reads public.appointments)\n");
    assertThatThrownBy(() -> explain.assertUsesIndex("appointments_status_idx"))
        .hasMessage(
            "expected a scan using index appointments_status_idx, but the plan uses only"
                + " appointments_customer_id_idx"
                + tail(explain));

    Explain none = Explain.of(dataSource, "select 1");
    assertThatThrownBy(() -> none.assertNoSequentialScan("appointments"))
        .hasMessage(
            "expected no sequential scan on appointments, but the plan reads no table"
                + " appointments (it reads no table)"
                + tail(none));
    assertThatThrownBy(() -> none.assertUsesIndex("appointments_customer_id_idx"))
        .hasMessage(
            "expected a scan using index appointments_customer_id_idx, but the plan uses no index"
                + tail(none));
    assertThat(none.toString()).isEqualTo("EXPLAIN select 1\nResult  (cost=0.00..0.01 rows=1)");
  }

  @Test
  void badArgumentsAreRefusedWithTheirRule() {
    DataSource noDataSource = null;
    Connection noConnection = null;
    assertThatNullPointerException()
        .isThrownBy(() -> Explain.of(noDataSource, "select 1"))
        .withMessage("dataSource");
    assertThatNullPointerException()
        .isThrownBy(() -> Explain.analyze(noConnection, "select 1"))
        .withMessage("connection");
    assertThatNullPointerException()
        .isThrownBy(() -> Explain.of(dataSource, null))
        .withMessage("sql");
    assertThatNullPointerException()
        .isThrownBy(() -> Explain.of(dataSource, "select ?", (Object[]) null))
        .withMessage("parameters");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> Explain.analyze(dataSource, " \n"))
        .withMessage("sql must not be blank, but was \" \n\"");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> Explain.of(dataSource, "  EXPLAIN analyze select 1"))
        .withMessage(
            "sql must be the statement itself, without EXPLAIN, but was \"  EXPLAIN analyze"
                + " select 1\"");
    assertThat(Explain.of(dataSource, "select 1 as explained").sql())
        .isEqualTo("select 1 as explained");

    Explain explain = Explain.of(dataSource, "select * from appointments where customer_id = ?", 1);
    String tableRule =
        "table must be a name as the plan writes it: unquoted, without surrounding spaces"
            + " (appointments or public.appointments), but was ";
    String indexRule =
        "index must be a name as the plan writes it: unquoted, without surrounding spaces"
            + " (appointments_customer_id_idx or public.appointments_customer_id_idx), but was ";
    assertThatNullPointerException()
        .isThrownBy(() -> explain.assertNoSequentialScan(null))
        .withMessage("table");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> explain.assertNoSequentialScan(" "))
        .withMessage("table must not be blank, but was \" \"");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> explain.assertNoSequentialScan("\"Appointments\""))
        .withMessage(tableRule + "\"\"Appointments\"\"");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> explain.assertNoSequentialScan("appointments "))
        .withMessage(tableRule + "\"appointments \"");
    assertThatNullPointerException()
        .isThrownBy(() -> explain.assertUsesIndex(null))
        .withMessage("index");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> explain.assertUsesIndex(""))
        .withMessage("index must not be blank, but was \"\"");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> explain.assertUsesIndex(" appointments_customer_id_idx"))
        .withMessage(indexRule + "\" appointments_customer_id_idx\"");
  }

  @Test
  void aStatementThatCannotBeExplainedIsNamedWithTheDriversError() {
    assertThatIllegalStateException()
        .isThrownBy(() -> Explain.of(dataSource, "select * form appointments"))
        .withMessageStartingWith(
            "EXPLAIN failed for: select * form appointments\n"
                + "org.postgresql.util.PSQLException: ERROR: syntax error at or near \"form\"")
        .withCauseInstanceOf(SQLException.class);
    assertThatIllegalStateException()
        .isThrownBy(() -> Explain.of(dataSource, "select * from nowhere"))
        .withMessageStartingWith(
            "EXPLAIN failed for: select * from nowhere\n"
                + "org.postgresql.util.PSQLException: ERROR: relation \"nowhere\" does not exist");
    assertThatIllegalStateException()
        .isThrownBy(
            () ->
                Explain.of(
                    dataSource, "select * from appointments where id = ? and customer_id = ?", 1))
        .withMessage(
            "EXPLAIN failed for: select * from appointments where id = ? and customer_id = ?\n"
                + "org.postgresql.util.PSQLException: No value specified for parameter 2.");
  }

  @Test
  void aConnectionThatCannotBeHadShowsNoSecret() {
    PGSimpleDataSource unreachable = new PGSimpleDataSource();
    unreachable.setUrl("jdbc:postgresql://127.0.0.1:1/shop?password=" + SECRET);
    unreachable.setUser("shop");
    unreachable.setPassword(SECRET);
    unreachable.setConnectTimeout(2);
    Throwable failure = catchThrowable(() -> Explain.of(unreachable, "select 1"));
    assertThat(failure)
        .isInstanceOf(IllegalStateException.class)
        .hasMessageStartingWith(
            "EXPLAIN failed for: select 1\norg.postgresql.util.PSQLException: Connection to"
                + " 127.0.0.1:1 refused");
    NoSecrets.assertHidden(failure, SECRET);
  }

  // The tree and its text, on hand-written JSON: figures that no planner changes.

  private static final String JOIN_JSON =
      "[{\"Plan\": {\"Node Type\": \"Nested Loop\", \"Parallel Aware\": false,"
          + " \"Join Type\": \"Inner\", \"Startup Cost\": 4.37, \"Total Cost\": 230.1,"
          + " \"Plan Rows\": 10, \"Plan Width\": 19, \"Actual Rows\": 10, \"Actual Loops\": 1,"
          + " \"Output\": [\"c.name\", \"a.starts_at\"], \"Inner Unique\": false,"
          + " \"Plans\": ["
          + "{\"Node Type\": \"Seq Scan\", \"Parent Relationship\": \"Outer\","
          + " \"Parallel Aware\": true, \"Relation Name\": \"customers\", \"Schema\": \"public\","
          + " \"Alias\": \"c\", \"Startup Cost\": 0, \"Total Cost\": 189, \"Plan Rows\": 1,"
          + " \"Actual Rows\": 0.5, \"Actual Loops\": 2, \"Filter\": \"(c.name = 'x')\"},"
          + "{\"Node Type\": \"Bitmap Heap Scan\", \"Relation Name\": \"appointments\","
          + " \"Schema\": \"public\", \"Alias\": \"appointments\", \"Startup Cost\": 4.37,"
          + " \"Total Cost\": 41.0, \"Plan Rows\": 10, \"Actual Rows\": 0, \"Actual Loops\": 0,"
          + " \"Plans\": [{\"Node Type\": \"Bitmap Index Scan\","
          + " \"Index Name\": \"appointments_customer_id_idx\","
          + " \"Startup Cost\": 0.0, \"Total Cost\": 4.37, \"Plan Rows\": 10,"
          + " \"Index Cond\": \"(customer_id = c.id)\"}]},"
          + "{\"Node Type\": \"Aggregate\", \"Subplan Name\": \"CTE recent\", \"Startup Cost\": 1,"
          + " \"Total Cost\": 2, \"Plan Rows\": 1, \"Plans\": [{\"Node Type\": \"CTE Scan\","
          + " \"CTE Name\": \"recent\", \"Alias\": \"recent\", \"Startup Cost\": 0,"
          + " \"Total Cost\": 1, \"Plan Rows\": 3}]}"
          + "]}, \"Planning\": {\"Shared Hit Blocks\": 3}, \"Planning Time\": 0.2,"
          + " \"Triggers\": [], \"Execution Time\": 0.1}]";

  @Test
  void thePlanIsReadIntoATreeAndWrittenAsIndentedText() throws IOException {
    ExplainPlan root = PlanJson.parse(JOIN_JSON);
    assertThat(root.toString())
        .isEqualTo(
            "Nested Loop  (cost=4.37..230.10 rows=10) (actual rows=10 loops=1)\n"
                + "  ->  Parallel Seq Scan on customers c  (cost=0.00..189.00 rows=1)"
                + " (actual rows=0.50 loops=2)\n"
                + "  ->  Bitmap Heap Scan on appointments  (cost=4.37..41.00 rows=10)"
                + " (never executed)\n"
                + "        ->  Bitmap Index Scan on appointments_customer_id_idx"
                + "  (cost=0.00..4.37 rows=10)\n"
                + "  CTE recent\n"
                + "    ->  Aggregate  (cost=1.00..2.00 rows=1)\n"
                + "          ->  CTE Scan on recent  (cost=0.00..1.00 rows=3)");
    assertThat(root.nodes())
        .extracting(ExplainPlan::nodeType)
        .containsExactly(
            "Nested Loop",
            "Seq Scan",
            "Bitmap Heap Scan",
            "Bitmap Index Scan",
            "Aggregate",
            "CTE Scan");
    ExplainPlan customers = root.plans().get(0);
    assertThat(customers)
        .isEqualTo(
            new ExplainPlan(
                "Seq Scan",
                true,
                "customers",
                "public",
                null,
                "c",
                null,
                0,
                189,
                1,
                0.5,
                2L,
                List.of()));
    assertThat(root.plans().get(2).subplanName()).isEqualTo("CTE recent");
    ExplainPlan bitmap = root.plans().get(1).plans().get(0);
    assertThat(bitmap.relationName()).isNull();
    assertThat(bitmap.schema()).as("the schema of the heap scan above").isEqualTo("public");
    assertThat(bitmap.uses("public.appointments_customer_id_idx")).isTrue();
    assertThat(bitmap.uses("appointments_customer_id_idx")).isTrue();
    assertThat(bitmap.uses("shop.appointments_customer_id_idx")).isFalse();
  }

  @Test
  void textThatIsNotAPlanIsRefused() {
    assertThatThrownBy(() -> PlanJson.parse("{\"Plan\": {}}"))
        .isInstanceOf(IOException.class)
        .hasMessage(
            "expected an array of plans in the EXPLAIN output at line: 1, column: 2, but found {");
    assertThatThrownBy(() -> PlanJson.parse("[{\"Planning Time\": 0.1}]"))
        .isInstanceOf(IOException.class)
        .hasMessage("the EXPLAIN output has no \"Plan\"");
    assertThatThrownBy(() -> PlanJson.parse("[{\"Plan\": {\"Plans\": []}}]"))
        .isInstanceOf(IOException.class)
        .hasMessage("a node of the EXPLAIN output has no \"Node Type\"");
    assertThatThrownBy(() -> PlanJson.parse("[{\"Plan\": {\"Node Type\": "))
        .isInstanceOf(IOException.class);
  }

  @Test
  void aNodeIsAnImmutableValue() {
    List<ExplainPlan> children = new ArrayList<>();
    ExplainPlan node =
        new ExplainPlan(
            "Result", false, null, null, null, null, null, 0, 0.01, 1, null, null, children);
    children.add(node);
    assertThat(node.plans()).isEmpty();
    assertThatThrownBy(() -> node.plans().add(node))
        .isInstanceOf(UnsupportedOperationException.class);
    assertThatNullPointerException()
        .isThrownBy(
            () ->
                new ExplainPlan(
                    null, false, null, null, null, null, null, 0, 0, 0, null, null, List.of()))
        .withMessage("nodeType");
  }

  /** Lends one real connection again and again, and leaves it open when it is "closed". */
  private static final class SingleConnectionDataSource implements DataSource {
    private final Connection connection;

    SingleConnectionDataSource(Connection real) {
      this.connection =
          (Connection)
              Proxy.newProxyInstance(
                  Connection.class.getClassLoader(),
                  new Class<?>[] {Connection.class},
                  (proxy, method, args) -> {
                    if (method.getName().equals("close")) {
                      return null;
                    }
                    try {
                      return method.invoke(real, args);
                    } catch (InvocationTargetException e) {
                      throw e.getCause();
                    }
                  });
    }

    @Override
    public Connection getConnection() {
      return connection;
    }

    @Override
    public Connection getConnection(String user, String password) {
      return connection;
    }

    @Override
    public PrintWriter getLogWriter() {
      return new PrintWriter(System.err, true);
    }

    @Override
    public void setLogWriter(PrintWriter out) {}

    @Override
    public void setLoginTimeout(int seconds) {}

    @Override
    public int getLoginTimeout() {
      return 0;
    }

    @Override
    public Logger getParentLogger() {
      return Logger.getLogger("explain-test");
    }

    @Override
    public <T> T unwrap(Class<T> type) throws SQLException {
      throw new SQLException("not a wrapper");
    }

    @Override
    public boolean isWrapperFor(Class<?> type) {
      return false;
    }
  }
}

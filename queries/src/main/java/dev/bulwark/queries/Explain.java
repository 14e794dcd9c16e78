package dev.bulwark.queries;

import dev.bulwark.core.Secrets;
import dev.bulwark.core.internal.Checks;
import java.io.IOException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.regex.Pattern;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;

/**
 * PostgreSQL's plan of one statement, with assertions for tests that prove an index is used: the
 * fix for indexes that were defined but never applied, and for queries that do not use them.
 *
 * <pre>{@code
 * Explain.of(dataSource, "select * from appointments where customer_id = ?", 42)
 *     .assertNoSequentialScan("appointments")
 *     .assertUsesIndex("appointments_customer_id_idx");
 * }</pre>
 *
 * <p>{@link #of(DataSource, String, Object...) of} runs {@code EXPLAIN (VERBOSE, FORMAT JSON)} for
 * the statement and reads the JSON plan into a tree of {@link ExplainPlan} nodes; the statement
 * itself does not run. {@link #analyze(DataSource, String, Object...) analyze} runs {@code EXPLAIN
 * (ANALYZE, VERBOSE, FORMAT JSON)}, which <b>executes the statement</b> and adds the rows each node
 * returned; it is off unless asked for.
 *
 * <p><b>Parameters.</b> The statement is written with JDBC's {@code ?} and the values are bound on
 * a {@link PreparedStatement} with {@link PreparedStatement#setObject(int, Object)}, as the
 * application binds them, so that the plan is the one for the same types. PostgreSQL plans the
 * statement inside {@code EXPLAIN} for these values every time: a <em>custom plan</em>, whose
 * estimates use the values (a rare value can get an index scan where a common one of the same
 * column gets a sequential scan). That holds too once pgjdbc has made the {@code EXPLAIN} a
 * server-side prepared statement (from its fifth use on a connection, {@code prepareThreshold}).
 * The application's own statement, prepared the same way, may instead run a <em>generic plan</em>,
 * made without the values: once pgjdbc has server-prepared it and PostgreSQL has run it five times
 * with custom plans (so from about its tenth execution on a connection), PostgreSQL uses the
 * generic plan when its estimated cost is not above the custom plans' average ({@code
 * plan_cache_mode = auto}). To see that plan, {@code PREPARE} the statement on a connection, {@code
 * SET plan_cache_mode = force_generic_plan} there, and explain {@code "EXECUTE name('value')"} on
 * it with {@link #of(Connection, String, Object...)}: an {@code EXECUTE} takes literal values, not
 * {@code ?} parameters.
 *
 * <p><b>What the planner sees.</b> It chooses by the table's statistics and size. Run {@code
 * ANALYZE} after seeding a table, or the plan is made for the table as it was before. Seed it with
 * rows shaped like production's, and enough of them that reading the whole table clearly costs more
 * than the index (100,000 rows take a fraction of a second with {@code generate_series}): a table
 * of a few pages is read with a sequential scan whatever indexes it has, since that is the cheapest
 * way to read a few pages. Name the tables and indexes as PostgreSQL's catalog spells them:
 * unquoted names are lowercase there, and a partitioned table is read through its partitions, each
 * under its own name.
 *
 * <p><b>Transactions.</b> On a {@link DataSource}, the {@code EXPLAIN} runs on a connection of its
 * own in a transaction that is rolled back: read-only for a plain {@code EXPLAIN} (so a second,
 * data-modifying statement in the text fails instead of running), in the connection's own mode for
 * {@code ANALYZE} (read-write, unless the pool makes its connections read-only), whose changes are
 * undone (a sequence still advances). The connection's auto-commit and read-only settings are
 * restored before it is closed. On a {@link Connection}, it runs in whatever transaction the
 * connection is in, sees what that transaction sees, and commits nothing and rolls nothing back: in
 * auto-commit, an {@code ANALYZE} of an {@code insert}, {@code update} or {@code delete} commits
 * its change.
 *
 * <p><b>Failures.</b> An assertion that fails throws {@link AssertionError} whose message names the
 * table or index, the statement and the whole plan as {@link ExplainPlan#toString()} writes it. A
 * statement that cannot be explained (a syntax error, a missing table, a wrong number of
 * parameters, a connection that cannot be had, a server that does not answer within 60 seconds)
 * throws {@link IllegalStateException} naming the statement and the driver's error; its message
 * shows no parameter value, and a URL in the driver's text is masked by {@link
 * Secrets#maskText(String)}.
 *
 * <p>An instance is immutable and thread-safe; the factories are thread-safe, and use the
 * connection they are given from the calling thread only.
 */
public final class Explain {

  /** How long the {@code EXPLAIN} may take before the driver cancels it: 60 seconds. */
  static final int TIME_LIMIT_SECONDS = 60;

  private static final String PLAIN = "EXPLAIN (VERBOSE, FORMAT JSON) ";
  private static final String ANALYZE = "EXPLAIN (ANALYZE, VERBOSE, FORMAT JSON) ";
  private static final Pattern ALREADY_EXPLAIN =
      Pattern.compile("\\s*explain\\b.*", Pattern.CASE_INSENSITIVE | Pattern.DOTALL);

  private final String sql;
  private final boolean analyzed;
  private final ExplainPlan plan;

  private Explain(String sql, boolean analyzed, ExplainPlan plan) {
    this.sql = sql;
    this.analyzed = analyzed;
    this.plan = plan;
  }

  /**
   * Explains a statement on a connection of the data source, without running it: {@code EXPLAIN
   * (VERBOSE, FORMAT JSON)}, in a read-only transaction that is rolled back.
   *
   * @param dataSource a PostgreSQL data source: a {@code Pools.postgres} pool or any other
   * @param sql the statement, one, with {@code ?} for its parameters and without {@code EXPLAIN}
   * @param parameters the values of the {@code ?}, in order, bound with {@code setObject} (an
   *     {@code Integer}, {@code Long}, {@code String}, {@code UUID}, {@code LocalDate}, {@code
   *     OffsetDateTime}, ...; a {@code null} binds SQL {@code NULL}). An {@code Object[]} given
   *     alone is the parameters, not one array parameter: wrap it as {@code new Object[] {ids}}
   * @return the plan, for its assertions
   * @throws NullPointerException if {@code dataSource}, {@code sql} or {@code parameters} is null
   * @throws IllegalArgumentException {@code "sql must not be blank, but was "<sql>""}, or {@code
   *     "sql must be the statement itself, without EXPLAIN, but was "<sql>""}
   * @throws IllegalStateException {@code "EXPLAIN failed for: <sql>"} and, on the next line, the
   *     driver's error, when the statement cannot be explained
   */
  public static Explain of(DataSource dataSource, String sql, @Nullable Object... parameters) {
    return onOwnConnection(dataSource, sql, parameters, false);
  }

  /**
   * Explains a statement on the given connection, without running it: {@code EXPLAIN (VERBOSE,
   * FORMAT JSON)}, in the connection's current transaction, if any; the connection stays open.
   *
   * @param connection an open PostgreSQL connection, used from this thread only
   * @param sql the statement, one, with {@code ?} for its parameters and without {@code EXPLAIN}
   * @param parameters the values of the {@code ?}, in order, as for {@link #of(DataSource, String,
   *     Object...)}
   * @return the plan, for its assertions
   * @throws NullPointerException if {@code connection}, {@code sql} or {@code parameters} is null
   * @throws IllegalArgumentException {@code "sql must not be blank, but was "<sql>""}, or {@code
   *     "sql must be the statement itself, without EXPLAIN, but was "<sql>""}
   * @throws IllegalStateException {@code "EXPLAIN failed for: <sql>"} and, on the next line, the
   *     driver's error, when the statement cannot be explained
   */
  public static Explain of(Connection connection, String sql, @Nullable Object... parameters) {
    return onConnection(connection, sql, parameters, false);
  }

  /**
   * Runs a statement under {@code EXPLAIN (ANALYZE, VERBOSE, FORMAT JSON)} on a connection of the
   * data source: <b>the statement is executed</b>, in a transaction that is then rolled back, and
   * each node of the plan carries the rows it returned and how often it ran. It takes as long as
   * the statement does, up to 60 seconds.
   *
   * @param dataSource a PostgreSQL data source
   * @param sql the statement, one, with {@code ?} for its parameters and without {@code EXPLAIN}
   * @param parameters the values of the {@code ?}, in order, as for {@link #of(DataSource, String,
   *     Object...)}
   * @return the analyzed plan, for its assertions
   * @throws NullPointerException if {@code dataSource}, {@code sql} or {@code parameters} is null
   * @throws IllegalArgumentException {@code "sql must not be blank, but was "<sql>""}, or {@code
   *     "sql must be the statement itself, without EXPLAIN, but was "<sql>""}
   * @throws IllegalStateException {@code "EXPLAIN failed for: <sql>"} and, on the next line, the
   *     driver's error, when the statement cannot be explained or fails as it runs
   */
  public static Explain analyze(DataSource dataSource, String sql, @Nullable Object... parameters) {
    return onOwnConnection(dataSource, sql, parameters, true);
  }

  /**
   * Runs a statement under {@code EXPLAIN (ANALYZE, VERBOSE, FORMAT JSON)} on the given connection:
   * <b>the statement is executed</b>, in the connection's current transaction, which is neither
   * committed nor rolled back; in auto-commit, its changes are committed. It takes as long as the
   * statement does, up to 60 seconds.
   *
   * @param connection an open PostgreSQL connection, used from this thread only
   * @param sql the statement, one, with {@code ?} for its parameters and without {@code EXPLAIN}
   * @param parameters the values of the {@code ?}, in order, as for {@link #of(DataSource, String,
   *     Object...)}
   * @return the analyzed plan, for its assertions
   * @throws NullPointerException if {@code connection}, {@code sql} or {@code parameters} is null
   * @throws IllegalArgumentException {@code "sql must not be blank, but was "<sql>""}, or {@code
   *     "sql must be the statement itself, without EXPLAIN, but was "<sql>""}
   * @throws IllegalStateException {@code "EXPLAIN failed for: <sql>"} and, on the next line, the
   *     driver's error, when the statement cannot be explained or fails as it runs
   */
  public static Explain analyze(Connection connection, String sql, @Nullable Object... parameters) {
    return onConnection(connection, sql, parameters, true);
  }

  private static Explain onOwnConnection(
      DataSource dataSource, String sql, @Nullable Object[] parameters, boolean analyze) {
    Objects.requireNonNull(dataSource, "dataSource");
    checkStatement(sql, parameters);
    try (Connection connection = dataSource.getConnection()) {
      boolean autoCommit = connection.getAutoCommit();
      boolean readOnly = connection.isReadOnly();
      // Read-only first: pgjdbc refuses to change it inside a transaction, and it then opens the
      // transaction with BEGIN READ ONLY. ANALYZE keeps the connection's own setting.
      if (!analyze) {
        connection.setReadOnly(true);
      }
      connection.setAutoCommit(false);
      Explain explain;
      try {
        explain = run(connection, sql, parameters, analyze);
      } catch (SQLException | RuntimeException e) {
        try {
          restore(connection, autoCommit, readOnly);
        } catch (SQLException suppressed) {
          e.addSuppressed(suppressed);
        }
        throw e;
      }
      restore(connection, autoCommit, readOnly);
      return explain;
    } catch (SQLException e) {
      throw failed(sql, e);
    }
  }

  private static void restore(Connection connection, boolean autoCommit, boolean readOnly)
      throws SQLException {
    connection.rollback();
    connection.setAutoCommit(autoCommit);
    if (connection.isReadOnly() != readOnly) {
      connection.setReadOnly(readOnly);
    }
  }

  private static Explain onConnection(
      Connection connection, String sql, @Nullable Object[] parameters, boolean analyze) {
    Objects.requireNonNull(connection, "connection");
    checkStatement(sql, parameters);
    try {
      return run(connection, sql, parameters, analyze);
    } catch (SQLException e) {
      throw failed(sql, e);
    }
  }

  private static void checkStatement(String sql, @Nullable Object[] parameters) {
    Checks.notBlank("sql", sql);
    if (ALREADY_EXPLAIN.matcher(sql).matches()) {
      throw Checks.invalid(
          "sql must be the statement itself, without EXPLAIN, but was \"%s\"", sql);
    }
    Objects.requireNonNull(parameters, "parameters");
  }

  private static Explain run(
      Connection connection, String sql, @Nullable Object[] parameters, boolean analyze)
      throws SQLException {
    try (PreparedStatement statement =
        connection.prepareStatement((analyze ? ANALYZE : PLAIN) + sql)) {
      statement.setQueryTimeout(TIME_LIMIT_SECONDS);
      for (int i = 0; i < parameters.length; i++) {
        statement.setObject(i + 1, parameters[i]);
      }
      try (ResultSet result = statement.executeQuery()) {
        String json = result.next() ? result.getString(1) : null;
        if (json == null) {
          throw new IllegalStateException("EXPLAIN returned no plan for: " + sql);
        }
        try {
          return new Explain(sql, analyze, PlanJson.parse(json));
        } catch (IOException e) {
          throw new IllegalStateException(
              "EXPLAIN returned a plan that cannot be read, for: " + sql + "\n" + e.getMessage(),
              e);
        }
      }
    }
  }

  /**
   * The failure of a statement that could not be explained: the statement, then the driver's error,
   * masked. The cause is kept for its SQLState and stack; pgjdbc's messages carry the host and port
   * at most, never the password.
   */
  private static IllegalStateException failed(String sql, SQLException e) {
    return new IllegalStateException(
        "EXPLAIN failed for: "
            + sql
            + "\n"
            + Secrets.maskText(e.getClass().getName() + ": " + e.getMessage()),
        e);
  }

  /** {@return the statement, as given, without {@code EXPLAIN}} */
  public String sql() {
    return sql;
  }

  /** {@return whether the statement ran under {@code EXPLAIN ANALYZE}, so that nodes carry rows} */
  public boolean analyzed() {
    return analyzed;
  }

  /**
   * Returns the plan's root node, for checks of your own; {@link ExplainPlan#nodes()} flattens it.
   *
   * @return the root node of the plan
   */
  public ExplainPlan plan() {
    return plan;
  }

  /**
   * Asserts that no node of the plan reads the table with a sequential scan ({@code Seq Scan}, or
   * {@code Parallel Seq Scan} under a {@code Gather}), anywhere in the tree: under joins, in
   * subplans, in CTEs. Since a misspelt name would otherwise pass, the table must also be read by
   * some node of the plan (an index scan, a bitmap heap scan, an update, ...).
   *
   * @param table the table as the plan names it: {@code "appointments"}, or {@code
   *     "public.appointments"} to match its schema too; a partition is named itself
   * @return this, for more assertions
   * @throws AssertionError {@code "expected no sequential scan on <table>, but found Seq Scan on
   *     <table> <alias>, ..."}, or {@code "expected no sequential scan on <table>, but the plan
   *     reads no table <table> (it reads <tables>)"}; each followed by {@code "\nstatement:
   *     <sql>\nplan:\n<plan>"}
   * @throws NullPointerException if {@code table} is null
   * @throws IllegalArgumentException {@code "table must not be blank, but was "<table>""}, or
   *     {@code "table must be a name as the plan writes it: unquoted, without surrounding spaces
   *     (appointments or public.appointments), but was "<table>""}
   */
  public Explain assertNoSequentialScan(String table) {
    checkName("table", table, "appointments or public.appointments");
    List<String> scans = new ArrayList<>();
    List<String> tables = new ArrayList<>();
    boolean read = false;
    for (ExplainPlan node : plan.nodes()) {
      if (!node.reads(table)) {
        addName(tables, node.relationName(), node.schema(), table);
        continue;
      }
      read = true;
      if (node.isSequentialScan()) {
        scans.add(node.describe());
      }
    }
    String expected = "expected no sequential scan on " + table;
    if (!scans.isEmpty()) {
      throw failure(expected + ", but found " + String.join(", ", scans));
    }
    if (!read) {
      throw failure(
          expected
              + ", but the plan reads no table "
              + table
              + (tables.isEmpty() ? " (it reads no table)" : " (it reads " + list(tables) + ")"));
    }
    return this;
  }

  /**
   * Asserts that some node of the plan scans the index: an {@code Index Scan}, an {@code Index Only
   * Scan} or a {@code Bitmap Index Scan} naming it, anywhere in the tree.
   *
   * @param index the index as the plan names it: {@code "appointments_customer_id_idx"}, or with
   *     its schema, {@code "public.appointments_customer_id_idx"}
   * @return this, for more assertions
   * @throws AssertionError {@code "expected a scan using index <index>, but the plan uses no
   *     index"}, or {@code "expected a scan using index <index>, but the plan uses only
   *     <indexes>"}; each followed by {@code "\nstatement: <sql>\nplan:\n<plan>"}
   * @throws NullPointerException if {@code index} is null
   * @throws IllegalArgumentException {@code "index must not be blank, but was "<index>""}, or
   *     {@code "index must be a name as the plan writes it: unquoted, without surrounding spaces
   *     (appointments_customer_id_idx or public.appointments_customer_id_idx), but was "<index>""}
   */
  public Explain assertUsesIndex(String index) {
    checkName(
        "index", index, "appointments_customer_id_idx or public.appointments_customer_id_idx");
    List<String> indexes = new ArrayList<>();
    for (ExplainPlan node : plan.nodes()) {
      if (node.isIndexScan()) {
        if (node.uses(index)) {
          return this;
        }
        addName(indexes, node.indexName(), node.schema(), index);
      }
    }
    String expected = "expected a scan using index " + index;
    throw failure(
        indexes.isEmpty()
            ? expected + ", but the plan uses no index"
            : expected + ", but the plan uses only " + list(indexes));
  }

  private static void checkName(String setting, String value, String examples) {
    Checks.notBlank(setting, value);
    if (!value.strip().equals(value) || value.indexOf('"') >= 0) {
      throw Checks.invalid(
          "%s must be a name as the plan writes it: unquoted, without surrounding spaces (%s), but"
              + " was \"%s\"",
          setting, examples, value);
    }
  }

  /** Adds a name the plan holds, with its schema when the user's name has one, once. */
  private static void addName(
      List<String> names, @Nullable String name, @Nullable String schema, String given) {
    if (name == null) {
      return;
    }
    String shown = given.indexOf('.') >= 0 && schema != null ? schema + "." + name : name;
    if (!names.contains(shown)) {
      names.add(shown);
    }
  }

  private static String list(List<String> names) {
    return String.join(", ", names);
  }

  private AssertionError failure(String what) {
    return new AssertionError(what + "\nstatement: " + sql + "\nplan:\n" + plan);
  }

  /**
   * Returns the statement and its plan as text: {@code "EXPLAIN <sql>"} (or {@code "EXPLAIN ANALYZE
   * <sql>"}), then the plan on the following lines as {@link ExplainPlan#toString()} writes it.
   */
  @Override
  public String toString() {
    return (analyzed ? "EXPLAIN ANALYZE " : "EXPLAIN ") + sql + "\n" + plan;
  }
}

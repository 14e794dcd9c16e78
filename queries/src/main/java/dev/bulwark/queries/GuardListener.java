package dev.bulwark.queries;

import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import net.ttddyy.dsproxy.ExecutionInfo;
import net.ttddyy.dsproxy.QueryInfo;
import net.ttddyy.dsproxy.listener.QueryExecutionListener;
import org.jspecify.annotations.Nullable;

/**
 * What datasource-proxy calls around every statement and every JDBC method of a guarded data
 * source. Before a statement: counts it in the thread's scope (which may throw under {@link
 * QueryPolicy#THROW}, so that the statement does not run) and applies the default fetch size.
 * After: times it by shape. After {@code ResultSet.next()} returned true ({@link RowCounting}):
 * counts the row. Thread-safe: its state is the thread's.
 */
final class GuardListener implements QueryExecutionListener {
  /** The statement running on this thread: its shape, found once, and its start. */
  private static final ThreadLocal<Running> RUNNING = ThreadLocal.withInitial(Running::new);

  /** Mutable, and only ever touched by its own thread. */
  private static final class Running {
    Shapes.@Nullable Shape shape;
    long startNanos;
  }

  private final QueryGuard guard;

  GuardListener(QueryGuard guard) {
    this.guard = guard;
  }

  @Override
  public void beforeQuery(ExecutionInfo execution, List<QueryInfo> queries) {
    Running running = RUNNING.get();
    // A batch runs once: it counts as one statement, of its first statement's shape.
    Shapes.@Nullable Shape shape =
        queries.isEmpty() ? null : guard.shape(queries.get(0).getQuery());
    running.shape = shape;
    QueryScope scope = guard.currentScope();
    if (scope != null && shape != null) {
      scope.statement(shape);
    }
    int fetchSize = guard.fetchSize();
    if (fetchSize > 0) {
      fetchSize(execution.getStatement(), fetchSize);
    }
    running.startNanos = System.nanoTime();
  }

  private static void fetchSize(@Nullable Statement statement, int rows) {
    if (statement == null) {
      return;
    }
    try {
      if (statement.getFetchSize() == 0) {
        statement.setFetchSize(rows);
      }
    } catch (SQLException e) {
      // A closed statement fails on its own when it runs.
    }
  }

  @Override
  public void afterQuery(ExecutionInfo execution, List<QueryInfo> queries) {
    Running running = RUNNING.get();
    long nanos = System.nanoTime() - running.startNanos;
    Shapes.@Nullable Shape shape = running.shape;
    running.shape = null;
    if (shape != null) {
      guard.timed(shape, nanos, guard.currentScope());
    }
  }

  /** A {@code ResultSet.next()} returned true: counts the row, which may throw under THROW. */
  void row() {
    guard.rows(1);
    QueryScope scope = guard.currentScope();
    if (scope != null) {
      scope.row();
    }
  }
}

package dev.bulwark.queries;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.jspecify.annotations.Nullable;

/**
 * One unit of work (a request, a job run) whose statements a {@link QueryGuard} counts, opened by
 * {@link QueryGuard#begin(String)} and closed in a try-with-resources:
 *
 * <pre>{@code
 * try (QueryScope scope = guard.begin("GET /customers/{id}")) {
 *   service.customer(id);
 * } // an N+1, a budget or a rows limit broken in it is logged (or thrown) here
 * }</pre>
 *
 * <p>The scope is the current one of the thread that opened it until it is closed; an inner scope
 * opened meanwhile takes its place and gives it back when it closes. Statements that run on other
 * threads count here when their tasks are wrapped by {@link QueryGuard#wrap(Runnable)} or {@link
 * QueryGuard#wrap(java.util.concurrent.Executor)}. Counting is thread-safe; {@link #close()} must
 * be called once, by the thread that opened the scope.
 *
 * <p>At most {@link QueryGuard.Builder#maxShapes(int)} shapes are counted apart per scope (the rest
 * count under {@code other}), and at most 100 events are kept.
 */
public final class QueryScope implements AutoCloseable {
  /** The most events a scope keeps. */
  static final int MAX_EVENTS = 100;

  /** Where the shapes past {@code maxShapes} are counted. */
  static final String OTHER = "other";

  private final QueryGuard guard;
  private final String name;
  private final int nPlusOneThreshold;
  private final long maxStatements;
  private final long rowsWarning;
  private final long rowsLimit;
  private final @Nullable QueryScope outer;
  private final Thread owner;
  private final AtomicLong statements = new AtomicLong();
  private final AtomicLong rows = new AtomicLong();
  private final Map<String, ShapeCount> shapes = new ConcurrentHashMap<>();
  private final List<QueryEvent> events = new ArrayList<>(); // guarded by itself
  private volatile @Nullable String budgetCallSite;
  private volatile @Nullable String rowsCallSite;
  private volatile boolean thrownBudget;
  private volatile boolean thrownRows;
  private volatile boolean closed;

  /** The executions of one shape in this scope. */
  private static final class ShapeCount {
    final AtomicLong count = new AtomicLong();
    volatile @Nullable String callSite;
    volatile boolean thrown;
  }

  QueryScope(QueryGuard guard, String name, ScopeLimits limits, @Nullable QueryScope outer) {
    this.guard = guard;
    this.name = name;
    this.nPlusOneThreshold = limits.nPlusOneThresholdOr(guard.nPlusOneThreshold());
    this.maxStatements = limits.maxStatementsOr(guard.maxStatements());
    this.rowsWarning = limits.rowsWarningOr(guard.rowsWarning());
    this.rowsLimit = limits.rowsLimitOr(guard.rowsLimit());
    this.outer = outer;
    this.owner = Thread.currentThread();
  }

  /** {@return the scope's name, as given to {@link QueryGuard#begin(String)}} */
  public String name() {
    return name;
  }

  /** {@return statements run in the scope so far; a JDBC batch counts once} */
  public long statements() {
    return statements.get();
  }

  /** {@return rows read in the scope so far: {@code ResultSet.next()} calls that returned true} */
  public long rows() {
    return rows.get();
  }

  /**
   * What the scope has seen so far: its counts, its shapes and its events. Under {@link
   * QueryPolicy#LOG} and {@link QueryPolicy#COUNT} the N+1, budget and rows events are counted and
   * logged once, when the scope closes, with their final counts; a recording taken before that
   * lists them too, with their counts so far, so that {@link QueryAssert} fails on a scope that is
   * still open.
   *
   * @return the recording
   */
  public QueryRecording recording() {
    Map<String, Long> counts = new LinkedHashMap<>();
    for (Map.Entry<String, ShapeCount> entry : shapes.entrySet()) {
      counts.put(entry.getKey(), entry.getValue().count.get());
    }
    List<QueryEvent> copy;
    synchronized (events) {
      copy = new ArrayList<>(events);
    }
    if (!closed) {
      for (QueryEvent event : broken()) {
        if (copy.size() < MAX_EVENTS) {
          copy.add(event);
        }
      }
    }
    return new QueryRecording(name, statements.get(), rows.get(), counts, copy);
  }

  /** Counts one statement (or batch) of this shape; throws before it runs under THROW. */
  void statement(Shapes.Shape shape) {
    if (closed) {
      return;
    }
    long total = statements.incrementAndGet();
    ShapeCount count = shapes.get(shape.text());
    if (count == null) {
      String key = shapes.size() >= guard.maxShapes() ? OTHER : shape.text();
      count = shapes.computeIfAbsent(key, k -> new ShapeCount());
    }
    long executions = count.count.incrementAndGet();
    if (executions == nPlusOneThreshold + 1L) {
      count.callSite = guard.callSites().find();
      if (guard.policy() == QueryPolicy.THROW) {
        count.thrown = true;
        fail(
            new QueryEvent(
                QueryEvent.Kind.N_PLUS_ONE,
                name,
                shape.text(),
                executions,
                nPlusOneThreshold,
                count.callSite,
                null));
      }
    }
    if (total == maxStatements + 1) {
      budgetCallSite = guard.callSites().find();
      if (guard.policy() == QueryPolicy.THROW) {
        thrownBudget = true;
        fail(
            new QueryEvent(
                QueryEvent.Kind.STATEMENT_BUDGET,
                name,
                null,
                total,
                maxStatements,
                budgetCallSite,
                null));
      }
    }
  }

  /** Counts one row read; throws under THROW when it is one past the limit. */
  void row() {
    if (closed) {
      return;
    }
    long read = rows.incrementAndGet();
    if (read == rowsWarning + 1 || read == rowsLimit + 1) {
      if (rowsCallSite == null) {
        rowsCallSite = guard.callSites().find();
      }
      if (read == rowsLimit + 1 && guard.policy() == QueryPolicy.THROW) {
        thrownRows = true;
        fail(
            new QueryEvent(
                QueryEvent.Kind.ROWS_LIMIT,
                name,
                null,
                read,
                rowsLimit,
                guard.callSites().find(),
                null));
      }
    }
  }

  /** Keeps a slow statement's event. */
  void slow(Shapes.Shape shape, Duration elapsed) {
    add(
        new QueryEvent(
            QueryEvent.Kind.SLOW_STATEMENT,
            name,
            shape.text(),
            1,
            guard.slowThreshold().toMillis(),
            null,
            elapsed));
  }

  private void fail(QueryEvent event) {
    add(event);
    guard.counted(event);
    throw new QueryLimitExceededException(event);
  }

  private void add(QueryEvent event) {
    synchronized (events) {
      if (events.size() < MAX_EVENTS) {
        events.add(event);
      }
    }
  }

  /**
   * Ends the scope: makes its events (an N+1 per shape past the threshold, the budget, the rows),
   * counts them, logs them under {@link QueryPolicy#LOG}, and gives the thread its outer scope
   * back. Statements that run in the scope's tasks after this are no longer counted here. A second
   * call does nothing.
   */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    for (QueryEvent event : broken()) {
      add(event);
      guard.counted(event);
      guard.logged(event);
    }
    if (Thread.currentThread() == owner) {
      guard.restore(this, outer);
    }
  }

  /** The limits broken so far and not thrown: the events the scope makes when it closes. */
  private List<QueryEvent> broken() {
    List<QueryEvent> ended = new ArrayList<>();
    for (Map.Entry<String, ShapeCount> entry : shapes.entrySet()) {
      ShapeCount count = entry.getValue();
      long executions = count.count.get();
      if (executions > nPlusOneThreshold && !count.thrown) {
        ended.add(
            new QueryEvent(
                QueryEvent.Kind.N_PLUS_ONE,
                name,
                entry.getKey(),
                executions,
                nPlusOneThreshold,
                count.callSite,
                null));
      }
    }
    long total = statements.get();
    if (total > maxStatements && !thrownBudget) {
      ended.add(
          new QueryEvent(
              QueryEvent.Kind.STATEMENT_BUDGET,
              name,
              null,
              total,
              maxStatements,
              budgetCallSite,
              null));
    }
    long read = rows.get();
    if (read > rowsLimit && !thrownRows) {
      ended.add(
          new QueryEvent(
              QueryEvent.Kind.ROWS_LIMIT, name, null, read, rowsLimit, rowsCallSite, null));
    } else if (read > rowsWarning && read <= rowsLimit) {
      ended.add(
          new QueryEvent(
              QueryEvent.Kind.ROWS_WARNING, name, null, read, rowsWarning, rowsCallSite, null));
    }
    return ended;
  }

  boolean isClosed() {
    return closed;
  }

  /** {@return {@code QueryScope[GET /x: 3 statements, 10 rows]}} */
  @Override
  public String toString() {
    return "QueryScope["
        + name
        + ": "
        + statements.get()
        + " statements, "
        + rows.get()
        + " rows"
        + (closed ? ", closed" : "")
        + "]";
  }
}

package dev.bulwark.queries;

import dev.bulwark.core.internal.Checks;
import dev.bulwark.core.internal.Meters;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.StringJoiner;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import javax.sql.DataSource;
import net.ttddyy.dsproxy.support.ProxyDataSourceBuilder;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Watches every statement that runs through the data sources it wraps, whatever runs it (plain
 * JDBC, jOOQ, JPA): counts statements and rows per unit of work, reports the same statement shape
 * run more than a threshold of times in one unit of work (the N+1 signature) with the line of user
 * code that loops, guards the rows read and the statement budget, and times statements by shape.
 *
 * <pre>{@code
 * QueryGuard guard = QueryGuard.builder().meterRegistry(registry).build();
 * DataSource dataSource = guard.wrap(pool);        // hand this one to the application
 * try (QueryScope scope = guard.begin("GET /customers/{id}")) {
 *   customers.find(id);                             // every statement in here is counted
 * }
 * }</pre>
 *
 * <p>The wrapped data source behaves as the original: the same connections, statements and results,
 * through datasource-proxy's JDBC proxies. What a limit does is the {@link QueryPolicy}: {@code
 * LOG} (the default) logs each event once when its scope ends, {@code COUNT} only counts it, {@code
 * THROW} throws {@link QueryLimitExceededException} from the statement that broke it. A statement
 * outside any scope is timed and watched for slowness only.
 *
 * <p>Meters, when a registry is given, tagged {@code name}: a timer {@code
 * bulwark.queries.statements} tagged {@code shape} (the shape's 12-hex-digit id; at most {@code
 * maxShapes} ids, then {@code other}, so the meters stay bounded), counters {@code
 * bulwark.queries.events} tagged {@code kind} ({@code n_plus_one}, {@code statement_budget}, {@code
 * rows_warning}, {@code rows_limit}, {@code slow_statement}) and {@code bulwark.queries.rows}.
 * {@link #shapes()} maps the ids back to the shapes.
 *
 * <p>Slow statements are logged at WARN at most once per shape per minute, with the scope's name;
 * every one is counted. Thread-safe.
 */
public final class QueryGuard {
  private static final Logger log = LoggerFactory.getLogger(QueryGuard.class);

  /** Default name: {@code "default"}. */
  static final String DEFAULT_NAME = "default";

  /** Default N+1 threshold: a shape may run 5 times in one scope. */
  static final int DEFAULT_N_PLUS_ONE_THRESHOLD = 5;

  /** Default slow threshold: 1 second. */
  static final Duration DEFAULT_SLOW_THRESHOLD = Duration.ofSeconds(1);

  /** Default most shapes with meters of their own: 500. */
  static final int DEFAULT_MAX_SHAPES = 500;

  /** The least time between two log lines about one slow shape: 1 minute. */
  static final long SLOW_LOG_INTERVAL_NANOS = TimeUnit.MINUTES.toNanos(1);

  /** The most scope names with limits of their own. */
  static final int MAX_SCOPE_LIMITS = 1_000;

  static final String STATEMENTS_METER = Meters.name("queries", "statements");
  static final String EVENTS_METER = Meters.name("queries", "events");

  private final String name;
  private final QueryPolicy policy;
  private final int nPlusOneThreshold;
  private final long maxStatements;
  private final long rowsWarning;
  private final long rowsLimit;
  private final Duration slowThreshold;
  private final long slowThresholdNanos;
  private final int maxShapes;
  private final int fetchSize;
  private final Map<String, ScopeLimits> limits;
  private final boolean countsRows;
  private final CallSites callSites;
  private final Shapes shapeCache = new Shapes();

  // One per guard, not static: two guards (two databases) have scopes of their own.
  @SuppressWarnings("ThreadLocalUsage")
  private final ThreadLocal<@Nullable QueryScope> current = new ThreadLocal<>();

  private final @Nullable MeterRegistry registry;
  private final Map<String, Timer> timers = new ConcurrentHashMap<>();
  private final Map<String, String> shapeTexts = new ConcurrentHashMap<>();
  private final Map<String, AtomicLong> slowLogged = new ConcurrentHashMap<>();
  private final Map<QueryEvent.Kind, Counter> eventCounters = new EnumMap<>(QueryEvent.Kind.class);
  private final @Nullable Counter rowsCounter;
  private final GuardListener listener;

  private QueryGuard(Builder b) {
    this.name = b.name == null ? DEFAULT_NAME : b.name;
    this.policy = b.policy == null ? QueryPolicy.LOG : b.policy;
    this.nPlusOneThreshold =
        b.nPlusOneThreshold < 0 ? DEFAULT_N_PLUS_ONE_THRESHOLD : b.nPlusOneThreshold;
    this.maxStatements = b.maxStatements < 0 ? Long.MAX_VALUE - 1 : b.maxStatements;
    this.rowsWarning = b.rowsWarning < 0 ? Long.MAX_VALUE - 1 : b.rowsWarning;
    this.rowsLimit = b.rowsLimit < 0 ? Long.MAX_VALUE - 1 : b.rowsLimit;
    this.slowThreshold = b.slowThreshold == null ? DEFAULT_SLOW_THRESHOLD : b.slowThreshold;
    this.slowThresholdNanos = Checks.saturatedNanos(slowThreshold);
    this.maxShapes = b.maxShapes < 0 ? DEFAULT_MAX_SHAPES : b.maxShapes;
    this.fetchSize = b.fetchSize;
    this.limits = Map.copyOf(b.limits);
    this.countsRows =
        b.rowsWarning >= 0
            || b.rowsLimit >= 0
            || limits.values().stream().anyMatch(ScopeLimits::guardsRows);
    this.callSites = new CallSites(List.copyOf(b.callSitePackages));
    this.registry = b.meterRegistry;
    if (registry != null) {
      for (QueryEvent.Kind kind : QueryEvent.Kind.values()) {
        eventCounters.put(
            kind,
            Counter.builder(EVENTS_METER)
                .description("Limits broken by units of work, and slow statements")
                .tag(Meters.NAME_TAG, name)
                .tag("kind", kind.tag())
                .register(registry));
      }
      rowsCounter =
          Counter.builder(Meters.name("queries", "rows"))
              .description("Rows read through the guard's data sources")
              .tag(Meters.NAME_TAG, name)
              .register(registry);
    } else {
      rowsCounter = null;
    }
    this.listener = new GuardListener(this);
  }

  /**
   * Returns a builder. Every setting has a default.
   *
   * @return a new builder
   */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Wraps a data source: the returned one hands out the same connections, and this guard sees every
   * statement, prepared statement and batch run through them, and, when a rows limit is set ({@code
   * rowsWarning}, {@code rowsLimit}, on the guard or on a scope), every row read.
   *
   * @param dataSource the data source to watch: a pool or any other
   * @return the watched data source; close the original (a pool) as before
   * @throws NullPointerException if {@code dataSource} is null
   */
  public DataSource wrap(DataSource dataSource) {
    Objects.requireNonNull(dataSource, "dataSource");
    ProxyDataSourceBuilder proxy =
        ProxyDataSourceBuilder.create(name, dataSource).listener(listener);
    if (countsRows) {
      // Only then: a proxied result set costs every getter of every row a reflective call.
      proxy.proxyResultSet(RowCounting.factory(listener));
    }
    return proxy.build();
  }

  /**
   * Opens a unit of work on this thread; close it in a try-with-resources.
   *
   * @param scope the unit of work's name, as in {@code "GET /customers/{id}"}: a route, not a path
   *     with ids in it, since limits are looked up and events logged by it; not blank
   * @return the scope, now this thread's current one
   * @throws IllegalArgumentException if {@code scope} is blank
   */
  public QueryScope begin(String scope) {
    Checks.notBlank("scope", scope);
    QueryScope opened =
        new QueryScope(this, scope, limits.getOrDefault(scope, ScopeLimits.none()), current.get());
    current.set(opened);
    return opened;
  }

  /** {@return this thread's open scope, if any} */
  public java.util.Optional<QueryScope> current() {
    QueryScope scope = current.get();
    return scope == null || scope.isClosed()
        ? java.util.Optional.empty()
        : java.util.Optional.of(scope);
  }

  /**
   * A task that runs in the scope that is current now, on whatever thread runs it, so that its
   * statements count in that scope.
   *
   * @param task the task
   * @return the task, carrying the current scope (or none)
   */
  public Runnable wrap(Runnable task) {
    Objects.requireNonNull(task, "task");
    QueryScope scope = current.get();
    return () -> {
      QueryScope before = current.get();
      current.set(scope);
      try {
        task.run();
      } finally {
        if (before == null) {
          current.remove();
        } else {
          current.set(before);
        }
      }
    };
  }

  /**
   * An executor whose tasks run in the scope that was current when each was submitted.
   *
   * @param executor the executor that runs the tasks
   * @return the wrapping executor
   */
  public Executor wrap(Executor executor) {
    Objects.requireNonNull(executor, "executor");
    return task -> executor.execute(wrap(task));
  }

  /**
   * The shapes that have meters of their own, by id: what the {@code shape} tag of {@code
   * bulwark.queries.statements} stands for.
   *
   * @return a copy, at most {@code maxShapes} entries
   */
  public Map<String, String> shapes() {
    return Map.copyOf(shapeTexts);
  }

  /** {@return the guard's name: its meters' {@code name} tag} */
  public String name() {
    return name;
  }

  @Override
  public String toString() {
    return "QueryGuard[name=" + name + ", policy=" + policy + ", shapes=" + shapeTexts.size() + "]";
  }

  // For the listener and the scopes.

  @Nullable QueryScope currentScope() {
    QueryScope scope = current.get();
    return scope == null || scope.isClosed() ? null : scope;
  }

  void restore(QueryScope closing, @Nullable QueryScope outer) {
    if (current.get() == closing) {
      if (outer == null) {
        current.remove();
      } else {
        current.set(outer);
      }
    }
  }

  Shapes.Shape shape(String sql) {
    return shapeCache.of(sql);
  }

  int fetchSize() {
    return fetchSize;
  }

  QueryPolicy policy() {
    return policy;
  }

  int nPlusOneThreshold() {
    return nPlusOneThreshold;
  }

  long maxStatements() {
    return maxStatements;
  }

  long rowsWarning() {
    return rowsWarning;
  }

  long rowsLimit() {
    return rowsLimit;
  }

  Duration slowThreshold() {
    return slowThreshold;
  }

  int maxShapes() {
    return maxShapes;
  }

  CallSites callSites() {
    return callSites;
  }

  /** Times a statement by its shape, and reports it if slow. */
  void timed(Shapes.Shape shape, long nanos, @Nullable QueryScope scope) {
    if (registry != null) {
      Timer timer = timers.get(shape.id());
      if (timer == null) {
        timer = timer(shape);
      }
      timer.record(nanos, TimeUnit.NANOSECONDS);
    }
    if (nanos >= slowThresholdNanos) {
      Duration elapsed = Duration.ofNanos(nanos);
      if (scope != null) {
        scope.slow(shape, elapsed);
      }
      QueryEvent event =
          new QueryEvent(
              QueryEvent.Kind.SLOW_STATEMENT,
              scope == null ? null : scope.name(),
              shape.text(),
              1,
              slowThreshold.toMillis(),
              null,
              elapsed);
      counted(event);
      logSlow(shape, event);
    }
  }

  private Timer timer(Shapes.Shape shape) {
    MeterRegistry meters = Objects.requireNonNull(registry, "registry");
    String id =
        timers.size() >= maxShapes && !timers.containsKey(shape.id()) ? "other" : shape.id();
    if (!id.equals("other")) {
      shapeTexts.putIfAbsent(id, shape.text());
    }
    return timers.computeIfAbsent(
        id,
        tag ->
            Timer.builder(STATEMENTS_METER)
                .description("Statements run through the guard's data sources, by shape")
                .tag(Meters.NAME_TAG, name)
                .tag("shape", tag)
                .register(meters));
  }

  private void logSlow(Shapes.Shape shape, QueryEvent event) {
    // A shape that has a gate keeps it; only a new shape past the bound shares the "other" gate.
    String key =
        slowLogged.containsKey(shape.id()) || slowLogged.size() < maxShapes ? shape.id() : "other";
    AtomicLong last = slowLogged.computeIfAbsent(key, k -> new AtomicLong(Long.MIN_VALUE));
    long now = System.nanoTime();
    long before = last.get();
    if ((before == Long.MIN_VALUE || now - before >= SLOW_LOG_INTERVAL_NANOS)
        && last.compareAndSet(before, now)) {
      log.warn(
          "query guard {}: {} (logged at most once a minute per shape)", name, event.describe());
    }
  }

  void rows(long read) {
    if (rowsCounter != null) {
      rowsCounter.increment((double) read);
    }
  }

  void counted(QueryEvent event) {
    Counter counter = eventCounters.get(event.kind());
    if (counter != null) {
      counter.increment();
    }
  }

  void logged(QueryEvent event) {
    if (policy == QueryPolicy.LOG) {
      log.warn("query guard {}: {}", name, event.describe());
    }
  }

  /** Configures a {@link QueryGuard}. Each setting may be given once. Not thread-safe. */
  public static final class Builder {
    private @Nullable String name;
    private @Nullable QueryPolicy policy;
    private int nPlusOneThreshold = -1;
    private long maxStatements = -1;
    private long rowsWarning = -1;
    private long rowsLimit = -1;
    private @Nullable Duration slowThreshold;
    private int maxShapes = -1;
    private int fetchSize;
    private final Map<String, ScopeLimits> limits = new HashMap<>();
    private final List<String> callSitePackages = new ArrayList<>();
    private @Nullable MeterRegistry meterRegistry;

    private Builder() {}

    /**
     * The guard's name: its meters' {@code name} tag. Default: {@code "default"}.
     *
     * @param name 1 to 63 letters, digits, {@code '.'}, {@code '_'} or {@code '-'}
     * @return this builder
     * @throws IllegalArgumentException if {@code name} is not such an identifier
     * @throws IllegalStateException if it was already set
     */
    public Builder name(String name) {
      Checks.requireUnset("name", this.name);
      this.name = Checks.identifier("name", name);
      return this;
    }

    /**
     * What a broken limit does. Default: {@link QueryPolicy#LOG}; {@link QueryPolicy#THROW} in
     * tests.
     *
     * @param policy the policy
     * @return this builder
     * @throws IllegalStateException if it was already set
     */
    public Builder policy(QueryPolicy policy) {
      Checks.requireUnset("policy", this.policy);
      this.policy = Objects.requireNonNull(policy, "policy");
      return this;
    }

    /**
     * How often one shape may run in one scope: once more is an N+1. Default: 5.
     *
     * @param threshold from 1 to 1,000,000 executions
     * @return this builder
     * @throws IllegalArgumentException if out of range
     * @throws IllegalStateException if it was already set
     */
    public Builder nPlusOneThreshold(int threshold) {
      Checks.requireUnset("nPlusOneThreshold", this.nPlusOneThreshold >= 0, this.nPlusOneThreshold);
      this.nPlusOneThreshold = Checks.between("nPlusOneThreshold", threshold, 1, 1_000_000);
      return this;
    }

    /**
     * How many statements a scope may run in all. Default: no budget.
     *
     * @param max from 1 to 1,000,000 statements
     * @return this builder
     * @throws IllegalArgumentException if out of range
     * @throws IllegalStateException if it was already set
     */
    public Builder maxStatements(long max) {
      Checks.requireUnset("maxStatements", this.maxStatements >= 0, this.maxStatements);
      this.maxStatements = Checks.between("maxStatements", max, 1, 1_000_000);
      return this;
    }

    /**
     * The rows a scope may read before a warning event. Setting a rows limit here, or on any scope,
     * makes the guard count rows, which proxies every result set: each getter of each row then goes
     * through a reflective call (see the overhead in the benchmarks). Default: none, and rows are
     * not counted.
     *
     * @param rows from 1 to 10^12 rows
     * @return this builder
     * @throws IllegalArgumentException if out of range
     * @throws IllegalStateException if it was already set
     */
    public Builder rowsWarning(long rows) {
      Checks.requireUnset("rowsWarning", this.rowsWarning >= 0, this.rowsWarning);
      this.rowsWarning = Checks.between("rowsWarning", rows, 1, 1_000_000_000_000L);
      return this;
    }

    /**
     * The rows a scope may read at most; past it the policy applies. Like {@link #rowsWarning},
     * makes the guard count rows. Default: no limit.
     *
     * @param rows from 1 to 10^12 rows
     * @return this builder
     * @throws IllegalArgumentException if out of range
     * @throws IllegalStateException if it was already set
     */
    public Builder rowsLimit(long rows) {
      Checks.requireUnset("rowsLimit", this.rowsLimit >= 0, this.rowsLimit);
      this.rowsLimit = Checks.between("rowsLimit", rows, 1, 1_000_000_000_000L);
      return this;
    }

    /**
     * How long a statement may take before it is a slow one: counted, kept in its scope's events
     * and logged at most once per shape per minute. Default: 1 second.
     *
     * @param threshold from 1 ms to 1 hour
     * @return this builder
     * @throws IllegalArgumentException if out of range
     * @throws IllegalStateException if it was already set
     */
    public Builder slowThreshold(Duration threshold) {
      Checks.requireUnset("slowThreshold", this.slowThreshold);
      this.slowThreshold =
          Checks.between("slowThreshold", threshold, Duration.ofMillis(1), Duration.ofHours(1));
      return this;
    }

    /**
     * The most shapes with a timer (and a count per scope) of their own; the rest fold into {@code
     * other}, so that the meters stay bounded however many statements an application has. Default:
     * 500.
     *
     * @param max from 1 to 100,000 shapes
     * @return this builder
     * @throws IllegalArgumentException if out of range
     * @throws IllegalStateException if it was already set
     */
    public Builder maxShapes(int max) {
      Checks.requireUnset("maxShapes", this.maxShapes >= 0, this.maxShapes);
      this.maxShapes = Checks.between("maxShapes", max, 1, 100_000);
      return this;
    }

    /**
     * A fetch size for every statement that has none, so that a large result is read in parts
     * instead of whole. pgjdbc honours it only inside a transaction (auto-commit off). Default:
     * none, the driver's (pgjdbc: the whole result).
     *
     * @param rows from 1 to 1,000,000 rows per round trip
     * @return this builder
     * @throws IllegalArgumentException if out of range
     * @throws IllegalStateException if it was already set
     */
    public Builder defaultFetchSize(int rows) {
      Checks.requireUnset("defaultFetchSize", this.fetchSize > 0, this.fetchSize);
      this.fetchSize = Checks.between("defaultFetchSize", rows, 1, 1_000_000);
      return this;
    }

    /**
     * Limits of their own for the scopes of one name; what they leave unset comes from this
     * builder.
     *
     * @param scope the scopes' name, as given to {@link QueryGuard#begin(String)}
     * @param limits their limits
     * @return this builder
     * @throws IllegalArgumentException if {@code scope} is blank
     * @throws IllegalStateException if that scope's limits were already set, or 1,000 scopes have
     *     limits
     */
    public Builder scope(String scope, ScopeLimits limits) {
      Checks.notBlank("scope", scope);
      Objects.requireNonNull(limits, "limits");
      Checks.requireUnset("scope \"" + scope + "\"", this.limits.get(scope));
      if (this.limits.size() >= MAX_SCOPE_LIMITS) {
        throw new IllegalStateException(
            Checks.format("at most %d scopes may have limits of their own", MAX_SCOPE_LIMITS));
      }
      this.limits.put(scope, limits);
      return this;
    }

    /**
     * More packages whose frames are never a call site, for a data-access library of the
     * application's own: {@code "com.shop.db."}.
     *
     * @param prefix a package prefix, ending in {@code '.'}
     * @return this builder
     * @throws IllegalArgumentException if it is blank or does not end in {@code '.'}
     */
    public Builder skipCallSites(String prefix) {
      Checks.notBlank("prefix", prefix);
      if (!prefix.endsWith(".")) {
        throw Checks.invalid("prefix must end with '.', but was \"%s\"", prefix);
      }
      callSitePackages.add(prefix);
      return this;
    }

    /**
     * The registry of the guard's meters. Default: none.
     *
     * @param registry the registry
     * @return this builder
     * @throws IllegalStateException if it was already set
     */
    public Builder meterRegistry(MeterRegistry registry) {
      Checks.requireUnset("meterRegistry", this.meterRegistry);
      this.meterRegistry = Objects.requireNonNull(registry, "meterRegistry");
      return this;
    }

    /**
     * Builds the guard.
     *
     * @return the guard
     * @throws IllegalArgumentException if {@code rowsWarning} is above {@code rowsLimit}
     * @throws IllegalStateException if a guard of the same name already registered meters in the
     *     registry
     */
    public QueryGuard build() {
      if (rowsWarning >= 0 && rowsLimit >= 0 && rowsWarning > rowsLimit) {
        throw Checks.invalid(
            "rowsWarning must be at most rowsLimit (%d), but was %d", rowsLimit, rowsWarning);
      }
      if (meterRegistry != null) {
        Meters.requireUnused(
            meterRegistry, EVENTS_METER, "query guard", name == null ? DEFAULT_NAME : name, "name");
      }
      return new QueryGuard(this);
    }

    /** {@return the settings that were given} */
    @Override
    public String toString() {
      StringJoiner out = new StringJoiner(", ", "QueryGuard.Builder{", "}");
      Checks.addSetting(out, "name", name);
      Checks.addSetting(out, "policy", policy);
      Checks.addSetting(out, "nPlusOneThreshold", nPlusOneThreshold < 0 ? null : nPlusOneThreshold);
      Checks.addSetting(out, "maxStatements", maxStatements < 0 ? null : maxStatements);
      Checks.addSetting(out, "rowsWarning", rowsWarning < 0 ? null : rowsWarning);
      Checks.addSetting(out, "rowsLimit", rowsLimit < 0 ? null : rowsLimit);
      Checks.addSetting(out, "slowThreshold", slowThreshold);
      Checks.addSetting(out, "maxShapes", maxShapes < 0 ? null : maxShapes);
      Checks.addSetting(out, "defaultFetchSize", fetchSize > 0 ? fetchSize : null);
      Checks.addSetting(out, "scopes", limits.isEmpty() ? null : limits);
      Checks.addSetting(out, "skipCallSites", callSitePackages.isEmpty() ? null : callSitePackages);
      Checks.addSetting(out, "meterRegistry", meterRegistry == null ? null : "set");
      return out.toString();
    }
  }
}

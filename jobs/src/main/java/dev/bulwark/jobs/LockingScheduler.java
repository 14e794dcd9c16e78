package dev.bulwark.jobs;

import dev.bulwark.core.internal.Checks;
import dev.bulwark.core.internal.Meters;
import dev.bulwark.core.internal.NamedThreads;
import dev.bulwark.timeouts.Ticker;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import java.lang.management.ManagementFactory;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.StringJoiner;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;

/**
 * Runs jobs on a schedule, each at most once per period across every instance of a service that
 * shares one PostgreSQL database:
 *
 * <pre>{@code
 * LockingScheduler scheduler = LockingScheduler.postgres(dataSource).name("billing").build();
 * scheduler.schedule("exchange-rates",
 *     Schedule.dailyAt(LocalTime.of(10, 0), ZoneId.of("Europe/Moscow")), this::fetchRates);
 * }</pre>
 *
 * <p>How a period runs once:
 *
 * <ol>
 *   <li>When a period starts, each instance borrows a connection of its own for the lock (never the
 *       one the job uses), and in one statement reads the database's clock ({@code
 *       clock_timestamp()}, never {@code now()}, which is the start of a transaction) and tries
 *       {@code pg_try_advisory_lock} on the job's 64-bit key. An instance that does not get it
 *       skips the period, counted.
 *   <li>Under the lock, it records {@code (scheduler, job, period_start)} in the run table with
 *       {@code insert ... on conflict do nothing}; a period already recorded is skipped, counted.
 *       The period is computed from the database's clock, so instances whose JVM clocks disagree by
 *       minutes still agree on it; the JVM's clock is only used for the times in {@link
 *       JobSnapshot}.
 *   <li>While the job runs, the scheduler checks the lock's session every {@code
 *       lockCheckInterval}. If the session ended (its backend was terminated, the network broke),
 *       the job is told ({@link JobContext#isLockHeld()}, {@link JobContext#isCancelled()}) and
 *       interrupted, and the loss is counted. The period stays recorded, so no instance runs it
 *       again.
 *   <li>In {@code finally} the lock is released; the connection goes back to its pool only if the
 *       server confirmed the release, and is aborted otherwise, so that no later borrower inherits
 *       the lock. If the connection dies, the server releases the lock.
 * </ol>
 *
 * <p>A period is never run twice, but a run can be missed: when every instance is down at its
 * start, or when a run of the same job still holds the lock. A failed run is not retried within its
 * period; retry inside the job (a {@code dev.bulwark.timeouts.Retry}) when that is wanted.
 *
 * <p>{@link Builder#build()} creates the run table if it does not exist and refuses a data source
 * whose connections share database sessions, as a PgBouncer in transaction pooling mode does:
 * session-level advisory locks do not work there.
 *
 * <p>Each running job holds two connections: the lock's and whatever the job borrows. Size the pool
 * for it. Meters, when a registry is given, tagged {@code name} (the scheduler) and {@code job}: a
 * timer {@code bulwark.jobs.runs} tagged {@code outcome} ({@code success}, {@code failure}, {@code
 * timeout}, {@code lock_lost}, {@code cancelled}), counters {@code bulwark.jobs.skips} tagged
 * {@code reason} ({@code lock_held}, {@code already_ran}), {@code bulwark.jobs.missed} and {@code
 * bulwark.jobs.errors}, and gauges {@code bulwark.jobs.running} and {@code
 * bulwark.jobs.last.success} (seconds since the epoch); plus {@code bulwark.jobs.scheduled}, the
 * number of jobs, tagged {@code name} only.
 *
 * <p>Thread-safe. Threads are named {@code bulwark-jobs-<name>-<n>} (runs), {@code
 * bulwark-jobs-<name>-check-<n>} (lock checks) and {@code bulwark-jobs-<name>-timer-<n>} (timing);
 * {@link #close()} stops them.
 */
public final class LockingScheduler implements AutoCloseable {
  static final String RUNS_METER = Meters.name("jobs", "runs");

  /** The meter every scheduler with a registry registers, by which a duplicate name is found. */
  static final String JOBS_METER = Meters.name("jobs", "scheduled");

  /** Default name: {@code "default"}. */
  static final String DEFAULT_NAME = "default";

  /** Default run table: {@code bulwark_job_runs}. */
  static final String DEFAULT_TABLE = "bulwark_job_runs";

  /** Default time limit of a run: 1 hour. */
  static final Duration DEFAULT_TIME_LIMIT = Duration.ofHours(1);

  /** Default time between two checks of a running job's lock: 1 second. */
  static final Duration DEFAULT_LOCK_CHECK_INTERVAL = Duration.ofSeconds(1);

  /** Default time {@link #close()} lets running jobs finish before it cancels them: 30 seconds. */
  static final Duration DEFAULT_SHUTDOWN_TIMEOUT = Duration.ofSeconds(30);

  /** Default limit of each of the scheduler's own statements: 5 seconds. */
  static final Duration DEFAULT_STATEMENT_TIMEOUT = Duration.ofSeconds(5);

  /** Default time a run's record is kept: 7 days. */
  static final Duration DEFAULT_HISTORY = Duration.ofDays(7);

  /** Default most jobs on one scheduler: 100. */
  static final int DEFAULT_MAX_JOBS = 100;

  /** How long {@link #close()} waits for cancelled runs to release their locks: 1 second. */
  static final Duration CANCEL_GRACE = Duration.ofSeconds(1);

  private static final String TABLE_PATTERN = "[a-z_][a-z0-9_]{0,62}(\\.[a-z_][a-z0-9_]{0,62})?";

  private final String name;
  private final DataSource dataSource;
  private final RunTable table;
  private final String instance;
  private final Duration timeLimit;
  private final Duration lockCheckInterval;
  private final Duration shutdownTimeout;
  private final Duration statementTimeout;
  private final Duration history;
  private final int maxJobs;
  private final @Nullable MeterRegistry registry;
  private final Ticker ticker;
  private final Clock clock;
  private final ScheduledThreadPoolExecutor timer;
  private final ThreadPoolExecutor runners;
  private final ThreadPoolExecutor checks;
  private final List<Meter> meters = new ArrayList<>();
  private final Map<String, ScheduledJob> jobs = new ConcurrentHashMap<>();
  private final Map<Long, String> keys = new ConcurrentHashMap<>();
  private volatile boolean closed;
  private volatile boolean cancelling;

  private LockingScheduler(Builder b) {
    this.name = b.name == null ? DEFAULT_NAME : b.name;
    this.dataSource = b.dataSource;
    this.table = new RunTable(b.table == null ? DEFAULT_TABLE : b.table, name);
    this.instance =
        b.instance == null ? ManagementFactory.getRuntimeMXBean().getName() : b.instance;
    this.timeLimit = b.timeLimit == null ? DEFAULT_TIME_LIMIT : b.timeLimit;
    this.lockCheckInterval =
        b.lockCheckInterval == null ? DEFAULT_LOCK_CHECK_INTERVAL : b.lockCheckInterval;
    this.shutdownTimeout = b.shutdownTimeout == null ? DEFAULT_SHUTDOWN_TIMEOUT : b.shutdownTimeout;
    this.statementTimeout =
        b.statementTimeout == null ? DEFAULT_STATEMENT_TIMEOUT : b.statementTimeout;
    this.history = b.history == null ? DEFAULT_HISTORY : b.history;
    this.maxJobs = b.maxJobs < 0 ? DEFAULT_MAX_JOBS : b.maxJobs;
    this.registry = b.meterRegistry;
    this.ticker = b.ticker;
    this.clock = b.clock;
    this.timer = new ScheduledThreadPoolExecutor(1, NamedThreads.daemon("jobs", name + "-timer"));
    this.timer.setRemoveOnCancelPolicy(true);
    this.timer.setExecuteExistingDelayedTasksAfterShutdownPolicy(false);
    // Each job has at most one attempt in flight, so maxJobs threads and a queue of maxJobs
    // never refuse one. Idle threads end after a minute.
    this.runners =
        new ThreadPoolExecutor(
            maxJobs,
            maxJobs,
            60,
            TimeUnit.SECONDS,
            new LinkedBlockingQueue<>(maxJobs),
            NamedThreads.daemon("jobs", name));
    this.runners.allowCoreThreadTimeOut(true);
    // Lock checks block on the network for up to the statement timeout: they run here, one at a
    // time per run, so that the timer stays on time.
    this.checks =
        new ThreadPoolExecutor(
            maxJobs,
            maxJobs,
            60,
            TimeUnit.SECONDS,
            new LinkedBlockingQueue<>(maxJobs),
            NamedThreads.daemon("jobs", name + "-check"));
    this.checks.allowCoreThreadTimeOut(true);
    if (registry != null) {
      meters.add(
          Gauge.builder(JOBS_METER, jobs, Map::size)
              .description("Jobs scheduled")
              .tag(Meters.NAME_TAG, name)
              .register(registry));
    }
  }

  /**
   * Returns a builder of a scheduler on a PostgreSQL data source: a {@code Pools.postgres} pool or
   * any other. The scheduler borrows its connections and never builds a pool of its own.
   *
   * @param dataSource where the locks and the run table live, and where the lock connections come
   *     from
   * @return a new builder
   * @throws NullPointerException if {@code dataSource} is null
   */
  public static Builder postgres(DataSource dataSource) {
    return new Builder(Objects.requireNonNull(dataSource, "dataSource"));
  }

  /** {@return the scheduler's name: its meters' {@code name} tag and its locks' namespace} */
  public String name() {
    return name;
  }

  /**
   * Schedules a job with the scheduler's time limit. Its first run is at the start of its next
   * period on the database's clock (at once for a {@link Schedule#fixedDelay}).
   *
   * @param name the job's name: 1 to 63 letters, digits, {@code '.'}, {@code '_'} or {@code '-'};
   *     with the scheduler's name, it makes the lock key and the key of the job's rows in the run
   *     table, so every instance must give the same job the same name
   * @param schedule when it runs
   * @param job the work
   * @throws IllegalArgumentException if the name is not an identifier
   * @throws IllegalStateException if a job of that name is scheduled, if its lock key collides with
   *     another job's, if {@code maxJobs} jobs are scheduled, or if the scheduler is closed
   */
  public void schedule(String name, Schedule schedule, Job job) {
    schedule(name, schedule, timeLimit, job);
  }

  /**
   * Schedules a job that does not read its {@link JobContext}, with the scheduler's time limit: as
   * {@link #schedule(String, Schedule, Job)}.
   *
   * @param name the job's name
   * @param schedule when it runs
   * @param job the work
   * @throws IllegalArgumentException if the name is not an identifier
   * @throws IllegalStateException as {@link #schedule(String, Schedule, Job)}
   */
  public void schedule(String name, Schedule schedule, Runnable job) {
    Objects.requireNonNull(job, "job");
    schedule(name, schedule, timeLimit, context -> job.run());
  }

  /**
   * Schedules a job with its own time limit: past it, the run is told to stop ({@link
   * JobContext#isCancelled()}), interrupted and counted as a {@code timeout}. A run that has not
   * returned one second later has its lock connection aborted, so that the server releases the lock
   * and a job stuck in a call that ignores interrupts does not block every instance; it is logged,
   * and its thread is left to finish.
   *
   * @param name the job's name
   * @param schedule when it runs
   * @param timeLimit the longest a run may take, from 10 ms to 7 days
   * @param job the work
   * @throws IllegalArgumentException if the name is not an identifier or the time limit is out of
   *     range
   * @throws IllegalStateException as {@link #schedule(String, Schedule, Job)}
   */
  public void schedule(String name, Schedule schedule, Duration timeLimit, Job job) {
    Checks.identifier("name", name);
    Objects.requireNonNull(schedule, "schedule");
    checkTimeLimit("timeLimit", timeLimit);
    Objects.requireNonNull(job, "job");
    long key = LockKeys.of(this.name, name);
    ScheduledJob scheduled;
    synchronized (jobs) {
      if (closed) {
        throw new IllegalStateException(
            Checks.format("scheduler %s is closed: job %s cannot be scheduled", this.name, name));
      }
      if (jobs.containsKey(name)) {
        throw new IllegalStateException(
            Checks.format("scheduler %s already has a job named %s", this.name, name));
      }
      String other = keys.get(key);
      if (other != null) {
        throw new IllegalStateException(
            Checks.format(
                "jobs %s and %s of scheduler %s have the same lock key %d: rename one",
                other, name, this.name, key));
      }
      if (jobs.size() >= maxJobs) {
        throw new IllegalStateException(
            Checks.format(
                "scheduler %s already has maxJobs=%d jobs: job %s cannot be added",
                this.name, maxJobs, name));
      }
      scheduled = new ScheduledJob(this, name, schedule, timeLimit, job, key, registry);
      jobs.put(name, scheduled);
      keys.put(key, name);
    }
    scheduled.start();
  }

  /**
   * What one job has done on this instance.
   *
   * @param job the job's name
   * @return its snapshot, or empty if no job of that name is scheduled
   */
  public Optional<JobSnapshot> snapshot(String job) {
    ScheduledJob scheduled = jobs.get(job);
    return scheduled == null ? Optional.empty() : Optional.of(scheduled.snapshot());
  }

  /** {@return a snapshot of every job, in no particular order} */
  public List<JobSnapshot> snapshots() {
    List<JobSnapshot> out = new ArrayList<>(jobs.size());
    for (ScheduledJob job : jobs.values()) {
      out.add(job.snapshot());
    }
    return out;
  }

  /**
   * Stops the scheduler. No run starts after this call begins. Runs in progress get {@code
   * shutdownTimeout} to finish; then they are cancelled ({@link JobContext#isCancelled()} and an
   * interrupt) and get one more second to return and release their locks. A run that is still going
   * after that has its lock connection aborted, so that its lock is released by the server, and is
   * logged; its thread is left to finish on its own. Every period that started is recorded, so no
   * other instance runs it again.
   *
   * <p>Idempotent: a second call, or a call while another thread is closing, returns at once. If
   * the calling thread is interrupted while it waits, the runs are cancelled and their lock
   * connections aborted at once, and the thread's interrupt status is kept.
   */
  @Override
  public void close() {
    synchronized (jobs) {
      if (closed) {
        return;
      }
      closed = true;
    }
    for (ScheduledJob job : jobs.values()) {
      job.cancelWake();
    }
    runners.shutdown();
    boolean interrupted = false;
    try {
      if (!runners.awaitTermination(shutdownTimeout.toNanos(), TimeUnit.NANOSECONDS)) {
        cancelRuns();
        if (!runners.awaitTermination(CANCEL_GRACE.toNanos(), TimeUnit.NANOSECONDS)) {
          abandonRuns();
        }
      }
    } catch (InterruptedException e) {
      // No time to wait: every run is cancelled, and gives up its lock now.
      interrupted = true;
      cancelRuns();
      abandonRuns();
    } finally {
      timer.shutdownNow();
      checks.shutdownNow();
      if (registry != null) {
        for (ScheduledJob job : jobs.values()) {
          job.removeMeters(registry);
        }
        for (Meter meter : meters) {
          registry.remove(meter);
        }
      }
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }

  private void cancelRuns() {
    cancelling = true; // a run that starts from now on is cancelled as it starts
    for (ScheduledJob job : jobs.values()) {
      ScheduledJob.Run run = job.current();
      if (run != null) {
        run.cancel(ScheduledJob.Outcome.CANCELLED);
      }
    }
  }

  private void abandonRuns() {
    for (ScheduledJob job : jobs.values()) {
      ScheduledJob.Run run = job.current();
      if (run != null) {
        job.abandon(run, "close()");
      }
    }
  }

  @Override
  public String toString() {
    return "LockingScheduler[name="
        + name
        + ", instance="
        + instance
        + ", table="
        + table.name()
        + ", jobs="
        + jobs.size()
        + (closed ? ", closed" : "")
        + "]";
  }

  boolean isClosed() {
    return closed;
  }

  DataSource dataSource() {
    return dataSource;
  }

  RunTable table() {
    return table;
  }

  String instance() {
    return instance;
  }

  Duration lockCheckInterval() {
    return lockCheckInterval;
  }

  Duration statementTimeout() {
    return statementTimeout;
  }

  Duration history() {
    return history;
  }

  Ticker ticker() {
    return ticker;
  }

  Clock clock() {
    return clock;
  }

  ScheduledThreadPoolExecutor timer() {
    return timer;
  }

  ExecutorService checks() {
    return checks;
  }

  boolean isCancelling() {
    return cancelling;
  }

  ExecutorService runners() {
    return runners;
  }

  /** The refusal of a data source whose connections share sessions. */
  static String sharedSessions(String name, int pid) {
    return Checks.format(
        "scheduler %s: its data source hands out connections that share database sessions (backend"
            + " pid %d answered for two of them, or changed between two statements on one), as"
            + " PgBouncer does in transaction or statement pooling mode; session-level advisory"
            + " locks do not work there. Give the scheduler a data source that connects to"
            + " PostgreSQL directly, or through a pool in session mode",
        name, pid);
  }

  private static Duration checkTimeLimit(String setting, Duration value) {
    return Checks.between(setting, value, Duration.ofMillis(10), Duration.ofDays(7));
  }

  /**
   * Configures a {@link LockingScheduler}. Every setting has a default; {@link #build()} prepares
   * the run table and checks the data source. Not thread-safe.
   */
  public static final class Builder {
    private final DataSource dataSource;
    private @Nullable String name;
    private @Nullable String table;
    private @Nullable String instance;
    private @Nullable Duration timeLimit;
    private @Nullable Duration lockCheckInterval;
    private @Nullable Duration shutdownTimeout;
    private @Nullable Duration statementTimeout;
    private @Nullable Duration history;
    private int maxJobs = -1;
    private @Nullable MeterRegistry meterRegistry;
    private Ticker ticker = Ticker.system();
    private Clock clock = Clock.systemUTC();

    private Builder(DataSource dataSource) {
      this.dataSource = dataSource;
    }

    /**
     * The scheduler's name: its meters' {@code name} tag, its threads' names, and the namespace of
     * its lock keys and run records. Give each application that shares a database its own name, and
     * every instance of one application the same. Default: {@code "default"}.
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
     * The table of the runs, one row per scheduler name, job and period (so that schedulers of
     * different names can share it), created by {@link #build()} if it does not exist ({@code
     * create table if not exists}, serialized across instances by an advisory lock). Default:
     * {@code bulwark_job_runs}, in the connection's current schema.
     *
     * @param table a lowercase unquoted name, optionally schema-qualified: {@code [a-z_][a-z0-9_]*}
     *     up to 63 characters per part
     * @return this builder
     * @throws IllegalArgumentException if {@code table} is not such a name
     * @throws IllegalStateException if it was already set
     */
    public Builder table(String table) {
      Checks.requireUnset("table", this.table);
      Objects.requireNonNull(table, "table");
      if (!table.matches(TABLE_PATTERN)) {
        throw Checks.invalid(
            "table must be a lowercase name, optionally schema-qualified (%s), but was \"%s\"",
            TABLE_PATTERN, table);
      }
      this.table = table;
      return this;
    }

    /**
     * Who this instance is, written in the {@code owner} column of the runs it makes: a pod's or
     * host's name. Default: the JVM's {@code pid@host}.
     *
     * @param instance not blank, at most 200 characters
     * @return this builder
     * @throws IllegalArgumentException if {@code instance} is blank or longer
     * @throws IllegalStateException if it was already set
     */
    public Builder instance(String instance) {
      Checks.requireUnset("instance", this.instance);
      Checks.notBlank("instance", instance);
      Checks.between("instance length", instance.length(), 1, 200);
      this.instance = instance;
      return this;
    }

    /**
     * The longest a run may take, for jobs scheduled without their own: past it, the run is told to
     * stop, interrupted, and counted as a {@code timeout}; one second later, a run that has not
     * returned has its lock connection aborted. Default: 1 hour.
     *
     * @param timeLimit from 10 ms to 7 days
     * @return this builder
     * @throws IllegalArgumentException if out of range
     * @throws IllegalStateException if it was already set
     */
    public Builder timeLimit(Duration timeLimit) {
      Checks.requireUnset("timeLimit", this.timeLimit);
      this.timeLimit = checkTimeLimit("timeLimit", timeLimit);
      return this;
    }

    /**
     * How often the lock of a running job is checked on its session ({@code pg_locks} of the same
     * backend). A lost lock is noticed within this interval, plus the statement timeout when the
     * network hangs. Default: 1 second.
     *
     * @param interval from 10 ms to 1 minute
     * @return this builder
     * @throws IllegalArgumentException if out of range
     * @throws IllegalStateException if it was already set
     */
    public Builder lockCheckInterval(Duration interval) {
      Checks.requireUnset("lockCheckInterval", this.lockCheckInterval);
      this.lockCheckInterval =
          Checks.between(
              "lockCheckInterval", interval, Duration.ofMillis(10), Duration.ofMinutes(1));
      return this;
    }

    /**
     * How long {@link LockingScheduler#close()} lets running jobs finish before it cancels them.
     * Zero cancels them at once. Default: 30 seconds.
     *
     * @param timeout from 0 to 1 hour
     * @return this builder
     * @throws IllegalArgumentException if out of range
     * @throws IllegalStateException if it was already set
     */
    public Builder shutdownTimeout(Duration timeout) {
      Checks.requireUnset("shutdownTimeout", this.shutdownTimeout);
      this.shutdownTimeout =
          Checks.between("shutdownTimeout", timeout, Duration.ZERO, Duration.ofHours(1));
      return this;
    }

    /**
     * The limit of each of the scheduler's own statements (the lock, the run record, the lock
     * check), as the lock connection's network timeout: a statement that gets no answer within it
     * closes the connection, and the server releases whatever lock it held. Default: 5 seconds.
     *
     * @param timeout from 100 ms to 1 minute
     * @return this builder
     * @throws IllegalArgumentException if out of range
     * @throws IllegalStateException if it was already set
     */
    public Builder statementTimeout(Duration timeout) {
      Checks.requireUnset("statementTimeout", this.statementTimeout);
      this.statementTimeout =
          Checks.between(
              "statementTimeout", timeout, Duration.ofMillis(100), Duration.ofMinutes(1));
      return this;
    }

    /**
     * How long the run table keeps a job's rows: each run deletes the job's rows of periods that
     * started this long before its own. The current period's row is never deleted. Default: 7 days.
     *
     * @param history from 1 minute to 3650 days
     * @return this builder
     * @throws IllegalArgumentException if out of range
     * @throws IllegalStateException if it was already set
     */
    public Builder history(Duration history) {
      Checks.requireUnset("history", this.history);
      this.history =
          Checks.between("history", history, Duration.ofMinutes(1), Duration.ofDays(3650));
      return this;
    }

    /**
     * The most jobs the scheduler accepts, which bounds its threads (one per running job). Default:
     * 100.
     *
     * @param maxJobs from 1 to 10000
     * @return this builder
     * @throws IllegalArgumentException if out of range
     * @throws IllegalStateException if it was already set
     */
    public Builder maxJobs(int maxJobs) {
      Checks.requireUnset("maxJobs", this.maxJobs >= 0, this.maxJobs);
      this.maxJobs = Checks.between("maxJobs", maxJobs, 1, 10_000);
      return this;
    }

    /**
     * The registry of the scheduler's meters. Default: none.
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

    /** The monotonic clock of waits and durations, for tests. */
    Builder ticker(Ticker ticker) {
      this.ticker = Objects.requireNonNull(ticker, "ticker");
      return this;
    }

    /** The wall clock of the snapshots' times, for tests of a skewed JVM clock. */
    Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /**
     * Builds the scheduler: creates the run table if it does not exist, and checks that two
     * connections of the data source have sessions of their own.
     *
     * @return the scheduler, with no job yet
     * @throws IllegalStateException if the data source's connections share sessions (PgBouncer in
     *     transaction pooling mode), if a scheduler of the same name already registered meters in
     *     the registry, or if the database cannot be reached or the table cannot be created (the
     *     {@link SQLException} is the cause)
     */
    public LockingScheduler build() {
      String schedulerName = name == null ? DEFAULT_NAME : name;
      if (meterRegistry != null) {
        Meters.requireUnused(meterRegistry, JOBS_METER, "scheduler", schedulerName, "name");
      }
      RunTable runs = new RunTable(table == null ? DEFAULT_TABLE : table, schedulerName);
      try (Connection first = dataSource.getConnection();
          Connection second = dataSource.getConnection()) {
        // In auto-commit, so that no transaction pins a pooler's server connection to one of them.
        first.setAutoCommit(true);
        second.setAutoCommit(true);
        int one = pid(first);
        int other = pid(second);
        int again = pid(first);
        if (one == other || one != again) {
          throw new IllegalStateException(sharedSessions(schedulerName, one));
        }
        runs.migrate(first);
      } catch (SQLException e) {
        throw new IllegalStateException(
            Checks.format(
                "scheduler %s: could not prepare the run table %s: %s",
                schedulerName, runs.name(), ScheduledJob.message(e)),
            e);
      }
      return new LockingScheduler(this);
    }

    private static int pid(Connection c) throws SQLException {
      try (Statement s = c.createStatement();
          ResultSet r = s.executeQuery("select pg_backend_pid()")) {
        r.next();
        return r.getInt(1);
      }
    }

    /** {@return the settings that were given, as {@code LockingScheduler.Builder{name=...}}} */
    @Override
    public String toString() {
      StringJoiner out = new StringJoiner(", ", "LockingScheduler.Builder{", "}");
      Checks.addSetting(out, "name", name);
      Checks.addSetting(out, "table", table);
      Checks.addSetting(out, "instance", instance);
      Checks.addSetting(out, "timeLimit", timeLimit);
      Checks.addSetting(out, "lockCheckInterval", lockCheckInterval);
      Checks.addSetting(out, "shutdownTimeout", shutdownTimeout);
      Checks.addSetting(out, "statementTimeout", statementTimeout);
      Checks.addSetting(out, "history", history);
      Checks.addSetting(out, "maxJobs", maxJobs < 0 ? null : maxJobs);
      return out.toString();
    }
  }
}

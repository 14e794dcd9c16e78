package dev.bulwark.jobs;

import dev.bulwark.core.Secrets;
import dev.bulwark.core.internal.Checks;
import dev.bulwark.core.internal.Meters;
import dev.bulwark.timeouts.Deadline;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One job of a scheduler: its attempts, its runs and its counts.
 *
 * <p>An attempt runs on a thread of the scheduler's pool. It borrows a connection for the lock,
 * reads the database's clock and tries the lock in one statement, records the period in the run
 * table (the fence), runs the job, records how it ended, releases the lock and schedules the next
 * attempt from the database's clock. The next attempt is scheduled only when this one is over, so
 * runs of one job never overlap on one instance.
 *
 * <p>Thread-safe: the scheduling state is touched by one attempt at a time; the counts and the
 * current run are read from any thread.
 */
final class ScheduledJob {
  private static final Logger log = LoggerFactory.getLogger(LockingScheduler.class);

  /** How a run ended, a tag value of {@code bulwark.jobs.runs}. */
  enum Outcome {
    SUCCESS,
    FAILURE,
    TIMEOUT,
    LOCK_LOST,
    CANCELLED;

    String tag() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  /** Why an attempt did not run the job, a tag value of {@code bulwark.jobs.skips}. */
  enum Skip {
    LOCK_HELD,
    ALREADY_RAN;

    String tag() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  /** The least time a late wake still runs the period it was for. */
  static final Duration CATCH_UP_FLOOR = Duration.ofSeconds(10);

  /** How long an attempt that failed to reach the database waits before it tries again. */
  static final Duration ERROR_RETRY = Duration.ofSeconds(5);

  /** The least time between two WARN lines about one job's failures. */
  static final long LOG_INTERVAL_NANOS = TimeUnit.MINUTES.toNanos(1);

  private final LockingScheduler scheduler;
  private final String name;
  private final Schedule schedule;
  private final Job job;
  private final Duration timeLimit;
  private final long key;

  private final LongAdder runs = new LongAdder();
  private final LongAdder missed = new LongAdder();
  private final LongAdder recordErrors = new LongAdder();
  private final LongAdder attemptErrors = new LongAdder();
  private final Map<Outcome, LongAdder> outcomes = new EnumMap<>(Outcome.class);
  private final Map<Skip, LongAdder> skips = new EnumMap<>(Skip.class);
  private final Map<Outcome, Timer> timers = new EnumMap<>(Outcome.class);
  private final List<Meter> meters = new ArrayList<>();
  private volatile @Nullable Instant lastStart;
  private volatile @Nullable Instant lastPeriod;
  private volatile @Nullable Duration lastDuration;
  private volatile @Nullable Instant lastSuccess;
  private volatile @Nullable Instant lastFailure;
  private volatile @Nullable String lastFailureMessage;
  private volatile @Nullable Run current;
  private final AtomicLong nextWarn = new AtomicLong(Long.MIN_VALUE);

  // Scheduling state: written by one attempt at a time, each after the previous one ended.
  private volatile @Nullable Instant intended;
  private Instant anchorDb = Instant.EPOCH;
  private long anchorTicks;
  private volatile @Nullable ScheduledFuture<?> wake;

  ScheduledJob(
      LockingScheduler scheduler,
      String name,
      Schedule schedule,
      Duration timeLimit,
      Job job,
      long key,
      @Nullable MeterRegistry registry) {
    this.scheduler = scheduler;
    this.name = name;
    this.schedule = schedule;
    this.timeLimit = timeLimit;
    this.job = job;
    this.key = key;
    for (Outcome outcome : Outcome.values()) {
      outcomes.put(outcome, new LongAdder());
    }
    for (Skip skip : Skip.values()) {
      skips.put(skip, new LongAdder());
    }
    if (registry != null) {
      register(registry);
    }
  }

  private void register(MeterRegistry registry) {
    String scheduler = this.scheduler.name();
    for (Outcome outcome : Outcome.values()) {
      Timer timer =
          Timer.builder(LockingScheduler.RUNS_METER)
              .description("Runs of a job on this instance, by how they ended")
              .tag(Meters.NAME_TAG, scheduler)
              .tag("job", name)
              .tag("outcome", outcome.tag())
              .register(registry);
      timers.put(outcome, timer);
      meters.add(timer);
    }
    for (Skip skip : Skip.values()) {
      meters.add(
          FunctionCounter.builder(Meters.name("jobs", "skips"), count(skip), LongAdder::sum)
              .description("Attempts that did not run the job, by why")
              .tag(Meters.NAME_TAG, scheduler)
              .tag("job", name)
              .tag("reason", skip.tag())
              .register(registry));
    }
    meters.add(
        FunctionCounter.builder(
                Meters.name("jobs", "errors"),
                this,
                j -> j.attemptErrors.sum() + j.recordErrors.sum())
            .description(
                "Attempts that could not run, and run records that could not be written, because of"
                    + " the database")
            .tag(Meters.NAME_TAG, scheduler)
            .tag("job", name)
            .register(registry));
    meters.add(
        FunctionCounter.builder(Meters.name("jobs", "missed"), missed, LongAdder::sum)
            .description("Periods that started with no run anywhere, seen by the run after them")
            .tag(Meters.NAME_TAG, scheduler)
            .tag("job", name)
            .register(registry));
    meters.add(
        Gauge.builder(Meters.name("jobs", "running"), this, j -> j.current == null ? 0 : 1)
            .description("Whether the job is running on this instance: 1 or 0")
            .tag(Meters.NAME_TAG, scheduler)
            .tag("job", name)
            .register(registry));
    meters.add(
        Gauge.builder(Meters.name("jobs", "last.success"), this, ScheduledJob::lastSuccessSeconds)
            .description("When the last successful run ended, in seconds since the epoch")
            .baseUnit("seconds")
            .tag(Meters.NAME_TAG, scheduler)
            .tag("job", name)
            .register(registry));
  }

  private double lastSuccessSeconds() {
    Instant at = lastSuccess;
    return at == null ? Double.NaN : at.toEpochMilli() / 1000.0;
  }

  private LongAdder count(Outcome outcome) {
    return Objects.requireNonNull(outcomes.get(outcome), "every outcome has its count");
  }

  private LongAdder count(Skip skip) {
    return Objects.requireNonNull(skips.get(skip), "every skip has its count");
  }

  String name() {
    return name;
  }

  long key() {
    return key;
  }

  /** Schedules the first attempt, at once: it reads the database's clock to place the first run. */
  void start() {
    submit(0);
  }

  private void submit(long delayNanos) {
    if (scheduler.isClosed()) {
      return;
    }
    try {
      wake =
          scheduler.timer().schedule(this::dispatch, Math.max(0, delayNanos), TimeUnit.NANOSECONDS);
    } catch (RejectedExecutionException e) {
      // The scheduler is closing.
    }
  }

  private void dispatch() {
    try {
      scheduler.runners().execute(this::attempt);
    } catch (RejectedExecutionException e) {
      if (!scheduler.isClosed()) {
        // Cannot happen while each job has at most one attempt in flight and the pool has room
        // for every job; if it does, the job must not stop silently.
        failed(e, "could not start an attempt: " + message(e));
        attemptErrors.increment();
        submit(ERROR_RETRY.toNanos());
      }
    }
  }

  /** Cancels the next attempt, if it has not started. */
  void cancelWake() {
    ScheduledFuture<?> next = wake;
    if (next != null) {
      next.cancel(false);
    }
  }

  /** The run in progress on this instance, if any. */
  @Nullable Run current() {
    return current;
  }

  void attempt() {
    if (scheduler.isClosed()) {
      return;
    }
    long retry = -1;
    VirtualMachineError fatal = null;
    try (LockSession session =
        LockSession.open(scheduler.dataSource(), scheduler.statementTimeout())) {
      Instant target = intended;
      if (target == null) {
        Instant now = session.now();
        anchor(now);
        intended = schedule.isFixedDelay() ? now : schedule.nextStart(now);
        return;
      }
      LockSession.Attempt attempt = session.tryLock(key, target);
      anchor(attempt.now());
      Boolean locked = attempt.locked();
      if (locked == null) {
        return; // woke before the period's start on the database's clock: wait for it
      }
      if (!locked) {
        count(Skip.LOCK_HELD).increment();
        intended =
            schedule.isFixedDelay()
                ? attempt.now().plus(schedule.period())
                : schedule.nextStart(attempt.now());
        return;
      }
      if (session.check() != LockSession.State.HELD) {
        throw new IllegalStateException(
            LockingScheduler.sharedSessions(scheduler.name(), attempt.pid()));
      }
      if (scheduler.isClosed()) {
        return; // closed while this attempt waited for its connection: nothing was recorded
      }
      Instant period = claim(session, attempt.now(), target);
      if (period == null) {
        return;
      }
      // From here the period is recorded: it runs, even if close() began a moment ago (it is then
      // cancelled as it starts), so that it is never recorded without a run.
      fatal = run(session, period);
      Instant now = estimatedNow();
      if (schedule.isFixedDelay()) {
        intended = now.plus(schedule.period());
      } else {
        Instant currentPeriod = schedule.periodStart(now);
        // A run that overran its period: the periods it overlapped were skipped everywhere (this
        // instance held the lock), so the current one starts at once, late, rather than not at all.
        intended = currentPeriod.isAfter(period) ? currentPeriod : schedule.nextStart(now);
      }
    } catch (SQLException | RuntimeException e) {
      failed(e, "could not make an attempt: " + message(e));
      attemptErrors.increment();
      retry = ERROR_RETRY.toNanos();
    } finally {
      submit(retry >= 0 ? retry : delayUntil(intended));
    }
    if (fatal != null) {
      throw fatal;
    }
  }

  /**
   * Records the period in the run table, under the lock, and counts the periods missed since the
   * last one recorded. Returns null, counting the skip, if it was already recorded: it ran (or is
   * running, after losing its lock) elsewhere.
   */
  private @Nullable Instant claim(LockSession session, Instant now, Instant target)
      throws SQLException {
    RunTable table = scheduler.table();
    Connection c = session.connection();
    if (schedule.isFixedDelay()) {
      Instant period = table.claimAfterDelay(c, name, schedule.period(), scheduler.instance());
      if (period == null) {
        count(Skip.ALREADY_RAN).increment();
        Instant end = table.lastEnd(c, name);
        intended = end == null ? now : end.plus(schedule.period());
        return null;
      }
      table.prune(c, name, period.minus(scheduler.history()));
      return period;
    }
    Instant period = schedule.periodStart(now);
    if (period.isAfter(target) && now.isBefore(target.plus(catchUpLimit()))) {
      // Woke late (a pause of the JVM, a busy machine): the period this attempt was for has not
      // run anywhere that this instance knows of, and it is recent: run it, late, rather than miss
      // it; the current one follows at once. Older periods are missed, and counted.
      period = target;
    }
    if (!table.claim(c, name, period, scheduler.instance())) {
      count(Skip.ALREADY_RAN).increment();
      Instant current = schedule.periodStart(now);
      // A late period that ran elsewhere: the current one may not have, so it is tried at once.
      intended = period.isBefore(current) ? current : schedule.nextStart(now);
      return null;
    }
    Instant previous = table.previous(c, name, period);
    if (previous != null) {
      missed.add(schedule.periodsBetween(previous, period));
    }
    table.prune(c, name, period.minus(scheduler.history()));
    return period;
  }

  /**
   * Runs the job once and records how it ended. Returns a {@link VirtualMachineError} the job
   * threw, for the attempt to throw once it has scheduled the next one.
   */
  private @Nullable VirtualMachineError run(LockSession session, Instant period) {
    Deadline deadline = Deadline.after(timeLimit, scheduler.ticker());
    Run run = new Run(name, period, deadline, Thread.currentThread(), session);
    long start = scheduler.ticker().read();
    lastStart = scheduler.clock().instant();
    lastPeriod = period;
    runs.increment();
    current = run;
    List<ScheduledFuture<?>> timers = new ArrayList<>(3);
    Throwable failure = null;
    try {
      if (scheduler.isCancelling()) {
        run.cancel(Outcome.CANCELLED);
      }
      long interval = scheduler.lockCheckInterval().toNanos();
      long limit = timeLimit.toNanos();
      timers.add(
          scheduler
              .timer()
              .scheduleWithFixedDelay(
                  () -> dispatchCheck(session, run), interval, interval, TimeUnit.NANOSECONDS));
      timers.add(
          scheduler
              .timer()
              .schedule(() -> run.cancel(Outcome.TIMEOUT), limit, TimeUnit.NANOSECONDS));
      timers.add(
          scheduler
              .timer()
              .schedule(
                  () -> abandon(run, "its time limit of " + Checks.duration(timeLimit)),
                  limit + LockingScheduler.CANCEL_GRACE.toNanos(),
                  TimeUnit.NANOSECONDS));
    } catch (RejectedExecutionException e) {
      run.cancel(Outcome.CANCELLED); // the scheduler's timer is stopped: it is closing
    }
    try {
      deadline.call(
          () -> {
            job.run(run);
            return Boolean.TRUE;
          });
    } catch (Exception | Error e) {
      failure = e;
    } finally {
      for (ScheduledFuture<?> timer : timers) {
        timer.cancel(false);
      }
      run.finish();
    }
    Duration took = Duration.ofNanos(scheduler.ticker().read() - start);
    Outcome outcome = run.outcome(failure);
    lastDuration = took;
    if (outcome == Outcome.SUCCESS) {
      lastSuccess = scheduler.clock().instant();
    } else {
      failed(failure, describe(outcome, failure));
    }
    // Counted last, so that a snapshot that shows the run's count shows its times and message too.
    count(outcome).increment();
    Timer timer = this.timers.get(outcome);
    if (timer != null) {
      timer.record(took);
    }
    current = null; // and only now: a snapshot that says the run is over has its counts

    record(session, period, outcome);
    return failure instanceof VirtualMachineError ? (VirtualMachineError) failure : null;
  }

  /**
   * Gives up on a run that did not return within a second of being cancelled: its lock connection
   * is aborted, so that the server releases the lock and the job does not block every instance.
   */
  void abandon(Run run, String after) {
    if (run.abandon()) {
      log.warn(
          "scheduler {}: job {} did not stop within {} of {}; its lock connection was aborted and"
              + " its thread left to finish. Its period {} stays recorded: no instance runs it"
              + " again, but another may run the next one while it still runs",
          scheduler.name(),
          name,
          Checks.duration(LockingScheduler.CANCEL_GRACE),
          after,
          run.periodStart());
    }
  }

  /** Records how the run ended; on the lock's session, or on a fresh one if that one died. */
  private void record(LockSession session, Instant period, Outcome outcome) {
    try {
      // A lock check may be on the connection this moment: take turns with it.
      synchronized (session) {
        scheduler.table().finish(session.connection(), name, period, outcome.tag());
      }
      return;
    } catch (SQLException | RuntimeException e) {
      // The lock's session died with the lock: record the end on another connection.
    }
    try (Connection c = scheduler.dataSource().getConnection()) {
      c.setNetworkTimeout(Runnable::run, (int) scheduler.statementTimeout().toMillis());
      c.setAutoCommit(true);
      scheduler.table().finish(c, name, period, outcome.tag());
    } catch (SQLException | RuntimeException e) {
      failed(e, "could not record the end of its run for " + period + ": " + message(e));
      recordErrors.increment();
    }
  }

  /** Hands a lock check to the checks' threads, unless the last one is still going. */
  private void dispatchCheck(LockSession session, Run run) {
    if (run.startCheck()) {
      try {
        scheduler.checks().execute(() -> checkLock(session, run));
      } catch (RejectedExecutionException e) {
        run.endCheck(); // closing
      }
    }
  }

  private void checkLock(LockSession session, Run run) {
    try {
      if (!run.isLockHeld() || run.isFinished()) {
        return;
      }
      LockSession.State state;
      try {
        state = session.check();
      } catch (SQLException | RuntimeException e) {
        state = LockSession.State.LOST;
      }
      if (state != LockSession.State.HELD && run.loseLock()) {
        session.abort();
        log.warn(
            "scheduler {}: job {} lost its lock while running for {} ({}): it was told to stop,"
                + " and another instance may run the next period",
            scheduler.name(),
            name,
            run.periodStart(),
            state == LockSession.State.MOVED ? "another backend answered" : "the session ended");
      }
    } finally {
      run.endCheck();
    }
  }

  private static String describe(Outcome outcome, @Nullable Throwable failure) {
    // The interrupt that stopped the run is the scheduler's own doing, not a cause worth showing.
    boolean interrupted = outcome != Outcome.FAILURE && failure instanceof InterruptedException;
    String cause = failure == null || interrupted ? "" : ": " + message(failure);
    switch (outcome) {
      case TIMEOUT:
        return "passed its time limit" + cause;
      case LOCK_LOST:
        return "lost its lock" + cause;
      case CANCELLED:
        return "was cancelled by the scheduler's close" + cause;
      default:
        return "failed" + cause;
    }
  }

  /** A failure's class and message, with the URLs and secret settings in it masked. */
  static String message(Throwable failure) {
    return Secrets.maskText(failure.getClass().getName() + ": " + failure.getMessage());
  }

  /**
   * Keeps a failure for the snapshot, and logs it unless one was logged less than a minute ago. The
   * log line carries the failure's chain of classes and messages, masked, and where it was thrown;
   * never the raw exception, whose messages may hold a secret.
   */
  private void failed(@Nullable Throwable failure, String what) {
    lastFailure = scheduler.clock().instant();
    lastFailureMessage = what;
    long now = scheduler.ticker().read();
    long allowed = nextWarn.get();
    if ((allowed == Long.MIN_VALUE || now - allowed >= 0)
        && nextWarn.compareAndSet(allowed, now + LOG_INTERVAL_NANOS)) {
      log.warn(
          "scheduler {}: job {} {}{} (logged at most once a minute; every one is counted)",
          scheduler.name(),
          name,
          what,
          failure == null ? "" : chain(failure));
    }
  }

  /** The causes of a failure and where it was thrown, masked: {@code "; caused by ... at ..."}. */
  private static String chain(Throwable failure) {
    StringBuilder out = new StringBuilder();
    StackTraceElement[] trace = failure.getStackTrace();
    if (trace.length > 0) {
      out.append(" at ").append(trace[0]);
    }
    Throwable cause = failure.getCause();
    for (int depth = 0; cause != null && cause != failure && depth < 8; depth++) {
      out.append("; caused by ").append(message(cause));
      cause = cause.getCause();
    }
    return out.toString();
  }

  /** How late a wake may be and still run the period it was for: a period, and at least 10 s. */
  private Duration catchUpLimit() {
    Duration period = schedule.period();
    return period.compareTo(CATCH_UP_FLOOR) < 0 ? CATCH_UP_FLOOR : period;
  }

  /** Anchors the estimate of the database's clock to a reading just taken. */
  private void anchor(Instant dbNow) {
    anchorDb = dbNow;
    anchorTicks = scheduler.ticker().read();
  }

  /** The database's clock now, estimated from the last reading and the monotonic time since. */
  private Instant estimatedNow() {
    return anchorDb.plusNanos(scheduler.ticker().read() - anchorTicks);
  }

  private long delayUntil(@Nullable Instant target) {
    if (target == null) {
      return ERROR_RETRY.toNanos();
    }
    return Duration.between(estimatedNow(), target).toNanos();
  }

  JobSnapshot snapshot() {
    // The counts first: each is published after the times and message of what it counts, so a
    // count read here comes with them.
    long started = runs.sum();
    long successes = count(Outcome.SUCCESS).sum();
    long timeouts = count(Outcome.TIMEOUT).sum();
    long lockLosses = count(Outcome.LOCK_LOST).sum();
    long failures =
        count(Outcome.FAILURE).sum() + timeouts + lockLosses + count(Outcome.CANCELLED).sum();
    long lockHeld = count(Skip.LOCK_HELD).sum();
    long alreadyRan = count(Skip.ALREADY_RAN).sum();
    long errors = attemptErrors.sum() + recordErrors.sum();
    long missedPeriods = missed.sum();
    return new JobSnapshot(
        name,
        schedule.toString(),
        current != null,
        lastStart,
        lastPeriod,
        lastDuration,
        lastSuccess,
        lastFailure,
        lastFailureMessage,
        started,
        successes,
        failures,
        timeouts,
        lockLosses,
        lockHeld,
        alreadyRan,
        errors,
        missedPeriods,
        intended);
  }

  /** Removes this job's meters from the registry. */
  void removeMeters(MeterRegistry registry) {
    for (Meter meter : meters) {
      registry.remove(meter);
    }
  }

  /** One run in progress: what the job sees, and how the scheduler stops it. */
  static final class Run implements JobContext {
    private final String name;
    private final Instant period;
    private final Deadline deadline;
    private final Thread thread;
    private final LockSession session;
    private volatile boolean lockHeld = true;
    private volatile @Nullable Outcome stop;
    private boolean finished; // guarded by this
    private boolean abandoned; // guarded by this
    private final AtomicBoolean checking = new AtomicBoolean();

    Run(String name, Instant period, Deadline deadline, Thread thread, LockSession session) {
      this.name = name;
      this.period = period;
      this.deadline = deadline;
      this.thread = thread;
      this.session = session;
    }

    @Override
    public String name() {
      return name;
    }

    @Override
    public Instant periodStart() {
      return period;
    }

    @Override
    public boolean isLockHeld() {
      return lockHeld;
    }

    @Override
    public boolean isCancelled() {
      return stop != null;
    }

    @Override
    public Deadline deadline() {
      return deadline;
    }

    /**
     * Marks the lock lost and stops the run; true if this call was the first to see it while the
     * run was still going.
     */
    synchronized boolean loseLock() {
      if (!lockHeld || finished) {
        return false;
      }
      lockHeld = false;
      cancel(Outcome.LOCK_LOST);
      return true;
    }

    /** Tells the run to stop, and interrupts it, unless it is over or already told. */
    synchronized void cancel(Outcome reason) {
      if (finished || stop != null) {
        return;
      }
      stop = reason;
      thread.interrupt();
    }

    /**
     * Gives up on a run that ignores its cancellation: the server releases its lock. True if this
     * call did it, false if the run is over or was given up on before.
     */
    boolean abandon() {
      synchronized (this) {
        if (finished || abandoned) {
          return false;
        }
        abandoned = true;
      }
      session.abort();
      return true;
    }

    /** Whether a lock check may start: false while the last one is still going. */
    boolean startCheck() {
      return checking.compareAndSet(false, true);
    }

    void endCheck() {
      checking.set(false);
    }

    synchronized boolean isFinished() {
      return finished;
    }

    /**
     * Called by the run's thread when the job returned: no interrupt can reach the thread after
     * this, and one sent before it is cleared, so that the scheduler's own statements that follow
     * are not disturbed.
     */
    synchronized void finish() {
      finished = true;
      Thread.interrupted();
    }

    Outcome outcome(@Nullable Throwable failure) {
      Outcome reason = stop;
      if (reason != null) {
        return reason;
      }
      return failure == null ? Outcome.SUCCESS : Outcome.FAILURE;
    }

    @Override
    public String toString() {
      return "JobContext[" + name + " " + period + (lockHeld ? "" : " lock lost") + "]";
    }
  }
}

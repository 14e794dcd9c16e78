package dev.bulwark.health;

import com.zaxxer.hikari.HikariDataSource;
import dev.bulwark.cache.BoundedCache;
import dev.bulwark.core.internal.Checks;
import dev.bulwark.jobs.BoundedWorker;
import dev.bulwark.jobs.LockingScheduler;
import dev.bulwark.ratelimit.RateLimiter;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.cluster.api.StatefulRedisClusterConnection;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.lang.management.MemoryUsage;
import java.lang.management.OperatingSystemMXBean;
import java.lang.management.RuntimeMXBean;
import java.lang.management.ThreadInfo;
import java.lang.management.ThreadMXBean;
import java.math.BigDecimal;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.StringJoiner;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;

/**
 * The built-in health checks, to register in a {@code HealthRegistry}:
 *
 * <pre>{@code
 * HealthRegistry health = HealthRegistry.builder()
 *     .detail("memory:utilization", HealthChecks.heap())
 *     .liveness("jvm:threads", HealthChecks.threads())
 *     .detail("cache:prices", HealthChecks.cache(prices))
 *     .detail("job:rates", HealthChecks.job(scheduler, "rates", Duration.ofHours(25)))
 *     .detail("worker:activity-log", HealthChecks.worker(activityLog))
 *     .build();
 * }</pre>
 *
 * <p>The JVM, disk and module checks are local: they read this JVM's own figures, or the snapshot
 * of a bulwark object, and never call a system outside the process, not even the Redis or database
 * behind a cache, limiter or scheduler. They return at once and may serve as liveness checks
 * (though only those whose failure a restart cures belong there, such as threads: the heap's used
 * share counts garbage not yet collected, so it belongs in the detailed report). Each result
 * carries the measured value and its unit ({@code observedValue}, {@code observedUnit}), a {@code
 * componentType} ({@code "system"} for the JVM and the disk, {@code "component"} for a bulwark
 * object), details, and, when it is not a pass, an {@code output} that gives the figures and the
 * level they crossed, such as {@code "heap 91.1% used (933 of 1024 MiB), fail at 90%"}.
 *
 * <p><b>External checks.</b> {@link #pool}, {@link #dataSource} and {@link #redis} look at a system
 * outside the process (a database, Redis, or a pool of connections to one); a registry refuses them
 * as liveness checks, since a liveness probe that fails when the database is down restarts every
 * instance and fixes nothing. Each needs its library on the class path, which {@code
 * bulwark-health} declares optional: {@code bulwark-pool} (and so HikariCP) for {@link #pool},
 * {@code lettuce-core} for {@link #redis}; {@link #dataSource} needs only JDBC, and HikariCP, if
 * present, for its full-pool report.
 *
 * <p><b>What they report.</b> Each result carries a measured value and its unit ({@code "%"} or
 * {@code "ms"}), the IETF draft's {@code componentType} ({@code "component"} for the pool, which is
 * a part of this process; {@code "datastore"} for the database and Redis), and for a non-pass
 * status an {@code output} saying what is wrong. A failure's text is built from the exception's
 * type and message with {@link dev.bulwark.core.Secrets#maskText}, so that no password of a URL a
 * driver quotes reaches it.
 *
 * <p><b>Timeouts.</b> The checks that call out ({@link #dataSource} and {@link #redis}) wait at
 * most their own timeout, 1 s by default (the default timeout of a Kubernetes probe), or what the
 * calling thread's {@link dev.bulwark.timeouts.Deadline} has left, if that is less; they answer an
 * interrupt. Give them a timeout below the registry's timeout for the check, so that the check
 * reports what it waited for rather than being cut off.
 *
 * <p>Thresholds are {@link Threshold}s: a check warns at or above {@code warnAt} and fails at or
 * above {@code failAt}, and an infinite level is off. Percentages are from 0 to 100, rounded to one
 * decimal before they are rated, so the output never shows a figure below the level it crossed.
 *
 * <p>A check on a module object (a cache, a rate limiter, a scheduler, a worker) needs that
 * module's jar on the class path, which this module depends on as optional: a check is in a class
 * of its own, loaded only when its factory is called.
 *
 * <p>Every check is thread-safe. Those that measure since their previous call ({@link #gcPause()},
 * {@link #rateLimiter}) keep that state in the check object: register each object once. A check
 * that throws (on a closed cache, for example) is reported by the registry as a failure.
 */
public final class HealthChecks {
  /** Default for {@link #heap()}: warn at 80 %, fail at 90 % of the heap's maximum. */
  static final Threshold HEAP = Threshold.of(80, 90);

  /**
   * Default for {@link #gcPause()}: warn at 10 %, fail at 25 % of wall time spent in collections.
   * Tuned collectors stay below 5 %; 10 % is the usual alert; past 25 % the service spends one
   * request in four waiting for memory, and the JVM's own GC overhead limit (98 %) is near.
   */
  static final Threshold GC_PAUSE = Threshold.of(10, 25);

  /** Default for {@link #diskFree(Path)}: warn at 90 %, fail at 95 % of the file store used. */
  static final Threshold DISK = Threshold.of(90, 95);

  /** Default for {@link #cache(BoundedCache)}: warn at 90 % of the bound; never fails. */
  static final Threshold CACHE = Threshold.warnAt(90);

  /** Default for {@link #worker(BoundedWorker)}: warn at 5,000 items queued; never fails. */
  static final Threshold WORKER = Threshold.warnAt(5_000);

  /** The most deadlocked threads the output of {@link #threads()} names. */
  static final int DEADLOCKED_NAMES = 5;

  static final String SYSTEM = "system";
  static final String COMPONENT = "component";
  static final String PERCENT = "%";
  static final String MIB_UNIT = "MiB";
  private static final long MIB = 1024 * 1024;

  private HealthChecks() {}

  /**
   * Checks a HikariCP pool's utilization, without borrowing from it: {@code Pools.snapshot(pool)}
   * ({@code bulwark-pool}), a few volatile reads. Same as {@link #pool(HikariDataSource,
   * Threshold)} with a threshold that warns from 80 % utilization (the audits' figure) and never
   * fails.
   *
   * @param dataSource the pool
   * @return the check
   * @throws NullPointerException if {@code dataSource} is null
   */
  public static HealthCheck pool(HikariDataSource dataSource) {
    return pool(dataSource, PoolCheck.DEFAULT_UTILIZATION);
  }

  /**
   * Checks a HikariCP pool's utilization, without borrowing from it: it reads {@code
   * Pools.snapshot(pool)} ({@code bulwark-pool}), a few volatile reads, so it cannot add to the
   * exhaustion it reports, and never waits.
   *
   * <ul>
   *   <li>Measures: the utilization, connections lent out as a percentage of the pool's maximum
   *       size, rounded to 0.1; unit {@code "%"}; component type {@code "component"}.
   *   <li>Details: {@code active}, {@code idle}, {@code pending} (threads waiting for a
   *       connection), {@code total} (connections open), {@code max} (the maximum size).
   *   <li>Status: {@code utilizationPercent} rates the utilization ({@link Status#WARN} at or above
   *       its {@code warnAt}, {@link Status#FAIL} at or above its {@code failAt}: {@code "8 of 10
   *       connections in use (80%), at or above the warning level of 80%"}). Whenever threads wait
   *       for a connection, the pool is exhausted and the status is at least {@link Status#WARN}:
   *       {@code "pool full: 10 of 10 connections in use, 3 threads waiting"} (or, while the pool
   *       still opens connections, {@code "3 threads waiting for a connection, 6 of 10 connections
   *       in use"}).
   *   <li>A closed pool fails ({@code "pool api is closed"}); a {@code new HikariDataSource()} not
   *       started yet warns ({@code "pool api has not started: it opens on its first borrow"})
   *       rather than fail, since a failing readiness check could keep away the first borrow.
   * </ul>
   *
   * @param dataSource the pool
   * @param utilizationPercent when to warn and fail, in percent; each level more than 0 and at most
   *     100, or infinite for never
   * @return the check
   * @throws NullPointerException if an argument is null
   * @throws IllegalArgumentException if a level is out of range: {@code "utilizationPercent.warnAt
   *     must be more than 0 and at most 100, or infinite for never, but was 120 %"}
   */
  public static HealthCheck pool(HikariDataSource dataSource, Threshold utilizationPercent) {
    Objects.requireNonNull(dataSource, "dataSource");
    return BuiltInCheck.external(
        "HealthChecks.pool", new PoolCheck(dataSource, utilizationPercent));
  }

  /**
   * Checks that a database answers, through a connection of the data source, within 1 s. Same as
   * {@link #dataSource(DataSource, Duration)} with a timeout of 1 s.
   *
   * @param dataSource the data source: a pool or a plain one
   * @return the check
   * @throws NullPointerException if {@code dataSource} is null
   */
  public static HealthCheck dataSource(DataSource dataSource) {
    return dataSource(dataSource, DataSourceCheck.DEFAULT_TIMEOUT);
  }

  /**
   * Checks that a database answers: it borrows a connection and calls {@link
   * java.sql.Connection#isValid(int) isValid}, both within {@code timeout}.
   *
   * <ul>
   *   <li>Measures: the round trip of {@code isValid}, in milliseconds to the microsecond; unit
   *       {@code "ms"}; component type {@code "datastore"}. Detail {@code borrowMs}: how long the
   *       borrow took.
   *   <li>The timeout: a plain {@link DataSource} has no timeout of its own for {@code
   *       getConnection()}, so the borrow and {@code isValid} run on a thread of their own ({@code
   *       bulwark-health-datasource-<n>}) and the check waits for them at most {@code timeout}.
   *       {@code isValid} gets what is left, rounded up to whole seconds (JDBC counts seconds). An
   *       attempt still running at the timeout is abandoned (interrupted while it waits for a
   *       connection; a connection that comes later is closed), and while it runs a new check fails
   *       at once, {@code "the previous check still waits for a connection, for 2400 ms so far"},
   *       instead of starting a second thread.
   *   <li>A HikariCP pool (the data source is, or {@linkplain DataSource#unwrap unwraps} to, a
   *       {@code HikariDataSource}): the check first reads the pool's counts. Every connection lent
   *       out and threads waiting is a full pool, not a dead database: {@link Status#WARN} {@code
   *       "pool full: 10 of 10 connections in use, 3 threads waiting"}, without borrowing, which
   *       would join the queue. Otherwise it borrows from the pool with half the timeout as the
   *       borrow's own timeout (in place of the pool's {@code connectionTimeout}); when that borrow
   *       fails while every connection is lent out, the result is the same warning, ending {@code
   *       "; none free within 500 ms"}. A closed pool fails: {@code "pool api is closed"}.
   *   <li>{@link Status#FAIL} when no connection comes ({@code "cannot borrow a connection:
   *       PSQLException (SQLState 08001): Connection to db:5432 refused. ..."}, {@code "no
   *       connection within 1000 ms"}), the database does not answer in time ({@code "the database
   *       did not answer within 1000 ms"}), or {@code isValid} returns false or throws. The texts
   *       of the exceptions, and of their causes, are masked with {@link
   *       dev.bulwark.core.Secrets#maskText}.
   * </ul>
   *
   * @param dataSource the data source: a pool or a plain one
   * @param timeout the longest wait for a connection and its answer together, 10 ms to 1 min;
   *     shortened to what the calling thread's {@code Deadline} has left, if that is less
   * @return the check
   * @throws NullPointerException if an argument is null
   * @throws IllegalArgumentException if {@code timeout} is out of range: {@code "timeout must be
   *     between 10 ms and 60000 ms, but was 0 ms"}
   */
  public static HealthCheck dataSource(DataSource dataSource, Duration timeout) {
    Objects.requireNonNull(dataSource, "dataSource");
    Objects.requireNonNull(timeout, "timeout");
    return BuiltInCheck.external(
        "HealthChecks.dataSource", new DataSourceCheck(dataSource, timeout));
  }

  /**
   * Checks that Redis answers a {@code PING} within 1 s, warning from 100 ms. Same as {@link
   * #redis(StatefulRedisConnection, Threshold, Duration)} with {@code Threshold.warnAt(100)} and a
   * timeout of 1 s.
   *
   * @param connection a connection, as the application shares it
   * @return the check
   * @throws NullPointerException if {@code connection} is null
   */
  public static HealthCheck redis(StatefulRedisConnection<?, ?> connection) {
    return redis(connection, RedisPingCheck.DEFAULT_LATENCY, RedisPingCheck.DEFAULT_TIMEOUT);
  }

  /**
   * Checks that Redis answers a {@code PING}, sent on the application's own connection through
   * Lettuce's asynchronous API, within {@code timeout}. A {@code PING} not answered in time is
   * cancelled; the connection's own command timeout is left as it is (a client from {@code
   * Pools.redis} does not count a check's shorter wait as a silent connection).
   *
   * <ul>
   *   <li>Measures: the {@code PING}'s latency, in milliseconds to the microsecond; unit {@code
   *       "ms"}; component type {@code "datastore"}.
   *   <li>Status: {@code latencyMillis} rates the latency ({@code "PING took 150.2 ms, at or above
   *       the warning level of 100 ms"}). {@link Status#FAIL} when the connection is not open
   *       ({@code "not connected to Redis: the connection is closed, or reconnecting"}), the {@code
   *       PING} fails ({@code "PING failed: RedisException: Currently not connected. Commands are
   *       rejected."}, the exception's text masked with {@link dev.bulwark.core.Secrets#maskText}),
   *       or no answer comes in time ({@code "no answer to PING within 1000 ms"}). When Lettuce has
   *       reconnected, the next check passes again.
   * </ul>
   *
   * @param connection a connection, as the application shares it
   * @param latencyMillis when to warn and fail, in milliseconds; each level positive, or infinite
   *     for never
   * @param timeout the longest wait for the answer, 10 ms to 1 min; shortened to what the calling
   *     thread's {@code Deadline} has left, if that is less
   * @return the check
   * @throws NullPointerException if an argument is null
   * @throws IllegalArgumentException if a value is out of range: {@code "latencyMillis.warnAt must
   *     be positive, or infinite for never, but was 0 ms"}, {@code "timeout must be between 10 ms
   *     and 60000 ms, but was 0 ms"}
   */
  public static HealthCheck redis(
      StatefulRedisConnection<?, ?> connection, Threshold latencyMillis, Duration timeout) {
    Objects.requireNonNull(connection, "connection");
    Objects.requireNonNull(latencyMillis, "latencyMillis");
    Objects.requireNonNull(timeout, "timeout");
    return BuiltInCheck.external(
        "HealthChecks.redis", new RedisPingCheck(connection, latencyMillis, timeout));
  }

  /**
   * Checks that every master of a Redis Cluster answers a {@code PING} within 1 s, warning from 100
   * ms. Same as {@link #redis(StatefulRedisClusterConnection, Threshold, Duration)} with {@code
   * Threshold.warnAt(100)} and a timeout of 1 s.
   *
   * @param connection a cluster connection, as the application shares it
   * @return the check
   * @throws NullPointerException if {@code connection} is null
   */
  public static HealthCheck redis(StatefulRedisClusterConnection<?, ?> connection) {
    return redis(connection, RedisPingCheck.DEFAULT_LATENCY, RedisPingCheck.DEFAULT_TIMEOUT);
  }

  /**
   * Checks that every master of a Redis Cluster answers a {@code PING} within {@code timeout}. The
   * {@code PING}s go out in parallel, one per master of the connection's current view of the
   * cluster (Lettuce's partitions; a client from {@code Pools.redisCluster} refreshes them every 60
   * s and on redirects), through Lettuce's asynchronous node selection. Every master rather than
   * one node: each key lives on one master, so one that does not answer fails the commands of its
   * share of the keys while the others answer. Replicas are not pinged, nor a master that serves no
   * slot (one that failed and was replaced, which the view may keep listing): it serves no key.
   *
   * <ul>
   *   <li>Measures: the slowest master's latency, in milliseconds to the microsecond; unit {@code
   *       "ms"}; component type {@code "datastore"}. Detail {@code masters}: how many were pinged;
   *       {@code failed}: how many did not answer, on failure. Lettuce opens the connection to each
   *       master on its first use, so the first check's latency includes opening them.
   *   <li>Status: {@code latencyMillis} rates the slowest latency ({@code "PING took 150.2 ms on
   *       10.0.0.5:7001, at or above the warning level of 100 ms"}). {@link Status#FAIL} when any
   *       master fails its {@code PING} or does not answer in time, naming up to three: {@code
   *       "PING failed on 1 of 3 masters: 10.0.0.5:7001: no answer within 1000 ms"}; exception
   *       texts are masked with {@link dev.bulwark.core.Secrets#maskText}. {@code PING}s not
   *       answered in time are cancelled.
   * </ul>
   *
   * @param connection a cluster connection, as the application shares it
   * @param latencyMillis when to warn and fail, in milliseconds; each level positive, or infinite
   *     for never
   * @param timeout the longest wait for every answer, 10 ms to 1 min; shortened to what the calling
   *     thread's {@code Deadline} has left, if that is less
   * @return the check
   * @throws NullPointerException if an argument is null
   * @throws IllegalArgumentException if a value is out of range, with the texts of {@link
   *     #redis(StatefulRedisConnection, Threshold, Duration)}
   */
  public static HealthCheck redis(
      StatefulRedisClusterConnection<?, ?> connection, Threshold latencyMillis, Duration timeout) {
    Objects.requireNonNull(connection, "connection");
    Objects.requireNonNull(latencyMillis, "latencyMillis");
    Objects.requireNonNull(timeout, "timeout");
    return BuiltInCheck.external(
        "HealthChecks.redis", new RedisClusterPingCheck(connection, latencyMillis, timeout));
  }

  /**
   * The heap used, as a percentage of its maximum ({@code -Xmx}), with the default threshold: warn
   * at 80 %, fail at 90 %. See {@link #heap(Threshold)}.
   *
   * @return the check
   */
  public static HealthCheck heap() {
    return heap(HEAP);
  }

  /**
   * The heap used, as a percentage of its maximum ({@code -Xmx}), or of the memory committed to it
   * when the JVM sets no maximum. Observed: that percentage, unit {@code "%"}. Details: {@code
   * usedMiB}, {@code committedMiB}, and {@code maxMiB} when there is a maximum, in whole MiB. Used
   * memory includes garbage not yet collected, so a heap near its maximum between two collections
   * is normal: a warning that lasts is what matters. Thread-safe.
   *
   * @param percentUsed the levels, from 0 to 100, or infinite for off
   * @return the check
   * @throws NullPointerException if {@code percentUsed} is null
   * @throws IllegalArgumentException if a level is outside 0 to 100 and not infinite
   */
  public static HealthCheck heap(Threshold percentUsed) {
    checkPercent("percentUsed", percentUsed);
    MemoryMXBean memory = ManagementFactory.getMemoryMXBean();
    return BuiltInCheck.local(
        "HealthChecks.heap", () -> heap(memory.getHeapMemoryUsage(), percentUsed));
  }

  static HealthResult heap(MemoryUsage usage, Threshold percentUsed) {
    long used = usage.getUsed();
    long committed = usage.getCommitted();
    long max = usage.getMax();
    long of = max > 0 ? max : committed;
    double percent = percent(used, of);
    Status status = percentUsed.rate(percent);
    Map<String, Object> details = new LinkedHashMap<>();
    details.put("usedMiB", mib(used));
    details.put("committedMiB", mib(committed));
    if (max > 0) {
      details.put("maxMiB", mib(max));
    }
    String output =
        Checks.format(
            "heap %s%% used (%d of %d MiB%s), %s",
            plain(percent),
            mib(used),
            mib(of),
            max > 0 ? "" : " committed, no maximum set",
            level(status, percentUsed, PERCENT));
    return result(status, unlessPass(status, output), percent, PERCENT, SYSTEM, details);
  }

  /**
   * The memory used outside the heap (metaspace, code cache, ...), in MiB, reported only: no
   * threshold. See {@link #nonHeap(Threshold)}.
   *
   * @return the check
   */
  public static HealthCheck nonHeap() {
    return nonHeap(Threshold.none());
  }

  /**
   * The memory used outside the heap, as the JVM's memory bean counts it: metaspace, the code cache
   * and the other non-heap pools (not direct buffers or thread stacks). Observed: the MiB used,
   * whole, unit {@code "MiB"}. Details: {@code usedMiB}, {@code committedMiB}, and {@code maxMiB}
   * when the JVM sets a maximum. A figure that grows without end is a class-loader leak.
   * Thread-safe.
   *
   * @param mib the levels in MiB, at least 0, or infinite for off; default {@link Threshold#none()}
   * @return the check
   * @throws NullPointerException if {@code mib} is null
   * @throws IllegalArgumentException if a level is negative
   */
  public static HealthCheck nonHeap(Threshold mib) {
    checkCount("mib", mib, MIB_UNIT);
    MemoryMXBean memory = ManagementFactory.getMemoryMXBean();
    return BuiltInCheck.local(
        "HealthChecks.nonHeap", () -> nonHeap(memory.getNonHeapMemoryUsage(), mib));
  }

  static HealthResult nonHeap(MemoryUsage usage, Threshold mib) {
    long used = mib(usage.getUsed());
    long committed = mib(usage.getCommitted());
    Status status = mib.rate((double) used);
    Map<String, Object> details = new LinkedHashMap<>();
    details.put("usedMiB", used);
    details.put("committedMiB", committed);
    if (usage.getMax() > 0) {
      details.put("maxMiB", mib(usage.getMax()));
    }
    String output =
        Checks.format(
            "non-heap %d MiB used (%d MiB committed), %s",
            used, committed, level(status, mib, " " + MIB_UNIT));
    return result(status, unlessPass(status, output), used, MIB_UNIT, SYSTEM, details);
  }

  /**
   * The share of wall time spent in garbage collection since the check's previous call, with the
   * default threshold: warn at 10 %, fail at 25 %. See {@link #gcPause(Threshold)}.
   *
   * @return a new check, with its own window
   */
  public static HealthCheck gcPause() {
    return gcPause(GC_PAUSE);
  }

  /**
   * The share of wall time spent in garbage collection since the check's previous call; at its
   * first call, since the JVM started. The time is the sum of the collection times the JVM's
   * garbage-collector beans report, over the JVM's uptime; the beans of ZGC's and Shenandoah's
   * concurrent cycles (named {@code "... Cycles"}), which run beside the application, are left out,
   * and their pause beans kept. Observed: the percentage, unit {@code "%"}, at most 100. Details
   * over the window: {@code collections}, {@code pauseMs}, {@code windowMs}.
   *
   * <p>The window is the time between two calls, so the figure is the registry's time-to-live
   * apart: a burst of collections shows for one window, and a single long pause in a short window
   * shows large. Thread-safe: calls are serialized, each measuring the window since the one before.
   *
   * @param percentOfTime the levels, from 0 to 100, or infinite for off; default warn at 10, fail
   *     at 25
   * @return a new check, with its own window
   * @throws NullPointerException if {@code percentOfTime} is null
   * @throws IllegalArgumentException if a level is outside 0 to 100 and not infinite
   */
  public static HealthCheck gcPause(Threshold percentOfTime) {
    checkPercent("percentOfTime", percentOfTime);
    return BuiltInCheck.local(
        "HealthChecks.gcPause", new GcPauseCheck(GcPauseCheck::jvm, percentOfTime));
  }

  /**
   * The live threads, reported only, and a failure when threads are deadlocked. See {@link
   * #threads(Threshold)}.
   *
   * @return the check
   */
  public static HealthCheck threads() {
    return threads(Threshold.none());
  }

  /**
   * The JVM's live threads, daemons included, and a deadlock search ({@link
   * ThreadMXBean#findDeadlockedThreads()}, which covers monitors and {@code java.util.concurrent}
   * locks). Threads that are deadlocked make the check fail, whatever {@code count}, and the output
   * names up to five of them; a deadlock never resolves, so this check belongs in liveness.
   * Observed: the live threads, unit {@code "threads"}. Details: {@code daemon}, {@code peak},
   * {@code deadlocked}. The deadlock search costs a pass over every thread: fine at a registry's
   * time-to-live. Thread-safe.
   *
   * @param count the levels in threads, at least 0, or infinite for off; default {@link
   *     Threshold#none()}
   * @return the check
   * @throws NullPointerException if {@code count} is null
   * @throws IllegalArgumentException if a level is negative
   */
  public static HealthCheck threads(Threshold count) {
    checkCount("count", count, "threads");
    ThreadMXBean bean = ManagementFactory.getThreadMXBean();
    return BuiltInCheck.local("HealthChecks.threads", () -> threads(bean, count));
  }

  static HealthResult threads(ThreadMXBean bean, Threshold count) {
    long[] ids = bean.findDeadlockedThreads();
    List<String> names = new ArrayList<>();
    int deadlocked = 0;
    if (ids != null) {
      deadlocked = ids.length;
      for (ThreadInfo info : bean.getThreadInfo(ids)) {
        if (info != null) { // a thread that ended meanwhile
          names.add(info.getThreadName());
        }
      }
    }
    return threads(
        bean.getThreadCount(),
        bean.getDaemonThreadCount(),
        bean.getPeakThreadCount(),
        deadlocked,
        names,
        count);
  }

  static HealthResult threads(
      int live, int daemon, int peak, int deadlocked, List<String> names, Threshold count) {
    Findings findings = new Findings();
    if (deadlocked > 0) {
      StringJoiner named = new StringJoiner(", ");
      int shown = Math.min(names.size(), DEADLOCKED_NAMES);
      for (int i = 0; i < shown; i++) {
        named.add('"' + names.get(i) + '"');
      }
      String more = deadlocked > shown ? " and " + (deadlocked - shown) + " more" : "";
      findings.add(
          Status.FAIL, Checks.format("%d threads deadlocked: %s%s", deadlocked, named, more));
    }
    Status rated = count.rate(live);
    findings.add(
        rated, Checks.format("%d live threads, %s", live, level(rated, count, " threads")));
    Map<String, Object> details = new LinkedHashMap<>();
    details.put("daemon", daemon);
    details.put("peak", peak);
    details.put("deadlocked", deadlocked);
    return result(findings.status(), findings.output(), live, "threads", SYSTEM, details);
  }

  /**
   * The CPU this JVM uses, reported only. See {@link #processCpu(Threshold)}.
   *
   * @return the check
   */
  public static HealthCheck processCpu() {
    return processCpu(Threshold.none());
  }

  /**
   * The CPU this JVM uses: {@code com.sun.management.OperatingSystemMXBean.getProcessCpuLoad()},
   * the share of all the machine's processors (or the container's) used by the process recently, as
   * a percentage. Observed: that percentage, unit {@code "%"}. Details: {@code
   * availableProcessors}, and {@code available}: where the JVM has no such figure (another vendor's
   * bean, or none measured yet), the check passes with {@code available} false, no observed value
   * and the output {@code "process CPU load is not available"}. Thread-safe.
   *
   * @param percent the levels, from 0 to 100, or infinite for off; default {@link Threshold#none()}
   * @return the check
   * @throws NullPointerException if {@code percent} is null
   * @throws IllegalArgumentException if a level is outside 0 to 100 and not infinite
   */
  public static HealthCheck processCpu(Threshold percent) {
    checkPercent("percent", percent);
    OperatingSystemMXBean os = ManagementFactory.getOperatingSystemMXBean();
    return BuiltInCheck.local(
        "HealthChecks.processCpu",
        () -> processCpu(processCpuLoad(os), os.getAvailableProcessors(), percent));
  }

  static double processCpuLoad(OperatingSystemMXBean os) {
    return os instanceof com.sun.management.OperatingSystemMXBean
        ? ((com.sun.management.OperatingSystemMXBean) os).getProcessCpuLoad()
        : Double.NaN;
  }

  static HealthResult processCpu(double load, int processors, Threshold percent) {
    Map<String, Object> details = new LinkedHashMap<>();
    details.put("availableProcessors", processors);
    if (!(load >= 0 && load <= 1)) { // -1 or NaN: not measured
      details.put("available", false);
      return result(Status.PASS, "process CPU load is not available", null, null, SYSTEM, details);
    }
    details.put("available", true);
    double used = round1(load * 100);
    Status status = percent.rate(used);
    String output =
        Checks.format(
            "process CPU %s%% of %d processors, %s",
            plain(used), processors, level(status, percent, PERCENT));
    return result(status, unlessPass(status, output), used, PERCENT, SYSTEM, details);
  }

  /**
   * How long the JVM has run. Observed: whole seconds since it started, unit {@code "s"}. Details:
   * {@code startTime}, an ISO-8601 instant. Always passes: a figure for dashboards (a small one
   * after a restart loop). Thread-safe.
   *
   * @return the check
   */
  public static HealthCheck uptime() {
    RuntimeMXBean runtime = ManagementFactory.getRuntimeMXBean();
    return BuiltInCheck.local(
        "HealthChecks.uptime", () -> uptime(runtime.getUptime(), runtime.getStartTime()));
  }

  static HealthResult uptime(long uptimeMillis, long startMillis) {
    Map<String, Object> details = new LinkedHashMap<>();
    details.put("startTime", Instant.ofEpochMilli(startMillis).toString());
    return result(Status.PASS, null, uptimeMillis / 1000, "s", SYSTEM, details);
  }

  /**
   * The space used on the file store that holds {@code path}, with the default threshold: warn at
   * 90 %, fail at 95 % used. See {@link #diskFree(Path, Threshold)}.
   *
   * @param path a file or directory on the file store to watch, such as the data directory
   * @return the check
   * @throws NullPointerException if {@code path} is null
   */
  public static HealthCheck diskFree(Path path) {
    return diskFree(path, DISK);
  }

  /**
   * The space used on the file store that holds {@code path}, as a percentage of its size. Used
   * means not usable by this JVM: {@code total - usable}, so blocks the file system reserves for
   * root count as used. Observed: that percentage, unit {@code "%"}: the one figure that a single
   * threshold fits on stores of every size; the free space is in the details. Details: {@code
   * path}, {@code freeMiB} (usable), {@code totalMiB}. Fails with {@code "path <path> does not
   * exist"} when the path is missing, as when a volume is not mounted. A store that reports no size
   * (a pseudo file system) passes, without an observed value. Thread-safe.
   *
   * @param path a file or directory on the file store to watch, such as the data directory
   * @param percentUsed the levels, from 0 to 100, or infinite for off; default warn at 90, fail at
   *     95
   * @return the check
   * @throws NullPointerException if an argument is null
   * @throws IllegalArgumentException if a level is outside 0 to 100 and not infinite
   */
  public static HealthCheck diskFree(Path path, Threshold percentUsed) {
    Objects.requireNonNull(path, "path");
    checkPercent("percentUsed", percentUsed);
    return BuiltInCheck.local("HealthChecks.diskFree", () -> disk(path, percentUsed));
  }

  static HealthResult disk(Path path, Threshold percentUsed) throws IOException {
    FileStore store;
    try {
      store = Files.getFileStore(path);
    } catch (NoSuchFileException e) {
      Map<String, Object> details = new LinkedHashMap<>();
      details.put("path", path.toString());
      return result(Status.FAIL, "path " + path + " does not exist", null, null, SYSTEM, details);
    }
    return disk(path.toString(), store.getTotalSpace(), store.getUsableSpace(), percentUsed);
  }

  static HealthResult disk(String path, long total, long usable, Threshold percentUsed) {
    Map<String, Object> details = new LinkedHashMap<>();
    details.put("path", path);
    details.put("freeMiB", mib(usable));
    details.put("totalMiB", mib(total));
    if (total <= 0) {
      return result(
          Status.PASS,
          "the file store of " + path + " reports no size",
          null,
          null,
          SYSTEM,
          details);
    }
    double used = percent(total - Math.min(usable, total), total);
    Status status = percentUsed.rate(used);
    String output =
        Checks.format(
            "disk of %s %s%% used (%d MiB free of %d MiB), %s",
            path, plain(used), mib(usable), mib(total), level(status, percentUsed, PERCENT));
    return result(status, unlessPass(status, output), used, PERCENT, SYSTEM, details);
  }

  /**
   * How full a cache is, with the default threshold: warn at 90 % of its bound, never fail. See
   * {@link #cache(BoundedCache, Threshold)}.
   *
   * @param cache the cache
   * @return the check
   * @throws NullPointerException if {@code cache} is null
   */
  public static HealthCheck cache(BoundedCache<?, ?> cache) {
    return cache(cache, CACHE);
  }

  /**
   * How full a cache is, from its {@link BoundedCache#snapshot() snapshot}: its size as a
   * percentage of its bound ({@code CacheSnapshot.fill()}: entries of {@code maximumSize}, or
   * weight of {@code maximumWeight}). Observed: that percentage, unit {@code "%"}; it can pass 100
   * for the moment eviction takes. A cache that stays full evicts what it will need again: raise
   * the bound if its hit ratio is low. Details: {@code size}, {@code bound}, {@code weighted},
   * {@code weight} (when weighted), {@code hitRatio} (0 to 1, 1 before the first lookup), {@code
   * hits}, {@code misses}, {@code evictions}, {@code loadFailures}, {@code staleServed}.
   *
   * <p>With a Redis tier, also {@code redisConnected}, {@code redisSynced}, {@code redisErrors},
   * {@code redisClears} and {@code redisPropagationFailures}, and the check warns while the tier is
   * not connected (misses go to the loader, writes throw) or not synced (only {@code
   * expireAfterWrite} bounds how stale the first tier can be). It reads the tier's state and sends
   * no command to Redis.
   *
   * <p>Thread-safe. On a closed cache the check throws {@link IllegalStateException}.
   *
   * @param cache the cache
   * @param percentFull the levels, from 0 to 100, or infinite for off; default warn at 90, never
   *     fail
   * @return the check
   * @throws NullPointerException if an argument is null
   * @throws IllegalArgumentException if a level is outside 0 to 100 and not infinite
   */
  public static HealthCheck cache(BoundedCache<?, ?> cache, Threshold percentFull) {
    Objects.requireNonNull(cache, "cache");
    checkPercent("percentFull", percentFull);
    return BuiltInCheck.local("HealthChecks.cache", new CacheCheck(cache, percentFull));
  }

  /**
   * Whether a rate limiter decided without Redis since the check's previous call: it warns when
   * decisions were made by its {@code FailurePolicy} (failed open, failed closed, or by the local
   * fallback) or Redis calls failed in that window; at its first call, since the check was made.
   * The limiter's snapshot has counts only, no state of its connection, so the counts' growth is
   * the signal: the check warns during an outage, as long as requests come, and passes again in the
   * first window with none that went without Redis. A window without any request passes.
   *
   * <p>Observed: the decisions made without Redis in the window, unit {@code "decisions"}. Details,
   * cumulative since the limiter was built: {@code distributed}, {@code decisions.<outcome tag>}
   * for every outcome ({@code decisions.allowed}, {@code decisions.fallback_allowed}, ...), {@code
   * fallbacks}, {@code redisErrors}, {@code keys} (held in this process) and {@code maxKeys}. A
   * local limiter always passes. It sends no command to Redis.
   *
   * <p>Thread-safe: calls are serialized, and each sees the window since the one before.
   *
   * @param limiter the limiter, local or Redis
   * @return a new check, with its own window
   * @throws NullPointerException if {@code limiter} is null
   */
  public static HealthCheck rateLimiter(RateLimiter limiter) {
    Objects.requireNonNull(limiter, "limiter");
    return BuiltInCheck.local("HealthChecks.rateLimiter", new RateLimiterCheck(limiter));
  }

  /**
   * The age of a scheduled job's last success on this instance, from its {@code JobSnapshot},
   * against {@code maxAge}: give it the period plus a margin, 25 h for a daily job. It fails when
   * the last success is older than {@code maxAge}, or when a job that never succeeded here was
   * scheduled longer ago than that (counted from when this check was made, which passes with the
   * output {@code "no successful run yet"} until then), and when the scheduler has no such job. It
   * warns while the last attempt failed or could not reach the database, with the failure's message
   * (masked by the scheduler).
   *
   * <p>Observed: the age in whole seconds, unit {@code "s"}; none before the first success.
   * Details: {@code "schedule"} (its text), {@code running}, {@code maxAgeSeconds}, {@code
   * lastSuccess}, {@code lastFailure} and {@code nextRun} when known (ISO-8601 instants), {@code
   * lastFailureMessage} when there is one, and the counts {@code runs}, {@code successes}, {@code
   * failures}, {@code missed}, {@code errors}. A run on another instance is not this instance's
   * success: for a job that runs on one instance of many, give every instance's check a {@code
   * maxAge} only a run anywhere meets, or read the run table. It sends no query to the database.
   * Thread-safe.
   *
   * @param scheduler the scheduler
   * @param job the job's name, as scheduled
   * @param maxAge the oldest a last success may be, more than zero
   * @return the check
   * @throws NullPointerException if an argument is null
   * @throws IllegalArgumentException if {@code job} is not a job name (1 to 63 letters, digits,
   *     {@code '.'}, {@code '_'} or {@code '-'}) or {@code maxAge} is not positive
   */
  public static HealthCheck job(LockingScheduler scheduler, String job, Duration maxAge) {
    return job(scheduler, job, maxAge, InstantSource.system());
  }

  /** As {@link #job(LockingScheduler, String, Duration)}, on {@code clock}: for tests. */
  static HealthCheck job(
      LockingScheduler scheduler, String job, Duration maxAge, InstantSource clock) {
    Objects.requireNonNull(scheduler, "scheduler");
    Checks.identifier("job", job);
    Checks.positive("maxAge", maxAge);
    Objects.requireNonNull(clock, "clock");
    return BuiltInCheck.local("HealthChecks.job", new JobCheck(scheduler, job, maxAge, clock));
  }

  /**
   * A worker's queue depth, with the default threshold: warn at 5,000 items, never fail on depth.
   * See {@link #worker(BoundedWorker, Threshold)}.
   *
   * @param worker the worker
   * @return the check
   * @throws NullPointerException if {@code worker} is null
   */
  public static HealthCheck worker(BoundedWorker<?> worker) {
    return worker(worker, WORKER);
  }

  /**
   * A worker's queue depth against {@code depth}, and its state, from its {@code WorkerSnapshot}.
   * It fails when the worker is stopping or stopped (closed, at a limit, at its memory ceiling, or
   * because its consumer failed: the output gives the {@code StopReason}), or when its ledger does
   * not balance; it warns while its intake is paused at the memory ceiling. Observed: the items
   * queued, not yet in a batch, unit {@code "items"}. Details: {@code state}, {@code stopReason}
   * (when stopping), {@code capacity}, {@code inHandler}, the ledger ({@code submitted}, {@code
   * processed}, {@code deadLettered}, {@code rejected}, {@code dropped}, {@code returned}, {@code
   * inFlight}, {@code unaccounted}), {@code batches}, {@code failedAttempts} and {@code
   * lastFailure} (masked by the worker) when there is one. Thread-safe.
   *
   * @param worker the worker
   * @param depth the levels in items, at least 0, or infinite for off; default warn at 5,000 (give
   *     a smaller queue a level below its capacity)
   * @return the check
   * @throws NullPointerException if an argument is null
   * @throws IllegalArgumentException if a level is negative
   */
  public static HealthCheck worker(BoundedWorker<?> worker, Threshold depth) {
    Objects.requireNonNull(worker, "worker");
    checkCount("depth", depth, "items");
    return BuiltInCheck.local("HealthChecks.worker", new WorkerCheck(worker, depth));
  }

  // Helpers of the checks.

  static HealthResult result(
      Status status,
      @Nullable String output,
      @Nullable Object observed,
      @Nullable String unit,
      String componentType,
      Map<String, Object> details) {
    return new HealthResult(
        status, observed, unit, componentType, output, details, Instant.now(), Duration.ZERO);
  }

  /** {@return {@code output}, or null for a pass} */
  static @Nullable String unlessPass(Status status, String output) {
    return status == Status.PASS ? null : output;
  }

  /**
   * The level a status crossed: {@code "fail at 90%"}, {@code "warn at 400 threads"}; empty for a
   * pass.
   */
  static String level(Status status, Threshold levels, String unit) {
    switch (status) {
      case FAIL:
        return "fail at " + plain(levels.failAt()) + unit;
      case WARN:
        return "warn at " + plain(levels.warnAt()) + unit;
      default:
        return "";
    }
  }

  /** {@code "1 decision"}, {@code "2 decisions"}. */
  static String count(long n, String noun) {
    return n + " " + noun + (n == 1 ? "" : "s");
  }

  /** {@code part} as a percentage of {@code whole}, to one decimal; 0 for an empty whole. */
  static double percent(long part, long whole) {
    return whole <= 0 ? 0.0 : round1(part * 100.0 / whole);
  }

  static double round1(double value) {
    return Math.round(value * 10) / 10.0;
  }

  static long mib(long bytes) {
    return bytes < 0 ? -1 : bytes / MIB;
  }

  /** A number without a trailing {@code .0}: {@code "90"}, {@code "92.5"}, {@code "Infinity"}. */
  static String plain(double value) {
    if (!Double.isFinite(value)) {
      return Double.toString(value);
    }
    return BigDecimal.valueOf(value).stripTrailingZeros().toPlainString();
  }

  static Threshold checkPercent(String setting, Threshold levels) {
    return checkLevels(setting, levels, 100, PERCENT);
  }

  static Threshold checkCount(String setting, Threshold levels, String unit) {
    return checkLevels(setting, levels, Double.POSITIVE_INFINITY, unit);
  }

  private static Threshold checkLevels(String setting, Threshold levels, double max, String unit) {
    Objects.requireNonNull(levels, setting);
    checkLevel(setting + ".warnAt", levels.warnAt(), max, unit);
    checkLevel(setting + ".failAt", levels.failAt(), max, unit);
    return levels;
  }

  private static void checkLevel(String setting, double value, double max, String unit) {
    if (value == Double.POSITIVE_INFINITY || (value >= 0 && value <= max)) {
      return;
    }
    String rule = max == Double.POSITIVE_INFINITY ? "at least 0" : "between 0 and " + plain(max);
    throw Checks.invalid(
        "%s must be %s, or infinite for never, but was %s %s", setting, rule, plain(value), unit);
  }
}

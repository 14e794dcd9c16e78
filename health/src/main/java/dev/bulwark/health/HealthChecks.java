package dev.bulwark.health;

import com.zaxxer.hikari.HikariDataSource;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.cluster.api.StatefulRedisClusterConnection;
import java.time.Duration;
import java.util.Objects;
import javax.sql.DataSource;

/**
 * The built-in health checks, to register with a {@code HealthRegistry}.
 *
 * <pre>{@code
 * HealthRegistry health = HealthRegistry.builder()
 *     .readiness("db", HealthChecks.dataSource(pool))
 *     .readiness("redis", HealthChecks.redis(connection))
 *     .detail("db:pool", HealthChecks.pool(pool))
 *     .build();
 * }</pre>
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
 * <p>Every check made here is thread-safe. This class is stateless and thread-safe.
 */
public final class HealthChecks {
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
   * share of the keys while the others answer. Replicas are not pinged.
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
}

package dev.bulwark.pool;

import static dev.bulwark.core.internal.Checks.duration;
import static dev.bulwark.core.internal.Checks.seconds;

import dev.bulwark.core.Secrets;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.StringJoiner;

/**
 * The settings of a PostgreSQL pool once its defaults are applied and its rules checked: what the
 * pool actually runs with, for a start-up log line or a diagnostics page. Obtain them from a built
 * pool with {@link Pools#settings(com.zaxxer.hikari.HikariDataSource)}, or before building with
 * {@link PostgresPoolBuilder#settings()}.
 *
 * <pre>{@code
 * log.info("database pool: {}", Pools.settings(api));
 * // PoolSettings{jdbcUrl=jdbc:postgresql://db.internal:5432/shop, user=shop, profile=API,
 * //   poolName=api, maximumPoolSize=5, ..., socketTimeout=45 s, ...}
 * }</pre>
 *
 * <p>No component holds a secret: the JDBC URL, which {@link Pools#postgres} accepts without a user
 * or password, is kept {@linkplain Secrets#maskUrl(String) masked} (a parameter such as {@code
 * sslpassword} shows as {@code ***}), and the password is not part of it. Immutable and
 * thread-safe.
 *
 * @param jdbcUrl the JDBC URL, masked
 * @param user the role the pool logs in as
 * @param profile the profile whose defaults applied
 * @param poolName the pool name: meter tags, thread names
 * @param maximumPoolSize the largest number of connections, 1 to 10,000
 * @param minimumIdle idle connections kept open, 0 to {@code maximumPoolSize}
 * @param connectionTimeout how long {@code getConnection()} waits for a free connection
 * @param validationTimeout how long a connection may take to prove it is alive
 * @param statementTimeout PostgreSQL's {@code statement_timeout}; with {@link
 *     ServerSettings#SERVER_DEFAULTS} the value the server is said to enforce, not sent
 * @param idleInTransactionSessionTimeout PostgreSQL's {@code idle_in_transaction_session_timeout};
 *     not sent with {@link ServerSettings#SERVER_DEFAULTS}
 * @param lockTimeout PostgreSQL's {@code lock_timeout}; not sent with {@link
 *     ServerSettings#SERVER_DEFAULTS}
 * @param maxLifetime the longest a connection lives, before HikariCP's random shortening
 * @param keepaliveTime how often an idle connection is pinged; zero when off
 * @param idleTimeout how long an idle connection above {@code minimumIdle} stays open; used only
 *     when {@code minimumIdle} is below {@code maximumPoolSize}
 * @param leakDetectionThreshold how long a borrow may last before HikariCP logs a probable leak;
 *     zero when off
 * @param socketTimeout pgjdbc's {@code socketTimeout}, whole seconds
 * @param connectTimeout pgjdbc's {@code connectTimeout}, whole seconds
 * @param loginTimeout pgjdbc's {@code loginTimeout}, whole seconds
 * @param applicationName the {@code application_name} the server shows
 * @param readOnly whether every connection is read-only
 * @param serverSettings how the server-side limits reach the server
 */
public record PoolSettings(
    String jdbcUrl,
    String user,
    PoolProfile profile,
    String poolName,
    int maximumPoolSize,
    int minimumIdle,
    Duration connectionTimeout,
    Duration validationTimeout,
    Duration statementTimeout,
    Duration idleInTransactionSessionTimeout,
    Duration lockTimeout,
    Duration maxLifetime,
    Duration keepaliveTime,
    Duration idleTimeout,
    Duration leakDetectionThreshold,
    Duration socketTimeout,
    Duration connectTimeout,
    Duration loginTimeout,
    String applicationName,
    boolean readOnly,
    ServerSettings serverSettings) {

  /**
   * Checks that nothing is null, and masks the JDBC URL.
   *
   * @param jdbcUrl the JDBC URL; kept as {@link Secrets#maskUrl(String)} shows it
   * @param user the role
   * @param profile the profile
   * @param poolName the pool name
   * @param maximumPoolSize the largest number of connections
   * @param minimumIdle idle connections kept open
   * @param connectionTimeout the acquire timeout
   * @param validationTimeout the validation timeout
   * @param statementTimeout the statement timeout
   * @param idleInTransactionSessionTimeout the idle-in-transaction timeout
   * @param lockTimeout the lock timeout
   * @param maxLifetime the max lifetime
   * @param keepaliveTime the keepalive time, zero when off
   * @param idleTimeout the idle timeout
   * @param leakDetectionThreshold the leak detection threshold, zero when off
   * @param socketTimeout the socket timeout
   * @param connectTimeout the connect timeout
   * @param loginTimeout the login timeout
   * @param applicationName the application name
   * @param readOnly whether connections are read-only
   * @param serverSettings how the limits reach the server
   * @throws NullPointerException if a component is null
   */
  public PoolSettings {
    jdbcUrl = Secrets.maskUrl(Objects.requireNonNull(jdbcUrl, "jdbcUrl"));
    Objects.requireNonNull(user, "user");
    Objects.requireNonNull(profile, "profile");
    Objects.requireNonNull(poolName, "poolName");
    Objects.requireNonNull(connectionTimeout, "connectionTimeout");
    Objects.requireNonNull(validationTimeout, "validationTimeout");
    Objects.requireNonNull(statementTimeout, "statementTimeout");
    Objects.requireNonNull(idleInTransactionSessionTimeout, "idleInTransactionSessionTimeout");
    Objects.requireNonNull(lockTimeout, "lockTimeout");
    Objects.requireNonNull(maxLifetime, "maxLifetime");
    Objects.requireNonNull(keepaliveTime, "keepaliveTime");
    Objects.requireNonNull(idleTimeout, "idleTimeout");
    Objects.requireNonNull(leakDetectionThreshold, "leakDetectionThreshold");
    Objects.requireNonNull(socketTimeout, "socketTimeout");
    Objects.requireNonNull(connectTimeout, "connectTimeout");
    Objects.requireNonNull(loginTimeout, "loginTimeout");
    Objects.requireNonNull(applicationName, "applicationName");
    Objects.requireNonNull(serverSettings, "serverSettings");
  }

  /** The pgjdbc {@code options} value: {@code -c name=value} pairs, times in milliseconds. */
  String startupOptions() {
    StringJoiner s = new StringJoiner(" ");
    limits().forEach((name, value) -> s.add("-c " + name + "=" + value));
    return s.toString();
  }

  /** The same settings as {@code SET} statements, for {@code connectionInitSql}. */
  String initSql() {
    StringJoiner s = new StringJoiner("; ");
    limits().forEach((name, value) -> s.add("SET " + name + " = " + value));
    return s.toString();
  }

  private Map<String, String> limits() {
    Map<String, String> settings = new LinkedHashMap<>();
    settings.put("statement_timeout", String.valueOf(statementTimeout.toMillis()));
    settings.put(
        "idle_in_transaction_session_timeout",
        String.valueOf(idleInTransactionSessionTimeout.toMillis()));
    settings.put("lock_timeout", String.valueOf(lockTimeout.toMillis()));
    if (readOnly) {
      settings.put("default_transaction_read_only", "on");
    }
    return settings;
  }

  /**
   * Lists every setting on one line, durations in milliseconds and pgjdbc's whole-second settings
   * in seconds; the URL masked, no password.
   *
   * @return for example {@code PoolSettings{jdbcUrl=jdbc:postgresql://db:5432/shop, user=shop,
   *     profile=API, poolName=api, maximumPoolSize=9, ..., statementTimeout=30000 ms, ...,
   *     socketTimeout=45 s, connectTimeout=3 s, loginTimeout=5 s, applicationName=api,
   *     readOnly=false, serverSettings=STARTUP_OPTIONS}}
   */
  @Override
  public String toString() {
    StringJoiner s = new StringJoiner(", ", "PoolSettings{", "}");
    s.add("jdbcUrl=" + jdbcUrl);
    s.add("user=" + user);
    s.add("profile=" + profile);
    s.add("poolName=" + poolName);
    s.add("maximumPoolSize=" + maximumPoolSize);
    s.add("minimumIdle=" + minimumIdle);
    s.add("connectionTimeout=" + duration(connectionTimeout));
    s.add("validationTimeout=" + duration(validationTimeout));
    s.add("statementTimeout=" + duration(statementTimeout));
    s.add("idleInTransactionSessionTimeout=" + duration(idleInTransactionSessionTimeout));
    s.add("lockTimeout=" + duration(lockTimeout));
    s.add("maxLifetime=" + duration(maxLifetime));
    s.add("keepaliveTime=" + duration(keepaliveTime));
    s.add("idleTimeout=" + duration(idleTimeout));
    s.add("leakDetectionThreshold=" + duration(leakDetectionThreshold));
    s.add("socketTimeout=" + seconds(socketTimeout));
    s.add("connectTimeout=" + seconds(connectTimeout));
    s.add("loginTimeout=" + seconds(loginTimeout));
    s.add("applicationName=" + applicationName);
    s.add("readOnly=" + readOnly);
    s.add("serverSettings=" + serverSettings);
    return s.toString();
  }
}

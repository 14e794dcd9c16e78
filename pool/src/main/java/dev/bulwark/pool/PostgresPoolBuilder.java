package dev.bulwark.pool;

import static dev.bulwark.core.internal.Checks.duration;
import static dev.bulwark.core.internal.Checks.seconds;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.bulwark.core.Secrets;
import dev.bulwark.core.internal.Checks;
import dev.bulwark.core.internal.Meters;
import dev.bulwark.core.internal.NamedThreads;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.StringJoiner;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;
import org.postgresql.Driver;

/**
 * Builds a HikariCP pool of PostgreSQL (pgjdbc) connections with every timeout set and checked
 * against the others. Obtain one from {@link Pools#postgres(String, String, String)}.
 *
 * <pre>{@code
 * HikariDataSource api = Pools.postgres(jdbcUrl, user, password)
 *     .profile(PoolProfile.API)
 *     .connectionBudget(100, 4, 2)      // 100 connections, 4 instances, 2 pools each
 *     .meterRegistry(registry)
 *     .build();
 * }</pre>
 *
 * <p><b>Defaults.</b> A {@linkplain PoolProfile profile} (API unless set) supplies the pool size,
 * the acquire timeout, the statement timeout and the idle-in-transaction timeout. The others are:
 * validation timeout the smaller of 1 s and half the acquire timeout; lock timeout a third of the
 * statement timeout; max lifetime 30 min (or 5 s less than {@link #infrastructureIdleLimit}, when
 * that is shorter); keepalive half the max lifetime, at most 2 min, and off when that would be
 * under 30 s (a max lifetime under 60 s); leak detection off; socket timeout the statement timeout
 * plus 15 s, rounded up to whole seconds; connect timeout 3 s; login timeout 5 s (or the connect
 * timeout, if longer); minimum idle equal to the maximum pool size (a fixed-size pool); HikariCP's
 * idle timeout, which retires idle connections above the minimum, the smaller of 10 min and half
 * the max lifetime; application name the pool name; server settings through {@link
 * ServerSettings#STARTUP_OPTIONS}. pgjdbc's {@code tcpKeepAlive} is always on.
 *
 * <p><b>Checks.</b> A value out of its range throws {@link IllegalArgumentException} from its
 * setter; a setting given twice throws {@link IllegalStateException}. {@link #build()} checks the
 * settings against each other, defaults included, and throws {@link IllegalArgumentException}
 * naming the rule and both values, or {@link IllegalStateException} for settings that cannot be
 * combined; the rules are listed there. Messages have the form {@code "<setting> must be <rule>,
 * but was <value> <unit>"} and are stable.
 *
 * <p>Not thread-safe: configure it on one thread, call {@link #build()} once or more; each call
 * returns a new pool.
 */
public final class PostgresPoolBuilder {

  static final Duration MIN_CONNECTION_TIMEOUT = Duration.ofMillis(500);
  static final Duration MAX_CONNECTION_TIMEOUT = Duration.ofMinutes(10);
  static final Duration MIN_VALIDATION_TIMEOUT = Duration.ofMillis(250);
  static final Duration MAX_VALIDATION_TIMEOUT = Duration.ofMinutes(1);
  static final Duration DEFAULT_VALIDATION_TIMEOUT = Duration.ofSeconds(1);
  static final Duration MIN_SERVER_TIMEOUT = Duration.ofMillis(1);
  static final Duration MAX_SERVER_TIMEOUT = Duration.ofHours(24);
  static final Duration MIN_MAX_LIFETIME = Duration.ofSeconds(30);
  static final Duration MAX_MAX_LIFETIME = Duration.ofHours(24);
  static final Duration DEFAULT_MAX_LIFETIME = Duration.ofMinutes(30);
  static final Duration MIN_KEEPALIVE_TIME = Duration.ofSeconds(30);
  static final Duration MAX_KEEPALIVE_TIME = Duration.ofHours(24);
  static final Duration DEFAULT_KEEPALIVE_TIME = Duration.ofMinutes(2);
  static final Duration DEFAULT_IDLE_TIMEOUT = Duration.ofMinutes(10);
  static final Duration MIN_LEAK_DETECTION_THRESHOLD = Duration.ofSeconds(2);
  static final Duration MAX_LEAK_DETECTION_THRESHOLD = Duration.ofHours(24);
  static final Duration MIN_SOCKET_TIMEOUT = Duration.ofSeconds(1);
  static final Duration MAX_SOCKET_TIMEOUT = Duration.ofHours(25);
  static final Duration DEFAULT_SOCKET_TIMEOUT_HEADROOM = Duration.ofSeconds(15);
  static final Duration SOCKET_TIMEOUT_MARGIN = Duration.ofSeconds(5);
  static final Duration MIN_CONNECT_TIMEOUT = Duration.ofSeconds(1);
  static final Duration MAX_CONNECT_TIMEOUT = Duration.ofMinutes(5);
  static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofSeconds(3);
  static final Duration DEFAULT_LOGIN_TIMEOUT = Duration.ofSeconds(5);
  static final Duration INFRASTRUCTURE_MARGIN = Duration.ofSeconds(5);
  static final Duration MIN_INFRASTRUCTURE_IDLE_LIMIT =
      MIN_MAX_LIFETIME.plus(INFRASTRUCTURE_MARGIN);
  static final Duration MAX_INFRASTRUCTURE_IDLE_LIMIT = Duration.ofDays(7);
  static final int MAX_POOL_SIZE = 10_000;
  static final int MAX_BUDGET = 1_000_000;
  static final int MAX_INSTANCES = 10_000;
  static final int MAX_POOLS_PER_INSTANCE = 100;

  /** pgjdbc properties this builder sets; a JDBC URL that carries one of them is refused. */
  static final Set<String> OWNED_URL_PARAMETERS =
      Set.of(
          "user",
          "password",
          "options",
          "socketTimeout",
          "connectTimeout",
          "loginTimeout",
          "ApplicationName",
          "tcpKeepAlive",
          "readOnly",
          "readOnlyMode");

  private final String jdbcUrl;
  private final String user;
  private final String password;
  private final int cores;

  private @Nullable PoolProfile profile;
  private @Nullable Integer maximumPoolSize;
  private @Nullable Integer minimumIdle;
  private @Nullable Duration connectionTimeout;
  private @Nullable Duration validationTimeout;
  private @Nullable Duration statementTimeout;
  private @Nullable Duration idleInTransactionSessionTimeout;
  private @Nullable Duration lockTimeout;
  private @Nullable Duration maxLifetime;
  private @Nullable Duration keepaliveTime;
  private @Nullable Duration leakDetectionThreshold;
  private @Nullable Duration socketTimeout;
  private @Nullable Duration connectTimeout;
  private @Nullable Duration loginTimeout;
  private @Nullable Duration infrastructureIdleLimit;
  private @Nullable String applicationName;
  private @Nullable Boolean readOnly;
  private @Nullable String poolName;
  private @Nullable MeterRegistry meterRegistry;
  private @Nullable ServerSettings serverSettings;
  private @Nullable Budget budget;

  PostgresPoolBuilder(String jdbcUrl, String user, String password, int cores) {
    this.jdbcUrl = checkUrl(Objects.requireNonNull(jdbcUrl, "jdbcUrl"));
    this.user = Objects.requireNonNull(user, "user");
    this.password = Objects.requireNonNull(password, "password");
    if (user.isEmpty()) {
      throw Checks.invalid("user must be a non-empty role name, but was \"\"");
    }
    this.cores = cores;
  }

  private static final Pattern SCHEME = Pattern.compile("^(jdbc:[a-z0-9]+:|[a-z][a-z0-9+.-]*://)");

  private static String checkUrl(String url) {
    if (!url.startsWith("jdbc:postgresql:")) {
      throw Checks.invalid("jdbcUrl must start with jdbc:postgresql:, but was %s", schemeOnly(url));
    }
    int query = url.indexOf('?');
    int at = url.indexOf('@');
    if (at >= 0 && (query < 0 || at < query || at < url.lastIndexOf('/'))) {
      // pgjdbc would read "user:password@host" as the host name, and quote it when it fails. A
      // password may hold '?' or '/', so an '@' before the last '/' is user-info too.
      throw Checks.invalid(
          "jdbcUrl must not carry a user or password (pass them to Pools.postgres(jdbcUrl, user,"
              + " password); percent-encode an '@' in a parameter as %%40), but was %s",
          Secrets.maskUrl(url));
    }
    if (query >= 0) {
      for (String pair : url.substring(query + 1).split("&", -1)) {
        int eq = pair.indexOf('=');
        String key = eq < 0 ? pair : pair.substring(0, eq);
        for (String owned : OWNED_URL_PARAMETERS) {
          if (owned.equalsIgnoreCase(key)) {
            throw Checks.invalid(
                "jdbcUrl must not carry the %s parameter (the builder sets it), but it does",
                owned);
          }
        }
      }
    }
    // pgjdbc logs the whole URL it cannot read (java.util.logging, WARNING): give it no query,
    // where an sslpassword may stand.
    if (!isValidPgjdbcUrl(query < 0 ? url : url.substring(0, query))) {
      throw Checks.invalid(
          "jdbcUrl must be a valid pgjdbc URL, jdbc:postgresql://host[:port]/database[?parameters],"
              + " but was %s",
          Secrets.maskUrl(url));
    }
    return url;
  }

  /**
   * The scheme of a text given as a JDBC URL, or only its length: the text may be a password passed
   * in the URL's place, or a URL whose user-info follows a scheme-less start.
   */
  private static String schemeOnly(String url) {
    Matcher scheme = SCHEME.matcher(url);
    return scheme.find()
        ? scheme.group(1) + "..."
        : Checks.format("a text of %d characters", url.length());
  }

  /**
   * Whether pgjdbc reads the URL; HikariCP's message for one it does not ("Driver claims to not
   * accept jdbcUrl") would come from {@link #build()} instead, with the URL in it.
   */
  private static boolean isValidPgjdbcUrl(String url) {
    try {
      return Driver.parseURL(url, null) != null;
    } catch (RuntimeException e) {
      return false;
    }
  }

  /**
   * Sets the profile whose defaults apply. Default: {@link PoolProfile#API}.
   *
   * @param profile the profile
   * @return this builder
   * @throws IllegalStateException if the profile was already set
   */
  public PostgresPoolBuilder profile(PoolProfile profile) {
    Objects.requireNonNull(profile, "profile");
    Checks.requireUnset("profile", this.profile);
    this.profile = profile;
    return this;
  }

  /**
   * Sets the largest number of connections the pool opens. Default: from the profile, capped by
   * {@link #connectionBudget(int, int, int)}. A pool of cores &times; 2 + 1 connections usually
   * serves more requests per second than a larger one: the database has only so many cores. The
   * profile's default counts the application host's cores; with more than one instance, set a
   * connection budget too.
   *
   * @param size 1 to 10,000 connections; at least 2 for the API profile
   * @return this builder
   * @throws IllegalArgumentException if {@code size} is out of range
   * @throws IllegalStateException if it was already set
   */
  public PostgresPoolBuilder maximumPoolSize(int size) {
    Checks.requireUnset("maximumPoolSize", maximumPoolSize);
    this.maximumPoolSize = Checks.between("maximumPoolSize", size, 1, MAX_POOL_SIZE);
    return this;
  }

  /**
   * Sets how many idle connections the pool keeps open. Default: the maximum pool size, so the pool
   * has a fixed size and never pays connection setup on a burst. Below the maximum, idle
   * connections above this number close after HikariCP's idle timeout: 10 min, or half the max
   * lifetime when that is shorter.
   *
   * @param count 0 to 10,000 connections, at most the maximum pool size
   * @return this builder
   * @throws IllegalArgumentException if {@code count} is out of range
   * @throws IllegalStateException if it was already set
   */
  public PostgresPoolBuilder minimumIdle(int count) {
    Checks.requireUnset("minimumIdle", minimumIdle);
    this.minimumIdle = Checks.between("minimumIdle", count, 0, MAX_POOL_SIZE);
    return this;
  }

  /**
   * Sets how long {@code getConnection()} waits for a free connection before it throws {@link
   * java.sql.SQLTransientConnectionException}. Default: 3 s (API), 30 s (WORKER). A short wait
   * turns an exhausted pool into quick errors instead of a queue of stuck requests.
   *
   * @param timeout 500 ms to 10 min
   * @return this builder
   * @throws IllegalArgumentException if {@code timeout} is out of range
   * @throws IllegalStateException if it was already set
   */
  public PostgresPoolBuilder connectionTimeout(Duration timeout) {
    Checks.requireUnset("connectionTimeout", connectionTimeout);
    this.connectionTimeout =
        Checks.between(
            "connectionTimeout",
            Objects.requireNonNull(timeout, "timeout"),
            MIN_CONNECTION_TIMEOUT,
            MAX_CONNECTION_TIMEOUT);
    return this;
  }

  /**
   * Sets how long HikariCP waits for a connection to prove it is alive before lending it. Default:
   * the smaller of 1 s and half the connection timeout.
   *
   * @param timeout 250 ms to 1 min, less than the connection timeout
   * @return this builder
   * @throws IllegalArgumentException if {@code timeout} is out of range
   * @throws IllegalStateException if it was already set
   */
  public PostgresPoolBuilder validationTimeout(Duration timeout) {
    Checks.requireUnset("validationTimeout", validationTimeout);
    this.validationTimeout =
        Checks.between(
            "validationTimeout",
            Objects.requireNonNull(timeout, "timeout"),
            MIN_VALIDATION_TIMEOUT,
            MAX_VALIDATION_TIMEOUT);
    return this;
  }

  /**
   * Sets PostgreSQL's {@code statement_timeout} for every connection: the server cancels any
   * statement running longer, which fails with SQLState {@code 57014}. Default: 30 s (API), 5 min
   * (WORKER). Resolution 1 ms.
   *
   * @param timeout 1 ms to 24 h
   * @return this builder
   * @throws IllegalArgumentException if {@code timeout} is out of range
   * @throws IllegalStateException if it was already set
   */
  public PostgresPoolBuilder statementTimeout(Duration timeout) {
    Checks.requireUnset("statementTimeout", statementTimeout);
    this.statementTimeout = serverTimeout("statementTimeout", timeout);
    return this;
  }

  /**
   * Sets PostgreSQL's {@code idle_in_transaction_session_timeout}: the server ends a session that
   * has sat inside an open transaction, doing nothing, for longer; its locks are released and the
   * pool replaces the connection. Default: 60 s (API), 5 min (WORKER). Resolution 1 ms.
   *
   * @param timeout 1 ms to 24 h
   * @return this builder
   * @throws IllegalArgumentException if {@code timeout} is out of range
   * @throws IllegalStateException if it was already set
   */
  public PostgresPoolBuilder idleInTransactionSessionTimeout(Duration timeout) {
    Checks.requireUnset("idleInTransactionSessionTimeout", idleInTransactionSessionTimeout);
    this.idleInTransactionSessionTimeout =
        serverTimeout("idleInTransactionSessionTimeout", timeout);
    return this;
  }

  /**
   * Sets PostgreSQL's {@code lock_timeout}: a statement that waits longer for a lock fails with
   * SQLState {@code 55P03}, so a blocked statement gives up before the statement timeout. Default:
   * a third of the statement timeout. Resolution 1 ms.
   *
   * @param timeout 1 ms to 24 h, at most the statement timeout
   * @return this builder
   * @throws IllegalArgumentException if {@code timeout} is out of range
   * @throws IllegalStateException if it was already set
   */
  public PostgresPoolBuilder lockTimeout(Duration timeout) {
    Checks.requireUnset("lockTimeout", lockTimeout);
    this.lockTimeout = serverTimeout("lockTimeout", timeout);
    return this;
  }

  /**
   * Sets the longest a connection lives; HikariCP retires it (once it is back in the pool) after
   * this, shortened by a random amount of up to a quarter so that connections do not all retire
   * together. Default: 30 min, or 5 s less than the {@linkplain #infrastructureIdleLimit
   * infrastructure idle limit} when that is shorter.
   *
   * @param lifetime 30 s to 24 h; more than the keepalive time (when on) and at least 5 s less than
   *     the infrastructure idle limit
   * @return this builder
   * @throws IllegalArgumentException if {@code lifetime} is out of range
   * @throws IllegalStateException if it was already set
   */
  public PostgresPoolBuilder maxLifetime(Duration lifetime) {
    Checks.requireUnset("maxLifetime", maxLifetime);
    this.maxLifetime =
        Checks.between(
            "maxLifetime",
            Objects.requireNonNull(lifetime, "lifetime"),
            MIN_MAX_LIFETIME,
            MAX_MAX_LIFETIME);
    return this;
  }

  /**
   * Sets how often HikariCP pings an idle connection, which keeps firewalls and NAT gateways from
   * dropping it and finds dead ones before a caller does. {@link Duration#ZERO} turns it off.
   * Default: half the max lifetime, at most 2 min; off when that would be under 30 s (a max
   * lifetime under 60 s: such connections are retired, idle or not, before any infrastructure idle
   * limit).
   *
   * @param interval zero, or 30 s to 24 h and less than the max lifetime
   * @return this builder
   * @throws IllegalArgumentException if {@code interval} is out of range
   * @throws IllegalStateException if it was already set
   */
  public PostgresPoolBuilder keepaliveTime(Duration interval) {
    Checks.requireUnset("keepaliveTime", keepaliveTime);
    Objects.requireNonNull(interval, "interval");
    this.keepaliveTime =
        interval.isZero()
            ? interval
            : Checks.between("keepaliveTime", interval, MIN_KEEPALIVE_TIME, MAX_KEEPALIVE_TIME);
    return this;
  }

  /**
   * Sets how long a connection may stay borrowed before HikariCP logs a warning with the stack
   * trace of the borrower (a probable leak). Logging only: the connection is not taken back.
   * Default: off. {@link Duration#ZERO} turns it off.
   *
   * @param threshold zero, or 2 s to 24 h and less than the max lifetime
   * @return this builder
   * @throws IllegalArgumentException if {@code threshold} is out of range
   * @throws IllegalStateException if it was already set
   */
  public PostgresPoolBuilder leakDetectionThreshold(Duration threshold) {
    Checks.requireUnset("leakDetectionThreshold", leakDetectionThreshold);
    Objects.requireNonNull(threshold, "threshold");
    this.leakDetectionThreshold =
        threshold.isZero()
            ? threshold
            : Checks.between(
                "leakDetectionThreshold",
                threshold,
                MIN_LEAK_DETECTION_THRESHOLD,
                MAX_LEAK_DETECTION_THRESHOLD);
    return this;
  }

  /**
   * Sets pgjdbc's {@code socketTimeout}: the client gives up on a server that has sent nothing for
   * this long and closes the connection. pgjdbc's own default waits forever. It must exceed the
   * statement timeout by at least 5 s, or the client abandons statements the server would have
   * cancelled cleanly. Default: the statement timeout plus 15 s, rounded up to whole seconds.
   *
   * @param timeout a whole number of seconds, 1 s to 25 h
   * @return this builder
   * @throws IllegalArgumentException if {@code timeout} is out of range or not whole seconds
   * @throws IllegalStateException if it was already set
   */
  public PostgresPoolBuilder socketTimeout(Duration timeout) {
    Checks.requireUnset("socketTimeout", socketTimeout != null, shownSeconds(socketTimeout));
    this.socketTimeout =
        Checks.wholeSecondsBetween(
            "socketTimeout",
            Objects.requireNonNull(timeout, "timeout"),
            MIN_SOCKET_TIMEOUT,
            MAX_SOCKET_TIMEOUT);
    return this;
  }

  /**
   * Sets pgjdbc's {@code connectTimeout}: how long opening the TCP connection may take. Default: 3
   * s (pgjdbc's own is 10 s).
   *
   * @param timeout a whole number of seconds, 1 s to 300 s, at most the login timeout
   * @return this builder
   * @throws IllegalArgumentException if {@code timeout} is out of range or not whole seconds
   * @throws IllegalStateException if it was already set
   */
  public PostgresPoolBuilder connectTimeout(Duration timeout) {
    Checks.requireUnset("connectTimeout", connectTimeout != null, shownSeconds(connectTimeout));
    this.connectTimeout =
        Checks.wholeSecondsBetween(
            "connectTimeout",
            Objects.requireNonNull(timeout, "timeout"),
            MIN_CONNECT_TIMEOUT,
            MAX_CONNECT_TIMEOUT);
    return this;
  }

  /**
   * Sets pgjdbc's {@code loginTimeout}: how long connecting, TLS and authentication together may
   * take. pgjdbc's own default is unlimited; zero is not accepted. Default: 5 s, or the connect
   * timeout if that is longer.
   *
   * @param timeout a whole number of seconds, 1 s to 300 s
   * @return this builder
   * @throws IllegalArgumentException if {@code timeout} is out of range or not whole seconds
   * @throws IllegalStateException if it was already set
   */
  public PostgresPoolBuilder loginTimeout(Duration timeout) {
    Checks.requireUnset("loginTimeout", loginTimeout != null, shownSeconds(loginTimeout));
    this.loginTimeout =
        Checks.wholeSecondsBetween(
            "loginTimeout",
            Objects.requireNonNull(timeout, "timeout"),
            MIN_CONNECT_TIMEOUT,
            MAX_CONNECT_TIMEOUT);
    return this;
  }

  /**
   * Declares the shortest time after which something between the pool and PostgreSQL closes a
   * connection: a firewall or NAT idle timeout, a load balancer, PgBouncer's {@code
   * client_idle_timeout}, PostgreSQL's {@code idle_session_timeout}. The max lifetime must then be
   * at least 5 s shorter (and its default becomes so). Default: none.
   *
   * @param limit 35 s to 7 days
   * @return this builder
   * @throws IllegalArgumentException if {@code limit} is out of range
   * @throws IllegalStateException if it was already set
   */
  public PostgresPoolBuilder infrastructureIdleLimit(Duration limit) {
    Checks.requireUnset("infrastructureIdleLimit", infrastructureIdleLimit);
    this.infrastructureIdleLimit =
        Checks.between(
            "infrastructureIdleLimit",
            Objects.requireNonNull(limit, "limit"),
            MIN_INFRASTRUCTURE_IDLE_LIMIT,
            MAX_INFRASTRUCTURE_IDLE_LIMIT);
    return this;
  }

  /**
   * Sets the {@code application_name} the server shows in {@code pg_stat_activity} and its logs.
   * Default: the pool name.
   *
   * @param name 1 to 63 printable ASCII characters
   * @return this builder
   * @throws IllegalArgumentException if {@code name} is empty, too long or not printable ASCII
   * @throws IllegalStateException if it was already set
   */
  public PostgresPoolBuilder applicationName(String name) {
    Objects.requireNonNull(name, "name");
    Checks.requireUnset("applicationName", applicationName != null, "\"" + applicationName + "\"");
    if (!name.matches("[\\x20-\\x7E]{1,63}")) {
      throw Checks.invalid(
          "applicationName must be 1 to 63 printable ASCII characters, but was \"%s\"", name);
    }
    this.applicationName = name;
    return this;
  }

  /**
   * Makes every connection read-only, so the server rejects writes with SQLState {@code 25006},
   * also in auto-commit mode: HikariCP marks each connection read-only and pgjdbc, told {@code
   * readOnlyMode=always}, makes the session read-only ({@code SET SESSION CHARACTERISTICS AS
   * TRANSACTION READ ONLY}) and begins every transaction {@code READ ONLY}; {@code
   * default_transaction_read_only} travels with the other server settings. With {@link
   * ServerSettings#STARTUP_OPTIONS} it is the session's default and holds after {@code RESET ALL};
   * with the other two, a {@code RESET ALL} or {@code DISCARD ALL} by application code lifts it for
   * auto-commit statements on that connection (transactions still begin {@code READ ONLY}).
   * Default: false.
   *
   * @param readOnly true for a read-only pool
   * @return this builder
   * @throws IllegalStateException if it was already set
   */
  public PostgresPoolBuilder readOnly(boolean readOnly) {
    Checks.requireUnset("readOnly", this.readOnly);
    this.readOnly = readOnly;
    return this;
  }

  /**
   * Sets the pool name: the {@code pool} tag of HikariCP's meters, the {@code name} tag of {@code
   * bulwark.pool.utilization}, the thread names ({@code bulwark-pool-<name>-<n>}) and the default
   * application name. Pools that share a meter registry need distinct names: {@link #build()} fails
   * otherwise. Default: {@code api}, {@code worker} or {@code custom}, after the profile.
   *
   * @param name 1 to 63 letters, digits, '.', '_' or '-' (PostgreSQL truncates an {@code
   *     application_name} after 63)
   * @return this builder
   * @throws IllegalArgumentException if {@code name} does not match
   * @throws IllegalStateException if it was already set
   */
  public PostgresPoolBuilder poolName(String name) {
    Objects.requireNonNull(name, "name");
    Checks.requireUnset("poolName", poolName != null, "\"" + poolName + "\"");
    this.poolName = Checks.identifier("poolName", name);
    return this;
  }

  /**
   * Publishes the pool's meters to a registry: HikariCP's {@code hikaricp.connections.*} (tag
   * {@code pool}) and {@code bulwark.pool.utilization} (tag {@code name}, active connections over
   * the maximum, 0 to 1). They are removed when the pool closes. Default: no meters.
   *
   * @param registry the registry
   * @return this builder
   * @throws IllegalStateException if it was already set
   */
  public PostgresPoolBuilder meterRegistry(MeterRegistry registry) {
    Objects.requireNonNull(registry, "registry");
    Checks.requireUnset("meterRegistry", meterRegistry);
    this.meterRegistry = registry;
    return this;
  }

  /**
   * Chooses how the server-side limits reach the server. Default: {@link
   * ServerSettings#STARTUP_OPTIONS}; see {@link ServerSettings} for poolers such as PgBouncer.
   *
   * @param via the mechanism
   * @return this builder
   * @throws IllegalStateException if it was already set
   */
  public PostgresPoolBuilder serverSettingsVia(ServerSettings via) {
    Objects.requireNonNull(via, "via");
    Checks.requireUnset("serverSettingsVia", serverSettings);
    this.serverSettings = via;
    return this;
  }

  /**
   * Caps this pool so that one pool per instance, on every instance, fits the connections the
   * database grants the application. Same as {@code connectionBudget(totalDbConnections, instances,
   * 1)}.
   *
   * @param totalDbConnections connections this application may hold on the database in total, 1 to
   *     1,000,000
   * @param instances instances of the application that run at once, counting those of a rolling
   *     deploy, 1 to 10,000
   * @return this builder
   * @throws IllegalArgumentException if a value is out of range
   * @throws IllegalStateException if a budget was already set
   */
  public PostgresPoolBuilder connectionBudget(int totalDbConnections, int instances) {
    return connectionBudget(totalDbConnections, instances, 1);
  }

  /**
   * Caps this pool so that {@code poolsPerInstance} pools on each of {@code instances} instances
   * fit in {@code totalDbConnections}: the cap is {@code totalDbConnections / (instances *
   * poolsPerInstance)}, rounded down. An unset maximum pool size becomes the smaller of the
   * profile's default and the cap; a set one must not exceed the cap. {@link #build()} fails when
   * the cap is below the profile's smallest pool (2 for API, 1 otherwise).
   *
   * <p>{@code totalDbConnections} is what the application may use, not {@code max_connections}:
   * leave out {@code superuser_reserved_connections}, replication, migrations and other clients. To
   * give pools unequal shares, give each its own budget (for example 80 for the API pools and 20
   * for the worker pools).
   *
   * @param totalDbConnections connections this application may hold on the database in total, 1 to
   *     1,000,000
   * @param instances instances of the application that run at once, counting those of a rolling
   *     deploy, 1 to 10,000
   * @param poolsPerInstance pools in each instance that share the budget equally, 1 to 100
   * @return this builder
   * @throws IllegalArgumentException if a value is out of range
   * @throws IllegalStateException if a budget was already set
   */
  public PostgresPoolBuilder connectionBudget(
      int totalDbConnections, int instances, int poolsPerInstance) {
    Checks.requireUnset("connectionBudget", budget);
    Checks.between("totalDbConnections", totalDbConnections, 1, MAX_BUDGET);
    Checks.between("instances", instances, 1, MAX_INSTANCES);
    Checks.between("poolsPerInstance", poolsPerInstance, 1, MAX_POOLS_PER_INSTANCE);
    this.budget = new Budget(totalDbConnections, instances, poolsPerInstance);
    return this;
  }

  /**
   * Checks the settings against each other, then starts the pool. The pool opens its first
   * connection before this returns, so a wrong URL, password or unreachable server fails here.
   *
   * <p>Rules checked, each failing with {@link IllegalArgumentException} that names both values:
   *
   * <ul>
   *   <li>minimumIdle &le; maximumPoolSize; maximumPoolSize &ge; the profile's smallest pool;
   *   <li>with a connection budget: its cap &ge; the profile's smallest pool, and maximumPoolSize
   *       &le; the cap;
   *   <li>validationTimeout &lt; connectionTimeout;
   *   <li>keepaliveTime (when on) &lt; maxLifetime; leakDetectionThreshold (when on) &lt;
   *       maxLifetime;
   *   <li>maxLifetime &le; infrastructureIdleLimit &minus; 5 s (when the limit is set);
   *   <li>lockTimeout &le; statementTimeout;
   *   <li>socketTimeout &ge; statementTimeout + 5 s;
   *   <li>connectTimeout &le; loginTimeout.
   * </ul>
   *
   * @return a running pool; the caller closes it
   * @throws IllegalStateException if the profile is CUSTOM and maximumPoolSize, connectionTimeout
   *     or statementTimeout is not set; if lockTimeout or idleInTransactionSessionTimeout is set
   *     with {@link ServerSettings#SERVER_DEFAULTS}, which sends neither; or if the meter registry
   *     already holds the meters of a pool with the same name
   * @throws IllegalArgumentException if a rule above is broken
   * @throws RuntimeException HikariCP's {@code PoolInitializationException} if the first connection
   *     cannot be opened
   */
  public HikariDataSource build() {
    PoolSettings settings = resolve();
    requireFreeMeterNames(settings.poolName());
    return new ResolvedDataSource(hikariConfig(settings), settings);
  }

  /**
   * Applies the defaults and checks the settings against each other, as {@link #build()} does, and
   * returns the settings a pool built now would run with, without starting one: for a log line
   * before the first connection is opened, or a test of a configuration. {@link
   * Pools#settings(HikariDataSource)} gives the same for a built pool.
   *
   * @return the resolved settings; the URL masked, no password
   * @throws IllegalStateException if the profile is CUSTOM and a setting it requires is not set, or
   *     settings that cannot be combined are set, as listed at {@link #build()}
   * @throws IllegalArgumentException if a rule listed at {@link #build()} is broken
   */
  public PoolSettings settings() {
    return resolve();
  }

  /** Applies the defaults and checks every rule, in the order {@link #build()} documents them. */
  private PoolSettings resolve() {
    PoolProfile p = profile == null ? PoolProfile.API : profile;
    if (maximumPoolSize == null && p == PoolProfile.CUSTOM) {
      throw required("maximumPoolSize");
    }
    Duration acquire =
        givenOrProfile("connectionTimeout", connectionTimeout, p.connectionTimeout());
    Duration statement = givenOrProfile("statementTimeout", statementTimeout, p.statementTimeout());
    int size = resolveMaximumPoolSize(p);
    int idle = resolveMinimumIdle(size);
    Duration validation = resolveValidationTimeout(acquire);
    Duration lifetime = resolveMaxLifetime();
    Duration keepalive = resolveKeepaliveTime(lifetime);
    requireRetiredBeforeInfrastructure(lifetime);
    Duration leak = resolveLeakDetectionThreshold(lifetime);
    Duration lock = resolveLockTimeout(statement);
    Duration socket = resolveSocketTimeout(statement);
    Duration connect = connectTimeout == null ? DEFAULT_CONNECT_TIMEOUT : connectTimeout;
    Duration login = resolveLoginTimeout(connect);
    ServerSettings via = resolveServerSettings();
    String name = poolName == null ? p.poolName() : poolName;
    return new PoolSettings(
        jdbcUrl,
        user,
        p,
        name,
        size,
        idle,
        acquire,
        validation,
        statement,
        idleInTransactionSessionTimeout == null
            ? p.idleInTransactionSessionTimeout()
            : idleInTransactionSessionTimeout,
        lock,
        lifetime,
        keepalive,
        min(DEFAULT_IDLE_TIMEOUT, half(lifetime)),
        leak,
        socket,
        connect,
        login,
        applicationName == null ? name : applicationName,
        Boolean.TRUE.equals(readOnly),
        via);
  }

  /** The given value, else the profile's; CUSTOM has none for the settings it requires. */
  private static Duration givenOrProfile(
      String setting, @Nullable Duration given, @Nullable Duration fromProfile) {
    if (given != null) {
      return given;
    }
    if (fromProfile == null) {
      throw required(setting);
    }
    return fromProfile;
  }

  private int resolveMinimumIdle(int size) {
    int idle = minimumIdle == null ? size : minimumIdle;
    if (idle > size) {
      throw Checks.invalid(
          "minimumIdle must be at most maximumPoolSize (%d), but was %d", size, idle);
    }
    return idle;
  }

  private Duration resolveValidationTimeout(Duration acquire) {
    Duration validation =
        validationTimeout == null
            ? min(DEFAULT_VALIDATION_TIMEOUT, half(acquire))
            : validationTimeout;
    if (validation.compareTo(acquire) >= 0) {
      throw Checks.invalid(
          "validationTimeout must be less than connectionTimeout (%s), but was %s",
          duration(acquire), duration(validation));
    }
    return validation;
  }

  /**
   * The max lifetime: 30 min, or 5 s less than the infrastructure idle limit if that is shorter.
   */
  private Duration resolveMaxLifetime() {
    Duration limit = infrastructureIdleLimit;
    Duration lifetime = maxLifetime;
    if (lifetime == null) {
      lifetime =
          limit == null
              ? DEFAULT_MAX_LIFETIME
              : min(DEFAULT_MAX_LIFETIME, limit.minus(INFRASTRUCTURE_MARGIN));
    }
    return lifetime;
  }

  private Duration resolveKeepaliveTime(Duration lifetime) {
    Duration keepalive = keepaliveTime;
    if (keepalive == null) {
      // Half the lifetime leaves room for a ping; below HikariCP's 30 s floor there is none, and
      // a connection that lives under a minute is retired, idle or not, before any idle limit.
      Duration half = half(lifetime);
      keepalive =
          half.compareTo(MIN_KEEPALIVE_TIME) < 0
              ? Duration.ZERO
              : min(DEFAULT_KEEPALIVE_TIME, half);
    }
    if (!keepalive.isZero() && keepalive.compareTo(lifetime) >= 0) {
      throw Checks.invalid(
          "keepaliveTime must be less than maxLifetime (%s), but was %s",
          duration(lifetime), duration(keepalive));
    }
    return keepalive;
  }

  /** The pool must retire a connection before the network closes it. */
  private void requireRetiredBeforeInfrastructure(Duration lifetime) {
    Duration limit = infrastructureIdleLimit;
    if (limit != null && lifetime.compareTo(limit.minus(INFRASTRUCTURE_MARGIN)) > 0) {
      throw Checks.invalid(
          "maxLifetime must be at least %s shorter than infrastructureIdleLimit (%s), but was %s",
          seconds(INFRASTRUCTURE_MARGIN), duration(limit), duration(lifetime));
    }
  }

  private Duration resolveLeakDetectionThreshold(Duration lifetime) {
    Duration leak = leakDetectionThreshold == null ? Duration.ZERO : leakDetectionThreshold;
    if (!leak.isZero() && leak.compareTo(lifetime) >= 0) {
      throw Checks.invalid(
          "leakDetectionThreshold must be less than maxLifetime (%s), but was %s",
          duration(lifetime), duration(leak));
    }
    return leak;
  }

  private Duration resolveLockTimeout(Duration statement) {
    Duration lock =
        lockTimeout == null
            ? max(MIN_SERVER_TIMEOUT, wholeMillis(statement.dividedBy(3)))
            : lockTimeout;
    if (lock.compareTo(statement) > 0) {
      throw Checks.invalid(
          "lockTimeout must be at most statementTimeout (%s), but was %s",
          duration(statement), duration(lock));
    }
    return lock;
  }

  private Duration resolveSocketTimeout(Duration statement) {
    Duration socket =
        socketTimeout == null
            ? ceilSeconds(statement.plus(DEFAULT_SOCKET_TIMEOUT_HEADROOM))
            : socketTimeout;
    if (socket.compareTo(statement.plus(SOCKET_TIMEOUT_MARGIN)) < 0) {
      throw Checks.invalid(
          "socketTimeout must be at least statementTimeout (%s) + %s, but was %s",
          duration(statement), duration(SOCKET_TIMEOUT_MARGIN), duration(socket));
    }
    return socket;
  }

  private Duration resolveLoginTimeout(Duration connect) {
    Duration login = loginTimeout == null ? max(DEFAULT_LOGIN_TIMEOUT, connect) : loginTimeout;
    if (connect.compareTo(login) > 0) {
      throw Checks.invalid(
          "connectTimeout must be at most loginTimeout (%s), but was %s",
          seconds(login), seconds(connect));
    }
    return login;
  }

  /** How the limits reach the server; SERVER_DEFAULTS sends none, so none may be set. */
  private ServerSettings resolveServerSettings() {
    ServerSettings via = serverSettings == null ? ServerSettings.STARTUP_OPTIONS : serverSettings;
    if (via == ServerSettings.SERVER_DEFAULTS) {
      List<String> unsent = new ArrayList<>();
      if (lockTimeout != null) {
        unsent.add("lockTimeout");
      }
      if (idleInTransactionSessionTimeout != null) {
        unsent.add("idleInTransactionSessionTimeout");
      }
      if (!unsent.isEmpty()) {
        throw new IllegalStateException(
            Checks.format(
                "%s cannot be combined with serverSettingsVia(SERVER_DEFAULTS), which sends no"
                    + " server settings: set %s on the server (ALTER ROLE ... SET) and leave %s"
                    + " unset",
                String.join(" and ", unsent),
                unsent.size() == 1 ? "it" : "them",
                unsent.size() == 1 ? "it" : "them"));
      }
    }
    return via;
  }

  /** Two pools of one name in a registry would share, and on close remove, each other's meters. */
  private void requireFreeMeterNames(String name) {
    MeterRegistry registry = meterRegistry;
    if (registry != null
        && (Meters.holds(registry, MeteredTrackerFactory.UTILIZATION, Meters.NAME_TAG, name)
            || Meters.holds(registry, "hikaricp.connections", "pool", name))) {
      throw Meters.duplicate("pool", name, "poolName");
    }
  }

  /** The maximum pool size: given or the profile's, within the connection budget. */
  private int resolveMaximumPoolSize(PoolProfile p) {
    Integer max = maximumPoolSize;
    int smallest = p.minimumPoolSize();
    Budget b = budget;
    int size;
    if (b == null) {
      size = max == null ? p.defaultMaximumPoolSize(cores) : max;
    } else {
      int cap = b.cap();
      if (cap < smallest) {
        throw Checks.invalid(
            "connectionBudget must leave at least %s per pool for the %s profile, but leaves %d"
                + " (%s)",
            smallest == 1 ? "1 connection" : smallest + " connections", p, cap, b);
      }
      if (max != null && max > cap) {
        throw Checks.invalid(
            "maximumPoolSize must be at most %d to fit connectionBudget (%s), but was %d",
            cap, b, max);
      }
      size = max == null ? Math.min(p.defaultMaximumPoolSize(cores), cap) : max;
    }
    if (size < smallest) {
      throw Checks.invalid(
          "maximumPoolSize must be at least %d for the %s profile, but was %d", smallest, p, size);
    }
    return size;
  }

  private static IllegalStateException required(String setting) {
    return new IllegalStateException(
        Checks.format("%s must be set for the CUSTOM profile, but was not set", setting));
  }

  private static Duration serverTimeout(String setting, Duration timeout) {
    return Checks.between(
        setting,
        Objects.requireNonNull(timeout, "timeout"),
        MIN_SERVER_TIMEOUT,
        MAX_SERVER_TIMEOUT);
  }

  private static Duration min(Duration a, Duration b) {
    return a.compareTo(b) <= 0 ? a : b;
  }

  private static Duration max(Duration a, Duration b) {
    return a.compareTo(b) >= 0 ? a : b;
  }

  private static Duration half(Duration d) {
    return wholeMillis(d.dividedBy(2));
  }

  private static Duration wholeMillis(Duration d) {
    return Duration.ofMillis(d.toMillis());
  }

  private static Duration ceilSeconds(Duration d) {
    return d.getNano() == 0 ? d : Duration.ofSeconds(d.getSeconds() + 1);
  }

  private static String shownSeconds(@Nullable Duration d) {
    return d == null ? "" : seconds(d);
  }

  /**
   * Lists the settings given so far, without the password or the URL's parameters.
   *
   * @return for example {@code PostgresPoolBuilder{url=jdbc:postgresql://db/app, profile=API}}
   */
  @Override
  public String toString() {
    int query = jdbcUrl.indexOf('?');
    StringJoiner s = new StringJoiner(", ", "PostgresPoolBuilder{", "}");
    s.add("url=" + (query < 0 ? jdbcUrl : jdbcUrl.substring(0, query)));
    s.add("user=" + user);
    Checks.addSetting(s, "profile", profile);
    Checks.addSetting(s, "maximumPoolSize", maximumPoolSize);
    Checks.addSetting(s, "minimumIdle", minimumIdle);
    Checks.addSetting(s, "connectionTimeout", connectionTimeout);
    Checks.addSetting(s, "validationTimeout", validationTimeout);
    Checks.addSetting(s, "statementTimeout", statementTimeout);
    Checks.addSetting(s, "idleInTransactionSessionTimeout", idleInTransactionSessionTimeout);
    Checks.addSetting(s, "lockTimeout", lockTimeout);
    Checks.addSetting(s, "maxLifetime", maxLifetime);
    Checks.addSetting(s, "keepaliveTime", keepaliveTime);
    Checks.addSetting(s, "leakDetectionThreshold", leakDetectionThreshold);
    Checks.addSetting(s, "socketTimeout", socketTimeout);
    Checks.addSetting(s, "connectTimeout", connectTimeout);
    Checks.addSetting(s, "loginTimeout", loginTimeout);
    Checks.addSetting(s, "infrastructureIdleLimit", infrastructureIdleLimit);
    Checks.addSetting(s, "applicationName", applicationName);
    Checks.addSetting(s, "readOnly", readOnly);
    Checks.addSetting(s, "poolName", poolName);
    Checks.addSetting(s, "serverSettingsVia", serverSettings);
    Checks.addSetting(s, "connectionBudget", budget);
    if (meterRegistry != null) {
      s.add("meterRegistry=" + meterRegistry.getClass().getSimpleName());
    }
    return s.toString();
  }

  /** A share of the database's connections. */
  private record Budget(int total, int instances, int poolsPerInstance) {
    int cap() {
      return total / (instances * poolsPerInstance);
    }

    @Override
    public String toString() {
      return Checks.format(
          "totalDbConnections %d / instances %d / poolsPerInstance %d",
          total, instances, poolsPerInstance);
    }
  }

  /** {@return the HikariCP configuration of a pool built now; package-private for tests} */
  HikariConfig hikariConfig() {
    return hikariConfig(resolve());
  }

  private HikariConfig hikariConfig(PoolSettings settings) {
    HikariConfig config = new HikariConfig();
    config.setJdbcUrl(jdbcUrl);
    config.setDriverClassName("org.postgresql.Driver");
    config.setUsername(user);
    config.setPassword(password);
    config.setPoolName(settings.poolName());
    config.setMaximumPoolSize(settings.maximumPoolSize());
    config.setMinimumIdle(settings.minimumIdle());
    config.setConnectionTimeout(settings.connectionTimeout().toMillis());
    config.setValidationTimeout(settings.validationTimeout().toMillis());
    config.setMaxLifetime(settings.maxLifetime().toMillis());
    config.setKeepaliveTime(settings.keepaliveTime().toMillis()); // 0: off
    if (settings.minimumIdle() < settings.maximumPoolSize()) {
      // Only a pool that shrinks uses it; HikariCP warns about one set on a fixed-size pool.
      config.setIdleTimeout(settings.idleTimeout().toMillis());
    }
    config.setLeakDetectionThreshold(settings.leakDetectionThreshold().toMillis());
    config.setReadOnly(settings.readOnly());
    if (settings.readOnly()) {
      // pgjdbc's default ("transaction") leaves auto-commit statements free to write.
      config.addDataSourceProperty("readOnlyMode", "always");
    }
    config.setThreadFactory(NamedThreads.daemon("pool", settings.poolName()));
    config.addDataSourceProperty(
        "socketTimeout", String.valueOf(settings.socketTimeout().getSeconds()));
    config.addDataSourceProperty(
        "connectTimeout", String.valueOf(settings.connectTimeout().getSeconds()));
    config.addDataSourceProperty(
        "loginTimeout", String.valueOf(settings.loginTimeout().getSeconds()));
    config.addDataSourceProperty("ApplicationName", settings.applicationName());
    config.addDataSourceProperty("tcpKeepAlive", "true");
    switch (settings.serverSettings()) {
      case STARTUP_OPTIONS:
        config.addDataSourceProperty("options", settings.startupOptions());
        break;
      case CONNECTION_INIT_SQL:
        config.setConnectionInitSql(settings.initSql());
        break;
      case SERVER_DEFAULTS:
      default:
        break;
    }
    MeterRegistry registry = meterRegistry;
    if (registry != null) {
      config.setMetricsTrackerFactory(new MeteredTrackerFactory(registry));
    }
    return config;
  }
}

package dev.bulwark.pool;

import java.time.Duration;
import org.jspecify.annotations.Nullable;

/**
 * What a PostgreSQL pool is for; each profile brings its own defaults, which any setting of {@link
 * PostgresPoolBuilder} overrides.
 *
 * <table>
 *   <caption>Defaults by profile</caption>
 *   <tr><th>setting</th><th>{@link #API}</th><th>{@link #WORKER}</th><th>{@link #CUSTOM}</th></tr>
 *   <tr><td>pool name</td><td>{@code api}</td><td>{@code worker}</td><td>{@code custom}</td></tr>
 *   <tr><td>maximumPoolSize</td><td>cores &times; 2 + 1</td><td>max(2, cores)</td>
 *       <td>required</td></tr>
 *   <tr><td>smallest allowed maximumPoolSize</td><td>2</td><td>1</td><td>1</td></tr>
 *   <tr><td>connectionTimeout (acquire)</td><td>3 s</td><td>30 s</td><td>required</td></tr>
 *   <tr><td>statementTimeout</td><td>30 s</td><td>5 min</td><td>required</td></tr>
 *   <tr><td>idleInTransactionSessionTimeout</td><td>60 s</td><td>5 min</td><td>60 s</td></tr>
 * </table>
 *
 * <p>"cores" is {@link Runtime#availableProcessors()} of the application's host (or container),
 * read when {@link Pools#postgres(String, String, String)} is called. HikariCP's sizing rule counts
 * the <em>database server's</em> cores instead, shared by every instance of the application:
 * whenever more than one instance runs, or the application's host has more cores than the
 * database's, cap the pools with {@link PostgresPoolBuilder#connectionBudget(int, int, int)}. Every
 * other default is the same for all profiles; see {@link PostgresPoolBuilder}. Immutable and
 * thread-safe.
 */
public enum PoolProfile {
  /**
   * Request-serving pool: small (cores &times; 2 + 1, after the HikariCP sizing rule for a database
   * on SSD, here with the application host's cores), quick to give up when exhausted (3 s), and a
   * 30 s statement timeout so a runaway query cannot hold a connection that requests are queueing
   * for.
   */
  API("api", 2, Duration.ofSeconds(3), Duration.ofSeconds(30), Duration.ofSeconds(60)),

  /**
   * Background-work pool, kept apart from the API pool so that batch jobs cannot starve requests:
   * sized to the cores, patient when exhausted (30 s) and with a 5 min statement timeout for batch
   * statements.
   */
  WORKER("worker", 1, Duration.ofSeconds(30), Duration.ofMinutes(5), Duration.ofMinutes(5)),

  /**
   * No sizing or timeout defaults: {@link PostgresPoolBuilder#maximumPoolSize(int)}, {@link
   * PostgresPoolBuilder#connectionTimeout(Duration)} and {@link
   * PostgresPoolBuilder#statementTimeout(Duration)} must be set, or {@code build()} throws {@link
   * IllegalStateException}. The remaining defaults are those of {@link #API}.
   */
  CUSTOM("custom", 1, null, null, Duration.ofSeconds(60));

  private final String poolName;
  private final int minimumPoolSize;
  private final @Nullable Duration connectionTimeout;
  private final @Nullable Duration statementTimeout;
  private final Duration idleInTransactionSessionTimeout;

  PoolProfile(
      String poolName,
      int minimumPoolSize,
      @Nullable Duration connectionTimeout,
      @Nullable Duration statementTimeout,
      Duration idleInTransactionSessionTimeout) {
    this.poolName = poolName;
    this.minimumPoolSize = minimumPoolSize;
    this.connectionTimeout = connectionTimeout;
    this.statementTimeout = statementTimeout;
    this.idleInTransactionSessionTimeout = idleInTransactionSessionTimeout;
  }

  /** The default pool name, also the default {@code application_name}. */
  String poolName() {
    return poolName;
  }

  /**
   * The smallest maximum pool size the profile accepts, and that a connection budget must leave.
   */
  int minimumPoolSize() {
    return minimumPoolSize;
  }

  /** The default maximum pool size for this many cores, or 0 for CUSTOM (required). */
  int defaultMaximumPoolSize(int cores) {
    switch (this) {
      case API:
        return cores * 2 + 1;
      case WORKER:
        return Math.max(2, cores);
      default:
        return 0;
    }
  }

  /** The default acquire timeout, or null for CUSTOM (required). */
  @Nullable Duration connectionTimeout() {
    return connectionTimeout;
  }

  /** The default statement timeout, or null for CUSTOM (required). */
  @Nullable Duration statementTimeout() {
    return statementTimeout;
  }

  Duration idleInTransactionSessionTimeout() {
    return idleInTransactionSessionTimeout;
  }
}

package dev.bulwark.pool;

import com.zaxxer.hikari.HikariDataSource;
import com.zaxxer.hikari.HikariPoolMXBean;
import dev.bulwark.core.Secrets;
import dev.bulwark.core.internal.Checks;
import io.lettuce.core.RedisURI;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * The entry point: hardened PostgreSQL pools and Redis clients, the settings a pool runs with, and
 * snapshots of a pool for health checks.
 *
 * <pre>{@code
 * HikariDataSource api = Pools.postgres(jdbcUrl, user, password)
 *     .profile(PoolProfile.API)
 *     .statementTimeout(Duration.ofSeconds(30))
 *     .build();
 * RedisClient redis = Pools.redis(System.getenv("REDIS_URL")).build();
 * PoolSnapshot now = Pools.snapshot(api);
 * log.info("database pool: {}", Pools.settings(api));   // every timeout, masked
 * }</pre>
 *
 * <p>Thread-safe: every method may be called from any thread; the builders it returns are not
 * thread-safe.
 */
public final class Pools {
  private Pools() {}

  /**
   * Starts a PostgreSQL pool builder. The profiles' pool sizes count the cores this JVM sees
   * ({@link Runtime#availableProcessors()}), read here.
   *
   * @param jdbcUrl a pgjdbc URL, {@code jdbc:postgresql://host:port/database}, without a user or
   *     password; it may carry other pgjdbc parameters ({@code sslmode}, {@code prepareThreshold},
   *     ...) but not those the builder sets: {@code user}, {@code password}, {@code options},
   *     {@code socketTimeout}, {@code connectTimeout}, {@code loginTimeout}, {@code
   *     ApplicationName}, {@code tcpKeepAlive}, {@code readOnly}, {@code readOnlyMode}
   * @param user the role to log in as
   * @param password its password; empty when the server does not ask for one
   * @return a new builder
   * @throws IllegalArgumentException if the URL is not a pgjdbc URL, carries a user or password
   *     ({@code user:password@host}, as a platform's {@code DATABASE_URL} does), carries a
   *     parameter the builder sets, or {@code user} is empty; the message never shows the password
   */
  public static PostgresPoolBuilder postgres(String jdbcUrl, String user, String password) {
    return new PostgresPoolBuilder(
        jdbcUrl, user, password, Runtime.getRuntime().availableProcessors());
  }

  /**
   * Starts a builder of a client for one Redis server.
   *
   * @param url {@code redis://[[user]:password@]host[:port][/database]}, {@code rediss://...} for
   *     TLS (the server's certificate is verified), or {@code redis-sentinel://} / {@code
   *     rediss-sentinel://} for a Sentinel-managed primary; the {@code REDIS_URL} most platforms
   *     provide fits as it is
   * @return a new builder
   * @throws IllegalArgumentException if the URL has another scheme or does not parse, or a host is
   *     not a name or an address, a port is outside 1 to 65535, the database index is not a number
   *     of 0 or more, or a Sentinel URL does not name the primary; the message never shows the
   *     password
   */
  public static RedisClientBuilder redis(String url) {
    RedisURI target =
        RedisUris.parse("url", url, "redis", "rediss", "redis-sentinel", "rediss-sentinel");
    return new RedisClientBuilder(
        target,
        "url=" + Secrets.maskUrl(url),
        new RedisSettings(RedisSettings.Transport.DETECTED, "redis"));
  }

  /**
   * Starts a builder of a client for one Redis server, or a Sentinel-managed primary, from a
   * Lettuce {@link RedisURI}: for credentials from a {@code RedisCredentialsProvider}, or a URI
   * built in code. It is checked as {@link #redis(String)} checks a URL, and copied: later changes
   * to {@code uri} do not reach the builder. Its timeout is replaced by the builder's command
   * timeout.
   *
   * @param uri the server, or the Sentinels and the primary's name
   * @return a new builder
   * @throws IllegalArgumentException if the URI names a Unix socket, a host is not a name or an
   *     address, a port is outside 1 to 65535, or Sentinels come without the primary's name; the
   *     message shows the URI without its credentials
   */
  public static RedisClientBuilder redis(RedisURI uri) {
    Objects.requireNonNull(uri, "uri");
    RedisURI target = RedisUris.copy(uri);
    String shown = RedisUris.show(target);
    RedisUris.check("uri", target, shown);
    return new RedisClientBuilder(
        target, "uri=" + shown, new RedisSettings(RedisSettings.Transport.DETECTED, "redis"));
  }

  /**
   * Starts a builder of a client for a Redis Cluster.
   *
   * @param seedUrl a {@code redis://} or {@code rediss://} URL of one node; the client discovers
   *     the others
   * @param moreSeedUrls further nodes to try when the first does not answer, with the same scheme
   * @return a new builder
   * @throws IllegalArgumentException if a URL has another scheme, does not parse, fails a check of
   *     {@link #redis(String)}, or uses TLS when the first does not (or the other way round); the
   *     message never shows the password
   */
  public static RedisClusterClientBuilder redisCluster(String seedUrl, String... moreSeedUrls) {
    Objects.requireNonNull(moreSeedUrls, "moreSeedUrls");
    List<RedisURI> seeds = new ArrayList<>();
    List<String> shown = new ArrayList<>();
    RedisURI first = RedisUris.parse("seedUrl", seedUrl, "redis", "rediss");
    seeds.add(first);
    shown.add(Secrets.maskUrl(seedUrl));
    for (String url : moreSeedUrls) {
      RedisURI seed = RedisUris.parse("seedUrl", url, "redis", "rediss");
      requireSameTls("seedUrl", first, seed, Secrets.maskUrl(url));
      seeds.add(seed);
      shown.add(Secrets.maskUrl(url));
    }
    return new RedisClusterClientBuilder(
        seeds, shown, new RedisSettings(RedisSettings.Transport.DETECTED, "redis-cluster"));
  }

  /**
   * Starts a builder of a client for a Redis Cluster from Lettuce {@link RedisURI}s, each checked
   * as {@link #redisCluster(String, String...)} checks a URL, and copied. Their timeouts are
   * replaced by the builder's command timeout.
   *
   * @param seed one node; the client discovers the others
   * @param moreSeeds further nodes to try when the first does not answer
   * @return a new builder
   * @throws IllegalArgumentException if a seed names Sentinels or a Unix socket, a host is not a
   *     name or an address, a port is outside 1 to 65535, or a seed uses TLS when the first does
   *     not (or the other way round); the message shows the URI without its credentials
   */
  public static RedisClusterClientBuilder redisCluster(RedisURI seed, RedisURI... moreSeeds) {
    Objects.requireNonNull(seed, "seed");
    Objects.requireNonNull(moreSeeds, "moreSeeds");
    List<RedisURI> seeds = new ArrayList<>();
    List<String> shown = new ArrayList<>();
    RedisURI first = clusterSeed(seed);
    seeds.add(first);
    shown.add(RedisUris.show(first));
    for (RedisURI more : moreSeeds) {
      RedisURI node = clusterSeed(Objects.requireNonNull(more, "moreSeeds"));
      requireSameTls("seed", first, node, RedisUris.show(node));
      seeds.add(node);
      shown.add(RedisUris.show(node));
    }
    return new RedisClusterClientBuilder(
        seeds, shown, new RedisSettings(RedisSettings.Transport.DETECTED, "redis-cluster"));
  }

  private static RedisURI clusterSeed(RedisURI seed) {
    RedisURI copy = RedisUris.copy(seed);
    String shown = RedisUris.show(copy);
    if (!copy.getSentinels().isEmpty()) {
      throw Checks.invalid("seed must name a cluster node, not Sentinels, but was %s", shown);
    }
    return RedisUris.check("seed", copy, shown);
  }

  private static void requireSameTls(
      String setting, RedisURI first, RedisURI seed, String shownSeed) {
    if (seed.isSsl() != first.isSsl()) {
      throw Checks.invalid(
          "%s must use TLS like the first seed (%s), but was %s",
          setting, first.isSsl(), shownSeed);
    }
  }

  /**
   * Returns the settings a pool runs with, resolved when {@link PostgresPoolBuilder#build()} built
   * it: every timeout, the size, the application name and the profile, for a start-up log line.
   * Changes made later through HikariCP's own MXBean are not reflected.
   *
   * <pre>{@code
   * log.info("database pool: {}", Pools.settings(api));
   * }</pre>
   *
   * @param dataSource a pool built by {@link PostgresPoolBuilder#build()}
   * @return its settings; the URL masked, no password
   * @throws IllegalArgumentException if {@code dataSource} was built some other way
   */
  public static PoolSettings settings(HikariDataSource dataSource) {
    Objects.requireNonNull(dataSource, "dataSource");
    if (!(dataSource instanceof ResolvedDataSource)) {
      throw Checks.invalid(
          "dataSource must be a pool built by PostgresPoolBuilder, but was %s \"%s\"",
          dataSource.getClass().getSimpleName(), dataSource.getPoolName());
    }
    return ((ResolvedDataSource) dataSource).settings();
  }

  /**
   * Reads the state of a running pool, for a health check or a dashboard. Cheap: a few volatile
   * reads, no connection is borrowed.
   *
   * @param dataSource a HikariCP pool, from {@link PostgresPoolBuilder#build()} or elsewhere
   * @return the pool's counts and utilization
   * @throws IllegalStateException if the pool is closed or was never started
   */
  public static PoolSnapshot snapshot(HikariDataSource dataSource) {
    Objects.requireNonNull(dataSource, "dataSource");
    HikariPoolMXBean pool = dataSource.getHikariPoolMXBean();
    if (dataSource.isClosed() || pool == null) {
      throw new IllegalStateException(
          "pool "
              + dataSource.getPoolName()
              + (dataSource.isClosed() ? " is closed" : " has not started"));
    }
    return PoolSnapshot.of(
        dataSource.getPoolName(),
        pool.getActiveConnections(),
        pool.getIdleConnections(),
        pool.getThreadsAwaitingConnection(),
        pool.getTotalConnections(),
        Math.max(1, dataSource.getMaximumPoolSize()));
  }
}

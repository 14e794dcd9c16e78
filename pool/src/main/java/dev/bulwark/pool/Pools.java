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
 * The entry point: hardened PostgreSQL pools and Redis clients, and snapshots of a pool for health
 * checks.
 *
 * <pre>{@code
 * HikariDataSource api = Pools.postgres(jdbcUrl, user, password)
 *     .profile(PoolProfile.API)
 *     .statementTimeout(Duration.ofSeconds(30))
 *     .build();
 * RedisClient redis = Pools.redis(System.getenv("REDIS_URL")).build();
 * PoolSnapshot now = Pools.snapshot(api);
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
   * @param jdbcUrl a pgjdbc URL, {@code jdbc:postgresql://host:port/database}; it may carry other
   *     pgjdbc parameters ({@code sslmode}, {@code prepareThreshold}, ...) but not those the
   *     builder sets: {@code user}, {@code password}, {@code options}, {@code socketTimeout},
   *     {@code connectTimeout}, {@code loginTimeout}, {@code ApplicationName}, {@code
   *     tcpKeepAlive}, {@code readOnly}, {@code readOnlyMode}
   * @param user the role to log in as
   * @param password its password; empty when the server does not ask for one
   * @return a new builder
   * @throws IllegalArgumentException if the URL is not a pgjdbc URL, carries a parameter the
   *     builder sets, or {@code user} is empty
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
   * @throws IllegalArgumentException if the URL has another scheme or does not parse; the message
   *     never shows the password
   */
  public static RedisClientBuilder redis(String url) {
    RedisSettings.parse("url", url, "redis", "rediss", "redis-sentinel", "rediss-sentinel");
    return new RedisClientBuilder(url, new RedisSettings(RedisSettings.Transport.DETECTED));
  }

  /**
   * Starts a builder of a client for a Redis Cluster.
   *
   * @param seedUrl a {@code redis://} or {@code rediss://} URL of one node; the client discovers
   *     the others
   * @param moreSeedUrls further nodes to try when the first does not answer, with the same scheme
   * @return a new builder
   * @throws IllegalArgumentException if a URL has another scheme, does not parse, or uses TLS when
   *     the first does not (or the other way round); the message never shows the password
   */
  public static RedisClusterClientBuilder redisCluster(String seedUrl, String... moreSeedUrls) {
    Objects.requireNonNull(moreSeedUrls, "moreSeedUrls");
    List<String> seeds = new ArrayList<>();
    boolean tls = RedisSettings.parse("seedUrl", seedUrl, "redis", "rediss").isSsl();
    seeds.add(seedUrl);
    for (String url : moreSeedUrls) {
      RedisURI seed = RedisSettings.parse("seedUrl", url, "redis", "rediss");
      if (seed.isSsl() != tls) {
        throw Checks.invalid(
            "seedUrl must use TLS like the first seed (%s), but was %s", tls, Secrets.maskUrl(url));
      }
      seeds.add(url);
    }
    return new RedisClusterClientBuilder(
        seeds, new RedisSettings(RedisSettings.Transport.DETECTED));
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

package dev.bulwark.ratelimit;

import io.lettuce.core.RedisClient;
import io.lettuce.core.cluster.RedisClusterClient;
import java.util.List;

/**
 * Decides whether a request for permits under a key (a tenant, an API key, a client address) is
 * admitted by the limits. All the limits of a key are checked and taken together: a request is
 * admitted only if every limit has the permits, and then takes them from every limit.
 *
 * <pre>{@code
 * RateLimiter perTenant = RateLimiter.redis(redisClient)
 *     .name("api")
 *     .limits("10/second;1000/hour")
 *     .onRedisFailure(FailurePolicy.LOCAL_FALLBACK)
 *     .expectedInstances(4)
 *     .build();
 * Decision decision = perTenant.tryAcquire("tenant:42");
 * if (!decision.allowed()) {
 *   throw new TooManyRequests(decision.retryAfterSeconds());
 * }
 * }</pre>
 *
 * <p>Two kinds: {@link #local()}, per process, on Bucket4j buckets held in a bounded map; and
 * {@link #redis(RedisClient)}, shared by every instance, in one atomic Redis call per decision.
 *
 * <p>Implementations are thread-safe. {@link #close()} removes the limiter's meters; later
 * decisions throw {@link IllegalStateException}.
 */
public interface RateLimiter extends AutoCloseable {

  /** The longest key a limiter accepts, in characters: 512. */
  int MAX_KEY_LENGTH = 512;

  /**
   * Starts a builder of a limiter that keeps its buckets in this process.
   *
   * @return a new builder
   */
  static LocalLimiterBuilder local() {
    return new LocalLimiterBuilder();
  }

  /**
   * Starts a builder of a limiter that keeps its buckets in one Redis server, shared by every
   * instance that builds a limiter of the same name on it.
   *
   * @param client the client, from {@code Pools.redis(url).build()} or any {@link RedisClient}; the
   *     limiter opens its own connection on it and closes it on {@link #close()}, not the client
   * @return a new builder
   */
  static RedisLimiterBuilder redis(RedisClient client) {
    return new RedisLimiterBuilder(RedisConnector.of(client));
  }

  /**
   * Starts a builder of a limiter that keeps its buckets in a Redis Cluster: all the limits of one
   * key live in one hash slot, and keys spread over the shards.
   *
   * @param client the client, from {@code Pools.redisCluster(urls).build()} or any {@link
   *     RedisClusterClient}; the limiter opens its own connection on it and closes it on {@link
   *     #close()}, not the client
   * @return a new builder
   */
  static RedisLimiterBuilder redis(RedisClusterClient client) {
    return new RedisLimiterBuilder(RedisConnector.of(client));
  }

  /**
   * The limiter's name: the {@code name} tag of its meters, part of its Redis keys, and the name of
   * its policy in the {@code RateLimit-Policy} header.
   *
   * @return the name
   */
  String name();

  /**
   * The limits every key is held to.
   *
   * @return the limits, in the order configured
   */
  List<Limit> limits();

  /**
   * Asks for one permit under {@code key}.
   *
   * @param key the key, 1 to {@value #MAX_KEY_LENGTH} characters
   * @return the decision; never waits for permits
   * @throws IllegalArgumentException if {@code key} is empty or too long
   * @throws IllegalStateException if the limiter is closed
   */
  default Decision tryAcquire(String key) {
    return tryAcquire(key, 1);
  }

  /**
   * Asks for {@code permits} permits under {@code key}, all or none.
   *
   * @param key the key, 1 to {@value #MAX_KEY_LENGTH} characters
   * @param permits 1 to the smallest burst of the limits
   * @return the decision; never waits for permits. A Redis limiter returns within its command
   *     timeout whatever Redis does, by its {@link FailurePolicy} when Redis fails
   * @throws IllegalArgumentException if {@code key} is empty or too long, or {@code permits} is
   *     outside its range (a request no limit could ever admit)
   * @throws IllegalStateException if the limiter is closed
   */
  Decision tryAcquire(String key, long permits);

  /**
   * The limiter's counts, for health checks.
   *
   * @return a snapshot
   */
  RateLimiterSnapshot snapshot();

  /** Removes the limiter's meters and releases what it holds; idempotent. */
  @Override
  void close();
}

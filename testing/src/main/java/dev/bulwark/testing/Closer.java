package dev.bulwark.testing;

import io.lettuce.core.AbstractRedisClient;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.TestInfo;

/**
 * What a test opened (caches, limiters, clients, connections, proxies), closed in the reverse order
 * by {@link #close()}: each object before the client it runs on. Not thread-safe: a test registers
 * from its own thread.
 *
 * <pre>{@code
 * private final Closer closer = new Closer();
 *
 * @AfterEach
 * void tearDown() throws Exception {
 *   closer.close();
 * }
 *
 * RedisClient client = closer.client(Pools.redis(uri).build());
 * RedisRateLimiter limiter = closer.add(RateLimiter.redis(client).limits("5/second").build());
 * }</pre>
 */
// close() throws what a resource throws, InterruptedException included: a test method may too.
@SuppressWarnings("try")
public final class Closer implements AutoCloseable {
  private final List<AutoCloseable> opened = new ArrayList<>();

  /** Creates an empty closer. */
  public Closer() {}

  /**
   * Registers a resource.
   *
   * @param resource what to close
   * @param <T> its type
   * @return {@code resource}, to be closed by {@link #close()}
   */
  public <T extends AutoCloseable> T add(T resource) {
    opened.add(resource);
    return resource;
  }

  /**
   * Registers a Lettuce client, shut down at once (no quiet period, at most 2 s).
   *
   * @param client the client
   * @param <T> its type
   * @return {@code client}, to be shut down by {@link #close()}
   */
  public <T extends AbstractRedisClient> T client(T client) {
    opened.add(() -> client.shutdown(Duration.ZERO, Duration.ofSeconds(2)));
    return client;
  }

  /**
   * Closes everything registered, the last first; a failure stops the rest and is thrown.
   *
   * @throws Exception what a resource's close threw
   */
  @Override
  public void close() throws Exception {
    for (int i = opened.size() - 1; i >= 0; i--) {
      opened.remove(i).close();
    }
  }

  /**
   * A name of its own per test, for what shares one server between tests (cache channels, limiter
   * keys): {@code prefix} and the test method's name, cut to 60 characters.
   *
   * @param prefix the first characters, which tell test classes apart
   * @param info the test, as JUnit gives it
   * @return the name
   */
  public static String name(String prefix, TestInfo info) {
    String name = prefix + info.getTestMethod().orElseThrow().getName();
    return name.length() > 60 ? name.substring(0, 60) : name;
  }
}

package dev.bulwark.cache;

import io.lettuce.core.AbstractRedisClient;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.TestInfo;

/**
 * What a test of the Redis tier opened (instances, clients, connections, proxies), closed in the
 * reverse order: each instance before the client it runs on. Not thread-safe.
 */
final class Closing implements AutoCloseable {
  private final List<AutoCloseable> opened = new ArrayList<>();

  /** {@return {@code resource}, to be closed by {@link #close()}} */
  <T extends AutoCloseable> T add(T resource) {
    opened.add(resource);
    return resource;
  }

  /** {@return {@code client}, to be shut down by {@link #close()}} */
  <T extends AbstractRedisClient> T client(T client) {
    opened.add(() -> client.shutdown(Duration.ZERO, Duration.ofSeconds(2)));
    return client;
  }

  @Override
  public void close() throws Exception {
    for (int i = opened.size() - 1; i >= 0; i--) {
      opened.get(i).close();
    }
    opened.clear();
  }

  /**
   * A cache name of its own per test, as channels are global to a server: {@code prefix} and the
   * test method's name, cut to 60 characters.
   */
  static String cacheName(String prefix, TestInfo info) {
    String name = prefix + info.getTestMethod().orElseThrow().getName();
    return name.length() > 60 ? name.substring(0, 60) : name;
  }
}

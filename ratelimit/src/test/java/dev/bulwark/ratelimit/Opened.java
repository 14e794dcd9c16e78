package dev.bulwark.ratelimit;

import io.lettuce.core.AbstractRedisClient;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.TestInfo;

/**
 * What a test opened (limiters, clients, proxies), closed in the reverse order: each limiter before
 * the client it runs on. Not thread-safe.
 */
final class Opened implements AutoCloseable {
  private final List<AutoCloseable> opened = new ArrayList<>();

  <T extends AutoCloseable> T add(T resource) {
    opened.add(resource);
    return resource;
  }

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

  /** A limiter name of its own per test, as keys are global to a server. */
  static String name(String prefix, TestInfo info) {
    String name = prefix + info.getTestMethod().orElseThrow().getName();
    return name.length() > 60 ? name.substring(0, 60) : name;
  }
}

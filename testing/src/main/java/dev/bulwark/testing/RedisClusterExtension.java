package dev.bulwark.testing;

import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;

/**
 * Hands a JUnit 5 test the JVM's real Redis Cluster.
 *
 * <p>Register it with {@code @ExtendWith(RedisClusterExtension.class)}; it resolves parameters of
 * type {@link TestRedisCluster} (the shared cluster, started on first use). The cluster is not
 * flushed for each test: call {@link TestRedisCluster#flushAll()} where a test needs it empty.
 *
 * <pre>{@code
 * @ExtendWith(RedisClusterExtension.class)
 * class SessionStoreTest {
 *   @Test
 *   void survivesAFailover(TestRedisCluster cluster) { ... cluster.stopMaster(slot); ... }
 * }
 * }</pre>
 */
public final class RedisClusterExtension implements ParameterResolver {

  /** Creates the extension; JUnit calls this. */
  public RedisClusterExtension() {}

  @Override
  public boolean supportsParameter(ParameterContext parameter, ExtensionContext context) {
    return parameter.getParameter().getType() == TestRedisCluster.class;
  }

  @Override
  public Object resolveParameter(ParameterContext parameter, ExtensionContext context) {
    return TestRedisCluster.get();
  }
}

package dev.bulwark.testing;

import io.lettuce.core.RedisURI;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;

/**
 * Hands a JUnit 5 test the JVM's real Redis server.
 *
 * <p>Register it with {@code @ExtendWith(RedisExtension.class)}; it resolves parameters of type
 * {@link TestRedis} (the shared server) and {@link RedisURI} (a {@linkplain
 * TestRedis#cleanDatabase() freshly flushed database}, new for each parameter):
 *
 * <pre>{@code
 * @ExtendWith(RedisExtension.class)
 * class PriceCacheTest {
 *   @Test
 *   void survivesRestart(TestRedis redis, RedisURI uri) { ... redis.restart(); ... }
 * }
 * }</pre>
 */
public final class RedisExtension implements ParameterResolver {

  /** Creates the extension; JUnit calls this. */
  public RedisExtension() {}

  @Override
  public boolean supportsParameter(ParameterContext parameter, ExtensionContext context) {
    Class<?> type = parameter.getParameter().getType();
    return type == TestRedis.class || type == RedisURI.class;
  }

  @Override
  public Object resolveParameter(ParameterContext parameter, ExtensionContext context) {
    TestRedis redis = TestRedis.get();
    return parameter.getParameter().getType() == TestRedis.class ? redis : redis.cleanDatabase();
  }
}

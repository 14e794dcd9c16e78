package dev.bulwark.testing;

import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;

/**
 * Hands a JUnit 5 test the JVM's Redis master, replica and three sentinels.
 *
 * <p>Register it with {@code @ExtendWith(RedisSentinelExtension.class)}; it resolves parameters of
 * type {@link TestRedisSentinel} (the shared topology, {@linkplain TestRedisSentinel#get() started}
 * on first use). It resolves no {@code RedisURI}, so that it can stand next to {@link
 * RedisExtension}; take {@link TestRedisSentinel#sentinelUri()} instead:
 *
 * <pre>{@code
 * @ExtendWith(RedisSentinelExtension.class)
 * class SessionStoreTest {
 *   @Test
 *   void followsAFailover(TestRedisSentinel sentinel) { ... sentinel.killMaster(); ... }
 * }
 * }</pre>
 */
public final class RedisSentinelExtension implements ParameterResolver {

  /** Creates the extension; JUnit calls this. */
  public RedisSentinelExtension() {}

  @Override
  public boolean supportsParameter(ParameterContext parameter, ExtensionContext context) {
    return parameter.getParameter().getType() == TestRedisSentinel.class;
  }

  @Override
  public Object resolveParameter(ParameterContext parameter, ExtensionContext context) {
    return TestRedisSentinel.get();
  }
}

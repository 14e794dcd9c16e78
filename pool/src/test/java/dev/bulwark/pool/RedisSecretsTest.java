package dev.bulwark.pool;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.bulwark.testing.NoSecrets;
import dev.bulwark.testing.RedisExtension;
import dev.bulwark.testing.TestRedis;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisConnectionException;
import io.lettuce.core.RedisException;
import io.lettuce.core.RedisURI;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.cluster.RedisClusterClient;
import java.time.Duration;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A password given to each Redis entry point (a URL, a {@link RedisURI}, a Sentinel URL, cluster
 * seeds) goes through every way it can fail, against the real server where there is one, and shows
 * up in no message, cause, suppressed exception or {@code toString}. Not covered: a wrong password
 * behind Sentinel, for want of a Sentinel server; the Sentinel lookup's own failure is.
 */
@ExtendWith(RedisExtension.class)
class RedisSecretsTest {

  private static final String SECRET = "S3cr3t-pw";
  private static final String WRONG = "Wr0ng-pw";

  @Test
  void aUrlThatDoesNotParseIsRefusedMasked() {
    for (String url :
        new String[] {
          "http://:" + SECRET + "@cache.local",
          "redis://:" + SECRET + "@cache.local:notaport",
          "redis://:" + SECRET + "@cache.local:0",
          "redis://:" + SECRET + "@cache.local:70000",
          "redis://:" + SECRET + "@:6379",
          "redis://:" + SECRET + "@cache.local/abc",
          "redis://:" + SECRET + "@cache.local?database=abc",
          "redis-sentinel://:" + SECRET + "@s1:0#primary",
          "redis-sentinel://:" + SECRET + "@s1:26379",
          // The host forgotten, or the '@' after the password: the password reads as the port.
          "redis://:" + SECRET,
          "redis://default:" + SECRET,
          "redis://default:" + SECRET + "/0",
        }) {
      assertRefused(() -> Pools.redis(url));
      assertRefused(() -> Pools.redisCluster("redis://a:7000", url));
    }
    assertRefused(() -> Pools.redisCluster("redis://a:7000", "rediss://:" + SECRET + "@b:7001"));
  }

  private static void assertRefused(ThrowingCallable call) {
    Throwable thrown = catchThrowable(call);
    assertThat(thrown).isInstanceOf(IllegalArgumentException.class).hasNoCause();
    NoSecrets.assertHidden(thrown, SECRET);
  }

  @Test
  void anUnreachableServerFailsConnectWithoutShowingThePassword() {
    int closed = Loopback.closedPort();
    RedisURI uri = RedisURI.Builder.redis("127.0.0.1", closed).withPassword(chars(SECRET)).build();
    assertConnectFails(Pools.redis("redis://:" + SECRET + "@127.0.0.1:" + closed + "/0"));
    assertConnectFails(Pools.redis("redis://app:" + SECRET + "@127.0.0.1:" + closed));
    assertConnectFails(Pools.redis(uri));
  }

  @Test
  void anUnreachableSentinelFailsConnectWithoutShowingThePassword() {
    int closed = Loopback.closedPort();
    assertConnectFails(
        Pools.redis("redis-sentinel://:" + SECRET + "@127.0.0.1:" + closed + "#primary"));
    assertConnectFails(
        Pools.redis(
            RedisURI.Builder.sentinel("127.0.0.1", closed, "primary", SECRET)
                .withPassword(chars(SECRET))
                .build()));
  }

  @Test
  void anUnreachableClusterFailsConnectWithoutShowingThePassword() {
    int closed = Loopback.closedPort();
    assertClusterConnectFails(Pools.redisCluster("redis://:" + SECRET + "@127.0.0.1:" + closed));
    assertClusterConnectFails(
        Pools.redisCluster(
            RedisURI.Builder.redis("127.0.0.1", closed).withPassword(chars(SECRET)).build()));
  }

  @Test
  void aWrongPasswordFailsConnectWithoutShowingEitherPassword(TestRedis redis) {
    String server = "@127.0.0.1:" + redis.port();
    requirePassword(
        redis,
        () -> {
          assertConnectFails(Pools.redis("redis://:" + WRONG + server));
          assertConnectFails(Pools.redis("redis://default:" + WRONG + server + "/1"));
          assertConnectFails(
              Pools.redis(
                  RedisURI.Builder.redis("127.0.0.1", redis.port())
                      .withPassword(chars(WRONG))
                      .build()));
          // The cluster client authenticates before it asks for the slot map.
          assertClusterConnectFails(Pools.redisCluster("redis://:" + WRONG + server));
          // The right password connects: the failures above were the password.
          RedisClient right = Pools.redis("redis://:" + SECRET + server).build();
          try (StatefulRedisConnection<String, String> c = right.connect()) {
            assertThat(c.sync().ping()).isEqualTo("PONG");
          } finally {
            right.shutdown(Duration.ZERO, Duration.ofSeconds(2));
          }
        });
  }

  /** Makes the embedded server require {@link #SECRET} while {@code body} runs. */
  private static void requirePassword(TestRedis redis, Runnable body) {
    assumeTrue(redis.isEmbedded(), "needs a server this JVM owns");
    RedisClient admin = RedisClient.create(redis.uri());
    try (StatefulRedisConnection<String, String> c = admin.connect()) {
      c.sync().configSet("requirepass", SECRET);
      try {
        body.run();
      } finally {
        c.sync().configSet("requirepass", "");
      }
    } finally {
      admin.shutdown(Duration.ZERO, Duration.ofSeconds(2));
    }
  }

  private static void assertConnectFails(RedisClientBuilder builder) {
    NoSecrets.assertHidden(new AssertionError(builder.toString()), SECRET, WRONG);
    RedisClient client = builder.connectTimeout(Duration.ofSeconds(2)).build();
    try {
      Throwable thrown = catchThrowable(client::connect);
      assertThat(thrown).isInstanceOf(RedisConnectionException.class);
      NoSecrets.assertHidden(thrown, SECRET, WRONG);
    } finally {
      client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
    }
  }

  private static void assertClusterConnectFails(RedisClusterClientBuilder builder) {
    NoSecrets.assertHidden(new AssertionError(builder.toString()), SECRET, WRONG);
    RedisClusterClient client = builder.connectTimeout(Duration.ofSeconds(2)).build();
    try {
      Throwable thrown = catchThrowable(client::connect);
      assertThat(thrown).isInstanceOf(RedisException.class);
      NoSecrets.assertHidden(thrown, SECRET, WRONG);
    } finally {
      client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
    }
  }

  private static char[] chars(String password) {
    return password.toCharArray();
  }
}

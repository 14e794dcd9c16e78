package dev.bulwark.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.lettuce.core.ClientOptions;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisConnectionException;
import io.lettuce.core.RedisURI;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.resource.ClientResources;
import io.lettuce.core.resource.Delay;
import java.net.URI;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(RedisExtension.class)
class TestRedisTest {

  @Test
  void infoServerReportsARealRedisVersion(TestRedis redis) {
    assertThat(redis.info("server")).containsPattern("redis_version:\\d+\\.\\d+\\.\\d+");
    assertThat(redis.isRunning()).isTrue();
    assertThat(redis.url()).isEqualTo("redis://" + redis.host() + ":" + redis.port());
  }

  @Test
  void cleanDatabaseIsEmptyAndIsolated(TestRedis redis, RedisURI uri) {
    RedisClient client = RedisClient.create(uri);
    try (StatefulRedisConnection<String, String> c = client.connect()) {
      assertThat(c.sync().dbsize()).isZero();
      c.sync().set("k", "v");
      assertThat(c.sync().dbsize()).isEqualTo(1);
      // The next 14 clean databases are other ones; the 15th is this one again, flushed.
      for (int i = 0; i < 14; i++) {
        assertThat(redis.cleanDatabase().getDatabase()).isNotEqualTo(uri.getDatabase());
      }
      assertThat(c.sync().get("k")).isEqualTo("v");
      assertThat(redis.cleanDatabase().getDatabase()).isEqualTo(uri.getDatabase());
      assertThat(c.sync().dbsize()).isZero();
    } finally {
      client.shutdown();
    }
  }

  @Test
  void lettuceClientReconnectsAfterRestartOnTheSamePort(TestRedis redis, RedisURI uri) {
    assumeTrue(redis.isEmbedded(), "needs a server this JVM owns");
    ClientResources resources =
        ClientResources.builder().reconnectDelay(Delay.constant(Duration.ofMillis(50))).build();
    RedisClient client = RedisClient.create(resources, uri);
    client.setOptions(ClientOptions.builder().autoReconnect(true).build());
    try (StatefulRedisConnection<String, String> c = client.connect()) {
      c.setTimeout(Duration.ofSeconds(2));
      assertThat(c.sync().ping()).isEqualTo("PONG");
      int port = redis.port();

      redis.restart();

      assertThat(redis.port()).isEqualTo(port);
      assertThat(redis.isRunning()).isTrue();
      // The same connection object reconnects by itself; poll with a deadline.
      long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
      String answer = null;
      while (answer == null && System.nanoTime() < deadline) {
        try {
          answer = c.sync().ping();
        } catch (RuntimeException e) {
          Thread.onSpinWait();
        }
      }
      assertThat(answer).isEqualTo("PONG");
      assertThat(c.isOpen()).isTrue();
    } finally {
      client.shutdown();
      resources.shutdown();
    }
  }

  @Test
  void stoppedServerRefusesConnectionsUntilStarted(TestRedis redis, RedisURI uri) {
    assumeTrue(redis.isEmbedded(), "needs a server this JVM owns");
    RedisClient client = RedisClient.create(uri);
    try {
      redis.stop();
      assertThat(redis.isRunning()).isFalse();
      assertThatThrownBy(client::connect).isInstanceOf(RedisConnectionException.class);
    } finally {
      redis.start();
    }
    try (StatefulRedisConnection<String, String> c = client.connect()) {
      assertThat(c.sync().ping()).isEqualTo("PONG");
    } finally {
      client.shutdown();
    }
  }

  @Test
  void pauseHoldsCommandsForTheGivenTime(TestRedis redis, RedisURI uri) {
    RedisClient client = RedisClient.create(uri);
    try (StatefulRedisConnection<String, String> c = client.connect()) {
      c.setTimeout(Duration.ofSeconds(10));
      c.sync().ping();
      long start = System.nanoTime();
      redis.pause(Duration.ofMillis(400));
      assertThat(c.sync().ping()).isEqualTo("PONG");
      long elapsedMillis = Duration.ofNanos(System.nanoTime() - start).toMillis();
      // A lower bound only: the pause guarantees it, a slow machine only adds to it.
      assertThat(elapsedMillis).isGreaterThanOrEqualTo(300);
    } finally {
      client.shutdown();
    }
  }

  @Test
  void envUrlsThatDoNotParseAreRefusedMasked() {
    String shape =
        "BULWARK_TEST_REDIS_URL must look like redis://[:password@]host[:port], but was ";
    assertRefused("http://:S3cr3t@cache.local", shape + "http://***@cache.local");
    assertRefused(
        "redis://:S3cr3t@cache.local:notaport", shape + "redis://***@cache.local:notaport");
    assertRefused("redis://:S3cr3t@cache.local:0", shape + "redis://***@cache.local:0");
    assertRefused("redis://:S3cr3t@cache.local:70000", shape + "redis://***@cache.local:70000");
    assertRefused(
        "redis://:S3cr3t@cache local",
        "BULWARK_TEST_REDIS_URL is not a Redis URL: redis://***@cache local");
    assertRefused(
        "redis://:S3cr3t@cache.local/abc",
        "BULWARK_TEST_REDIS_URL is not a Redis URL: redis://***@cache.local/abc");
  }

  private static void assertRefused(String url, String message) {
    Throwable thrown = catchThrowable(() -> TestRedis.parseUrl(url));
    assertThat(thrown).isInstanceOf(IllegalStateException.class).hasMessage(message).hasNoCause();
    NoSecrets.assertHidden(thrown, "S3cr3t");
  }

  @Test
  void anUnreachableEnvServerFailsWithoutShowingThePassword() {
    TestRedis unreachable =
        TestRedis.create("redis://:S3cr3t@127.0.0.1:" + Ports.freeLoopbackPort());
    try {
      assertThat(unreachable.isRunning()).isFalse();
      Throwable thrown = catchThrowable(() -> unreachable.info("server"));
      assertThat(thrown).isInstanceOf(RedisConnectionException.class);
      NoSecrets.assertHidden(thrown, "S3cr3t");
    } finally {
      unreachable.shutdown();
    }
  }

  @Test
  void aWrongPasswordFromTheEnvFailsWithoutShowingIt(TestRedis redis) {
    assumeTrue(redis.isEmbedded(), "needs a server this JVM owns");
    String server = "@" + redis.host() + ":" + redis.port();
    RedisClient admin = RedisClient.create(redis.uri());
    try (StatefulRedisConnection<String, String> c = admin.connect()) {
      c.sync().configSet("requirepass", "R1ghtS3cr3t");
      try {
        TestRedis wrong = TestRedis.create("redis://:Wr0ngS3cr3t" + server);
        try {
          Throwable thrown = catchThrowable(() -> wrong.info("server"));
          // Lettuce closes the channel on the WRONGPASS reply, and its handshake then reports
          // whichever comes first: the reply, or the close ("Connection closed prematurely").
          assertThat(thrown)
              .isInstanceOf(RedisConnectionException.class)
              .rootCause()
              .message()
              .satisfiesAnyOf(
                  m -> assertThat(m).contains("WRONGPASS"),
                  m -> assertThat(m).isEqualTo("Connection closed prematurely"));
          NoSecrets.assertHidden(thrown, "Wr0ngS3cr3t", "R1ghtS3cr3t");
        } finally {
          wrong.shutdown();
        }
        // The same URL with the right password works: the failure above was the password.
        TestRedis right = TestRedis.create("redis://:R1ghtS3cr3t" + server);
        try {
          assertThat(right.isRunning()).isTrue();
        } finally {
          right.shutdown();
        }
      } finally {
        c.sync().configSet("requirepass", "");
      }
    } finally {
      admin.shutdown();
    }
  }

  @Test
  void cleanDatabaseUrlNamesAFlushedDatabase(TestRedis redis) {
    String url = redis.cleanDatabaseUrl();
    RedisURI uri = RedisURI.create(url);
    assertThat(uri.getDatabase()).isBetween(1, 15);
    if (redis.isEmbedded()) {
      assertThat(url).isEqualTo("redis://127.0.0.1:" + redis.port() + "/" + uri.getDatabase());
    }
    RedisClient client = RedisClient.create(url);
    try (StatefulRedisConnection<String, String> c = client.connect()) {
      assertThat(c.sync().dbsize()).isZero();
      c.sync().set("k", "v");
      assertThat(c.sync().dbsize()).isEqualTo(1);
    } finally {
      client.shutdown();
    }
  }

  @Test
  void cleanDatabaseUrlKeepsTheCredentialsAndParametersOfTheEnvUrl() {
    URI uri =
        TestRedis.parseUrl(
            "rediss://app:S3cr3t@cache.local:6380/4?verifyPeer=NONE&database=4&clientName=t");
    assertThat(TestRedis.baseUrl(uri)).isEqualTo("rediss://app:S3cr3t@cache.local:6380");
    assertThat(TestRedis.query(uri)).isEqualTo("?verifyPeer=NONE&clientName=t");
    URI plain = TestRedis.parseUrl("redis://cache.local?db=2");
    assertThat(TestRedis.baseUrl(plain)).isEqualTo("redis://cache.local:6379");
    assertThat(TestRedis.query(plain)).isEmpty();
  }

  @Test
  void pauseRejectsLessThanOneMillisecond(TestRedis redis) {
    assertThatThrownBy(() -> redis.pause(Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("duration must be at least 1 ms, but was 0 ms");
  }
}

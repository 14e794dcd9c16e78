package dev.bulwark.pool;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.bulwark.testing.Await;
import dev.bulwark.testing.RedisExtension;
import dev.bulwark.testing.TestRedis;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisCommandTimeoutException;
import io.lettuce.core.RedisConnectionException;
import io.lettuce.core.RedisException;
import io.lettuce.core.RedisFuture;
import io.lettuce.core.RedisURI;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.async.RedisAsyncCommands;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.event.connection.ConnectionActivatedEvent;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import reactor.core.Disposable;

/** The hardened client against a real Redis server that is stopped, restarted and paused. */
@ExtendWith(RedisExtension.class)
class RedisClientFaultTest {

  private static String url(RedisURI uri) {
    return "redis://" + uri.getHost() + ":" + uri.getPort() + "/" + uri.getDatabase();
  }

  @Test
  void stoppedRedisMakesCommandsFailFastNotAfterSixtySeconds(TestRedis redis, RedisURI uri)
      throws Exception {
    assumeTrue(redis.isEmbedded(), "needs a server this JVM owns");
    Duration commandTimeout = Duration.ofSeconds(1);
    RedisClient client = Pools.redis(url(uri)).commandTimeout(commandTimeout).build();
    try (StatefulRedisConnection<String, String> connection = client.connect()) {
      assertThat(connection.sync().set("k", "v")).isEqualTo("OK");
      redis.stop();
      try {
        // The first command may race the connection's close: it fails within the command timeout.
        long start = System.nanoTime();
        assertThatThrownBy(() -> connection.sync().get("k")).isInstanceOf(RedisException.class);
        assertThat(Duration.ofNanos(System.nanoTime() - start))
            .isLessThan(commandTimeout.plusSeconds(4));

        // Once the client knows it is disconnected, commands are rejected at once.
        Await.until(Duration.ofSeconds(10), "disconnect", () -> !connection.isOpen());
        start = System.nanoTime();
        assertThatThrownBy(() -> connection.sync().get("k"))
            .isInstanceOf(RedisException.class)
            .hasMessage("Currently not connected. Commands are rejected.");
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(commandTimeout);
      } finally {
        redis.start();
      }
    } finally {
      client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
    }
  }

  @Test
  void stoppedRedisMakesCommandsFailFastWithTheDefaultCommandTimeout(TestRedis redis, RedisURI uri)
      throws Exception {
    assumeTrue(redis.isEmbedded(), "needs a server this JVM owns");
    RedisClient client = Pools.redis(url(uri)).build();
    try (StatefulRedisConnection<String, String> connection = client.connect()) {
      assertThat(connection.getTimeout()).isEqualTo(Duration.ofSeconds(5));
      assertThat(connection.sync().set("k", "v")).isEqualTo("OK");
      redis.stop();
      try {
        // Lettuce's own default would make this wait up to 60 s.
        long start = System.nanoTime();
        assertThatThrownBy(() -> connection.sync().get("k")).isInstanceOf(RedisException.class);
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(15));

        Await.until(Duration.ofSeconds(10), "disconnect", () -> !connection.isOpen());
        start = System.nanoTime();
        assertThatThrownBy(() -> connection.sync().get("k"))
            .isInstanceOf(RedisException.class)
            .hasMessage("Currently not connected. Commands are rejected.");
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(1));
      } finally {
        redis.start();
      }
    } finally {
      client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
    }
  }

  /**
   * The advice for blocking commands: a dedicated connection whose own timeout is raised above the
   * command's wait. The command timeout is each connection's timeout, on every API.
   */
  @Test
  void dedicatedConnectionWithARaisedTimeoutRunsABlockingCommand(RedisURI uri) throws Exception {
    RedisClient client = Pools.redis(url(uri)).commandTimeout(Duration.ofSeconds(1)).build();
    try (StatefulRedisConnection<String, String> shared = client.connect();
        StatefulRedisConnection<String, String> blocking = client.connect()) {
      // Without the raise, the command timeout ends the wait, on the async API too.
      assertThat(shared.getTimeout()).isEqualTo(Duration.ofSeconds(1));
      long start = System.nanoTime();
      assertThatThrownBy(() -> shared.async().blpop(2, "empty-list").get(10, TimeUnit.SECONDS))
          .isInstanceOf(ExecutionException.class)
          .cause()
          .isInstanceOf(RedisCommandTimeoutException.class);
      assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(2));

      blocking.setTimeout(Duration.ofSeconds(4));
      start = System.nanoTime();
      assertThat(blocking.sync().blpop(2, "empty-list")).isNull();
      assertThat(Duration.ofNanos(System.nanoTime() - start))
          .isGreaterThan(Duration.ofMillis(1500));

      // The client's I/O threads carry the module's name.
      assertThat(Thread.getAllStackTraces().keySet())
          .extracting(Thread::getName)
          .anyMatch(name -> name.matches("bulwark-pool-redis-\\w+EventLoop-\\d+"));
    } finally {
      client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
    }
  }

  @Test
  void restartedRedisIsReconnectedAndServesAgain(TestRedis redis, RedisURI uri) throws Exception {
    assumeTrue(redis.isEmbedded(), "needs a server this JVM owns");
    RedisClient client = Pools.redis(url(uri)).build();
    try (StatefulRedisConnection<String, String> connection = client.connect()) {
      assertThat(connection.sync().ping()).isEqualTo("PONG");
      CountDownLatch reconnected = new CountDownLatch(1);
      Disposable events =
          client
              .getResources()
              .eventBus()
              .get()
              .filter(ConnectionActivatedEvent.class::isInstance)
              .subscribe(e -> reconnected.countDown());
      try {
        redis.restart();
        // Reconnect attempts are at most 2 s apart, so this comes quickly.
        assertThat(reconnected.await(15, TimeUnit.SECONDS)).isTrue();
        assertThat(connection.sync().set("k", "after restart")).isEqualTo("OK");
        assertThat(connection.sync().get("k")).isEqualTo("after restart");
      } finally {
        events.dispose();
      }
    } finally {
      client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
    }
  }

  @Test
  void connectingToAStoppedRedisFailsWithinTheConnectTimeout(TestRedis redis, RedisURI uri) {
    assumeTrue(redis.isEmbedded(), "needs a server this JVM owns");
    RedisClient client = Pools.redis(url(uri)).build();
    redis.stop();
    try {
      long start = System.nanoTime();
      assertThatThrownBy(client::connect).isInstanceOf(RedisConnectionException.class);
      assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(10));
    } finally {
      redis.start();
      client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
    }
  }

  @Test
  void fullRequestQueueRejectsTheNextCommand(TestRedis redis, RedisURI uri) throws Exception {
    RedisClient client =
        Pools.redis(url(uri)).requestQueueSize(2).commandTimeout(Duration.ofSeconds(20)).build();
    try (StatefulRedisConnection<String, String> connection = client.connect()) {
      RedisAsyncCommands<String, String> async = connection.async();
      assertThat(async.ping().get(5, TimeUnit.SECONDS)).isEqualTo("PONG");
      // The server holds every command for 4 s: long enough, even on a loaded machine, for the
      // three pings below to be sent while the first two are still unanswered.
      redis.pause(Duration.ofSeconds(4));
      RedisFuture<String> first = async.ping();
      RedisFuture<String> second = async.ping();
      RedisFuture<String> third = async.ping();
      assertThatThrownBy(() -> third.get(1, TimeUnit.SECONDS))
          .isInstanceOf(ExecutionException.class)
          .cause()
          .isInstanceOf(RedisException.class)
          // Lettuce checks the bound where the command is queued and again where it is written.
          .hasMessageMatching("(Request queue|Internal stack) size exceeded.*");
      assertThat(first.get(15, TimeUnit.SECONDS)).isEqualTo("PONG");
      assertThat(second.get(15, TimeUnit.SECONDS)).isEqualTo("PONG");
    } finally {
      client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
    }
  }

  @Test
  void passwordFromTheUrlIsUsed(TestRedis redis, RedisURI uri) {
    assumeTrue(redis.isEmbedded(), "needs a server this JVM owns");
    RedisClient open = Pools.redis(url(uri)).build();
    RedisClient withPassword =
        Pools.redis("redis://:s3cret@" + uri.getHost() + ":" + uri.getPort()).build();
    RedisClient withoutPassword = Pools.redis(url(uri)).build();
    StatefulRedisConnection<String, String> admin = open.connect();
    try {
      admin.sync().configSet("requirepass", "s3cret");
      try (StatefulRedisConnection<String, String> c = withPassword.connect()) {
        assertThat(c.sync().ping()).isEqualTo("PONG");
      }
      assertThatThrownBy(withoutPassword::connect)
          .isInstanceOf(RedisConnectionException.class)
          .rootCause()
          .hasMessageContaining("NOAUTH");
    } finally {
      admin.sync().configSet("requirepass", "");
      admin.close();
      open.shutdown(Duration.ZERO, Duration.ofSeconds(2));
      withPassword.shutdown(Duration.ZERO, Duration.ofSeconds(2));
      withoutPassword.shutdown(Duration.ZERO, Duration.ofSeconds(2));
    }
  }

  @Test
  void clusterClientAgainstAStandaloneServerFailsClearly(TestRedis redis) {
    RedisClusterClient client =
        Pools.redisCluster("redis://" + redis.host() + ":" + redis.port()).build();
    try {
      assertThatThrownBy(client::connect)
          .isInstanceOf(RedisException.class)
          .hasMessageContaining("Redis Cluster");
    } finally {
      client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
    }
  }
}

package dev.bulwark.timeouts;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import dev.bulwark.pool.Pools;
import dev.bulwark.testing.RedisExtension;
import dev.bulwark.testing.TestRedis;
import io.lettuce.core.ClientOptions;
import io.lettuce.core.ClientOptions.DisconnectedBehavior;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisCommandInterruptedException;
import io.lettuce.core.RedisCommandTimeoutException;
import io.lettuce.core.TimeoutOptions;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.cluster.ClusterClientOptions;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.resource.ClientResources;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** Per-command Redis timeouts taken from the caller's deadline, against a real Redis. */
@ExtendWith(RedisExtension.class)
class RedisTimeoutsTest {

  @AfterEach
  void nothingLeaks() {
    assertThat(Thread.interrupted()).as("interrupt status leaked").isFalse();
    assertThat(Deadline.current()).isEmpty();
  }

  private static String key(String what) {
    return "redis-timeouts:" + what + ":" + System.nanoTime();
  }

  @Test
  void aCommandGetsOnlyWhatTheDeadlineHasLeft(TestRedis redis) {
    RedisClient client =
        RedisTimeouts.applyTo(Pools.redis(redis.url()).build(), Duration.ofSeconds(10));
    try (StatefulRedisConnection<String, String> c = client.connect()) {
      c.sync().set("k", "v");
      redis.pause(Duration.ofMillis(1500));
      long start = System.nanoTime();
      assertThatThrownBy(() -> Deadline.after(Duration.ofMillis(200)).call(() -> c.sync().get("k")))
          .isInstanceOf(RedisCommandTimeoutException.class);
      // Well under the pause and the 10 s command timeout.
      assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofMillis(1400));
      // Without a deadline the command waits out the pause and succeeds.
      assertThat(c.sync().get("k")).isEqualTo("v");
    } finally {
      client.shutdown();
    }
  }

  @Test
  void applyToKeepsEveryOtherOptionOfAPoolsClient(TestRedis redis) {
    RedisClient client = Pools.redis(redis.url()).requestQueueSize(1234).build();
    try {
      ClientOptions before = client.getOptions();
      assertThat(RedisTimeouts.applyTo(client, Duration.ofSeconds(3))).isSameAs(client);
      ClientOptions after = client.getOptions();

      assertThat(after.getDisconnectedBehavior()).isEqualTo(DisconnectedBehavior.REJECT_COMMANDS);
      assertThat(after.getRequestQueueSize()).isEqualTo(1234);
      assertThat(after.getSocketOptions()).isSameAs(before.getSocketOptions());
      assertThat(after.getSocketOptions().getConnectTimeout()).isEqualTo(Duration.ofSeconds(2));
      assertThat(after.isAutoReconnect()).isTrue();
      assertThat(after.isPingBeforeActivateConnection()).isTrue();
      assertThat(after.getSslOptions()).isSameAs(before.getSslOptions());

      TimeoutOptions timeouts = after.getTimeoutOptions();
      assertThat(timeouts.isTimeoutCommands()).isTrue();
      assertThat(timeouts.isApplyConnectionTimeout()).isFalse();
      assertThat(timeouts.getRelaxedTimeout())
          .isEqualTo(before.getTimeoutOptions().getRelaxedTimeout());
      assertThat(timeouts.getSource().getTimeUnit()).isEqualTo(TimeUnit.NANOSECONDS);

      // The source answers from the deadline, and the client still works.
      try (StatefulRedisConnection<String, String> c = client.connect()) {
        assertThat(Deadline.after(Duration.ofSeconds(2)).call(() -> c.sync().ping()))
            .isEqualTo("PONG");
      }
    } finally {
      client.shutdown();
    }
  }

  @Test
  void applyToKeepsEveryOtherOptionOfAPoolsClusterClient(TestRedis redis) {
    // Options only: bulwark-testing has no cluster, and building a cluster client connects to
    // nothing.
    RedisClusterClient client =
        Pools.redisCluster(redis.url())
            .topologyRefreshPeriod(Duration.ofSeconds(30))
            .requestQueueSize(4321)
            .build();
    try {
      ClusterClientOptions before = (ClusterClientOptions) client.getOptions();
      assertThat(RedisTimeouts.applyTo(client, Duration.ofSeconds(3))).isSameAs(client);
      ClusterClientOptions after = (ClusterClientOptions) client.getOptions();

      assertThat(after.getTopologyRefreshOptions()).isSameAs(before.getTopologyRefreshOptions());
      assertThat(after.getTopologyRefreshOptions().getRefreshPeriod())
          .isEqualTo(Duration.ofSeconds(30));
      assertThat(after.getDisconnectedBehavior()).isEqualTo(DisconnectedBehavior.REJECT_COMMANDS);
      assertThat(after.getRequestQueueSize()).isEqualTo(4321);
      assertThat(after.getSocketOptions()).isSameAs(before.getSocketOptions());
      assertThat(after.getMaxRedirects()).isEqualTo(before.getMaxRedirects());
      assertThat(after.getTimeoutOptions().isTimeoutCommands()).isTrue();
      assertThat(after.getTimeoutOptions().isApplyConnectionTimeout()).isFalse();
    } finally {
      client.shutdown();
    }
  }

  @Test
  void theSourceOverridesAConnectionsRaisedTimeout(TestRedis redis) {
    RedisClient client =
        RedisTimeouts.applyTo(Pools.redis(redis.url()).build(), Duration.ofMillis(300));
    try (StatefulRedisConnection<String, String> blocking = client.connect()) {
      blocking.setTimeout(Duration.ofSeconds(5));
      assertThat(blocking.getTimeout()).isEqualTo(Duration.ofSeconds(5));
      // Honoured, the raised timeout would let BLPOP return null after 2 s; the source's 300 ms
      // ends it first.
      assertThatThrownBy(() -> blocking.sync().blpop(2, key("empty")))
          .isInstanceOf(RedisCommandTimeoutException.class);
    } finally {
      client.shutdown();
    }
  }

  @Test
  void blockingCommandsKeepTheirRaisedTimeoutOnAClientOfTheirOwn(TestRedis redis) {
    ClientResources shared = ClientResources.create();
    RedisClient requests =
        RedisTimeouts.applyTo(
            Pools.redis(redis.url()).clientResources(shared).build(), Duration.ofMillis(300));
    RedisClient queues =
        Pools.redis(redis.url())
            .clientResources(shared)
            .commandTimeout(Duration.ofMillis(300))
            .build();
    try (StatefulRedisConnection<String, String> c = requests.connect();
        StatefulRedisConnection<String, String> blocking = queues.connect()) {
      blocking.setTimeout(Duration.ofSeconds(5));
      // Longer than both clients' 300 ms: the dedicated connection's raised timeout holds.
      assertThat(blocking.sync().blpop(1, key("jobs"))).isNull();
      assertThat(Deadline.after(Duration.ofSeconds(2)).call(() -> c.sync().ping()))
          .isEqualTo("PONG");
    } finally {
      requests.shutdown(Duration.ZERO, Duration.ofSeconds(2));
      queues.shutdown(Duration.ZERO, Duration.ofSeconds(2));
      shared.shutdown(0, 2, TimeUnit.SECONDS);
    }
  }

  @Test
  void aCommandTimedOutAtTheDeadlineFailsTheLimitedCallAsATimeoutEveryTime(TestRedis redis) {
    RedisClient client =
        RedisTimeouts.applyTo(Pools.redis(redis.url()).build(), Duration.ofSeconds(10));
    try (StatefulRedisConnection<String, String> c = client.connect()) {
      // BLPOP with no timeout holds the connection on the server until it is closed, so every
      // later command on it runs into its deadline: Lettuce's own timeout, clamped to the
      // deadline, races the watchdog's interrupt in each call.
      c.async().blpop(0, key("held"));
      int calls = 50;
      for (int i = 0; i < calls; i++) {
        Throwable thrown =
            catchThrowable(() -> Timeouts.within(Duration.ofMillis(20), () -> c.sync().get("k")));
        assertThat(thrown)
            .as("call %d", i)
            .isInstanceOf(TimeoutExceededException.class)
            .cause()
            .isInstanceOfAny(
                RedisCommandTimeoutException.class, RedisCommandInterruptedException.class);
        assertThat(Thread.interrupted()).as("interrupt leaked after call %d", i).isFalse();
      }
    } finally {
      client.shutdown();
    }
  }

  @Test
  void commandTimeoutIsClampedToTheCurrentDeadline() {
    assertThat(RedisTimeouts.commandTimeout(Duration.ofSeconds(5)))
        .isEqualTo(Duration.ofSeconds(5));
    assertThat(
            Deadline.after(Duration.ofMillis(100))
                .call(() -> RedisTimeouts.commandTimeout(Duration.ofSeconds(5))))
        .isLessThanOrEqualTo(Duration.ofMillis(100));
    assertThatThrownBy(
            () ->
                Deadline.after(Duration.ZERO)
                    .call(() -> RedisTimeouts.commandTimeout(Duration.ofSeconds(5))))
        .isInstanceOf(TimeoutExceededException.class);
    assertThatThrownBy(() -> RedisTimeouts.timeoutOptions(Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("commandTimeout must be positive, but was 0 ms");
  }

  @Test
  void applyToChecksTheCommandTimeoutAndLeavesTheClientAsItWas(TestRedis redis) {
    RedisClient client = Pools.redis(redis.url()).build();
    try {
      ClientOptions before = client.getOptions();
      assertThatThrownBy(() -> RedisTimeouts.applyTo(client, Duration.ofMillis(-1)))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessage("commandTimeout must be positive, but was -1 ms");
      assertThat(client.getOptions()).isSameAs(before);
    } finally {
      client.shutdown();
    }
  }
}

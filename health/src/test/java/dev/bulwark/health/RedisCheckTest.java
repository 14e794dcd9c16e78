package dev.bulwark.health;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.bulwark.pool.Pools;
import dev.bulwark.testing.Await;
import dev.bulwark.testing.Closer;
import dev.bulwark.testing.RedisExtension;
import dev.bulwark.testing.TestRedis;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.cluster.api.StatefulRedisClusterConnection;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * {@link HealthChecks#redis(StatefulRedisConnection)}: connections of clients built by {@code
 * Pools.redis}, against a real Redis that is stopped, restarted and paused.
 */
@ExtendWith(RedisExtension.class)
class RedisCheckTest {
  private static final Duration WAIT = Duration.ofSeconds(15);

  private final Closer closer = new Closer();

  @AfterEach
  void tearDown() throws Exception {
    closer.close();
  }

  private StatefulRedisConnection<String, String> connect(RedisURI uri) {
    RedisClient client =
        closer.client(
            Pools.redis("redis://" + uri.getHost() + ":" + uri.getPort() + "/" + uri.getDatabase())
                .build());
    return closer.add(client.connect());
  }

  @Test
  void passesWithThePingsLatency(RedisURI uri) throws Exception {
    // No latency threshold: a test asserts no speed.
    HealthCheck check = HealthChecks.redis(connect(uri), Threshold.none(), Duration.ofSeconds(5));

    HealthResult result = check.check();

    assertThat(result.status()).as(result.toString()).isEqualTo(Status.PASS);
    assertThat(result.output()).isNull();
    assertThat(result.observedUnit()).isEqualTo("ms");
    assertThat((Double) result.observedValue()).isNotNegative();
    assertThat(result.componentType()).isEqualTo("datastore");
    assertThat(check).hasToString("HealthChecks.redis");
    assertThat(((BuiltInCheck) check).isExternal()).isTrue();
  }

  @Test
  void warnsAtTheLatencyThreshold(RedisURI uri) throws Exception {
    // Any PING takes longer than a nanosecond.
    HealthCheck check =
        HealthChecks.redis(connect(uri), Threshold.warnAt(0.000001), Duration.ofSeconds(1));

    HealthResult result = check.check();

    assertThat(result.status()).isEqualTo(Status.WARN);
    assertThat(result.output())
        .matches("PING took [0-9.]+ ms, at or above the warning level of 0.000001 ms");

    HealthResult failed =
        HealthChecks.redis(connect(uri), Threshold.of(0.000001, 0.000001), Duration.ofSeconds(1))
            .check();
    assertThat(failed.status()).isEqualTo(Status.FAIL);
    assertThat(failed.output())
        .matches("PING took [0-9.]+ ms, at or above the failure level of 0.000001 ms");
  }

  @Test
  void failsWhileRedisIsStoppedAndPassesOnceItIsBack(TestRedis redis, RedisURI uri)
      throws Exception {
    assumeTrue(redis.isEmbedded(), "needs a server this JVM owns");
    Duration timeout = Duration.ofSeconds(1);
    HealthCheck check = HealthChecks.redis(connect(uri), Threshold.none(), timeout);
    assertThat(check.check().status()).isEqualTo(Status.PASS);

    redis.stop();
    try {
      long start = System.nanoTime();
      HealthResult down = check.check();

      assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(timeout.plusSeconds(4));
      assertThat(down.status()).as(down.toString()).isEqualTo(Status.FAIL);
      // The PING races the client's discovery that the server is gone.
      assertThat(down.output())
          .isIn(
              "not connected to Redis: the connection is closed, or reconnecting",
              "PING failed: RedisException: Connection closed",
              "PING failed: RedisException: Connection disconnected",
              "PING failed: RedisException: Currently not connected. Commands are rejected.",
              "no answer to PING within 1000 ms");
      Await.until(
          WAIT,
          "the client to see the server gone",
          () ->
              "not connected to Redis: the connection is closed, or reconnecting"
                  .equals(check.check().output()));
    } finally {
      redis.start();
    }
    // Pools.redis reconnects within its 2 s longest reconnect delay.
    Await.until(WAIT, "a passing check", () -> check.check().status() == Status.PASS);
  }

  @Test
  void failsWhenNoAnswerComesInTime(TestRedis redis, RedisURI uri) throws Exception {
    assumeTrue(redis.isEmbedded(), "needs a server this JVM owns");
    StatefulRedisConnection<String, String> connection = connect(uri);
    HealthCheck check = HealthChecks.redis(connection, Threshold.none(), Duration.ofMillis(100));
    Await.until(WAIT, "a passing check", () -> check.check().status() == Status.PASS);
    Duration pause = Duration.ofSeconds(2);

    long paused = System.nanoTime();
    redis.pause(pause);
    HealthResult result = check.check();
    assumeTrue(
        System.nanoTime() - paused < pause.toNanos(), "the check ran after the pause had ended");

    assertThat(result.status()).isEqualTo(Status.FAIL);
    assertThat(result.output()).isEqualTo("no answer to PING within 100 ms");
    // The cancelled PING left the connection as it was: it answers once the pause ends.
    Await.until(WAIT, "a passing check", () -> check.check().status() == Status.PASS);
    assertThat(connection.sync().ping()).isEqualTo("PONG");
  }

  @Test
  void aClosedConnectionFails(RedisURI uri) throws Exception {
    StatefulRedisConnection<String, String> connection = connect(uri);
    HealthCheck check = HealthChecks.redis(connection);
    connection.close();

    HealthResult result = check.check();

    assertThat(result.status()).isEqualTo(Status.FAIL);
    assertThat(result.output())
        .isEqualTo("not connected to Redis: the connection is closed, or reconnecting");
  }

  @Test
  void refusesSettingsOutOfRange(RedisURI uri) {
    StatefulRedisConnection<String, String> c = connect(uri);
    assertThatThrownBy(() -> HealthChecks.redis(c, Threshold.warnAt(0), Duration.ofSeconds(1)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("latencyMillis.warnAt must be positive, or infinite for never, but was 0 ms");
    assertThatThrownBy(() -> HealthChecks.redis(c, Threshold.warnAt(100), Duration.ofMillis(5)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("timeout must be between 10 ms and 60000 ms, but was 5 ms");
    assertThatThrownBy(() -> HealthChecks.redis((StatefulRedisConnection<?, ?>) null))
        .isInstanceOf(NullPointerException.class)
        .hasMessage("connection");
    assertThatThrownBy(() -> HealthChecks.redis((StatefulRedisClusterConnection<?, ?>) null))
        .isInstanceOf(NullPointerException.class)
        .hasMessage("connection");
    assertThatThrownBy(() -> HealthChecks.redis(c, null, Duration.ofSeconds(1)))
        .isInstanceOf(NullPointerException.class)
        .hasMessage("latencyMillis");
    assertThatThrownBy(() -> HealthChecks.redis(c, Threshold.warnAt(100), null))
        .isInstanceOf(NullPointerException.class)
        .hasMessage("timeout");
  }
}

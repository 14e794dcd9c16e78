package dev.bulwark.examples.testing;

import static org.assertj.core.api.Assertions.assertThat;

import dev.bulwark.testing.RedisSentinelExtension;
import dev.bulwark.testing.TestRedisSentinel;
import io.lettuce.core.ClientOptions;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.resource.ClientResources;
import io.lettuce.core.resource.Delay;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** Runs the "Redis Sentinel" snippet of {@code docs/testing.md} as written. */
@ExtendWith(RedisSentinelExtension.class)
class SentinelDocTest {

  // snippet:begin testing-sentinel
  @Test
  void followsAFailover(TestRedisSentinel sentinel) {
    sentinel.flushAll();
    ClientResources resources =
        ClientResources.builder().reconnectDelay(Delay.constant(Duration.ofMillis(50))).build();
    RedisClient client = RedisClient.create(resources, sentinel.sentinelUri());
    client.setOptions(ClientOptions.builder().autoReconnect(true).build());
    try (StatefulRedisConnection<String, String> c = client.connect()) {
      c.setTimeout(Duration.ofMillis(500));
      c.sync().set("k", "v");

      int newMaster = sentinel.killMaster(); // returns once the replica is promoted

      // the same connection finds the new master through the sentinels: poll with a deadline
      long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
      String answer = null;
      while (answer == null && System.nanoTime() < deadline) {
        try {
          answer = c.sync().set("k", "w");
        } catch (RuntimeException e) {
          Thread.onSpinWait(); // timed out or refused: the client is still switching
        }
      }
      assertThat(answer).isEqualTo("OK");
      assertThat(c.sync().info("server")).contains("tcp_port:" + newMaster);
    } finally {
      client.shutdown();
      resources.shutdown();
    }
  }
  // snippet:end
}

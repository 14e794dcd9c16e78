package dev.bulwark.examples.testing;

import static dev.bulwark.examples.Await.awaitTrue;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.bulwark.testing.RedisClusterExtension;
import dev.bulwark.testing.TestRedisCluster;
import io.lettuce.core.RedisException;
import io.lettuce.core.cluster.ClusterClientOptions;
import io.lettuce.core.cluster.ClusterTopologyRefreshOptions;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.cluster.api.StatefulRedisClusterConnection;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** Runs the Redis Cluster snippet of {@code docs/testing.md} as written. */
@ExtendWith(RedisClusterExtension.class)
class RedisClusterDocTest {

  @Test
  void sessionsSurviveAFailover(TestRedisCluster cluster) {
    assumeTrue(cluster.isEmbedded(), "stopMaster needs a cluster this JVM owns");

    // snippet:begin testing-redis-cluster
    cluster.flushAll();
    int slot = TestRedisCluster.slot("session:42");
    RedisClusterClient redis = RedisClusterClient.create(cluster.seedUris());
    redis.setOptions(
        ClusterClientOptions.builder()
            .topologyRefreshOptions(
                ClusterTopologyRefreshOptions.builder()
                    .enableAllAdaptiveRefreshTriggers()
                    .refreshPeriod(Duration.ofSeconds(1))
                    .build())
            .build());
    try (StatefulRedisClusterConnection<String, String> c = redis.connect()) {
      c.setTimeout(Duration.ofSeconds(1));
      c.sync().set("session:42", "alice");
      int oldMaster = cluster.masterPort(slot);

      int newMaster = cluster.stopMaster(slot); // returns once its replica is promoted

      try {
        assertThat(newMaster).isNotEqualTo(oldMaster);
        // Until its next refresh of the slot map (every second here), the client sends the
        // slot's commands to the dead master, and they time out.
        awaitTrue(
            () -> {
              try {
                return "OK".equals(c.sync().set("session:42", "bob"));
              } catch (RedisException e) {
                return false;
              }
            });
        assertThat(c.sync().get("session:42")).isEqualTo("bob");
      } finally {
        cluster.startNode(oldMaster); // back as a replica of newMaster
        cluster.failover(oldMaster); // the original roles again, for the next test
      }
    } finally {
      redis.shutdown();
    }
    // snippet:end
  }
}

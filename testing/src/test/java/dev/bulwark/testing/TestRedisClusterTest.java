package dev.bulwark.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisCommandExecutionException;
import io.lettuce.core.RedisURI;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import io.lettuce.core.cluster.ClusterClientOptions;
import io.lettuce.core.cluster.ClusterTopologyRefreshOptions;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.cluster.api.StatefulRedisClusterConnection;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Function;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.ExtendWith;

/** The fault-injection tests run last and leave the cluster's roles and slot map as they found. */
@ExtendWith(RedisClusterExtension.class)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class TestRedisClusterTest {

  /** Connections to single nodes, as a client that does not follow redirects sees them. */
  private static RedisClient nodes;

  @BeforeAll
  static void createClient() {
    nodes = RedisClient.create();
  }

  @AfterAll
  static void shutdownClient() {
    nodes.shutdown();
  }

  @Test
  @Order(1)
  void servesKeysOnAllThreeShards(TestRedisCluster cluster) {
    cluster.flushAll();
    List<Integer> masters = cluster.masterPorts();
    assertThat(masters).hasSize(3).doesNotHaveDuplicates();
    for (int master : masters) {
      assertThat(cluster.clusterInfo(master)).contains("cluster_state:ok");
      assertThat(cluster.replicaPort(master)).isNotIn(masters);
    }
    RedisClusterClient client = RedisClusterClient.create(cluster.seedUris());
    try (StatefulRedisClusterConnection<String, String> c = client.connect()) {
      Set<Integer> shards = new HashSet<>();
      for (int i = 0; shards.size() < 3; i++) {
        String key = "key-" + i;
        int slot = TestRedisCluster.slot(key);
        assertThat(c.sync().clusterKeyslot(key)).isEqualTo(slot);
        c.sync().set(key, "v" + i);
        shards.add(cluster.masterPort(slot));
        assertThat(get(cluster.masterPort(slot), key)).isEqualTo("v" + i);
      }
      assertThat(shards).containsExactlyInAnyOrderElementsOf(masters);
    } finally {
      client.shutdown();
    }
  }

  @Test
  @Order(2)
  void flushAllClearsEveryShard(TestRedisCluster cluster) {
    RedisClusterClient client = RedisClusterClient.create(cluster.seedUris());
    try (StatefulRedisClusterConnection<String, String> c = client.connect()) {
      for (int i = 0; i < 30; i++) {
        c.sync().set("flush-" + i, "v");
      }
      cluster.flushAll();
      for (int master : cluster.masterPorts()) {
        assertThat(dbsize(master)).isZero();
      }
    } finally {
      client.shutdown();
    }
  }

  @Test
  @Order(3)
  void seedUrlsNameEveryEmbeddedNode(TestRedisCluster cluster) {
    assumeTrue(cluster.isEmbedded(), "needs a cluster this JVM owns");
    assertThat(cluster.seedUrls())
        .hasSize(6)
        .allMatch(u -> u.matches("redis://127\\.0\\.0\\.1:\\d+"));
    assertThat(cluster.seedUris())
        .hasSize(6)
        .extracting(RedisURI::getHost)
        .containsOnly("127.0.0.1");
    assertThat(cluster.host()).isEqualTo("127.0.0.1");
  }

  @Test
  @Order(4)
  void aMovedSlotIsAnsweredWithMovedByItsOldOwner(TestRedisCluster cluster) {
    assumeTrue(cluster.isEmbedded(), "needs a cluster this JVM owns");
    String key = "moving";
    int slot = TestRedisCluster.slot(key);
    int owner = cluster.masterPort(slot);
    int target = cluster.masterPorts().stream().filter(p -> p != owner).findFirst().orElseThrow();
    onNode(owner, n -> n.set(key, "v"));
    try {
      cluster.moveSlot(slot, target);
      assertThat(cluster.masterPort(slot)).isEqualTo(target);
      assertThat(get(target, key)).isEqualTo("v");
      assertThatThrownBy(() -> get(owner, key))
          .isInstanceOf(RedisCommandExecutionException.class)
          .hasMessage("MOVED " + slot + " 127.0.0.1:" + target);
    } finally {
      cluster.moveSlot(slot, owner);
    }
    assertThat(cluster.masterPort(slot)).isEqualTo(owner);
    assertThat(get(owner, key)).isEqualTo("v");
  }

  @Test
  @Order(5)
  void aSlotHalfWayMovedIsAnsweredWithAskForKeysNotYetMoved(TestRedisCluster cluster) {
    assumeTrue(cluster.isEmbedded(), "needs a cluster this JVM owns");
    String key = "asking";
    int slot = TestRedisCluster.slot(key);
    int owner = cluster.masterPort(slot);
    int target = cluster.masterPorts().stream().filter(p -> p != owner).findFirst().orElseThrow();
    try {
      cluster.beginSlotMigration(slot, target);
      assertThatThrownBy(() -> get(owner, key))
          .isInstanceOf(RedisCommandExecutionException.class)
          .hasMessage("ASK " + slot + " 127.0.0.1:" + target);
    } finally {
      cluster.moveSlot(slot, target);
      cluster.moveSlot(slot, owner);
    }
    assertThat(cluster.masterPort(slot)).isEqualTo(owner);
    assertThat(get(owner, key)).isNull();
  }

  @Test
  @Order(6)
  void pauseHoldsOneNodesCommands(TestRedisCluster cluster) {
    assumeTrue(cluster.isEmbedded(), "needs a cluster this JVM owns");
    int master = cluster.masterPorts().get(0);
    RedisClient client = RedisClient.create(RedisURI.create("127.0.0.1", master));
    try (StatefulRedisConnection<String, String> c = client.connect()) {
      c.setTimeout(Duration.ofSeconds(10));
      c.sync().ping();
      long start = System.nanoTime();
      cluster.pause(master, Duration.ofMillis(300));
      assertThat(c.sync().ping()).isEqualTo("PONG");
      // A lower bound only: the pause guarantees it, a slow machine only adds to it.
      assertThat(Duration.ofNanos(System.nanoTime() - start).toMillis())
          .isGreaterThanOrEqualTo(200);
    } finally {
      client.shutdown();
    }
    assertThatThrownBy(() -> cluster.pause(master, Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("duration must be at least 1 ms, but was 0 ms");
  }

  @Test
  @Order(7)
  void aStoppedMastersReplicaTakesOverAndAClusterClientFollows(TestRedisCluster cluster) {
    assumeTrue(cluster.isEmbedded(), "needs a cluster this JVM owns");
    cluster.flushAll();
    String key = "survivor";
    int slot = TestRedisCluster.slot(key);
    int oldMaster = cluster.masterPort(slot);
    int replica = cluster.replicaPort(oldMaster);
    RedisClusterClient client = RedisClusterClient.create(cluster.seedUris());
    client.setOptions(
        ClusterClientOptions.builder()
            .topologyRefreshOptions(
                ClusterTopologyRefreshOptions.builder()
                    .enableAllAdaptiveRefreshTriggers()
                    .refreshPeriod(Duration.ofMillis(500))
                    .build())
            .build());
    try (StatefulRedisClusterConnection<String, String> c = client.connect()) {
      c.setTimeout(Duration.ofSeconds(2));
      c.sync().set(key, "before");
      // The write must reach the replica before the master dies.
      assertThat(waitForReplication(oldMaster)).isEqualTo(1);

      int newMaster = cluster.stopMaster(slot);

      assertThat(newMaster).isEqualTo(replica);
      assertThat(cluster.masterPort(slot)).isEqualTo(replica);
      assertThat(cluster.masterPorts()).hasSize(3).doesNotContain(oldMaster);
      String seen = poll(() -> c.sync().get(key));
      assertThat(seen).isEqualTo("before");
      c.sync().set(key, "after");
      assertThat(get(newMaster, key)).isEqualTo("after");
    } finally {
      client.shutdown();
      cluster.startNode(oldMaster);
    }
    // Back as a replica of the promoted node; fail over to restore the original roles.
    assertThat(cluster.replicaPort(replica)).isEqualTo(oldMaster);
    cluster.failover(oldMaster);
    assertThat(cluster.masterPort(slot)).isEqualTo(oldMaster);
    assertThat(cluster.replicaPort(oldMaster)).isEqualTo(replica);
    assertThat(cluster.clusterInfo(replica)).contains("cluster_state:ok");
  }

  @Test
  @Order(8)
  void failoverRefusesAMaster(TestRedisCluster cluster) {
    assumeTrue(cluster.isEmbedded(), "needs a cluster this JVM owns");
    int master = cluster.masterPorts().get(0);
    assertThatThrownBy(() -> cluster.failover(master))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("node " + master + " is not a replica");
    assertThatThrownBy(() -> cluster.stopMaster(16_384))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("slot must be from 0 to 16383, but was 16384");
  }

  @Test
  void envSeedsThatDoNotParseAreRefused() {
    assertThat(TestRedisCluster.parseSeeds("10.0.0.5:7000, node-2:7001"))
        .containsExactly(
            new TestRedisCluster.HostPort("10.0.0.5", 7000),
            new TestRedisCluster.HostPort("node-2", 7001));
    String shape =
        "BULWARK_TEST_REDIS_CLUSTER_URL must look like host:port[,host:port...], but was ";
    for (String value :
        List.of("node-1", "node-1:0", "node-1:70000", "redis://node-1:7000", "a:1,")) {
      assertThat(catchThrowable(() -> TestRedisCluster.parseSeeds(value)))
          .isInstanceOf(IllegalStateException.class)
          .hasMessage(shape + value);
    }
    Throwable secret = catchThrowable(() -> TestRedisCluster.parseSeeds(":S3cr3t@node-1:7000"));
    assertThat(secret)
        .hasMessage("BULWARK_TEST_REDIS_CLUSTER_URL must list host:port seeds without credentials");
    NoSecrets.assertHidden(secret, "S3cr3t");
  }

  @Test
  void anExternalClusterCannotBeBroken() {
    TestRedisCluster external = TestRedisCluster.create("127.0.0.1:" + Ports.freeLoopbackPort());
    try {
      assertThat(external.isEmbedded()).isFalse();
      assertThatThrownBy(() -> external.stopMaster(0))
          .isInstanceOf(UnsupportedOperationException.class)
          .hasMessage(
              "cannot stop a master of a Redis Cluster this JVM did not start (it came from"
                  + " BULWARK_TEST_REDIS_CLUSTER_URL)");
      assertThatThrownBy(() -> external.pause(1, Duration.ofMillis(1)))
          .isInstanceOf(UnsupportedOperationException.class);
      assertThatThrownBy(() -> external.failover(1))
          .isInstanceOf(UnsupportedOperationException.class);
      assertThatThrownBy(() -> external.startNode(1))
          .isInstanceOf(UnsupportedOperationException.class);
    } finally {
      external.shutdown();
    }
  }

  private static String get(int port, String key) {
    return onNode(port, n -> n.get(key));
  }

  private static long dbsize(int port) {
    return onNode(port, n -> n.dbsize());
  }

  private static long waitForReplication(int port) {
    return onNode(port, n -> n.waitForReplication(1, 2000));
  }

  private static <T> T onNode(int port, Function<RedisCommands<String, String>, T> action) {
    try (StatefulRedisConnection<String, String> c =
        nodes.connect(RedisURI.create("127.0.0.1", port))) {
      return action.apply(c.sync());
    }
  }

  /** Retries until the call succeeds, for 10 s. */
  private static <T> T poll(java.util.function.Supplier<T> call) {
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    List<RuntimeException> failures = new ArrayList<>();
    while (true) {
      try {
        return call.get();
      } catch (RuntimeException e) {
        failures.add(e);
        if (System.nanoTime() - deadline > 0) {
          AssertionError error = new AssertionError("still failing after 10 s", e);
          throw error;
        }
        Thread.onSpinWait();
      }
    }
  }
}

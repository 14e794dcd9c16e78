package dev.bulwark.testing;

import static org.assertj.core.api.Assertions.assertThat;

import io.lettuce.core.ClientOptions;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.SocketOptions;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.resource.ClientResources;
import io.lettuce.core.resource.Delay;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith(RedisSentinelExtension.class)
class TestRedisSentinelTest {

  @Test
  void sentinelUriAndUrlNameTheThreeSentinelsAndTheMaster(TestRedisSentinel sentinel) {
    List<Integer> ports = sentinel.sentinelPorts();
    assertThat(ports).hasSize(3).doesNotHaveDuplicates();
    assertThat(sentinel.sentinelUrl())
        .isEqualTo(
            "redis-sentinel://127.0.0.1:"
                + ports.get(0)
                + ",127.0.0.1:"
                + ports.get(1)
                + ",127.0.0.1:"
                + ports.get(2)
                + "#bulwark");
    RedisURI uri = sentinel.sentinelUri();
    assertThat(uri.getSentinelMasterId()).isEqualTo("bulwark").isEqualTo(sentinel.masterName());
    assertThat(uri.getSentinels()).extracting(RedisURI::getPort).containsExactlyElementsOf(ports);
    assertThat(RedisURI.create(sentinel.sentinelUrl())).isEqualTo(uri);
    assertThat(sentinel.masterPort()).isNotEqualTo(sentinel.replicaPort());
  }

  @Test
  void aSentinelClientReadsAndWritesOnTheMaster(TestRedisSentinel sentinel) {
    sentinel.flushAll();
    RedisClient client = RedisClient.create(sentinel.sentinelUrl());
    try (StatefulRedisConnection<String, String> c = client.connect()) {
      c.setTimeout(Duration.ofSeconds(2));
      c.sync().set("k", "v");
      assertThat(c.sync().get("k")).isEqualTo("v");
      assertThat(c.sync().info("server")).contains("tcp_port:" + sentinel.masterPort());
      sentinel.flushAll();
      assertThat(c.sync().dbsize()).isZero();
    } finally {
      client.shutdown();
    }
  }

  @Test
  void theSameClientFollowsTheMasterTheSentinelsPromote(TestRedisSentinel sentinel) {
    ClientResources resources =
        ClientResources.builder().reconnectDelay(Delay.constant(Duration.ofMillis(50))).build();
    RedisClient client = RedisClient.create(resources, sentinel.sentinelUri());
    client.setOptions(
        ClientOptions.builder()
            .autoReconnect(true)
            .socketOptions(SocketOptions.builder().connectTimeout(Duration.ofMillis(500)).build())
            .build());
    try (StatefulRedisConnection<String, String> c = client.connect()) {
      c.setTimeout(Duration.ofMillis(500));
      int oldMaster = sentinel.masterPort();
      int oldReplica = sentinel.replicaPort();
      c.sync().set("before", "1");
      assertThat(c.sync().info("server")).contains("tcp_port:" + oldMaster);

      int newMaster = sentinel.killMaster();

      assertThat(newMaster).isEqualTo(oldReplica).isEqualTo(sentinel.masterPort());
      assertThat(sentinel.replicaPort()).isEqualTo(oldMaster);
      // The connection reconnects through the sentinels to the promoted replica; poll with a
      // deadline until a write succeeds there.
      long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
      String answer = null;
      while (answer == null && System.nanoTime() < deadline) {
        try {
          answer = c.sync().set("after", "2");
        } catch (RuntimeException e) {
          Thread.onSpinWait();
        }
      }
      assertThat(answer).isEqualTo("OK");
      assertThat(c.sync().info("server")).contains("tcp_port:" + newMaster);
      assertThat(c.sync().info("replication")).contains("role:master", "connected_slaves:1");
      assertThat(c.sync().get("after")).isEqualTo("2");

      // A second failover goes back to the first server, which rejoined as a replica.
      assertThat(sentinel.killMaster()).isEqualTo(oldMaster).isEqualTo(sentinel.masterPort());
      assertThat(sentinel.replicaPort()).isEqualTo(newMaster);
    } finally {
      client.shutdown();
      resources.shutdown();
    }
  }

  @Test
  void shutdownEndsEveryProcessAndDeletesTheFolder() {
    TestRedisSentinel own = TestRedisSentinel.create();
    List<Long> pids;
    Path root = own.root();
    try {
      pids = own.livePids();
      assertThat(pids).hasSize(5);
      assertThat(root).isDirectory();
    } finally {
      own.shutdown();
    }
    assertThat(own.livePids()).isEmpty();
    for (long pid : pids) {
      assertThat(ProcessHandle.of(pid).filter(ProcessHandle::isAlive)).isEmpty();
    }
    assertThat(Files.exists(root)).isFalse();
  }
}

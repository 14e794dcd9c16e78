package dev.bulwark.health;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.entry;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.bulwark.pool.Pools;
import dev.bulwark.testing.Await;
import dev.bulwark.testing.Closer;
import dev.bulwark.testing.RedisClusterExtension;
import dev.bulwark.testing.TestRedisCluster;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.cluster.api.StatefulRedisClusterConnection;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * {@link HealthChecks#redis(StatefulRedisClusterConnection)}: a connection of a client built by
 * {@code Pools.redisCluster}, against the real three-master cluster of {@code bulwark-testing}. A
 * stopped master is not tested: {@code stopMaster} and the way back cost 10 to 15 s; a paused one
 * shows the same thing, a master that does not answer, in a fraction of that.
 */
@ExtendWith(RedisClusterExtension.class)
class RedisClusterCheckTest {
  private static final Duration WAIT = Duration.ofSeconds(15);

  private final Closer closer = new Closer();

  @AfterEach
  void tearDown() throws Exception {
    closer.close();
  }

  private StatefulRedisClusterConnection<String, String> connect(TestRedisCluster cluster) {
    List<String> seeds = cluster.seedUrls();
    RedisClusterClient client =
        closer.client(
            Pools.redisCluster(seeds.get(0), seeds.subList(1, seeds.size()).toArray(String[]::new))
                .build());
    return closer.add(client.connect());
  }

  @Test
  void passesWhenEveryMasterAnswers(TestRedisCluster cluster) throws Exception {
    // No latency threshold: a test asserts no speed. The first check also opens the connection to
    // each master, which takes longer than a PING.
    HealthCheck check =
        HealthChecks.redis(connect(cluster), Threshold.none(), Duration.ofSeconds(5));

    HealthResult result = check.check();

    assertThat(result.status()).as(result.toString()).isEqualTo(Status.PASS);
    assertThat(result.output()).isNull();
    assertThat(result.observedUnit()).isEqualTo("ms");
    assertThat((Double) result.observedValue()).isNotNegative();
    assertThat(result.componentType()).isEqualTo("datastore");
    assertThat(result.details()).containsExactly(entry("masters", 3));
    assertThat(check).hasToString("HealthChecks.redis");
    assertThat(((BuiltInCheck) check).isExternal()).isTrue();
  }

  @Test
  void warnsNamingTheSlowestMaster(TestRedisCluster cluster) throws Exception {
    HealthResult result =
        HealthChecks.redis(connect(cluster), Threshold.warnAt(0.000001), Duration.ofSeconds(1))
            .check();

    assertThat(result.status()).isEqualTo(Status.WARN);
    assertThat(result.output())
        .matches(
            "PING took [0-9.]+ ms on 127\\.0\\.0\\.1:[0-9]+, at or above the warning level of"
                + " 0.000001 ms");
  }

  @Test
  void failsNamingAMasterThatDoesNotAnswer(TestRedisCluster cluster) throws Exception {
    assumeTrue(cluster.isEmbedded(), "needs a cluster this JVM owns");
    StatefulRedisClusterConnection<String, String> connection = connect(cluster);
    HealthCheck check = HealthChecks.redis(connection, Threshold.none(), Duration.ofMillis(100));
    // The first checks open the connection to each master, which may take longer than 100 ms.
    Await.until(WAIT, "a passing check", () -> check.check().status() == Status.PASS);
    int port = cluster.masterPort(0);
    // Below the cluster's 1 s node timeout, so no failover starts.
    Duration pause = Duration.ofMillis(900);

    long paused = System.nanoTime();
    cluster.pause(port, pause);
    HealthResult result = check.check();
    assumeTrue(
        System.nanoTime() - paused < pause.toNanos(), "the check ran after the pause had ended");

    assertThat(result.status()).isEqualTo(Status.FAIL);
    assertThat(result.output())
        .isEqualTo(
            "PING failed on 1 of 3 masters: 127.0.0.1:" + port + ": no answer within 100 ms");
    assertThat(result.details()).containsEntry("masters", 3).containsEntry("failed", 1);
    Await.until(WAIT, "a passing check", () -> check.check().status() == Status.PASS);
  }
}

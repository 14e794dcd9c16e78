package dev.bulwark.pool;

import static org.assertj.core.api.Assertions.assertThat;

import dev.bulwark.testing.Await;
import dev.bulwark.testing.FaultProxy;
import dev.bulwark.testing.RedisClusterExtension;
import dev.bulwark.testing.TestRedisCluster;
import io.lettuce.core.RedisCommandTimeoutException;
import io.lettuce.core.RedisException;
import io.lettuce.core.RedisFuture;
import io.lettuce.core.RedisURI;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.cluster.api.StatefulRedisClusterConnection;
import io.lettuce.core.cluster.api.sync.RedisAdvancedClusterCommands;
import io.lettuce.core.cluster.models.partitions.Partitions;
import io.lettuce.core.internal.HostAndPort;
import io.lettuce.core.resource.ClientResources;
import io.lettuce.core.resource.MappingSocketAddressResolver;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Silent node connections of a cluster client, made by a {@link FaultProxy} in front of one master
 * of a real Redis Cluster: the proxy swallows every byte of the connections open at the time, while
 * new connections pass, as after a failover that moved the node's address.
 *
 * <p>The cluster announces its nodes' real addresses, so the client reaches the proxy through a
 * {@link MappingSocketAddressResolver} that maps the master's address to the proxy's. The mapping
 * starts after {@code connect()}: the slot map is loaded and the seed connection (for commands
 * without a key) opened directly, so that the one connection through the proxy is the node
 * connection that serves {@link #KEY}, opened by the first command on it. Its replacement goes
 * through the proxy again.
 */
@ExtendWith(RedisClusterExtension.class)
class RedisClusterSilentConnectionTest {
  private static final Duration COMMAND_TIMEOUT = Duration.ofMillis(500);

  /** Room for the reconnect and a loaded machine. */
  private static final Duration SLACK = Duration.ofSeconds(2);

  /** How long the first commands on new node connections may be rejected. */
  private static final Duration WARM_UP = Duration.ofSeconds(10);

  /** The key whose master is proxied. */
  private static final String KEY = "silent-node";

  /**
   * What a command meets while a node connection is opened or replaced: written as it closes
   * ("Connection disconnected"), or issued before it is up.
   */
  private static final List<String> REJECTED =
      List.of("Connection disconnected", "Currently not connected. Commands are rejected.");

  /** The answer to a probe, as the proxy forwards it: {@code +PONG\r\n}. */
  private static final int PONG_BYTES = "+PONG\r\n".length();

  private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  private TestRedisCluster cluster;
  private ClientResources resources;
  private RedisClusterClient client;
  private FaultProxy proxy;

  /** The master's announced address and the proxy's; null until the mapping starts. */
  private volatile Route route;

  /** The key's master, as the client sees it. */
  private RedisURI master;

  /** A key that another master serves. */
  private String elsewhere;

  private record Route(HostAndPort from, HostAndPort to) {}

  @BeforeEach
  void createResources(TestRedisCluster cluster) {
    this.cluster = cluster;
    Function<HostAndPort, HostAndPort> mapping =
        address -> {
          Route r = route;
          return r != null && r.from().equals(address) ? r.to() : address;
        };
    resources =
        ClientResources.builder()
            .socketAddressResolver(MappingSocketAddressResolver.create(mapping))
            .build();
  }

  @AfterEach
  void stop() throws Exception {
    if (client != null) {
      client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
    }
    resources.shutdown(0, 2, TimeUnit.SECONDS).get(5, TimeUnit.SECONDS);
    if (proxy != null) {
      proxy.close();
    }
  }

  private RedisClusterClientBuilder cluster() {
    List<String> seeds = cluster.seedUrls();
    return Pools.redisCluster(seeds.get(0), seeds.subList(1, seeds.size()).toArray(String[]::new))
        .clientResources(resources)
        .meterRegistry(registry);
  }

  /**
   * Builds the client and connects; then routes {@link #KEY}'s master through a new proxy, and
   * opens the node connections of {@link #KEY} ("v") and {@link #elsewhere} ("w") by writing them.
   */
  private StatefulRedisClusterConnection<String, String> connect(RedisClusterClientBuilder builder)
      throws Exception {
    RedisClusterClient c = builder.build();
    client = c;
    StatefulRedisClusterConnection<String, String> connection = c.connect();
    Partitions partitions = connection.getPartitions();
    int slot = TestRedisCluster.slot(KEY);
    master = Objects.requireNonNull(partitions.getMasterBySlot(slot)).getUri();
    assertThat(master.getPort()).isEqualTo(cluster.masterPort(slot));
    for (int i = 0; elsewhere == null; i++) {
      String key = "elsewhere-" + i;
      RedisURI owner = partitions.getMasterBySlot(TestRedisCluster.slot(key)).getUri();
      if (owner.getPort() != master.getPort() || !owner.getHost().equals(master.getHost())) {
        elsewhere = key;
      }
    }
    FaultProxy p = FaultProxy.to(master.getHost(), master.getPort());
    proxy = p;
    route =
        new Route(
            HostAndPort.of(master.getHost(), master.getPort()), HostAndPort.of(p.host(), p.port()));

    RedisAdvancedClusterCommands<String, String> redis = connection.sync();
    assertThat(answer(WARM_UP, () -> redis.set(KEY, "v"))).isEqualTo("OK");
    assertThat(answer(WARM_UP, () -> redis.set(elsewhere, "w"))).isEqualTo("OK");
    // Nothing else crossed the proxy: the first periodic topology refresh is a minute after
    // connect(), and nothing here (no redirect, no repeated reconnect) triggers an adaptive one.
    assertThat(p.acceptedConnections()).isOne();
    return connection;
  }

  /** The node connection that serves {@link #KEY}: the one the client routes its slot to. */
  private StatefulRedisConnection<String, String> keyNode(
      StatefulRedisClusterConnection<String, String> connection) {
    return connection.getConnection(master.getHost(), master.getPort());
  }

  private double reconnects(String cause) {
    return registry
        .get("bulwark.pool.redis.reconnects")
        .tag("name", "redis-cluster")
        .tag("cause", cause)
        .functionCounter()
        .count();
  }

  private SilenceDetector detector() {
    return Objects.requireNonNull(((OwningRedisClusterClient) client).detector());
  }

  /**
   * Runs {@code command} until it is answered, as callers do while a node connection is opened:
   * commands fail at once until it is up.
   */
  private static <T> T answer(Duration within, Callable<T> command) throws Exception {
    List<T> answer = new ArrayList<>(1);
    Await.until(
        within,
        "an answer",
        () -> {
          try {
            answer.add(command.call());
            return true;
          } catch (RedisException e) {
            assertThat(e.getMessage()).isIn(REJECTED);
            return false;
          }
        });
    return answer.get(0);
  }

  private static Duration since(long start) {
    return Duration.ofNanos(System.nanoTime() - start);
  }

  @Test
  void aSilentNodeConnectionIsReplacedAfterThreeTimeoutsWhileTheOtherMastersServe()
      throws Exception {
    try (StatefulRedisClusterConnection<String, String> connection =
        connect(cluster().commandTimeout(COMMAND_TIMEOUT))) {
      RedisAdvancedClusterCommands<String, String> redis = connection.sync();
      long accepted = proxy.acceptedConnections();
      assertThat(proxy.blackholeOpenConnections()).isOne();

      long start = System.nanoTime();
      int timeouts = 0;
      String value = null;
      while (value == null && since(start).compareTo(Duration.ofSeconds(10)) < 0) {
        try {
          value = redis.get(KEY);
        } catch (RedisCommandTimeoutException e) {
          timeouts++;
        } catch (RedisException e) {
          assertThat(e.getMessage()).isIn(REJECTED);
        }
        assertThat(redis.get(elsewhere)).isEqualTo("w");
      }

      assertThat(value).isEqualTo("v");
      assertThat(timeouts).isEqualTo(3);
      assertThat(since(start)).isLessThan(COMMAND_TIMEOUT.multipliedBy(3).plus(SLACK));
      assertThat(reconnects("timeouts")).isEqualTo(1.0);
      assertThat(reconnects("probe")).isZero();
      assertThat(proxy.acceptedConnections()).isGreaterThan(accepted);
      assertThat(redis.get(KEY)).isEqualTo("v");
      assertThat(redis.get(elsewhere)).isEqualTo("w");
    }
  }

  @Test
  void anIdleNodeConnectionThatWentSilentIsReplacedByTheProbeBeforeTheNextCommand()
      throws Exception {
    Duration interval = Duration.ofMillis(500);
    Duration probeTimeout = Duration.ofMillis(300);
    try (StatefulRedisClusterConnection<String, String> connection =
        connect(cluster().commandTimeout(COMMAND_TIMEOUT).idleProbe(interval, probeTimeout))) {
      StatefulRedisConnection<String, String> node = keyNode(connection);
      long accepted = proxy.acceptedConnections();
      long start = System.nanoTime();
      assertThat(proxy.blackholeOpenConnections()).isOne();

      Await.until(
          interval.plus(probeTimeout).plus(SLACK),
          "probe reconnect",
          // A new connection reached the node, so the silent one is closed; open again, so the
          // node connection is back, on the new one.
          () ->
              reconnects("probe") >= 1.0
                  && proxy.acceptedConnections() > accepted
                  && node.isOpen());
      assertThat(since(start)).isLessThan(interval.plus(probeTimeout).plus(SLACK));
      assertThat(reconnects("probe")).isEqualTo(1.0); // the other connections are not proxied

      // The next command finds the new connection: no timeout is spent on the silent one.
      long command = System.nanoTime();
      assertThat(connection.sync().get(KEY)).isEqualTo("v");
      assertThat(since(command)).isLessThan(COMMAND_TIMEOUT);
      assertThat(reconnects("timeouts")).isZero();
    }
  }

  @Test
  void aSlowButAnsweringNodeIsNeverTreatedAsSilent() throws Exception {
    Duration interval = Duration.ofMillis(300);
    Duration timeout = Duration.ofSeconds(1);
    try (StatefulRedisClusterConnection<String, String> connection =
        connect(cluster().commandTimeout(timeout).idleProbe(interval, timeout))) {
      // Under the command timeout, even for answers that arrive in two chunks, each delayed.
      proxy.latencyToClient(Duration.ofMillis(250));

      for (int i = 0; i < 3; i++) {
        assertThat(connection.sync().get(KEY)).isEqualTo("v");
      }
      List<RedisFuture<String>> inFlight = new ArrayList<>();
      for (int i = 0; i < 10; i++) {
        inFlight.add(connection.async().get(KEY));
      }
      for (RedisFuture<String> f : inFlight) {
        assertThat(f.get(5, TimeUnit.SECONDS)).isEqualTo("v");
      }
      // Idle: probes go out on every node connection, and those on the proxied one come back
      // through the same latency (nothing else crosses the proxy now).
      long probes = detector().probes();
      long bytes = proxy.bytesToClient();
      Await.until(
          Duration.ofSeconds(10),
          "two probes answered through the proxy",
          () ->
              detector().probes() >= probes + 2 && proxy.bytesToClient() >= bytes + 2 * PONG_BYTES);
      assertThat(connection.sync().get(KEY)).isEqualTo("v");

      assertThat(reconnects("timeouts")).isZero();
      assertThat(reconnects("probe")).isZero();
      assertThat(proxy.acceptedConnections()).isOne();
    }
  }
}

package dev.bulwark.cache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.bulwark.cache.RedisTier.Clear;
import dev.bulwark.pool.Pools;
import dev.bulwark.testing.Await;
import dev.bulwark.testing.Closer;
import dev.bulwark.testing.RedisSentinelExtension;
import dev.bulwark.testing.TestRedisSentinel;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.api.StatefulRedisConnection;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Three cache instances, each on its own Sentinel client, through a failover of the master: a
 * killed master, a promoted replica that may lack the last writes, and subscriptions that come back
 * on another server.
 *
 * <p>{@link TestRedisSentinel#killMaster()} restarts the killed server as the new master's replica
 * before it returns, so the topology is whole again for later tests (with the roles swapped).
 */
@ExtendWith(RedisSentinelExtension.class)
class RedisSentinelTierTest {
  private static final Duration PROPAGATION = Duration.ofSeconds(5);

  /** How long the instances have to come back once the topology has settled again. */
  private static final Duration RESYNC = Duration.ofSeconds(20);

  /** Probe keys: each read once while an instance is connected but not yet synced. */
  private static final int PROBES = 300;

  private final Closer closing = new Closer();
  private final Map<String, String> db = new ConcurrentHashMap<>();
  private TestRedisSentinel sentinel;
  private String name;

  @BeforeEach
  void setUp(TestRedisSentinel sentinel, TestInfo info) {
    this.sentinel = sentinel;
    this.name = Closer.name("s-", info);
    sentinel.flushAll();
  }

  @AfterEach
  void tearDown() throws Exception {
    closing.close();
  }

  private BoundedCache<String, String> instance() {
    RedisClient client =
        Pools.redis(sentinel.sentinelUri()).meterRegistry(new SimpleMeterRegistry()).build();
    closing.client(client);
    BoundedCache<String, String> cache =
        BoundedCache.<String, String>builder(name)
            .maximumSize(10_000)
            .expireAfterWrite(Duration.ofMinutes(5))
            .redis(client, Codecs.utf8(), Codecs.utf8())
            .redisTimeout(Duration.ofSeconds(2))
            .heartbeat(Duration.ofMillis(100))
            .build();
    closing.add(cache);
    return cache;
  }

  private static RedisTier<String, String> tier(BoundedCache<String, String> cache) {
    return Objects.requireNonNull(cache.tier(), "the cache has a Redis tier");
  }

  private String load(String key) {
    return db.get(key);
  }

  /** A direct connection to one server, past the sentinels. */
  private StatefulRedisConnection<String, String> server(int port) {
    RedisClient client = RedisClient.create();
    closing.client(client);
    StatefulRedisConnection<String, String> connection =
        client.connect(RedisURI.builder().withHost("127.0.0.1").withPort(port).build());
    connection.setTimeout(Duration.ofSeconds(2));
    closing.add(connection);
    return connection;
  }

  private static long epochOf(BoundedCache<String, String> cache, String name) {
    String key = tier(cache).valueKey("x");
    String head = "bulwark:" + name + ":";
    assertThat(key).startsWith(head);
    return Long.parseLong(key.substring(head.length(), key.indexOf(':', head.length())));
  }

  @Test
  void afterAFailoverNoInstanceServesAValueInvalidatedBeforeOrDuringIt() throws Exception {
    List<BoundedCache<String, String>> caches = List.of(instance(), instance(), instance());
    BoundedCache<String, String> a = caches.get(0);
    BoundedCache<String, String> b = caches.get(1);
    BoundedCache<String, String> c = caches.get(2);
    List<String> keys = List.of("before", "during", "replicated", "kept");
    for (String key : keys) {
      db.put(key, "v1");
      for (BoundedCache<String, String> cache : caches) {
        assertThat(cache.get(key, this::load)).isEqualTo("v1");
      }
    }
    for (int i = 0; i < PROBES; i++) {
      db.put("probe-" + i, "v1");
      assertThat(a.get("probe-" + i, this::load)).isEqualTo("v1");
    }
    long epoch = epochOf(a, name);
    String replicatedKey = tier(a).valueKey("replicated");
    String lastProbeKey = tier(a).valueKey("probe-" + (PROBES - 1));
    // Every value is on the replica, which is promoted below with them.
    StatefulRedisConnection<String, String> replica = server(sentinel.replicaPort());
    Await.until(
        PROPAGATION,
        "the values on the replica",
        () -> "v1".equals(replica.sync().get(lastProbeKey)));
    assertThat(replica.sync().get(replicatedKey)).isEqualTo("v1");

    // An invalidation sent just before the master dies, which the others may or may not receive.
    db.put("before", "v2");
    a.invalidate("before");
    CompletableFuture<Integer> failover =
        CompletableFuture.supplyAsync(
            sentinel::killMaster, task -> new Thread(task, "test-kill-master").start());
    try {
      // A change the promoted replica does not know of: its value there is from before.
      db.put("replicated", "v2");
      for (int i = 0; i < PROBES; i++) {
        db.put("probe-" + i, "v2");
      }
      Await.until(
          PROPAGATION,
          "every instance noticing the disconnect",
          () -> caches.stream().allMatch(k -> tier(k).clears(Clear.DISCONNECTED) >= 1));

      // An invalidation while there is no master: it reaches this instance only, and says so.
      db.put("during", "v2");
      assertThatThrownBy(() -> b.invalidate("during"))
          .isInstanceOf(CachePropagationException.class)
          .hasMessageStartingWith("cache " + name + ": invalidate reached this instance only: ");
      assertThat(b.getIfPresent("during")).isNull();

      // Until an instance is synced again, a read must not return what Redis held before. Probe
      // each instance while it is connected but not synced: reconnected, its epoch not yet read.
      int[] probed = new int[caches.size()];
      List<String> served = new ArrayList<>();
      Await.Condition probe =
          () -> {
            for (int i = 0; i < caches.size(); i++) {
              RedisTier<String, String> tier = tier(caches.get(i));
              if (tier.connected() && !tier.synced() && probed[i] < PROBES) {
                String key = "probe-" + probed[i]++;
                String value = caches.get(i).get(key, this::load);
                if (!"v2".equals(value)) {
                  served.add("instance " + i + " served " + value + " for " + key);
                }
              }
            }
            return true;
          };
      Await.until(Duration.ofSeconds(90), "the failover", () -> probe.holds() && failover.isDone());
      assertThat(failover.get()).isEqualTo(sentinel.masterPort());
      Await.until(
          RESYNC,
          "every instance synced again",
          () -> probe.holds() && caches.stream().allMatch(k -> tier(k).synced()));
      assertThat(served)
          .as("reads while connected but not synced: %s", Arrays.toString(probed))
          .isEmpty();
    } finally {
      failover.get(90, TimeUnit.SECONDS); // whatever happened, the topology is whole again
    }

    for (BoundedCache<String, String> cache : caches) {
      RedisTier<String, String> tier = tier(cache);
      assertThat(tier.clears(Clear.DISCONNECTED)).isPositive();
      assertThat(tier.clears(Clear.RESUBSCRIBED)).isPositive();
      // The first back raised the epoch and cleared its first tier for it; the others did too,
      // on reading the new epoch or on its message.
      assertThat(tier.clears(Clear.FAILOVER) + tier.clears(Clear.REMOTE_ALL)).isPositive();
      assertThat(epochOf(cache, name)).isEqualTo(epoch + 1);
      assertThat(cache.snapshot().redis().synced()).isTrue();
      assertThat(cache.getIfPresent("kept")).isNull();
    }
    assertThat(caches.stream().mapToLong(k -> tier(k).clears(Clear.FAILOVER)).sum()).isPositive();
    // The promoted server still holds the value from before, at the old epoch: nobody reads it.
    assertThat(server(sentinel.masterPort()).sync().get(replicatedKey)).isEqualTo("v1");
    for (BoundedCache<String, String> cache : caches) {
      assertThat(cache.get("before", this::load)).isEqualTo("v2");
      assertThat(cache.get("during", this::load)).isEqualTo("v2");
      assertThat(cache.get("replicated", this::load)).isEqualTo("v2");
      assertThat(cache.get("kept", this::load)).isEqualTo("v1");
    }

    // Invalidations and puts reach the other instances again.
    db.put("kept", "v2");
    c.invalidate("kept");
    Await.until(
        PROPAGATION,
        "a and b dropping kept",
        () -> a.getIfPresent("kept") == null && b.getIfPresent("kept") == null);
    assertThat(a.get("kept", this::load)).isEqualTo("v2");
    assertThat(b.get("kept", this::load)).isEqualTo("v2");
    a.put("kept", "v3");
    Await.until(
        PROPAGATION,
        "b and c dropping kept",
        () -> b.getIfPresent("kept") == null && c.getIfPresent("kept") == null);
    assertThat(b.get("kept", this::load)).isEqualTo("v3"); // from Redis: the loader says v2
    assertThat(c.get("kept", this::load)).isEqualTo("v3");
  }
}

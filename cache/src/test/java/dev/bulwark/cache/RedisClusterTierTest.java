package dev.bulwark.cache;

import static org.assertj.core.api.Assertions.assertThat;

import dev.bulwark.pool.Pools;
import dev.bulwark.testing.Await;
import dev.bulwark.testing.Closer;
import dev.bulwark.testing.RedisClusterExtension;
import dev.bulwark.testing.TestRedisCluster;
import io.lettuce.core.RedisURI;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.cluster.api.StatefulRedisClusterConnection;
import io.lettuce.core.cluster.api.sync.RedisAdvancedClusterCommands;
import io.lettuce.core.cluster.models.partitions.RedisClusterNode;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Two or more cache instances in one JVM, each on its own cluster client, over a real Redis Cluster
 * of three masters: the keys of one cache spread over the masters, and the keys one script touches
 * share a slot.
 */
@ExtendWith(RedisClusterExtension.class)
class RedisClusterTierTest {
  private static final Duration PROPAGATION = Duration.ofSeconds(5);

  /** Keys whose codec bytes hold hash-tag characters, or nothing, or other odd bytes. */
  private static final List<String> ODD_KEYS =
      List.of(
          "",
          " ",
          "{",
          "}",
          "{}",
          "}{",
          "{{}}",
          "{a}",
          "a{b}c",
          "a{b",
          "b}c",
          "{}x",
          "x{}",
          "{:gen}",
          "}:lease",
          ":",
          "::gen",
          "\n",
          "\u0000",
          "ключ",
          "\uD83D\uDD11",
          "k".repeat(1_000),
          "{" + "k".repeat(1_000) + "}");

  private final Closer closing = new Closer();
  private final Map<String, String> db = new ConcurrentHashMap<>();
  private final AtomicInteger loads = new AtomicInteger();
  private TestRedisCluster cluster;
  private String name;

  @BeforeEach
  void setUp(TestRedisCluster cluster, TestInfo info) {
    this.cluster = cluster;
    this.name = Closer.name("c-", info);
    cluster.flushAll();
  }

  @AfterEach
  void tearDown() throws Exception {
    closing.close();
  }

  private RedisClusterClient client() {
    List<RedisURI> seeds = cluster.seedUris();
    RedisClusterClient client =
        Pools.redisCluster(seeds.get(0), seeds.subList(1, seeds.size()).toArray(RedisURI[]::new))
            .meterRegistry(new SimpleMeterRegistry())
            .build();
    closing.client(client);
    return client;
  }

  private BoundedCache.Builder<String, String> builder() {
    return BoundedCache.<String, String>builder(name)
        .maximumSize(10_000)
        .expireAfterWrite(Duration.ofMinutes(5))
        .redis(client(), Codecs.utf8(), Codecs.utf8())
        .redisTimeout(Duration.ofSeconds(2))
        .heartbeat(Duration.ofMillis(100));
  }

  private BoundedCache<String, String> instance() {
    return started(builder().build());
  }

  private BoundedCache<String, String> started(BoundedCache<String, String> cache) {
    closing.add(cache);
    return cache;
  }

  private static RedisTier<String, String> tier(BoundedCache<String, String> cache) {
    return Objects.requireNonNull(cache.tier(), "the cache has a Redis tier");
  }

  private String load(String key) {
    loads.incrementAndGet();
    return db.get(key);
  }

  /** A connection of the test's own, for looking at the keys the caches wrote. */
  private RedisAdvancedClusterCommands<String, String> redis() {
    StatefulRedisClusterConnection<String, String> connection = client().connect();
    closing.add(connection);
    // The client rejects a command for a node whose connection is still opening: open them first.
    for (RedisClusterNode node : connection.getPartitions()) {
      if (node.is(RedisClusterNode.NodeFlag.UPSTREAM)) {
        var unused = connection.getConnection(node.getUri().getHost(), node.getUri().getPort());
      }
    }
    return connection.sync();
  }

  /** {@code count} keys {@code <prefix>0, <prefix>1, ...} whose values lie on every master. */
  private List<String> keysOnEveryMaster(
      BoundedCache<String, String> cache, String prefix, int count) {
    List<String> keys = new ArrayList<>();
    Set<Integer> masters = new TreeSet<>();
    for (int i = 0; i < count; i++) {
      String key = prefix + i;
      keys.add(key);
      masters.add(cluster.masterPort(TestRedisCluster.slot(tier(cache).valueKey(key))));
    }
    assertThat(masters).hasSize(3);
    return keys;
  }

  @Test
  void aValueLoadedByOneInstanceIsReadFromRedisByTheOthers() {
    BoundedCache<String, String> a = instance();
    BoundedCache<String, String> b = instance();
    BoundedCache<String, String> c = instance();
    List<String> keys = keysOnEveryMaster(a, "read-", 30);
    for (String key : keys) {
      db.put(key, "v-" + key);
    }

    for (String key : keys) {
      assertThat(a.get(key, this::load)).isEqualTo("v-" + key);
    }
    for (String key : keys) {
      assertThat(b.get(key, this::load)).isEqualTo("v-" + key);
      assertThat(c.get(key, this::load)).isEqualTo("v-" + key);
    }

    assertThat(loads).hasValue(keys.size());
    assertThat(a.snapshot().redis().misses()).isEqualTo(keys.size());
    assertThat(b.snapshot().redis().hits()).isEqualTo(keys.size());
    assertThat(c.snapshot().redis().hits()).isEqualTo(keys.size());
    assertThat(b.snapshot().redis().errors()).isZero();
    RedisAdvancedClusterCommands<String, String> redis = redis();
    for (String key : keys) {
      assertThat(redis.get(tier(a).valueKey(key))).isEqualTo("v-" + key);
    }
  }

  @Test
  void anInvalidationReachesTheOtherInstances() throws Exception {
    BoundedCache<String, String> a = instance();
    BoundedCache<String, String> b = instance();
    BoundedCache<String, String> c = instance();
    List<String> keys = keysOnEveryMaster(a, "invalidate-", 30);
    for (String key : keys) {
      db.put(key, "v1");
      assertThat(b.get(key, this::load)).isEqualTo("v1");
      assertThat(c.get(key, this::load)).isEqualTo("v1");
    }

    for (String key : keys) {
      db.put(key, "v2");
      a.invalidate(key);
    }

    Await.until(
        PROPAGATION,
        "b and c dropping every key",
        () -> keys.stream().allMatch(k -> b.getIfPresent(k) == null && c.getIfPresent(k) == null));
    for (String key : keys) {
      assertThat(b.get(key, this::load)).isEqualTo("v2");
      assertThat(c.get(key, this::load)).isEqualTo("v2");
    }
    assertThat(a.snapshot().redis().sent()).isEqualTo(keys.size());
    // Reads stop at each message; the count follows once each removal ran.
    Await.until(
        PROPAGATION,
        "every drop counted",
        () ->
            b.snapshot().redis().received() == keys.size()
                && c.snapshot().redis().received() == keys.size());
    assertThat(loads).hasValue(2 * keys.size());
  }

  @Test
  void aPutReachesRedisAndTheOtherInstancesDropTheirCopies() throws Exception {
    BoundedCache<String, String> a = instance();
    BoundedCache<String, String> b = instance();
    BoundedCache<String, String> c = instance();
    List<String> keys = keysOnEveryMaster(a, "put-", 30);
    for (String key : keys) {
      db.put(key, "v1");
      assertThat(b.get(key, this::load)).isEqualTo("v1");
      assertThat(c.get(key, this::load)).isEqualTo("v1");
    }

    for (String key : keys) {
      a.put(key, "v2");
    }

    Await.until(
        PROPAGATION,
        "b and c dropping every key",
        () -> keys.stream().allMatch(k -> b.getIfPresent(k) == null && c.getIfPresent(k) == null));
    for (String key : keys) {
      assertThat(b.get(key, this::load)).isEqualTo("v2");
      assertThat(c.get(key, this::load)).isEqualTo("v2");
    }
    assertThat(loads).hasValue(keys.size()); // the first load only: the rest came from Redis
    assertThat(a.snapshot().redis().propagationFailures()).isZero();
  }

  @Test
  void invalidateAllReachesEveryInstanceAndMovesEveryKeyToTheNewEpoch() throws Exception {
    BoundedCache<String, String> a = instance();
    BoundedCache<String, String> b = instance();
    List<String> keys = keysOnEveryMaster(a, "all-", 30);
    for (String key : keys) {
      db.put(key, "v1");
      assertThat(b.get(key, this::load)).isEqualTo("v1");
    }
    String before = tier(b).valueKey(keys.get(0));

    for (String key : keys) {
      db.put(key, "v2");
    }
    a.invalidateAll();

    Await.until(
        PROPAGATION,
        "b dropping every key",
        () -> keys.stream().allMatch(k -> b.getIfPresent(k) == null));
    assertThat(tier(b).valueKey(keys.get(0)))
        .isEqualTo(before.replace(":0:", ":1:"))
        .isEqualTo(tier(a).valueKey(keys.get(0)));
    for (String key : keys) {
      assertThat(b.get(key, this::load)).isEqualTo("v2");
      assertThat(a.get(key, this::load)).isEqualTo("v2");
    }
    // The old values are left behind in Redis, unread, until they expire.
    assertThat(redis().get(before)).isEqualTo("v1");
  }

  @Test
  void singleFlightLoadsAMissingKeyOnceAcrossInstancesOnDifferentClients() throws Exception {
    int instances = 3;
    int threadsEach = 4;
    List<BoundedCache<String, String>> caches = new ArrayList<>();
    for (int i = 0; i < instances; i++) {
      caches.add(
          started(builder().singleFlight(Duration.ofSeconds(20), Duration.ofSeconds(20)).build()));
    }
    CountDownLatch othersWaiting = new CountDownLatch(1);
    AtomicInteger loaderCalls = new AtomicInteger();
    ExecutorService threads = Executors.newFixedThreadPool(instances * threadsEach);
    try {
      List<Future<String>> answers = new ArrayList<>();
      for (BoundedCache<String, String> cache : caches) {
        for (int t = 0; t < threadsEach; t++) {
          answers.add(
              threads.submit(
                  () ->
                      cache.get(
                          "hot",
                          k -> {
                            loaderCalls.incrementAndGet();
                            try {
                              if (!othersWaiting.await(30, TimeUnit.SECONDS)) {
                                throw new IllegalStateException("the others never waited");
                              }
                            } catch (InterruptedException e) {
                              Thread.currentThread().interrupt();
                              throw new IllegalStateException(e);
                            }
                            return "loaded";
                          })));
        }
      }
      // One instance holds the lease and loads; each of the others waits on it, once per instance
      // (its other threads wait on its own load of the key, in the first tier).
      Await.until(
          Duration.ofSeconds(20),
          "the lease taken by one instance and awaited by the others",
          () -> sum(caches, "acquired") == 1 && sum(caches, "awaited") == instances - 1);
      othersWaiting.countDown();

      for (Future<String> answer : answers) {
        assertThat(answer.get(30, TimeUnit.SECONDS)).isEqualTo("loaded");
      }
    } finally {
      othersWaiting.countDown();
      threads.shutdownNow();
    }
    assertThat(loaderCalls)
        .as(
            "loader calls, with leases acquired %d, awaited %d, timed out %d",
            sum(caches, "acquired"), sum(caches, "awaited"), sum(caches, "timeout"))
        .hasValue(1);
    assertThat(sum(caches, "acquired")).isEqualTo(1);
    assertThat(sum(caches, "awaited")).isEqualTo(instances - 1);
    assertThat(sum(caches, "timeout")).isZero();
    long hits = 0;
    for (BoundedCache<String, String> cache : caches) {
      hits += cache.snapshot().redis().hits();
      assertThat(cache.snapshot().redis().errors()).isZero();
    }
    assertThat(hits).isEqualTo(instances - 1); // the waiters read the loaded value from Redis
    // The lease is released once the value is written.
    assertThat(redis().exists(tier(caches.get(0)).leaseKey("hot"))).isZero();
  }

  private static long sum(List<BoundedCache<String, String>> caches, String result) {
    long sum = 0;
    for (BoundedCache<String, String> cache : caches) {
      sum += tier(cache).leases(result);
    }
    return sum;
  }

  @Test
  void theKeysOfOneScriptShareASlotWhateverTheKey() {
    BoundedCache<String, String> cache = instance();
    RedisTier<String, String> tier = tier(cache);
    List<String> keys = new ArrayList<>(ODD_KEYS);
    for (int i = 0; i < 500; i++) {
      keys.add("key-" + i);
      keys.add("{tag-" + i + "}");
      keys.add("user:" + i + "}");
    }
    Set<Integer> slots = new TreeSet<>();
    for (String key : keys) {
      int slot = TestRedisCluster.slot(tier.valueKey(key));
      assertThat(TestRedisCluster.slot(tier.generationKey(key))).as(key).isEqualTo(slot);
      assertThat(TestRedisCluster.slot(tier.leaseKey(key))).as(key).isEqualTo(slot);
      if (!key.isEmpty() && !key.contains("}")) {
        // The key itself is the hash tag: the keys of a cache spread as their names do.
        assertThat(slot).as(key).isEqualTo(TestRedisCluster.slot(key));
      }
      slots.add(slot);
    }
    assertThat(slots).hasSizeGreaterThan(keys.size() * 9 / 10);
    List<String> epochKeys = tier.epochKeys();
    assertThat(TestRedisCluster.slot(epochKeys.get(1)))
        .isEqualTo(TestRedisCluster.slot(epochKeys.get(0)));
  }

  @Test
  void everyScriptRunsOnTheClusterForOddKeys() throws Exception {
    BoundedCache<String, String> a =
        started(builder().singleFlight(Duration.ofSeconds(5), Duration.ofSeconds(5)).build());
    BoundedCache<String, String> b =
        started(builder().singleFlight(Duration.ofSeconds(5), Duration.ofSeconds(5)).build());
    for (String key : ODD_KEYS) {
      db.put(key, "v1");
    }

    for (String key : ODD_KEYS) {
      assertThat(a.get(key, this::load)).as(key).isEqualTo("v1"); // GET, the lease, FILL
      assertThat(b.get(key, this::load)).as(key).isEqualTo("v1"); // from Redis
    }
    assertThat(loads).hasValue(ODD_KEYS.size());
    for (String key : ODD_KEYS) {
      a.put(key, "v2"); // PUT
    }
    Await.until(
        PROPAGATION,
        "b dropping the keys a put",
        () -> ODD_KEYS.stream().allMatch(k -> b.getIfPresent(k) == null));
    for (String key : ODD_KEYS) {
      assertThat(b.get(key, this::load)).as(key).isEqualTo("v2");
    }
    for (String key : ODD_KEYS) {
      db.put(key, "v3");
      b.invalidate(key); // INVALIDATE
    }
    Await.until(
        PROPAGATION,
        "a dropping the keys b invalidated",
        () -> ODD_KEYS.stream().allMatch(k -> a.getIfPresent(k) == null));
    for (String key : ODD_KEYS) {
      assertThat(a.get(key, this::load)).as(key).isEqualTo("v3");
    }

    assertThat(a.snapshot().redis().errors()).isZero();
    assertThat(b.snapshot().redis().errors()).isZero();
    assertThat(a.snapshot().redis().propagationFailures()).isZero();
    assertThat(b.snapshot().redis().propagationFailures()).isZero();
    Await.until(
        PROPAGATION,
        "every drop counted",
        () ->
            b.snapshot().redis().received() == ODD_KEYS.size()
                && a.snapshot().redis().received() == ODD_KEYS.size());
    assertThat(tier(a).leases("acquired")).isEqualTo(2L * ODD_KEYS.size());
  }

  @Test
  void theEpochScriptRunsOnTheMasterOfTheEpochsSlot() throws Exception {
    BoundedCache<String, String> a = instance();
    List<String> epochKeys = tier(a).epochKeys();
    int slot = TestRedisCluster.slot(epochKeys.get(0));
    RedisAdvancedClusterCommands<String, String> redis = redis();
    Await.until(
        PROPAGATION, "the masters known", () -> redis.smembers(epochKeys.get(1)).size() == 3);

    // The script stored the replication id of every master, and the epoch 0.
    assertThat(redis.smembers(epochKeys.get(1)))
        .containsExactlyInAnyOrderElementsOf(
            cluster.masterPorts().stream().map(this::replicationId).toList());
    assertThat(redis.get(epochKeys.get(0))).isEqualTo("0");
    assertThat(cluster.masterPort(slot)).isPositive();
    assertThat(tier(a).valueKey("k")).isEqualTo("bulwark:" + name + ":0:{k}");

    a.invalidateAll();
    BoundedCache<String, String> b = instance(); // the same server: the epoch is not raised
    assertThat(redis.get(epochKeys.get(0))).isEqualTo("1");
    assertThat(tier(b).valueKey("k")).isEqualTo("bulwark:" + name + ":1:{k}");
    assertThat(tier(a).clears(RedisTier.Clear.FAILOVER)).isZero();
    assertThat(tier(b).clears(RedisTier.Clear.FAILOVER)).isZero();
  }

  /**
   * A replica of the epoch's master takes over; a new instance starting then finds another server
   * and raises the epoch. The running instances, whose subscriptions did not break, must follow it,
   * or they would read (and write) the values of the old epoch that the new instance's
   * invalidations no longer delete.
   */
  @Test
  void anEpochRaisedByANewInstanceAfterAFailoverMovesTheRunningInstancesToo() throws Exception {
    BoundedCache<String, String> a = instance();
    BoundedCache<String, String> b = instance();
    int slot = TestRedisCluster.slot(tier(a).epochKeys().get(0));
    int master = cluster.masterPort(slot);
    int replica = cluster.replicaPort(master);
    // A key on another master, whose connections the failover leaves as they are.
    String key = null;
    for (int i = 0; key == null; i++) {
      if (cluster.masterPort(TestRedisCluster.slot(tier(a).valueKey("k" + i))) != master) {
        key = "k" + i;
      }
    }
    String k = key;
    db.put(k, "v1");
    assertThat(a.get(k, this::load)).isEqualTo("v1");
    assertThat(b.get(k, this::load)).isEqualTo("v1");
    String oldKey = tier(a).valueKey(k);

    cluster.failover(replica); // waits for the replica to catch up, so no write is lost
    try {
      BoundedCache<String, String> c = instance();
      assertThat(tier(c).valueKey(k)).as("a raised epoch").isNotEqualTo(oldKey);
      assertThat(redis().smembers(tier(c).epochKeys().get(1))).contains(replicationId(replica));

      db.put(k, "v2");
      c.invalidate(k);

      Await.until(
          PROPAGATION,
          "a and b dropping the key",
          () -> a.getIfPresent(k) == null && b.getIfPresent(k) == null);
      assertThat(a.get(k, this::load)).isEqualTo("v2");
      assertThat(b.get(k, this::load)).isEqualTo("v2");
      assertThat(tier(a).valueKey(k)).isEqualTo(tier(c).valueKey(k));
      assertThat(tier(b).valueKey(k)).isEqualTo(tier(c).valueKey(k));
      // a and b follow the raise, whether they made it (FAILOVER) or heard it (REMOTE_ALL). One
      // run saw two raises during the failover (two instances each logged one): one clear or two.
      assertThat(
              tier(a).clears(RedisTier.Clear.REMOTE_ALL) + tier(a).clears(RedisTier.Clear.FAILOVER))
          .isBetween(1L, 2L);
      assertThat(redis().get(oldKey)).isEqualTo("v1"); // left behind, unread
    } finally {
      cluster.failover(master);
    }
    assertThat(cluster.masterPort(slot)).isEqualTo(master);
  }

  private String replicationId(int port) {
    io.lettuce.core.RedisClient direct = io.lettuce.core.RedisClient.create();
    try (var connection =
        direct.connect(RedisURI.builder().withHost(cluster.host()).withPort(port).build())) {
      return RedisTier.replicationId(connection.sync().info("replication"));
    } finally {
      direct.shutdown(Duration.ZERO, Duration.ofSeconds(2));
    }
  }
}

package dev.bulwark.cache;

import static org.assertj.core.api.Assertions.assertThat;

import dev.bulwark.pool.Pools;
import dev.bulwark.testing.Await;
import dev.bulwark.testing.Closer;
import dev.bulwark.testing.RedisExtension;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.api.StatefulRedisConnection;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.extension.ExtendWith;

/** Two or more cache instances in one JVM, each on its own client, over one real Redis. */
@ExtendWith(RedisExtension.class)
class RedisTierTest {
  private static final Duration PROPAGATION = Duration.ofSeconds(5);

  private final Closer closing = new Closer();
  private final Map<String, String> db = new ConcurrentHashMap<>();
  private final AtomicInteger loads = new AtomicInteger();
  private RedisURI uri;
  private String name;

  @BeforeEach
  void setUp(RedisURI uri, TestInfo info) {
    this.uri = uri;
    this.name = Closer.name("t-", info);
  }

  @AfterEach
  void tearDown() throws Exception {
    closing.close();
  }

  private RedisClient client() {
    RedisClient client = Pools.redis(uri).meterRegistry(new SimpleMeterRegistry()).build();
    closing.client(client);
    return client;
  }

  private BoundedCache<String, String> instance() {
    BoundedCache<String, String> cache =
        BoundedCache.<String, String>builder(name)
            .maximumSize(1_000)
            .expireAfterWrite(Duration.ofMinutes(5))
            .redis(client(), Codecs.utf8(), Codecs.utf8())
            .heartbeat(Duration.ofMillis(100))
            .build();
    closing.add(cache);
    return cache;
  }

  private String load(String key) {
    loads.incrementAndGet();
    return db.get(key);
  }

  @Test
  void aValueLoadedByOneInstanceIsReadFromRedisByTheOther() {
    BoundedCache<String, String> a = instance();
    BoundedCache<String, String> b = instance();
    db.put("k", "v1");

    assertThat(a.get("k", this::load)).isEqualTo("v1");
    assertThat(b.get("k", this::load)).isEqualTo("v1");

    assertThat(loads).hasValue(1);
    assertThat(b.snapshot().redis()).isNotNull();
    assertThat(b.snapshot().redis().hits()).isEqualTo(1);
    assertThat(a.snapshot().redis().misses()).isEqualTo(1);
  }

  @Test
  void anInvalidationReachesTheOtherInstance() throws Exception {
    BoundedCache<String, String> a = instance();
    BoundedCache<String, String> b = instance();
    db.put("k", "v1");
    assertThat(b.get("k", this::load)).isEqualTo("v1");

    db.put("k", "v2");
    a.invalidate("k");

    Await.until(PROPAGATION, "b dropping k", () -> b.getIfPresent("k") == null);
    assertThat(b.get("k", this::load)).isEqualTo("v2");
    assertThat(a.snapshot().redis().sent()).isEqualTo(1);
    Await.until(PROPAGATION, "the drop counted", () -> b.snapshot().redis().received() == 1);
  }

  @Test
  void aPutReachesRedisAndTheOtherInstanceDropsItsCopy() throws Exception {
    BoundedCache<String, String> a = instance();
    BoundedCache<String, String> b = instance();
    db.put("k", "v1");
    assertThat(b.get("k", this::load)).isEqualTo("v1");

    a.put("k", "v2");

    Await.until(PROPAGATION, "b dropping k", () -> b.getIfPresent("k") == null);
    assertThat(b.get("k", this::load)).isEqualTo("v2");
    assertThat(loads).hasValue(1);
  }

  @Test
  void invalidateAllReachesEveryInstanceWithoutAScan() throws Exception {
    BoundedCache<String, String> a = instance();
    BoundedCache<String, String> b = instance();
    db.put("k", "v1");
    assertThat(b.get("k", this::load)).isEqualTo("v1");

    db.put("k", "v2");
    a.invalidateAll();

    Await.until(PROPAGATION, "b dropping k", () -> b.getIfPresent("k") == null);
    assertThat(b.get("k", this::load)).isEqualTo("v2");
    assertThat(a.get("k", this::load)).isEqualTo("v2");
  }

  private StatefulRedisConnection<String, String> raw() {
    RedisClient client = client();
    StatefulRedisConnection<String, String> connection = client.connect();
    closing.add(connection::close);
    return connection;
  }

  @Test
  void aServerThatIsNotTheOneThatAnsweredRaisesTheEpochAndHidesItsOldValues() throws Exception {
    BoundedCache<String, String> a = instance();
    db.put("k", "v1");
    assertThat(a.get("k", this::load)).isEqualTo("v1");
    RedisTier<String, String> tier = a.tier();
    String before = tier.valueKey("k");
    StatefulRedisConnection<String, String> redis = raw();
    assertThat(redis.sync().get(before)).isEqualTo("v1");

    // What a promoted replica looks like to the tier: the ids stored are another history's.
    redis.sync().del("{bulwark:" + name + "}:servers");
    redis.sync().sadd("{bulwark:" + name + "}:servers", "another-history");
    db.put("k", "v2");

    Await.until(PROPAGATION, "the epoch raised", () -> !tier.valueKey("k").equals(before));
    Await.until(PROPAGATION, "the clear", () -> tier.clears(RedisTier.Clear.FAILOVER) == 1);
    assertThat(a.get("k", this::load)).as("the old server's value is not read").isEqualTo("v2");
    assertThat(redis.sync().get(before)).as("left to expire, not scanned").isEqualTo("v1");
    Await.until(PROPAGATION, "synced again", () -> a.snapshot().redis().synced());
  }

  @Test
  void anEvictedEpochIsPutBackNotStartedOver() throws Exception {
    BoundedCache<String, String> a = instance();
    a.invalidateAll();
    a.invalidateAll();
    String key = a.tier().valueKey("k");
    assertThat(key).isEqualTo("bulwark:" + name + ":2:{k}");
    StatefulRedisConnection<String, String> redis = raw();
    redis.sync().del("{bulwark:" + name + "}:epoch");

    Await.until(
        PROPAGATION,
        "the epoch put back",
        () -> "2".equals(redis.sync().get("{bulwark:" + name + "}:epoch")));
    BoundedCache<String, String> b = instance();
    assertThat(b.tier().valueKey("k")).isEqualTo(key);
  }

  @Test
  void anotherInstancesInvalidateAllMovesTheWritesOfALaggingOne() {
    BoundedCache<String, String> a = instance();
    BoundedCache<String, String> b = instance();
    StatefulRedisConnection<String, String> redis = raw();
    // b raised the epoch, and a has not heard yet: a's invalidate must still reach epoch 1.
    redis.sync().set("{bulwark:" + name + "}:epoch", "1");
    redis.sync().set("bulwark:" + name + ":1:{k}", "stale");

    a.invalidate("k");

    assertThat(redis.sync().get("bulwark:" + name + ":1:{k}")).isNull();
    assertThat(a.tier().valueKey("k")).isEqualTo("bulwark:" + name + ":1:{k}");
    assertThat(b.get("k", k -> "fresh")).isIn("fresh");
  }

  @Test
  void getAllReadsRedisWithOneCallAndLoadsOnlyWhatNoInstanceHas() throws Exception {
    BoundedCache<String, String> a = instance();
    BoundedCache<String, String> b = instance();
    List<java.util.Set<String>> asked = new java.util.concurrent.CopyOnWriteArrayList<>();
    java.util.function.Function<java.util.Set<String>, Map<String, String>> bulk =
        keys -> {
          asked.add(keys);
          Map<String, String> found = new java.util.HashMap<>();
          keys.forEach(k -> found.put(k, "v-" + k));
          return found;
        };

    assertThat(a.getAll(List.of("k1", "k2", "k3"), bulk)).hasSize(3);
    assertThat(b.getAll(List.of("k1", "k2", "k3"), bulk))
        .containsExactly(Map.entry("k1", "v-k1"), Map.entry("k2", "v-k2"), Map.entry("k3", "v-k3"));
    assertThat(asked).containsExactly(java.util.Set.of("k1", "k2", "k3"));
    assertThat(b.snapshot().redis().hits()).isEqualTo(3);

    a.invalidate("k2");
    Await.until(PROPAGATION, "b dropping k2", () -> b.getIfPresent("k2") == null);
    assertThat(b.getAll(List.of("k1", "k2", "k3"), bulk)).hasSize(3);
    assertThat(asked).containsExactly(java.util.Set.of("k1", "k2", "k3"), java.util.Set.of("k2"));
  }
}

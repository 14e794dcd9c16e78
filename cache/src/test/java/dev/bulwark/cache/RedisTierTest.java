package dev.bulwark.cache;

import static org.assertj.core.api.Assertions.assertThat;

import dev.bulwark.pool.Pools;
import dev.bulwark.testing.Await;
import dev.bulwark.testing.RedisExtension;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.ArrayList;
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

  private final List<AutoCloseable> closing = new ArrayList<>();
  private final Map<String, String> db = new ConcurrentHashMap<>();
  private final AtomicInteger loads = new AtomicInteger();
  private RedisURI uri;
  private String name;

  @BeforeEach
  void setUp(RedisURI uri, TestInfo info) {
    this.uri = uri;
    this.name = "t-" + info.getTestMethod().orElseThrow().getName();
    if (name.length() > 60) {
      name = name.substring(0, 60);
    }
  }

  @AfterEach
  void tearDown() throws Exception {
    for (int i = closing.size() - 1; i >= 0; i--) {
      closing.get(i).close();
    }
  }

  private RedisClient client() {
    RedisClient client = Pools.redis(uri).meterRegistry(new SimpleMeterRegistry()).build();
    closing.add(() -> client.shutdown(Duration.ZERO, Duration.ofSeconds(2)));
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
    assertThat(b.snapshot().redis().received()).isEqualTo(1);
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
}

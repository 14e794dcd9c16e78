package dev.bulwark.health;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.bulwark.cache.BoundedCache;
import dev.bulwark.cache.CacheSnapshot;
import dev.bulwark.cache.Codecs;
import dev.bulwark.cache.RedisTierSnapshot;
import dev.bulwark.pool.Pools;
import dev.bulwark.testing.Await;
import dev.bulwark.testing.Closer;
import dev.bulwark.testing.RedisExtension;
import dev.bulwark.testing.TestRedis;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The cache check on real caches: one in the process, and one with a Redis tier on a real Redis.
 */
@ExtendWith(RedisExtension.class)
class HealthChecksCacheTest {
  /**
   * A disconnect is seen at once, a resubscription within a few heartbeats; slack for a slow
   * machine.
   */
  private static final Duration WAIT = Duration.ofSeconds(20);

  private final Closer closer = new Closer();

  @AfterEach
  void tearDown() throws Exception {
    closer.close();
  }

  private BoundedCache<String, String> local(String name, long size) {
    return closer.add(BoundedCache.<String, String>builder(name).maximumSize(size).build());
  }

  @Test
  void ratesTheFillOfTheBound() throws Exception {
    BoundedCache<String, String> cache = local("prices", 10);
    HealthCheck check = HealthChecks.cache(cache);
    assertThat(check).hasToString("HealthChecks.cache");
    assertThat(((BuiltInCheck) check).isExternal()).isFalse();

    for (int i = 0; i < 5; i++) {
      cache.put("k" + i, "v");
    }
    assertThat(cache.getIfPresent("k0")).isEqualTo("v");
    assertThat(cache.getIfPresent("nope")).isNull();
    HealthResult half = check.check();
    assertThat(half.status()).isEqualTo(Status.PASS);
    assertThat(half.output()).isNull();
    assertThat(half.observedValue()).isEqualTo(50.0);
    assertThat(half.observedUnit()).isEqualTo("%");
    assertThat(half.componentType()).isEqualTo("component");
    assertThat(half.details())
        .containsExactly(
            Map.entry("size", 5L),
            Map.entry("bound", 10L),
            Map.entry("weighted", false),
            Map.entry("hitRatio", 0.5),
            Map.entry("hits", 1L),
            Map.entry("misses", 1L),
            Map.entry("evictions", 0L),
            Map.entry("loadFailures", 0L),
            Map.entry("staleServed", 0L));

    for (int i = 5; i < 9; i++) {
      cache.put("k" + i, "v");
    }
    HealthResult warn = check.check();
    assertThat(warn.status()).isEqualTo(Status.WARN);
    assertThat(warn.output()).isEqualTo("cache prices 90% full (9 of 10 entries), warn at 90%");

    HealthResult fail = HealthChecks.cache(cache, Threshold.of(50, 80)).check();
    assertThat(fail.status()).isEqualTo(Status.FAIL);
    assertThat(fail.output()).isEqualTo("cache prices 90% full (9 of 10 entries), fail at 80%");

    cache.close();
    assertThatThrownBy(check::check)
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("cache prices is closed");
  }

  @Test
  void aWeightedCacheIsRatedByWeight() {
    CacheSnapshot snapshot =
        new CacheSnapshot("blobs", 3, 1_000, true, 950, 1.0, 0, 0, 0, 0, 0, null);
    HealthResult result = CacheCheck.rate(snapshot, HealthChecks.CACHE);
    assertThat(result.status()).isEqualTo(Status.WARN);
    assertThat(result.output()).isEqualTo("cache blobs 95% full (weight 950 of 1000), warn at 90%");
    assertThat(result.details()).containsEntry("weighted", true).containsEntry("weight", 950L);
  }

  @Test
  void warnsWhileItsRedisTierIsDown(TestRedis redis, RedisURI uri, TestInfo info) throws Exception {
    assumeTrue(redis.isEmbedded(), "needs a server this JVM owns");
    RedisClient client =
        closer.client(Pools.redis(uri).meterRegistry(new SimpleMeterRegistry()).build());
    String name = Closer.name("h-", info);
    BoundedCache<String, String> cache =
        closer.add(
            BoundedCache.<String, String>builder(name)
                .maximumSize(100)
                .expireAfterWrite(Duration.ofMinutes(5))
                .redis(client, Codecs.utf8(), Codecs.utf8())
                .redisTimeout(Duration.ofSeconds(1))
                .heartbeat(Duration.ofMillis(100))
                .build());
    HealthCheck check = HealthChecks.cache(cache);
    try {
      Await.until(WAIT, "the tier synced", () -> check.check().status() == Status.PASS);
      HealthResult up = check.check();
      assertThat(up.details())
          .containsEntry("redisConnected", true)
          .containsEntry("redisSynced", true)
          .containsKeys("redisErrors", "redisClears", "redisPropagationFailures");

      redis.stop();
      // The tier may first report a missed heartbeat ("not synced"), then the lost connection.
      Await.until(
          WAIT,
          "a warning that the tier is not connected",
          () -> CacheCheck.NOT_CONNECTED.equals(check.check().output()));
      HealthResult down = check.check();
      assertThat(down.status()).isEqualTo(Status.WARN);
      assertThat(down.output()).isEqualTo(CacheCheck.NOT_CONNECTED);
      assertThat(down.output())
          .isEqualTo(
              "Redis tier not connected: misses go to the loader, and writes throw"
                  + " CachePropagationException");
      assertThat(down.details()).containsEntry("redisConnected", false);
    } finally {
      redis.start();
    }
    Await.until(WAIT, "a pass again", () -> check.check().status() == Status.PASS);
  }

  @Test
  void anUnsyncedTierWarnsAndIsAddedToAFullCachesOutput() {
    RedisTierSnapshot unsynced = new RedisTierSnapshot(true, false, 0, 0, 0, 0, 0, 1, 0);
    CacheSnapshot snapshot =
        new CacheSnapshot("prices", 95, 100, false, 95, 1.0, 0, 0, 0, 0, 0, unsynced);
    HealthResult result = CacheCheck.rate(snapshot, Threshold.of(90, 95));
    assertThat(result.status()).isEqualTo(Status.FAIL);
    assertThat(result.output())
        .isEqualTo(
            "cache prices 95% full (95 of 100 entries), fail at 95%; Redis tier not synced: only"
                + " expireAfterWrite bounds how stale the first tier can be");
  }

  @Test
  void argumentsAreValidated() {
    BoundedCache<String, String> cache = local("args", 10);
    assertThatThrownBy(() -> HealthChecks.cache(null))
        .isInstanceOf(NullPointerException.class)
        .hasMessage("cache");
    assertThatThrownBy(() -> HealthChecks.cache(cache, null))
        .isInstanceOf(NullPointerException.class)
        .hasMessage("percentFull");
    assertThatThrownBy(() -> HealthChecks.cache(cache, Threshold.warnAt(101)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage(
            "percentFull.warnAt must be between 0 and 100, or infinite for never, but was 101 %");
  }
}

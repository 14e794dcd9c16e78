package dev.bulwark.cache;

import static org.assertj.core.api.Assertions.assertThat;

import dev.bulwark.pool.Pools;
import dev.bulwark.testing.Await;
import dev.bulwark.testing.RedisExtension;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.api.StatefulRedisConnection;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Disabled;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A drop from another instance whose removal has to wait (a load holds the lock of the key's entry)
 * still stops every read of the old value the moment its message arrives.
 */
@ExtendWith(RedisExtension.class)
class RedisTierDropTest {
  private static final Duration PROPAGATION = Duration.ofSeconds(5);
  private static final String NAME = "drop-while-loading";

  private RedisClient client;
  private StatefulRedisConnection<String, String> raw;
  private BoundedCache<String, String> cache;

  @AfterEach
  void tearDown() {
    if (cache != null) {
      cache.close();
    }
    if (raw != null) {
      raw.close();
    }
    if (client != null) {
      client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
    }
  }

  @Test
  void aDropWaitingForALoadStillHidesTheOldValueAtOnce(RedisURI uri) throws Exception {
    client = Pools.redis(uri).meterRegistry(new SimpleMeterRegistry()).build();
    raw = client.connect();
    FakeTicker ticker = new FakeTicker();
    cache =
        BoundedCache.<String, String>builder(NAME)
            .maximumSize(100)
            .expireAfterWrite(Duration.ofMinutes(1))
            .serveStaleFor(Duration.ofMinutes(10))
            .redis(client, Codecs.utf8(), Codecs.utf8())
            .redisTimeout(Duration.ofSeconds(2))
            .ticker(ticker)
            .build();
    assertThat(cache.get("k", k -> "v1")).isEqualTo("v1");
    raw.sync().del(cache.tier().valueKey("k")); // so that the reload reaches the loader
    ticker.advance(Duration.ofMinutes(2)); // past expireAfterWrite: the next read reloads

    CountDownLatch inLoad = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    Thread reload =
        new Thread(
            () ->
                cache.get(
                    "k",
                    k -> {
                      inLoad.countDown();
                      try {
                        assertThat(release.await(30, TimeUnit.SECONDS)).as("released").isTrue();
                      } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                      }
                      return "v3";
                    }));
    reload.start();
    assertThat(inLoad.await(10, TimeUnit.SECONDS)).isTrue();
    assertThat(cache.getIfPresent("k")).as("held while its reload runs").isEqualTo("v1");

    // Another instance's invalidation of k: its script gave k a new generation, then its message.
    raw.sync().set(cache.tier().generationKey("k"), "other.1");
    raw.sync().publish("bulwark:" + NAME + ":invalidations", "1|other|1|k|k");

    Await.until(PROPAGATION, "no read answering v1", () -> cache.getIfPresent("k") == null);
    assertThat(cache.snapshot().redis().received())
        .as("its removal still waits for the reload's lock")
        .isZero();

    release.countDown();
    reload.join(10_000);
    Await.until(PROPAGATION, "the drop applied", () -> cache.snapshot().redis().received() == 1);
    assertThat(cache.getIfPresent("k")).as("the reload overlapped the drop: not kept").isNull();
    assertThat(cache.get("k", k -> "v4")).isEqualTo("v4");
  }

  @Test
  @Disabled(
      "fails: about 1 round in 1,000 still answers the old value; one window (an entry found"
          + " while its drop was on its way, the drop done before the check) is closed, another"
          + " is not found yet")
  void aReadRightAfterADropIsHiddenNeverAnswersTheOldValue(RedisURI uri) throws Exception {
    // The sequence a Sentinel test once failed on, repeated: another instance invalidates a key,
    // this one hides it (the removal may still be on its way), and the very next read must not
    // answer the old value, whether or not the removal runs during that read.
    client = Pools.redis(uri).meterRegistry(new SimpleMeterRegistry()).build();
    RedisClient other = Pools.redis(uri).meterRegistry(new SimpleMeterRegistry()).build();
    try (BoundedCache<String, String> writer =
        BoundedCache.<String, String>builder(NAME + "-reads")
            .maximumSize(100)
            .expireAfterWrite(Duration.ofMinutes(1))
            .redis(other, Codecs.utf8(), Codecs.utf8())
            .redisTimeout(Duration.ofSeconds(2))
            .build()) {
      cache =
          BoundedCache.<String, String>builder(NAME + "-reads")
              .maximumSize(100)
              .expireAfterWrite(Duration.ofMinutes(1))
              .redis(client, Codecs.utf8(), Codecs.utf8())
              .redisTimeout(Duration.ofSeconds(2))
              .build();
      List<String> stale = new ArrayList<>();
      for (int i = 0; i < 3_000; i++) {
        String old = "v" + i;
        String next = "v" + (i + 1);
        assertThat(cache.get("k", k -> old)).isEqualTo(old);
        writer.invalidate("k");
        Await.until(PROPAGATION, "the key hidden", () -> cache.getIfPresent("k") == null);
        String read = cache.get("k", k -> next);
        if (!next.equals(read)) {
          stale.add("round " + i + " read " + read);
        }
        writer.invalidate("k"); // so that the next round starts from the loader
        Await.until(PROPAGATION, "the key hidden again", () -> cache.getIfPresent("k") == null);
      }
      assertThat(stale).isEmpty();
    } finally {
      other.shutdown(Duration.ZERO, Duration.ofSeconds(2));
    }
  }
}

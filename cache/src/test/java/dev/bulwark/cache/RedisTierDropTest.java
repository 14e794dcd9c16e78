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
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A drop from another instance stops every read of the old value that begins after its message
 * arrives: while its removal has to wait (a load of the key holds the lock of its bin), when that
 * load began before the drop and its entry comes in after it, and when the removal runs during the
 * read.
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

  /** A cache on its own client, with {@link #raw} beside it to play another instance. */
  private BoundedCache<String, String> tiered(RedisURI uri, String name) {
    client = Pools.redis(uri).meterRegistry(new SimpleMeterRegistry()).build();
    raw = client.connect();
    return BoundedCache.<String, String>builder(name)
        .maximumSize(100)
        .expireAfterWrite(Duration.ofMinutes(1))
        .redis(client, Codecs.utf8(), Codecs.utf8())
        .redisTimeout(Duration.ofSeconds(2))
        .build();
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

    HeldLoad reload = new HeldLoad(cache, "k", "v3");
    assertThat(cache.getIfPresent("k")).as("held while its reload runs").isEqualTo("v1");

    // Another instance's invalidation of k: its script gave k a new generation, then its message.
    raw.sync().set(cache.tier().generationKey("k"), "other.1");
    raw.sync().publish("bulwark:" + NAME + ":invalidations", "1|other|1|k|k");

    Await.until(PROPAGATION, "no read answering v1", () -> cache.getIfPresent("k") == null);
    assertThat(cache.snapshot().redis().received())
        .as("its removal still waits for the reload's lock")
        .isZero();

    reload.finish();
    Await.until(PROPAGATION, "the drop applied", () -> cache.snapshot().redis().received() == 1);
    assertThat(cache.getIfPresent("k")).as("the reload overlapped the drop: not kept").isNull();
    assertThat(cache.get("k", k -> "v4")).isEqualTo("v4");
  }

  @Test
  void aReadThatBeginsAfterADropNeverAnswersALoadThatBeganBeforeIt(RedisURI uri) throws Exception {
    cache = tiered(uri, NAME + "-first-load");
    assertThat(cache.get("marker", k -> "m1")).isEqualTo("m1");

    // The key's first load: nothing of it is in the cache until it ends.
    HeldLoad first = new HeldLoad(cache, "k", "old");

    // Another instance changes k and invalidates it, then invalidates the marker; messages are
    // applied in order, so once the marker is hidden, the drop of k has been heard.
    raw.sync().set(cache.tier().generationKey("k"), "other.1");
    raw.sync().publish("bulwark:" + NAME + "-first-load:invalidations", "1|other|1|k|k");
    raw.sync().publish("bulwark:" + NAME + "-first-load:invalidations", "1|other|2|k|marker");
    Await.until(PROPAGATION, "the drops heard", () -> cache.getIfPresent("marker") == null);

    // A read that begins now waits for the load in flight, and must not answer what it loaded.
    AtomicReference<String> second = new AtomicReference<>();
    Thread reading = new Thread(() -> second.set(cache.get("k", k -> "new")));
    reading.start();
    Await.until(
        PROPAGATION,
        "the read waiting for the load",
        () ->
            reading.getState() == Thread.State.BLOCKED
                || reading.getState() == Thread.State.WAITING);
    assertThat(cache.snapshot().redis().received())
        .as("the removal of k waits for the load in flight, and the marker's waits behind it")
        .isZero();
    String overlapped = first.finish();
    reading.join(10_000);

    assertThat(overlapped)
        .as("the load that overlapped the drop answers its own value")
        .isEqualTo("old");
    assertThat(second.get()).as("the read that began after the drop").isEqualTo("new");
    Await.until(PROPAGATION, "both drops applied", () -> cache.snapshot().redis().received() == 2);
    assertThat(cache.get("k", k -> "newer")).isEqualTo("new");
  }

  @Test
  void aLoadThatHangsHoldsBackLaterRemovalsButEveryDroppedKeyStaysHidden(RedisURI uri)
      throws Exception {
    String name = NAME + "-held-back";
    cache = tiered(uri, name);
    assertThat(cache.get("other", k -> "o1")).isEqualTo("o1");

    HeldLoad hanging = new HeldLoad(cache, "slow", "s1");
    try {
      // Another instance invalidates both keys: in Redis, then on the channel.
      for (String key : List.of("slow", "other")) {
        raw.sync().del(cache.tier().valueKey(key));
        raw.sync().set(cache.tier().generationKey(key), "other." + key);
      }
      raw.sync().publish("bulwark:" + name + ":invalidations", "1|other|1|k|slow");
      raw.sync().publish("bulwark:" + name + ":invalidations", "1|other|2|k|other");
      Await.until(PROPAGATION, "the drops heard", () -> cache.getIfPresent("other") == null);

      assertThat(cache.get("other", k -> "o2")).as("loaded again, not held").isEqualTo("o2");
      assertThat(cache.getIfPresent("other")).as("kept: loaded after its drop").isEqualTo("o2");
      assertThat(cache.snapshot().redis().received())
          .as("both removals wait behind the hanging load")
          .isZero();
    } finally {
      hanging.finish();
    }
    Await.until(PROPAGATION, "both drops applied", () -> cache.snapshot().redis().received() == 2);
    assertThat(cache.getIfPresent("other")).as("its removal keeps the newer entry").isEqualTo("o2");
    assertThat(cache.getIfPresent("slow")).as("overlapped its drop: not kept").isNull();
  }

  @Test
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

  /** A get of one key on its own thread, whose loader waits for {@link #finish} and returns. */
  private static final class HeldLoad {
    private final CountDownLatch inLoad = new CountDownLatch(1);
    private final CountDownLatch release = new CountDownLatch(1);
    private final AtomicReference<String> answer = new AtomicReference<>();
    private final Thread thread;

    /** Starts the get, and returns once its loader runs. */
    HeldLoad(BoundedCache<String, String> cache, String key, String value)
        throws InterruptedException {
      thread =
          new Thread(
              () ->
                  answer.set(
                      cache.get(
                          key,
                          k -> {
                            inLoad.countDown();
                            try {
                              assertThat(release.await(30, TimeUnit.SECONDS))
                                  .as("released")
                                  .isTrue();
                            } catch (InterruptedException e) {
                              Thread.currentThread().interrupt();
                            }
                            return value;
                          })));
      thread.start();
      assertThat(inLoad.await(10, TimeUnit.SECONDS)).as("in the load of " + key).isTrue();
    }

    /** Lets the loader return, and returns what the get answered. */
    String finish() throws InterruptedException {
      release.countDown();
      thread.join(10_000);
      return answer.get();
    }
  }
}

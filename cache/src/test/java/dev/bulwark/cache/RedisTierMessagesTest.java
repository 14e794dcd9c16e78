package dev.bulwark.cache;

import static org.assertj.core.api.Assertions.assertThat;

import dev.bulwark.cache.RedisTier.Clear;
import dev.bulwark.pool.Pools;
import dev.bulwark.testing.Await;
import dev.bulwark.testing.Closer;
import dev.bulwark.testing.RedisExtension;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.codec.ByteArrayCodec;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The invalidation channel's messages as a receiver reads them: crafted by a fake publisher on a
 * connection of the test's own, in the wire format {@code 1|origin|sequence|kind|payload}.
 */
@ExtendWith(RedisExtension.class)
class RedisTierMessagesTest {
  private static final Duration PROPAGATION = Duration.ofSeconds(5);

  /** Far above a command's time even on a loaded machine: no Redis command fails here. */
  private static final Duration REDIS_TIMEOUT = Duration.ofSeconds(2);

  private final Closer closing = new Closer();
  private RedisURI uri;
  private String name;
  private StatefulRedisConnection<byte[], byte[]> publisher;

  @BeforeEach
  void setUp(RedisURI uri, TestInfo info) {
    this.uri = uri;
    this.name = Closer.name("m-", info);
    RedisClient raw = client();
    this.publisher = raw.connect(ByteArrayCodec.INSTANCE);
    closing.add(publisher);
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

  private BoundedCache<String, String> instance(MeterRegistry registry) {
    BoundedCache<String, String> cache =
        BoundedCache.<String, String>builder(name)
            .maximumSize(1_000)
            .expireAfterWrite(Duration.ofMinutes(5))
            .redis(client(), Codecs.utf8(), Codecs.utf8())
            .redisTimeout(REDIS_TIMEOUT)
            .meterRegistry(registry)
            .build();
    closing.add(cache);
    return cache;
  }

  private static RedisTier<String, String> tier(BoundedCache<String, String> cache) {
    return Objects.requireNonNull(cache.tier(), "the cache has a Redis tier");
  }

  /** Publishes one message as it is, and checks that a subscriber was there to hear it. */
  private void publish(String message) {
    long heard =
        publisher
            .sync()
            .publish(
                ("bulwark:" + name + ":invalidations").getBytes(StandardCharsets.UTF_8),
                message.getBytes(StandardCharsets.UTF_8));
    assertThat(heard).as("subscribers of %s", name).isPositive();
  }

  private static double dropped(MeterRegistry registry) {
    return registry.get("bulwark.cache.invalidations.dropped").functionCounter().count();
  }

  @Test
  void theFirstSubscriptionIsNotTakenForAResubscription() throws Exception {
    RedisClient shared = client();
    List<BoundedCache<String, String>> caches = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      BoundedCache<String, String> cache =
          BoundedCache.<String, String>builder(name)
              .maximumSize(1_000)
              .expireAfterWrite(Duration.ofMinutes(5))
              .redis(shared, Codecs.utf8(), Codecs.utf8())
              .redisTimeout(REDIS_TIMEOUT)
              .build();
      closing.add(cache);
      caches.add(cache);
    }
    // Read after the subscriptions' confirmations, which come first on each connection.
    publish("1|fake|1|k|other");
    for (BoundedCache<String, String> cache : caches) {
      Await.until(PROPAGATION, "the message", () -> cache.snapshot().redis().received() == 1);
      assertThat(tier(cache).clears(Clear.RESUBSCRIBED)).isZero();
      assertThat(cache.snapshot().redis().clears()).isZero();
    }
  }

  @Test
  void aSkippedSequenceNumberClearsTheFirstTier() throws Exception {
    BoundedCache<String, String> b = instance(new SimpleMeterRegistry());
    assertThat(b.get("k", k -> "v1")).isEqualTo("v1");

    publish("1|fake|1|h|");
    publish("1|fake|2|k|other");
    Await.until(PROPAGATION, "the key message", () -> b.snapshot().redis().received() == 1);
    assertThat(b.getIfPresent("k")).isEqualTo("v1");
    assertThat(b.snapshot().redis().clears()).isZero();

    publish("1|fake|4|h|"); // 3 was lost
    Await.until(PROPAGATION, "a clear for the gap", () -> tier(b).clears(Clear.GAP) == 1);

    assertThat(b.getIfPresent("k")).isNull();
    assertThat(b.snapshot().redis().clears()).isEqualTo(1);
    // The lost message may have moved the epoch: synced again once the epoch is read.
    Await.until(PROPAGATION, "synced again", () -> b.snapshot().redis().synced());
    assertThat(b.snapshot().redis().clears()).isEqualTo(1);
  }

  @Test
  void aClearRemovesTheEntriesItFoundAndKeepsThoseLoadedAfterIt() throws Exception {
    Queue<Runnable> background = new ConcurrentLinkedQueue<>();
    BoundedCache<String, String> b =
        BoundedCache.<String, String>builder(name)
            .maximumSize(1_000)
            .expireAfterWrite(Duration.ofMinutes(5))
            .redis(client(), Codecs.utf8(), Codecs.utf8())
            .redisTimeout(REDIS_TIMEOUT)
            .executor(background::add)
            .build();
    closing.add(b);
    assertThat(b.get("before", k -> "v0")).isEqualTo("v0");

    publish("1|fake|1|h|");
    publish("1|fake|3|h|");
    Await.until(PROPAGATION, "a clear for the gap", () -> tier(b).clears(Clear.GAP) == 1);
    assertThat(b.get("after", k -> "v1")).isEqualTo("v1"); // before the clear is carried out
    for (Runnable task = background.poll(); task != null; task = background.poll()) {
      task.run();
    }
    b.cleanUp();

    assertThat(b.getIfPresent("after")).isEqualTo("v1");
    assertThat(b.snapshot().size()).as("only the entry loaded after the clear").isEqualTo(1);
  }

  @Test
  void eachUnreadableMessageIsCountedAsDroppedAndClearsTheFirstTier() throws Exception {
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    BoundedCache<String, String> b = instance(registry);
    List<String> unreadable =
        List.of(
            "",
            "not a message",
            "2|fake-a|1|k|key", // another version of the format
            "1|fake-b|one|k|key", // a sequence that is not a number
            "1|fake-c|1|kk|key", // a kind of two letters
            "1|fake-d|1|a|latest", // an epoch that is not a number
            "1|fake-e|1|z|key", // a kind that does not exist
            "1|fake-f|1|k"); // a bar missing
    int count = 0;
    for (String message : unreadable) {
      assertThat(b.get("k", k -> "v1")).isEqualTo("v1");
      publish(message);
      int expected = ++count;
      Await.until(PROPAGATION, "a drop of <" + message + ">", () -> dropped(registry) == expected);
      assertThat(tier(b).clears(Clear.UNDECODABLE))
          .as("clears after <%s>", message)
          .isEqualTo(count);
      assertThat(b.getIfPresent("k")).as("k after <%s>", message).isNull();
    }
    assertThat(b.snapshot().redis().received()).isZero();
    assertThat(b.snapshot().redis().clears()).isEqualTo(unreadable.size());
  }

  @Test
  void anInstanceIgnoresItsOwnMessages() throws Exception {
    BoundedCache<String, String> a = instance(new SimpleMeterRegistry());
    BoundedCache<String, String> b = instance(new SimpleMeterRegistry());
    assertThat(a.get("k1", k -> "v1")).isEqualTo("v1");
    assertThat(a.get("k2", k -> "v2")).isEqualTo("v2");

    a.invalidate("k1");
    a.invalidateAll();
    assertThat(a.get("k2", k -> "v2 again")).isEqualTo("v2 again");
    // Messages reach a subscriber in the order the server took them: once the fake one is read,
    // so were a's own.
    publish("1|fake|1|k|other");
    Await.until(PROPAGATION, "the fake message at a", () -> a.snapshot().redis().received() == 1);
    Await.until(PROPAGATION, "a's messages at b", () -> b.snapshot().redis().received() == 3);

    assertThat(a.getIfPresent("k2")).isEqualTo("v2 again");
    assertThat(a.snapshot().redis().sent()).isEqualTo(2);
    assertThat(a.snapshot().redis().clears()).isZero();
    assertThat(tier(b).clears(Clear.REMOTE_ALL)).isEqualTo(1);
  }

  @Test
  void aLateMessageDoesNotClearAgain() throws Exception {
    BoundedCache<String, String> b = instance(new SimpleMeterRegistry());
    publish("1|fake|1|h|");
    publish("1|fake|3|h|");
    Await.until(PROPAGATION, "a clear for the gap", () -> tier(b).clears(Clear.GAP) == 1);
    assertThat(b.get("k", k -> "v1")).isEqualTo("v1");
    assertThat(b.get("late", k -> "old")).isEqualTo("old");

    publish("1|fake|3|h|"); // a repeat
    publish("1|fake|2|k|late"); // the lost one, arriving after all
    publish("1|fake|4|k|other"); // the next after 3: no gap
    Await.until(PROPAGATION, "both key messages", () -> b.snapshot().redis().received() == 2);

    assertThat(tier(b).clears(Clear.GAP)).isEqualTo(1);
    assertThat(b.snapshot().redis().clears()).isEqualTo(1);
    assertThat(b.getIfPresent("k")).isEqualTo("v1");
    assertThat(b.getIfPresent("late")).as("a late invalidation still drops its key").isNull();
  }
}

package dev.bulwark.cache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.bulwark.cache.RedisTier.Clear;
import dev.bulwark.pool.Pools;
import dev.bulwark.pool.RedisClientBuilder;
import dev.bulwark.testing.Await;
import dev.bulwark.testing.Closer;
import dev.bulwark.testing.FaultProxy;
import dev.bulwark.testing.RedisExtension;
import dev.bulwark.testing.TestRedis;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.api.StatefulRedisConnection;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Cache instances, each on its own client, while the Redis between them fails: stopped, restarted,
 * paused, cut off by a {@link FaultProxy} or silenced by one.
 */
@ExtendWith(RedisExtension.class)
class RedisTierFailureTest {
  private static final Duration HEARTBEAT = Duration.ofMillis(100);
  private static final Duration PROPAGATION = Duration.ofSeconds(5);

  /**
   * Above a command's time on a loaded machine, so that only the faults make commands fail; the
   * test of the timeout itself keeps the default, 250 ms.
   */
  private static final Duration REDIS_TIMEOUT = Duration.ofSeconds(1);

  /** A disconnect is seen at once; the slack is for a loaded machine. */
  private static final Duration DOWN = Duration.ofSeconds(10);

  /** Reconnects are at most 2 s apart, and a silent command connection goes after 3 timeouts. */
  private static final Duration RECOVERY = Duration.ofSeconds(20);

  private static final String NOT_CONNECTED =
      " reached this instance only: Redis is not connected, so the other instances keep their"
          + " copies until they expire";

  private final Closer closing = new Closer();
  private final Map<String, String> db = new ConcurrentHashMap<>();
  private final AtomicInteger loads = new AtomicInteger();
  private TestRedis redis;
  private RedisURI uri;
  private String name;

  @BeforeEach
  void setUp(TestRedis redis, RedisURI uri, TestInfo info) {
    this.redis = redis;
    this.uri = uri;
    this.name = Closer.name("f-", info);
  }

  @AfterEach
  void tearDown() throws Exception {
    try {
      closing.close();
    } finally {
      if (redis.isEmbedded()) {
        redis.start(); // does nothing if it runs
      }
    }
  }

  private RedisClient client() {
    return client(Pools.redis(uri).meterRegistry(new SimpleMeterRegistry()).build());
  }

  private RedisClient client(FaultProxy proxy) {
    return client(through(proxy).build());
  }

  private RedisClientBuilder through(FaultProxy proxy) {
    String url = "redis://" + proxy.host() + ":" + proxy.port() + "/" + uri.getDatabase();
    return Pools.redis(url).meterRegistry(new SimpleMeterRegistry());
  }

  private RedisClient client(RedisClient client) {
    closing.client(client);
    return client;
  }

  private FaultProxy proxy() {
    FaultProxy proxy = FaultProxy.to(redis.host(), redis.port());
    closing.add(proxy);
    return proxy;
  }

  private BoundedCache<String, String> instance(RedisClient client) {
    return instance(client, new SimpleMeterRegistry());
  }

  private BoundedCache<String, String> instance(RedisClient client, MeterRegistry registry) {
    return open(builder(client).redisTimeout(REDIS_TIMEOUT).meterRegistry(registry));
  }

  private BoundedCache.Builder<String, String> builder(RedisClient client) {
    return BoundedCache.<String, String>builder(name)
        .maximumSize(1_000)
        .expireAfterWrite(Duration.ofMinutes(5))
        .redis(client, Codecs.utf8(), Codecs.utf8())
        .heartbeat(HEARTBEAT);
  }

  private BoundedCache<String, String> open(BoundedCache.Builder<String, String> builder) {
    BoundedCache<String, String> cache = builder.build();
    closing.add(cache);
    return cache;
  }

  private String load(String key) {
    loads.incrementAndGet();
    return db.get(key);
  }

  private static RedisTier<String, String> tier(BoundedCache<String, String> cache) {
    return Objects.requireNonNull(cache.tier(), "the cache has a Redis tier");
  }

  private static RedisTierSnapshot redisOf(BoundedCache<String, String> cache) {
    return Objects.requireNonNull(cache.snapshot().redis(), "the cache has a Redis tier");
  }

  private static double gets(MeterRegistry registry, String result) {
    return registry.get("bulwark.cache.redis.gets").tag("result", result).functionCounter().count();
  }

  @Test
  void whileRedisIsDownReadsGoToTheLoaderAndWritesThrowThenEveryInstanceResyncs() throws Exception {
    assumeTrue(redis.isEmbedded(), "needs a server this JVM owns");
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    BoundedCache<String, String> a = instance(client(), registry);
    BoundedCache<String, String> b = instance(client());
    db.put("k", "v1");
    assertThat(a.get("k", this::load)).isEqualTo("v1");
    assertThat(b.get("k", this::load)).isEqualTo("v1");

    redis.stop();
    try {
      Await.until(
          DOWN,
          "both instances seeing Redis down",
          () ->
              !redisOf(a).connected()
                  && !redisOf(b).connected()
                  && tier(a).clears(Clear.DISCONNECTED) > 0
                  && tier(b).clears(Clear.DISCONNECTED) > 0);
      assertThat(redisOf(a).synced()).isFalse();
      assertThat(a.getIfPresent("k")).as("dropped at the disconnect").isNull();

      // A read goes from the first tier to the loader and skips Redis, so it waits out no
      // timeout: it counts in errors as a skip (a command that failed or timed out would count
      // as result=error; a heartbeat sent just before the stop may still do so).
      long errors = redisOf(a).errors();
      double skipped = gets(registry, "skipped");
      db.put("k", "v2");
      int before = loads.get();
      assertThat(a.get("k", this::load)).isEqualTo("v2");
      assertThat(a.get("k", this::load)).as("then from the first tier").isEqualTo("v2");
      assertThat(loads.get()).isEqualTo(before + 1);
      assertThat(gets(registry, "skipped")).isEqualTo(skipped + 1);
      assertThat(redisOf(a).errors()).isGreaterThanOrEqualTo(errors + 1);

      assertThatThrownBy(() -> a.put("k", "v3"))
          .isInstanceOfSatisfying(
              CachePropagationException.class, e -> assertThat(e.cache()).isEqualTo(name))
          .hasMessage("cache " + name + ": put" + NOT_CONNECTED)
          .cause()
          .hasMessage("the cache's Redis connection is down");
      assertThat(a.getIfPresent("k")).as("put on this instance").isEqualTo("v3");
      assertThatThrownBy(() -> a.invalidate("k"))
          .isInstanceOf(CachePropagationException.class)
          .hasMessage("cache " + name + ": invalidate" + NOT_CONNECTED);
      assertThat(a.getIfPresent("k")).as("dropped on this instance").isNull();
      assertThatThrownBy(a::invalidateAll)
          .isInstanceOf(CachePropagationException.class)
          .hasMessage("cache " + name + ": invalidateAll" + NOT_CONNECTED);
      assertThat(redisOf(a).propagationFailures()).isEqualTo(3);
      assertThat(redisOf(a).sent()).isZero();

      // Values cached while nothing can be heard, to be dropped when Redis is back.
      assertThat(a.get("k", this::load)).isEqualTo("v2");
      assertThat(b.get("k", this::load)).isEqualTo("v2");
    } finally {
      redis.start();
    }
    Await.until(
        RECOVERY, "both instances synced again", () -> redisOf(a).synced() && redisOf(b).synced());
    assertThat(tier(a).clears(Clear.RESUBSCRIBED)).isPositive();
    assertThat(tier(b).clears(Clear.RESUBSCRIBED)).isPositive();
    assertThat(a.getIfPresent("k")).isNull();
    assertThat(b.getIfPresent("k")).isNull();

    db.put("k", "v4");
    assertThat(b.get("k", this::load)).isEqualTo("v4");
    db.put("k", "v5");
    a.invalidate("k");
    Await.until(PROPAGATION, "b dropping k", () -> b.getIfPresent("k") == null);
    assertThat(b.get("k", this::load)).isEqualTo("v5");
    // Reads stop at the message; the count follows once the removal ran.
    Await.until(PROPAGATION, "the drop counted", () -> redisOf(b).received() == 1);
    assertThat(redisOf(a).propagationFailures()).isEqualTo(3);
  }

  @Test
  void aWriteThatRedisDoesNotAnswerInTimeThrows() throws Exception {
    BoundedCache<String, String> a = open(builder(client()));
    db.put("k", "v1");
    assertThat(a.get("k", this::load)).isEqualTo("v1");

    redis.pause(Duration.ofSeconds(1));
    assertThatThrownBy(() -> a.invalidate("k"))
        .isInstanceOf(CachePropagationException.class)
        .hasMessage(
            "cache "
                + name
                + ": invalidate reached this instance only: Redis did not answer"
                + " (IllegalStateException: no answer from Redis within 250 ms), so the other"
                + " instances keep their copies until they expire");
    assertThat(a.getIfPresent("k")).isNull();
    assertThat(redisOf(a).propagationFailures()).isEqualTo(1);
  }

  @Test
  void aRestartMakesEveryInstanceReloadWhatItHeld() throws Exception {
    assumeTrue(redis.isEmbedded(), "needs a server this JVM owns");
    List<BoundedCache<String, String>> instances =
        List.of(instance(client()), instance(client()), instance(client()));
    db.put("k", "v1");
    for (BoundedCache<String, String> cache : instances) {
      assertThat(cache.get("k", this::load)).isEqualTo("v1");
    }
    assertThat(loads).hasValue(1);

    // The restart stands for an invalidation the instances never heard: only clearing shows v2.
    db.put("k", "v2");
    try {
      redis.restart();
    } finally {
      redis.start();
    }

    for (BoundedCache<String, String> cache : instances) {
      Await.until(
          RECOVERY,
          "a re-subscription",
          () -> tier(cache).clears(Clear.RESUBSCRIBED) > 0 && redisOf(cache).synced());
    }
    for (BoundedCache<String, String> cache : instances) {
      assertThat(cache.get("k", this::load)).isEqualTo("v2");
    }
    assertThat(loads).hasValue(2); // one load, then Redis again
  }

  @Test
  void anInvalidationMissedWhileCutOffIsNeverFollowedByAStaleRead() throws Exception {
    FaultProxy proxy = proxy();
    BoundedCache<String, String> a = instance(client());
    BoundedCache<String, String> b = instance(client(proxy));
    db.put("k", "v1");
    assertThat(b.get("k", this::load)).isEqualTo("v1");
    assertThat(a.get("k", this::load)).isEqualTo("v1");

    proxy.refuseNewConnections(true);
    assertThat(proxy.resetConnections()).isEqualTo(2); // commands and subscription
    Await.until(DOWN, "b seeing the cut", () -> tier(b).clears(Clear.DISCONNECTED) > 0);
    db.put("k", "v2");
    a.invalidate("k");
    assertThat(redisOf(b).received()).isZero();

    proxy.heal();
    Await.until(
        RECOVERY,
        "b synced again",
        () -> {
          assertThat(b.get("k", this::load)).as("b, reconnecting").isEqualTo("v2");
          return redisOf(b).synced();
        });
    assertThat(b.get("k", this::load)).isEqualTo("v2");
    assertThat(tier(b).clears(Clear.RESUBSCRIBED)).isPositive();

    db.put("k", "v3");
    a.invalidate("k");
    Await.until(PROPAGATION, "b dropping k", () -> b.getIfPresent("k") == null);
    assertThat(b.get("k", this::load)).isEqualTo("v3");
  }

  @Test
  void aSilentConnectionIsCaughtByTheHeartbeatAndReplaced() throws Exception {
    FaultProxy proxy = proxy();
    BoundedCache<String, String> a = instance(client());
    // The client's own probe of idle connections would replace the silent subscription too, after
    // 5 s; put off, it leaves that to the heartbeat. The command connection, whose heartbeats time
    // out, is replaced by the client after 3 timeouts.
    BoundedCache<String, String> b =
        instance(
            client(through(proxy).idleProbe(Duration.ofHours(1), Duration.ofSeconds(1)).build()));
    db.put("k", "v1");
    assertThat(b.get("k", this::load)).isEqualTo("v1");
    long accepted = proxy.acceptedConnections();

    assertThat(proxy.blackholeOpenConnections()).isEqualTo(2);
    Await.until(DOWN, "a heartbeat clear at b", () -> tier(b).clears(Clear.HEARTBEAT) > 0);
    assertThat(b.getIfPresent("k")).isNull();
    Await.until(RECOVERY, "b synced again", () -> redisOf(b).synced());
    assertThat(proxy.acceptedConnections()).as("a new subscription").isGreaterThan(accepted);
    assertThat(tier(b).clears(Clear.RESUBSCRIBED)).isPositive();

    assertThat(b.get("k", this::load)).isEqualTo("v1");
    db.put("k", "v2");
    a.invalidate("k");
    Await.until(PROPAGATION, "b dropping k", () -> b.getIfPresent("k") == null);
    assertThat(b.get("k", this::load)).isEqualTo("v2");
  }

  @Test
  void aStaleValueIsServedWhileItsReloadFailsUpToServeStaleFor() throws Exception {
    FakeTicker ticker = new FakeTicker();
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    BoundedCache<String, String> cache =
        open(
            BoundedCache.<String, String>builder(name)
                .maximumSize(1_000)
                .expireAfterWrite(Duration.ofMinutes(1))
                .serveStaleFor(Duration.ofMinutes(1))
                .redis(client(), Codecs.utf8(), Codecs.utf8())
                .redisTimeout(REDIS_TIMEOUT)
                .meterRegistry(registry)
                .ticker(ticker));
    RuntimeException down = new IllegalStateException("the database is down");
    Function<String, String> failing =
        k -> {
          loads.incrementAndGet();
          throw down;
        };
    assertThat(cache.get("k", k -> "v1")).isEqualTo("v1");
    StatefulRedisConnection<String, String> admin = client().connect();
    closing.add(admin);

    ticker.advance(Duration.ofSeconds(61));
    // Redis's own clock has not moved: drop the value as its TTL would have by now.
    assertThat(admin.sync().del(tier(cache).valueKey("k"))).isEqualTo(1);
    assertThat(cache.get("k", failing)).isEqualTo("v1");
    assertThat(loads).hasValue(1);
    assertThat(cache.snapshot().staleServed()).isEqualTo(1);
    ticker.advance(Duration.ofSeconds(58));
    assertThat(cache.get("k", failing)).as("still kept").isEqualTo("v1");
    assertThat(cache.snapshot().staleServed()).isEqualTo(2);
    assertThat(registry.get("bulwark.cache.stale.served").functionCounter().count()).isEqualTo(2);

    ticker.advance(Duration.ofSeconds(2)); // 121 s: past expireAfterWrite + serveStaleFor
    assertThatThrownBy(() -> cache.get("k", failing)).isSameAs(down);
    assertThat(loads).hasValue(3);
    assertThat(cache.snapshot().staleServed()).isEqualTo(2);
    assertThat(cache.get("k", k -> "v2")).isEqualTo("v2");
  }
}

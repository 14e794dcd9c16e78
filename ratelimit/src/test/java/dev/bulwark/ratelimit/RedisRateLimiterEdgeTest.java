package dev.bulwark.ratelimit;

import static org.assertj.core.api.Assertions.assertThat;

import dev.bulwark.pool.Pools;
import dev.bulwark.testing.Await;
import dev.bulwark.testing.Closer;
import dev.bulwark.testing.FaultProxy;
import dev.bulwark.testing.RedisClusterExtension;
import dev.bulwark.testing.RedisExtension;
import dev.bulwark.testing.TestRedisCluster;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.cluster.RedisClusterClient;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The Redis limiter's edges against real servers: batches given back, decisions given up that take
 * no permit later, keys with braces on a cluster, remembered denials of several permits.
 */
@ExtendWith({RedisExtension.class, RedisClusterExtension.class})
class RedisRateLimiterEdgeTest {
  private static final Duration TIMEOUT = Duration.ofSeconds(2);
  private static final long T0 = 1_800_000_000_000_000L;

  private final Closer opened = new Closer();
  private final AtomicLong micros = new AtomicLong(T0);
  private final AtomicLong nanos = new AtomicLong();
  private String name;

  @BeforeEach
  void setUp(TestInfo info) {
    this.name = Closer.name("rv-", info);
  }

  @AfterEach
  void tearDown() throws Exception {
    opened.close();
  }

  private RedisRateLimiter limiter(
      RedisURI uri, String limits, UnaryOperator<RedisLimiterBuilder> more) {
    RedisClient client =
        opened.client(Pools.redis(uri).meterRegistry(new SimpleMeterRegistry()).build());
    RedisLimiterBuilder builder =
        RateLimiter.redis(client).name(name).limits(limits).commandTimeout(TIMEOUT);
    return opened.add(more.apply(builder).build());
  }

  /**
   * A batch that outlives its maxHold gives what it holds back to Redis: a key that sees one
   * request per maxHold loses nothing to batches.
   */
  @Test
  void aBatchPastItsMaxHoldGivesItsPermitsBack(RedisURI uri) throws Exception {
    RedisRateLimiter limiter =
        limiter(
            uri,
            "100/minute",
            b ->
                b.serverMicros(micros::get)
                    .nanoTime(nanos::get)
                    .deniedCacheSize(0)
                    .batch(10, Duration.ofMillis(1)));
    long admitted = 0;
    for (int i = 0; i < 20; i++) {
      if (limiter.tryAcquire("k").allowed()) {
        admitted++;
      }
      nanos.addAndGet(Duration.ofMillis(2).toNanos());
    }
    assertThat(admitted).isEqualTo(20);
    Await.until(
        Duration.ofSeconds(10), "19 batches given back", () -> limiter.returned() == 19 * 9);
    assertThat(limiter.lost()).isZero();
    // Nothing was lost: the remaining 80 of the minute are there, less the live batch's 9.
    assertThat(limiter.tryAcquire("other").allowed()).isTrue();
    nanos.addAndGet(Duration.ofMillis(2).toNanos());
    Decision rest = limiter.tryAcquire("k", 80);
    assertThat(rest.outcome()).as("%s", rest).isEqualTo(Outcome.ALLOWED);
  }

  /**
   * A request that the batch cannot serve takes a new batch, and the permits left in the old one go
   * back to Redis.
   */
  @Test
  void aRequestLargerThanWhatIsLeftGivesTheRestOfTheBatchBack(RedisURI uri) throws Exception {
    RedisRateLimiter limiter =
        limiter(
            uri,
            "100/minute",
            b ->
                b.serverMicros(micros::get)
                    .nanoTime(nanos::get)
                    .deniedCacheSize(0)
                    .batch(10, Duration.ofMinutes(1)));
    long admitted = 0;
    for (int i = 0; i < 15; i++) {
      if (limiter.tryAcquire("k", 6).allowed()) {
        admitted += 6;
      }
    }
    // 90 permits asked of 100, with no refill: each batch of 10 serves one request of 6, and its 4
    // go back before the next batch is taken, so every request but the last few is admitted.
    Await.until(Duration.ofSeconds(10), "every leftover given back", () -> limiter.returned() >= 4);
    assertThat(admitted).as("admitted, with %d given back", limiter.returned()).isEqualTo(90);
    assertThat(limiter.lost()).isZero();
  }

  /**
   * A decision that timed out while the connection was down followed the failure policy; a client
   * that buffers commands while disconnected (Lettuce's default) must not send its script once it
   * reconnects, or permits would be taken for requests that were already refused.
   */
  @Test
  void aDecisionThatTimedOutWhileDisconnectedTakesNoPermitsOnceRedisIsBack(RedisURI uri)
      throws Exception {
    try (FaultProxy proxy = FaultProxy.to(uri.getHost(), uri.getPort())) {
      RedisURI proxied =
          RedisURI.builder(uri).withHost(proxy.host()).withPort(proxy.port()).build();
      RedisClient plain = opened.client(RedisClient.create(proxied));
      RedisRateLimiter limiter =
          opened.add(
              RateLimiter.redis(plain)
                  .name(name)
                  .limits("5/minute")
                  .onRedisFailure(FailurePolicy.FAIL_CLOSED)
                  .commandTimeout(Duration.ofMillis(50))
                  .deniedCacheSize(0)
                  .serverMicros(micros::get)
                  .build());
      assertThat(limiter.tryAcquire("warm").outcome()).isEqualTo(Outcome.ALLOWED);

      proxy.refuseNewConnections(true);
      proxy.resetConnections();
      for (int i = 0; i < 5; i++) {
        assertThat(limiter.tryAcquire("k").outcome()).isEqualTo(Outcome.FAILED_CLOSED);
      }
      proxy.refuseNewConnections(false);
      AtomicInteger probe = new AtomicInteger();
      // Commands on one connection run in order: once a later one is answered, the earlier ones
      // have run or never will.
      Await.until(
          Duration.ofSeconds(30),
          "decision by Redis after the reconnection",
          () -> limiter.tryAcquire("probe" + probe.incrementAndGet()).outcome() == Outcome.ALLOWED);

      // None of the five was admitted: the key still holds its 5 permits.
      Decision after = limiter.tryAcquire("k", 5);
      assertThat(after.outcome()).as("after the outage: %s", after).isEqualTo(Outcome.ALLOWED);
    }
  }

  /**
   * A key is any string of 1 to 512 characters. One that starts with '}' would make the hash tag
   * {@code {<key>}} empty, and Redis Cluster would hash each whole key name into its own slot: a
   * key that holds a brace is tagged by its digest instead.
   */
  @Test
  void aKeyThatStartsWithAClosingBraceIsDecidedOnACluster(TestRedisCluster cluster) {
    List<RedisURI> seeds = cluster.seedUris();
    RedisClusterClient client =
        opened.client(
            Pools.redisCluster(
                    seeds.get(0), seeds.subList(1, seeds.size()).toArray(RedisURI[]::new))
                .meterRegistry(new SimpleMeterRegistry())
                .build());
    RedisRateLimiter limiter =
        opened.add(
            RateLimiter.redis(client)
                .name(name)
                .limits("10/second;100/minute")
                .onRedisFailure(FailurePolicy.FAIL_CLOSED)
                .commandTimeout(TIMEOUT)
                .build());
    assertThat(limiter.tryAcquire("plain").outcome()).isEqualTo(Outcome.ALLOWED);
    for (String key : List.of("}x", "{", "a}b", "{a}", "}")) {
      List<String> keys = limiter.redisKeys(key);
      assertThat(TestRedisCluster.slot(keys.get(1))).isEqualTo(TestRedisCluster.slot(keys.get(0)));
      assertThat(limiter.tryAcquire(key).outcome()).as(key).isEqualTo(Outcome.ALLOWED);
    }
    assertThat(limiter.redisKeys("a}b")).isNotEqualTo(limiter.redisKeys("a}c"));
    assertThat(limiter.snapshot().redisErrors()).isZero();
  }

  /**
   * A remembered denial answers every request of the key until one permit fits, each with its own
   * retry-after: for a request of several permits, the time after which it may be admitted.
   */
  @Test
  void aRememberedDenialAnswersTheRetryAfterOfTheRequestAsked(RedisURI uri) {
    RedisRateLimiter limiter =
        limiter(uri, "10/second", b -> b.serverMicros(micros::get).nanoTime(nanos::get));
    assertThat(limiter.tryAcquire("k", 10).allowed()).isTrue();
    Decision first = limiter.tryAcquire("k", 5);
    assertThat(first.outcome()).isEqualTo(Outcome.DENIED);
    assertThat(first.retryAfter()).isEqualTo(Duration.ofMillis(500));
    Decision cached = limiter.tryAcquire("k", 5);
    assertThat(limiter.snapshot().deniedCacheHits()).isEqualTo(1);
    assertThat(cached.retryAfter()).isEqualTo(Duration.ofMillis(500));
    nanos.addAndGet(Duration.ofMillis(40).toNanos());
    Decision later = limiter.tryAcquire("k", 5);
    assertThat(limiter.snapshot().deniedCacheHits()).isEqualTo(2);
    assertThat(later.retryAfter()).isEqualTo(Duration.ofMillis(460));
    assertThat(later.deniedBy()).isEqualTo(Limit.perSecond(10));
    assertThat(limiter.tryAcquire("k").retryAfter()).isEqualTo(Duration.ofMillis(60));
  }
}

package dev.bulwark.ratelimit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.bulwark.pool.Pools;
import dev.bulwark.testing.Closer;
import dev.bulwark.testing.RedisExtension;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.extension.ExtendWith;

/** The Redis limiter's script against a real server: exactness, atomicity, refill, keys. */
@ExtendWith(RedisExtension.class)
class RedisRateLimiterTest {
  /** Above a call's time on a loaded machine: only the tests of failures see a timeout. */
  private static final Duration TIMEOUT = Duration.ofSeconds(2);

  private static final long T0 = 1_800_000_000_000_000L;

  private final Closer opened = new Closer();
  private final AtomicLong micros = new AtomicLong(T0);
  private RedisURI uri;
  private String name;
  private RedisCommands<String, String> redis;

  @BeforeEach
  void setUp(RedisURI uri, TestInfo info) {
    this.uri = uri;
    this.name = Closer.name("r-", info);
    RedisClient admin = client();
    StatefulRedisConnection<String, String> connection = opened.add(admin.connect());
    this.redis = connection.sync();
  }

  @AfterEach
  void tearDown() throws Exception {
    opened.close();
  }

  private RedisClient client() {
    return opened.client(Pools.redis(uri).meterRegistry(new SimpleMeterRegistry()).build());
  }

  private RedisRateLimiter limiter(String limits, UnaryOperator<RedisLimiterBuilder> more) {
    RedisLimiterBuilder builder =
        RateLimiter.redis(client()).name(name).limits(limits).commandTimeout(TIMEOUT);
    return opened.add(more.apply(builder).build());
  }

  /** A limiter on the test's clock instead of the server's. */
  private RedisRateLimiter frozen(String limits) {
    return limiter(limits, b -> b.serverMicros(micros::get).deniedCacheSize(0));
  }

  private long evalshaCalls() {
    String stats = redis.info("commandstats");
    for (String line : stats.split("\r?\n")) {
      if (line.startsWith("cmdstat_evalsha:")) {
        return Long.parseLong(line.substring(line.indexOf("calls=") + 6, line.indexOf(',')));
      }
    }
    return 0;
  }

  @Test
  void fourInstancesOfSixteenThreadsOnOneKeyAdmitExactlyTheLimit() throws Exception {
    List<RedisRateLimiter> instances = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      instances.add(frozen("1000/minute"));
    }
    ExecutorService pool = Executors.newFixedThreadPool(64);
    try {
      CountDownLatch start = new CountDownLatch(1);
      List<Future<long[]>> results = new ArrayList<>();
      for (int t = 0; t < 64; t++) {
        RedisRateLimiter limiter = instances.get(t % 4);
        results.add(
            pool.submit(
                () -> {
                  start.await();
                  long admitted = 0;
                  long other = 0;
                  for (int i = 0; i < 40; i++) {
                    Decision d = limiter.tryAcquire("hot");
                    if (d.outcome() == Outcome.ALLOWED) {
                      admitted++;
                    } else if (d.outcome() != Outcome.DENIED) {
                      other++;
                    }
                  }
                  return new long[] {admitted, other};
                }));
      }
      start.countDown();
      long admitted = 0;
      long other = 0;
      for (Future<long[]> result : results) {
        long[] counts = result.get(60, TimeUnit.SECONDS);
        admitted += counts[0];
        other += counts[1];
      }
      assertThat(other).isZero();
      assertThat(admitted).isEqualTo(1000);
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void onTheServersClockTheAdmittedCountIsTheLimitPlusWhatRefilled() throws Exception {
    List<RedisRateLimiter> instances = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      instances.add(limiter("1000/minute", b -> b.deniedCacheSize(0)));
    }
    long before = serverMicros();
    ExecutorService pool = Executors.newFixedThreadPool(64);
    long admitted = 0;
    try {
      List<Future<Long>> results = new ArrayList<>();
      for (int t = 0; t < 64; t++) {
        RedisRateLimiter limiter = instances.get(t % 4);
        results.add(
            pool.submit(
                () -> {
                  long count = 0;
                  for (int i = 0; i < 40; i++) {
                    if (limiter.tryAcquire("hot").allowed()) {
                      count++;
                    }
                  }
                  return count;
                }));
      }
      for (Future<Long> result : results) {
        admitted += result.get(60, TimeUnit.SECONDS);
      }
    } finally {
      pool.shutdownNow();
    }
    long elapsed = serverMicros() - before;
    // One permit refills every 60 ms: what the run's length let in, and not one more.
    assertThat(admitted).isBetween(1000L, 1000L + elapsed / 60_000 + 1);
  }

  private long serverMicros() {
    List<String> time = redis.time();
    return Long.parseLong(time.get(0)) * 1_000_000 + Long.parseLong(time.get(1));
  }

  @Test
  void aDecisionIsOneEvalsha() {
    RedisRateLimiter limiter = limiter("10/second;1000/hour", b -> b.deniedCacheSize(0));
    limiter.tryAcquire("warm"); // the first may load the script
    long before = evalshaCalls();
    for (int i = 0; i < 50; i++) {
      limiter.tryAcquire("k" + i);
    }
    for (int i = 0; i < 20; i++) {
      limiter.tryAcquire("same");
    }
    assertThat(evalshaCalls() - before).isEqualTo(70);
  }

  @Test
  void bothLimitsAreTakenTogetherOrNotAtAll() {
    RedisRateLimiter limiter = frozen("10/second;100/minute");
    long admitted = 0;
    for (int second = 0; second < 20; second++) {
      for (int i = 0; i < 15; i++) {
        Decision d = limiter.tryAcquire("k");
        if (d.allowed()) {
          admitted++;
        } else {
          assertThat(d.deniedBy()).isNotNull();
        }
      }
      micros.addAndGet(1_000_000);
    }
    // 20 s of 10/second would be 200; the minute holds 100, plus what refilled by the last burst,
    // 19 s at one permit per 600 ms: 31.
    assertThat(admitted).isEqualTo(100 + 31);
  }

  @Test
  void aDenialNamesTheLimitThatLackedAndWhenToRetry() {
    RedisRateLimiter limiter = frozen("10/second;100/minute");
    for (int i = 0; i < 10; i++) {
      assertThat(limiter.tryAcquire("k").outcome()).isEqualTo(Outcome.ALLOWED);
    }
    Decision denied = limiter.tryAcquire("k");
    assertThat(denied.outcome()).isEqualTo(Outcome.DENIED);
    assertThat(denied.deniedBy()).isEqualTo(Limit.perSecond(10));
    assertThat(denied.retryAfter()).isEqualTo(Duration.ofMillis(100));
    assertThat(denied.retryAfterSeconds()).isEqualTo(1);
    assertThat(denied.quotas())
        .containsExactly(
            new Quota(Limit.perSecond(10), 0, Duration.ofSeconds(1)),
            new Quota(Limit.perMinute(100), 90, Duration.ofSeconds(6)));

    micros.addAndGet(99_999);
    assertThat(limiter.tryAcquire("k").allowed()).isFalse();
    micros.addAndGet(1);
    Decision again = limiter.tryAcquire("k");
    assertThat(again.outcome()).isEqualTo(Outcome.ALLOWED);
    assertThat(again.quotas().get(0).remaining()).isZero();
    assertThat(again.quotas().get(1).remaining()).isEqualTo(89);
  }

  @Test
  void aBucketRefillsWithTimeAndNeverPastItsBurst() {
    RedisRateLimiter limiter = frozen("5/second");
    for (int i = 0; i < 5; i++) {
      assertThat(limiter.tryAcquire("k").allowed()).isTrue();
    }
    assertThat(limiter.tryAcquire("k").allowed()).isFalse();
    micros.addAndGet(400_000); // two permits back
    assertThat(limiter.tryAcquire("k", 2).allowed()).isTrue();
    assertThat(limiter.tryAcquire("k").allowed()).isFalse();
    micros.addAndGet(3_600_000_000L); // an hour idle: back to 5, not more
    assertThat(limiter.tryAcquire("k", 5).quotas().get(0).remaining()).isZero();
    assertThat(limiter.tryAcquire("k").allowed()).isFalse();
  }

  @Test
  void everyKeyExpiresWhenItsBucketIsFullAgain() {
    RedisRateLimiter limiter = limiter("10/second;1000/hour", b -> b);
    limiter.tryAcquire("ttl", 4);
    List<String> keys = limiter.redisKeys("ttl");
    assertThat(keys)
        .containsExactly(
            "bulwark:rl:" + name + ":{ttl}:10/1000ms/10",
            "bulwark:rl:" + name + ":{ttl}:1000/3600000ms/1000");
    // 4 of 10/second refill in 400 ms; 4 of 1000/hour in 14.4 s.
    assertThat(redis.pttl(keys.get(0))).isBetween(1L, 401L);
    assertThat(redis.pttl(keys.get(1))).isBetween(13_000L, 14_401L);
  }

  @Test
  void aScriptTheServerForgotIsSentAgain() {
    RedisRateLimiter limiter = limiter("10/second", b -> b);
    assertThat(limiter.tryAcquire("k").allowed()).isTrue();
    redis.scriptFlush();
    assertThat(limiter.tryAcquire("k").outcome()).isEqualTo(Outcome.ALLOWED);
    assertThat(limiter.snapshot().redisErrors()).isZero();
    assertThat(redis.scriptExists(RedisScript.ACQUIRE.sha())).containsExactly(true);
  }

  @Test
  void aBillionPerDayIsExact() {
    RedisRateLimiter limiter = frozen("1000000000/day");
    assertThat(limiter.tryAcquire("k", 1_000_000_000L).allowed()).isTrue();
    assertThat(limiter.tryAcquire("k").allowed()).isFalse();
    micros.addAndGet(86); // one permit is 86.4 us: not yet
    assertThat(limiter.tryAcquire("k").allowed()).isFalse();
    micros.addAndGet(1);
    assertThat(limiter.tryAcquire("k").allowed()).isTrue();
    micros.addAndGet(86_400_000_000L);
    Decision full = limiter.tryAcquire("k");
    assertThat(full.quotas().get(0).remaining()).isEqualTo(999_999_999L);
  }

  @Test
  void aYearsWindowAndAPermitCountEqualToTheLimit() {
    RedisRateLimiter limiter = frozen("1000/year");
    assertThat(limiter.tryAcquire("k", 1000).allowed()).isTrue();
    Decision denied = limiter.tryAcquire("k");
    assertThat(denied.allowed()).isFalse();
    // 360 days / 1000 = 31,104 s per permit.
    assertThat(denied.retryAfter()).isEqualTo(Duration.ofSeconds(31_104));
    assertThat(denied.quotas().get(0).reset()).isEqualTo(Duration.ofDays(360));
    assertThatThrownBy(() -> limiter.tryAcquire("k", 1001))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage(
            "permits must be between 1 and 1000 (the smallest burst of the limits), but was 1001");
  }

  @Test
  void aLimitWhoseArithmeticWouldPassTwoToThe53IsRefused() {
    assertThatThrownBy(
            () ->
                RateLimiter.redis(client())
                    .name(name)
                    .limits(List.of(Limit.of(999_999_937, Duration.ofDays(1))))
                    .build())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage(
            "limits must be exact in the Redis script's arithmetic (integers below 2^53), but"
                + " 999999937/day reaches 172799989114599999937 there: a period of 86400000000"
                + " microseconds per 999999937 permits does not reduce below"
                + " 86400000000/999999937; a rounder count (such as 1000000000/day) or a smaller"
                + " burst fits");
  }

  @Test
  void aDeniedKeyIsAnsweredWithoutRedisUntilItsRetryAfter() {
    AtomicLong nanos = new AtomicLong();
    RedisRateLimiter limiter =
        limiter("2/minute", b -> b.serverMicros(micros::get).nanoTime(nanos::get));
    limiter.tryAcquire("k");
    limiter.tryAcquire("k");
    Decision first = limiter.tryAcquire("k");
    assertThat(first.outcome()).isEqualTo(Outcome.DENIED);
    assertThat(first.retryAfter()).isEqualTo(Duration.ofSeconds(30));
    long calls = evalshaCalls();
    nanos.addAndGet(Duration.ofSeconds(10).toNanos());
    for (int i = 0; i < 100; i++) {
      Decision cached = limiter.tryAcquire("k");
      assertThat(cached.outcome()).isEqualTo(Outcome.DENIED);
      assertThat(cached.retryAfter()).isEqualTo(Duration.ofSeconds(20));
      assertThat(cached.deniedBy()).isEqualTo(Limit.perMinute(2));
    }
    assertThat(evalshaCalls()).isEqualTo(calls);
    assertThat(limiter.snapshot().deniedCacheHits()).isEqualTo(100);
    nanos.addAndGet(Duration.ofSeconds(20).toNanos());
    micros.addAndGet(30_000_000);
    assertThat(limiter.tryAcquire("k").outcome()).isEqualTo(Outcome.ALLOWED);
    assertThat(evalshaCalls()).isEqualTo(calls + 1);
  }

  @Test
  void shadowModeCountsButNeverDenies() {
    RedisRateLimiter limiter = limiter("3/minute", b -> b.serverMicros(micros::get).shadow(true));
    for (int i = 0; i < 3; i++) {
      assertThat(limiter.tryAcquire("k").outcome()).isEqualTo(Outcome.ALLOWED);
    }
    for (int i = 0; i < 5; i++) {
      Decision d = limiter.tryAcquire("k");
      assertThat(d.allowed()).isTrue();
      assertThat(d.outcome()).isEqualTo(Outcome.SHADOW_DENIED);
      assertThat(d.deniedBy()).isEqualTo(Limit.perMinute(3));
    }
    RateLimiterSnapshot snapshot = limiter.snapshot();
    assertThat(snapshot.decisions(Outcome.ALLOWED)).isEqualTo(3);
    assertThat(snapshot.decisions(Outcome.SHADOW_DENIED)).isEqualTo(5);
  }

  @Test
  void theAsyncVariantDecidesTheSame() throws Exception {
    RedisRateLimiter limiter = frozen("3/minute");
    List<Decision> decisions = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      decisions.add(limiter.tryAcquireAsync("k").toCompletableFuture().get(5, TimeUnit.SECONDS));
    }
    assertThat(decisions)
        .extracting(Decision::outcome)
        .containsExactly(
            Outcome.ALLOWED, Outcome.ALLOWED, Outcome.ALLOWED, Outcome.DENIED, Outcome.DENIED);
  }

  @Test
  void batchesNeverAdmitMoreThanTheLimitAndHoldAtMostInstancesTimesBatch() throws Exception {
    List<RedisRateLimiter> instances = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      instances.add(
          limiter(
              "1000/minute",
              b ->
                  b.serverMicros(micros::get).deniedCacheSize(0).batch(10, Duration.ofMinutes(1))));
    }
    long callsBefore = evalshaCalls();
    // 800 decisions, fewer than the limit: all admitted, most without a round trip.
    assertThat(hammer(instances, 50)).isEqualTo(800);
    assertThat(evalshaCalls() - callsBefore).isLessThan(800 / 2);
    // Then past the limit.
    long admitted = 800 + hammer(instances, 50);
    long leased = 0;
    for (RedisRateLimiter limiter : instances) {
      leased += limiter.leased();
    }
    // Every permit was taken from Redis: 1000 at most; what is held unspent is at most 4 x 10.
    assertThat(leased).isLessThanOrEqualTo(1000);
    assertThat(admitted).isBetween(1000L - 4 * 10, 1000L);
  }

  /** 16 threads, 4 on each instance, each asking {@code each} times for one permit of one key. */
  private static long hammer(List<RedisRateLimiter> instances, int each) throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(16);
    long admitted = 0;
    try {
      List<Future<Long>> results = new ArrayList<>();
      for (int t = 0; t < 16; t++) {
        RedisRateLimiter limiter = instances.get(t % 4);
        results.add(
            pool.submit(
                () -> {
                  long count = 0;
                  for (int i = 0; i < each; i++) {
                    if (limiter.tryAcquire("hot").allowed()) {
                      count++;
                    }
                  }
                  return count;
                }));
      }
      for (Future<Long> result : results) {
        admitted += result.get(60, TimeUnit.SECONDS);
      }
    } finally {
      pool.shutdownNow();
    }
    return admitted;
  }
}

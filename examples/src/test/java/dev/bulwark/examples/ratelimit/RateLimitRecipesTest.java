package dev.bulwark.examples.ratelimit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.bulwark.pool.Pools;
import dev.bulwark.ratelimit.Decision;
import dev.bulwark.ratelimit.FailurePolicy;
import dev.bulwark.ratelimit.Limit;
import dev.bulwark.ratelimit.Outcome;
import dev.bulwark.ratelimit.RateLimiter;
import dev.bulwark.ratelimit.RateLimiterSnapshot;
import dev.bulwark.ratelimit.RedisRateLimiter;
import dev.bulwark.testing.RedisExtension;
import dev.bulwark.testing.TestRedis;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The recipes of {@code docs/ratelimit.md}, run as written against the embedded Redis. */
@ExtendWith(RedisExtension.class)
class RateLimitRecipesTest {
  private static final Logger log = LoggerFactory.getLogger(RateLimitRecipesTest.class);

  private final MeterRegistry registry = new SimpleMeterRegistry();
  private final List<AutoCloseable> closing = new ArrayList<>();
  private RedisURI uri;
  private RedisClient redisClient;

  /** What a service throws to answer 429. */
  static final class TooManyRequests extends RuntimeException {
    private static final long serialVersionUID = 1L;
    final long retryAfterSeconds;

    TooManyRequests(long retryAfterSeconds) {
      super("retry after " + retryAfterSeconds + " s");
      this.retryAfterSeconds = retryAfterSeconds;
    }
  }

  @BeforeEach
  void connect(RedisURI uri) {
    this.uri = uri;
    this.redisClient = client();
  }

  private RedisClient client() {
    RedisClient client = Pools.redis(uri).build();
    closing.add(() -> client.shutdown(Duration.ZERO, Duration.ofSeconds(2)));
    return client;
  }

  @AfterEach
  void close() throws Exception {
    for (int i = closing.size() - 1; i >= 0; i--) {
      closing.get(i).close();
    }
  }

  private <T extends AutoCloseable> T closed(T resource) {
    closing.add(resource);
    return resource;
  }

  @Test
  void theTwentyFirstExportOfAMinuteIsRefused() {
    long userId = 7;
    // snippet:begin ratelimit-local
    RateLimiter exports =
        RateLimiter.local().name("exports").limits("20/minute").meterRegistry(registry).build();

    Decision decision = exports.tryAcquire("user:" + userId);
    if (!decision.allowed()) {
      throw new TooManyRequests(decision.retryAfterSeconds());
    }
    // snippet:end
    closed(exports);
    int served = 1;
    long retry = 0;
    for (int i = 0; i < 20; i++) {
      Decision next = exports.tryAcquire("user:" + userId);
      if (next.allowed()) {
        served++;
      } else {
        retry = next.retryAfterSeconds();
      }
    }
    assertThat(served).isEqualTo(20);
    assertThat(retry).isEqualTo(3); // one permit refills every 3 s
    assertThat(exports.tryAcquire("user:8").allowed()).isTrue();
  }

  @Test
  void aSharedLimiterTakesBothLimitsInOneCall() {
    // snippet:begin ratelimit-redis
    RedisRateLimiter perTenant =
        RateLimiter.redis(redisClient)
            .name("api")
            .limits("10/second;1000/hour")
            .onRedisFailure(FailurePolicy.LOCAL_FALLBACK)
            .expectedInstances(4)
            .meterRegistry(registry)
            .build();

    Decision decision = perTenant.tryAcquire("tenant:42");
    // snippet:end
    closed(perTenant);
    assertThat(decision.outcome()).isEqualTo(Outcome.ALLOWED);
    assertThat(decision.quotas()).hasSize(2);
    assertThat(decision.quotas().get(0).remaining()).isEqualTo(9);
    assertThat(decision.quotas().get(1).remaining()).isEqualTo(999);

    // A second instance, on its own client, shares the buckets.
    RedisRateLimiter other =
        closed(RateLimiter.redis(client()).name("api").limits("10/second;1000/hour").build());
    int admitted = 1;
    for (int i = 0; i < 20; i++) {
      if (other.tryAcquire("tenant:42").allowed()) {
        admitted++;
      }
    }
    assertThat(admitted).isBetween(10, 12); // 10 at once, and what refilled meanwhile

    // snippet:begin ratelimit-snapshot
    RateLimiterSnapshot now = perTenant.snapshot();
    log.info(
        "rate limiter {}: {} denied, {} decided without Redis, {} Redis errors",
        now.name(),
        now.decisions(Outcome.DENIED),
        now.fallbacks(),
        now.redisErrors());
    // snippet:end
    assertThat(now.redisErrors()).isZero();
    assertThat(now.decisions(Outcome.ALLOWED)).isEqualTo(1);
  }

  @Test
  void loginsFailClosedWhenRedisIsAway(TestRedis redis) {
    String username = "Alice";
    // snippet:begin ratelimit-login
    RedisRateLimiter logins =
        RateLimiter.redis(redisClient)
            .name("login")
            .limits("5/minute;20/hour")
            .onRedisFailure(FailurePolicy.FAIL_CLOSED)
            .commandTimeout(Duration.ofMillis(50))
            .build();

    Decision attempt = logins.tryAcquire("login:" + username.toLowerCase(Locale.ROOT));
    // snippet:end
    closed(logins);
    assertThat(attempt.allowed()).isTrue();
    for (int i = 0; i < 4; i++) {
      assertThat(logins.tryAcquire("login:alice").allowed()).isTrue();
    }
    Decision sixth = logins.tryAcquire("login:alice");
    assertThat(sixth.allowed()).isFalse();
    assertThat(sixth.deniedBy()).isEqualTo(Limit.perMinute(5));
    assertThat(sixth.retryAfterSeconds()).isEqualTo(12);

    assertThat(redis.isEmbedded()).isTrue();
    redis.stop();
    try {
      Decision during = logins.tryAcquire("login:bob");
      assertThat(during.outcome()).isEqualTo(Outcome.FAILED_CLOSED);
      assertThat(during.retryAfterSeconds()).isEqualTo(1);
    } finally {
      redis.start();
    }
  }

  @Test
  void aHotKeyIsDecidedInBatches() {
    // snippet:begin ratelimit-batch
    RedisRateLimiter search =
        RateLimiter.redis(redisClient)
            .name("search")
            .limits("200000/second")
            .batch(100, Duration.ofMillis(200))
            .expectedInstances(8)
            .build();
    // snippet:end
    closed(search);
    for (int i = 0; i < 1_000; i++) {
      assertThat(search.tryAcquire("hot").allowed()).isTrue();
    }
    assertThatThrownBy(() -> search.tryAcquire("hot", 200_001))
        .isInstanceOf(IllegalArgumentException.class);
  }
}

package dev.bulwark.health;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.bulwark.pool.Pools;
import dev.bulwark.ratelimit.FailurePolicy;
import dev.bulwark.ratelimit.Outcome;
import dev.bulwark.ratelimit.RateLimiter;
import dev.bulwark.ratelimit.RateLimiterSnapshot;
import dev.bulwark.ratelimit.RedisRateLimiter;
import dev.bulwark.testing.Await;
import dev.bulwark.testing.Closer;
import dev.bulwark.testing.RedisExtension;
import dev.bulwark.testing.TestRedis;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.extension.ExtendWith;

/** The rate-limiter check on a local limiter and on a real Redis limiter while Redis stops. */
@ExtendWith(RedisExtension.class)
class HealthChecksRateLimiterTest {
  private static final Duration WAIT = Duration.ofSeconds(20);

  private final Closer closer = new Closer();

  @AfterEach
  void tearDown() throws Exception {
    closer.close();
  }

  @Test
  void aLocalLimiterPasses() throws Exception {
    RateLimiter limiter = closer.add(RateLimiter.local().name("local").limits("2/second").build());
    HealthCheck check = HealthChecks.rateLimiter(limiter);
    assertThat(check).hasToString("HealthChecks.rateLimiter");
    assertThat(((BuiltInCheck) check).isExternal()).isFalse();
    limiter.tryAcquire("k");
    limiter.tryAcquire("k");
    limiter.tryAcquire("k");
    HealthResult result = check.check();
    assertThat(result.status()).isEqualTo(Status.PASS);
    assertThat(result.observedValue()).isEqualTo(0L);
    assertThat(result.observedUnit()).isEqualTo("decisions");
    assertThat(result.componentType()).isEqualTo("component");
    assertThat(result.details())
        .containsExactly(
            Map.entry("distributed", false),
            Map.entry("decisions.allowed", 2L),
            Map.entry("decisions.denied", 1L),
            Map.entry("decisions.shadow_denied", 0L),
            Map.entry("decisions.failed_open", 0L),
            Map.entry("decisions.failed_closed", 0L),
            Map.entry("decisions.fallback_allowed", 0L),
            Map.entry("decisions.fallback_denied", 0L),
            Map.entry("fallbacks", 0L),
            Map.entry("redisErrors", 0L),
            Map.entry("keys", 1L),
            Map.entry("maxKeys", 100_000L));
  }

  @Test
  void warnsWhileDecisionsGoWithoutRedis(TestRedis redis, RedisURI uri, TestInfo info)
      throws Exception {
    assumeTrue(redis.isEmbedded(), "needs a server this JVM owns");
    RedisClient client =
        closer.client(
            Pools.redis(uri)
                .meterRegistry(new SimpleMeterRegistry())
                .maxReconnectDelay(Duration.ofMillis(100))
                .build());
    RedisRateLimiter limiter =
        closer.add(
            RateLimiter.redis(client)
                .name(Closer.name("h-", info))
                .limits("1000/second")
                .commandTimeout(Duration.ofSeconds(1))
                .onRedisFailure(FailurePolicy.LOCAL_FALLBACK)
                .build());
    HealthCheck check = HealthChecks.rateLimiter(limiter);
    try {
      assertThat(limiter.tryAcquire("k").outcome()).isEqualTo(Outcome.ALLOWED);
      HealthResult up = check.check();
      assertThat(up.status()).isEqualTo(Status.PASS);
      assertThat(up.details()).containsEntry("distributed", true);

      redis.stop();
      assertThat(limiter.tryAcquire("k").outcome()).isEqualTo(Outcome.FALLBACK_ALLOWED);
      HealthResult down = check.check();
      assertThat(down.status()).isEqualTo(Status.WARN);
      assertThat(down.output())
          .isEqualTo(
              "rate limiter "
                  + limiter.name()
                  + " made 1 decision without Redis (fallback_allowed 1) and counted 1 Redis"
                  + " error since the previous check");
      assertThat(down.observedValue()).isEqualTo(1L);
      assertThat(down.details())
          .containsEntry("decisions.fallback_allowed", 1L)
          .containsEntry("fallbacks", 1L)
          .containsEntry("redisErrors", 1L);

      // A window without a decision has nothing to warn about.
      assertThat(check.check().status()).isEqualTo(Status.PASS);
    } finally {
      redis.start();
    }
    Await.until(
        WAIT, "a decision by Redis", () -> limiter.tryAcquire("k").outcome() == Outcome.ALLOWED);
    check.check(); // the window of the reconnect
    assertThat(limiter.tryAcquire("k").outcome()).isEqualTo(Outcome.ALLOWED);
    HealthResult again = check.check();
    assertThat(again.status()).isEqualTo(Status.PASS);
    assertThat(again.output()).isNull();
  }

  @Test
  void theWindowStartsWhenTheCheckIsMade() throws Exception {
    RateLimiterSnapshot before =
        new RateLimiterSnapshot(
            "api",
            true,
            List.of(),
            Map.of(Outcome.FAILED_OPEN, 5L, Outcome.FAILED_CLOSED, 1L),
            0,
            10,
            6,
            0);
    RateLimiterSnapshot now =
        new RateLimiterSnapshot(
            "api",
            true,
            List.of(),
            Map.of(Outcome.FAILED_OPEN, 8L, Outcome.FAILED_CLOSED, 3L, Outcome.ALLOWED, 4L),
            0,
            10,
            12,
            0);
    HealthResult result = RateLimiterCheck.rate(before, now);
    assertThat(result.output())
        .isEqualTo(
            "rate limiter api made 5 decisions without Redis (failed_open 3, failed_closed 2) and"
                + " counted 6 Redis errors since the previous check");
    assertThat(RateLimiterCheck.rate(now, now).status()).isEqualTo(Status.PASS);

    HealthResult errorsOnly =
        RateLimiterCheck.rate(
            new RateLimiterSnapshot("api", true, List.of(), Map.of(), 0, 10, 0, 0),
            new RateLimiterSnapshot("api", true, List.of(), Map.of(), 0, 10, 2, 0));
    assertThat(errorsOnly.output())
        .isEqualTo(
            "rate limiter api made 0 decisions without Redis and counted 2 Redis errors since the"
                + " previous check");
  }

  @Test
  void argumentsAreValidated() {
    assertThatThrownBy(() -> HealthChecks.rateLimiter(null))
        .isInstanceOf(NullPointerException.class)
        .hasMessage("limiter");
  }
}

package dev.bulwark.ratelimit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.lettuce.core.RedisClient;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Every setting's bounds and messages, on both builders; no server is reached. */
class LimiterBuilderTest {
  private final RedisClient client = RedisClient.create();

  @AfterEach
  void tearDown() {
    client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
  }

  private RedisLimiterBuilder redis() {
    return RateLimiter.redis(client);
  }

  @Test
  void limitsAreRequiredAndCheckedOnBothBuilders() {
    assertThatThrownBy(() -> RateLimiter.local().build())
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("limits must be set, as a string such as \"100/minute\" or as Limit values");
    assertThatThrownBy(() -> redis().build())
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("limits must be set, as a string such as \"100/minute\" or as Limit values");
    assertThatThrownBy(() -> RateLimiter.local().limits(List.of()))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("limits must hold 1 to 8 limits, but held 0");
    List<Limit> nine = new java.util.ArrayList<>();
    for (int i = 1; i <= 9; i++) {
      nine.add(Limit.perSecond(i));
    }
    assertThatThrownBy(() -> redis().limits(nine))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("limits must hold 1 to 8 limits, but held 9");
    assertThatThrownBy(
            () -> RateLimiter.local().limits(List.of(Limit.perSecond(1), Limit.perSecond(1))))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("limits must not repeat a limit, but 1/second is given twice");
    assertThatThrownBy(() -> RateLimiter.local().limits("1/second").limits("2/second"))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("limits was already set to 1/second");
  }

  @Test
  void namesAndPrefixesAreIdentifiers() {
    assertThatThrownBy(() -> RateLimiter.local().name("a b"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("name must be 1 to 63 letters, digits, '.', '_' or '-', but was \"a b\"");
    assertThatThrownBy(() -> redis().prefix("{x}"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("prefix must be 1 to 63 letters, digits, '.', '_' or '-', but was \"{x}\"");
    assertThatThrownBy(() -> redis().name("a").name("b"))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("name was already set to a");
  }

  @Test
  void theRedisSettingsHaveBounds() {
    assertThatThrownBy(() -> redis().commandTimeout(Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("commandTimeout must be between 1 ms and 10000 ms, but was 0 ms");
    assertThatThrownBy(() -> redis().commandTimeout(Duration.ofSeconds(11)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith(
            "commandTimeout must be between 1 ms and 10000 ms, but was 11000 ms");
    assertThatThrownBy(() -> redis().expectedInstances(0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("expectedInstances must be between 1 and 10000, but was 0");
    assertThatThrownBy(() -> redis().deniedCacheSize(-1))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("deniedCacheSize must be between 0 and 10000000, but was -1");
    assertThatThrownBy(() -> redis().maxKeys(0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("maxKeys must be between 1 and 100000000, but was 0");
    assertThatThrownBy(() -> redis().batch(1, Duration.ofSeconds(1)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("batch must be between 2 and 1000000000000, but was 1");
    assertThatThrownBy(() -> redis().batch(10, Duration.ofMinutes(2)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("maxHold must be between 1 ms and 60000 ms, but was 120000 ms");
    assertThatThrownBy(() -> redis().limits("5/second").batch(10, Duration.ofSeconds(1)).build())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("batch must be between 2 and 5 (the smallest burst of the limits), but was 10");
    assertThatThrownBy(
            () ->
                redis()
                    .onRedisFailure(FailurePolicy.FAIL_OPEN)
                    .onRedisFailure(FailurePolicy.FAIL_CLOSED))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("onRedisFailure was already set to FAIL_OPEN");
  }

  @Test
  void theBuildersShowOnlyWhatWasSet() {
    assertThat(RateLimiter.local().limits("5/2 minutes").maxKeys(10))
        .hasToString("LocalLimiterBuilder[name=default, limits=5/2 minutes, maxKeys=10]");
    assertThat(
            redis()
                .name("login")
                .limits("5/minute")
                .onRedisFailure(FailurePolicy.FAIL_CLOSED)
                .commandTimeout(Duration.ofMillis(50))
                .batch(2, Duration.ofMillis(500)))
        .hasToString(
            "RedisLimiterBuilder[name=login, limits=5/minute, commandTimeout=50 ms,"
                + " onRedisFailure=FAIL_CLOSED, batch=2 per 500 ms]");
  }

  @Test
  void aLimitChecksItsValues() {
    assertThatThrownBy(() -> Limit.of(0, Duration.ofSeconds(1)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("permits must be between 1 and 1000000000000, but was 0");
    assertThatThrownBy(() -> Limit.of(1, Duration.ofMillis(1500).plusNanos(1)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("period must be a whole number of milliseconds, but was 1500000001 ns");
    assertThatThrownBy(() -> Limit.of(1, Duration.ofDays(3651)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("period must be between 1 ms and 315360000000 ms, but was");
    assertThatThrownBy(() -> Limit.perSecond(1).withBurst(0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("burst must be between 1 and 1000000000000, but was 0");
    assertThatThrownBy(() -> Limit.of(2_000_000_000L, Duration.ofSeconds(1)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage(
            "permits must be at most one per nanosecond of the period, 1000000000 for 1000 ms, but"
                + " was 2000000000");
    assertThatThrownBy(() -> Limit.parse("10/second;2000000000/second"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("permits must be at most one per nanosecond of the period");
    assertThat(Limit.perMinute(100)).hasToString("100/minute");
    assertThat(Limit.of(5, Duration.ofMinutes(2))).hasToString("5/2 minutes");
    assertThat(Limit.perSecond(10).withBurst(20)).hasToString("10/second burst 20");
    assertThat(Limit.of(3, Duration.ofMillis(1500))).hasToString("3/1500 milliseconds");
  }

  @Test
  void theFallbackSharesALimitAmongTheInstancesRoundingUp() {
    assertThat(RedisRateLimiter.share(Limit.perMinute(100), 4)).isEqualTo(Limit.perMinute(25));
    assertThat(RedisRateLimiter.share(Limit.perMinute(10), 4)).isEqualTo(Limit.perMinute(3));
    assertThat(RedisRateLimiter.share(Limit.perSecond(10).withBurst(30), 7))
        .isEqualTo(Limit.perSecond(2).withBurst(5));
  }

  @Test
  void aDecisionChecksItsValues() {
    assertThatThrownBy(() -> new Decision(Outcome.ALLOWED, 0, List.of(), Duration.ZERO, null))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("permits must be between 1 and 9223372036854775807, but was 0");
    assertThatThrownBy(() -> new Quota(Limit.perSecond(5), 6, Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("remaining must be between 0 and 5, but was 6");
    assertThatThrownBy(() -> new Decision(Outcome.DENIED, 1, List.of(), Duration.ofNanos(-1), null))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("retryAfter");
    Decision d = new Decision(Outcome.DENIED, 1, List.of(), Duration.ofMillis(1001), null);
    assertThat(d.retryAfterSeconds()).isEqualTo(2);
    assertThat(d.remaining()).isEqualTo(-1);
    assertThat(d.allowed()).isFalse();
    assertThat(d)
        .hasToString(
            "Decision[outcome=DENIED, permits=1, quotas=[], retryAfter=PT1.001S, deniedBy=null]");

    // The quotas are copied: a list changed afterwards does not change the decision.
    List<Quota> quotas = new java.util.ArrayList<>();
    quotas.add(new Quota(Limit.perSecond(5), 4, Duration.ofMillis(200)));
    Decision copied = new Decision(Outcome.ALLOWED, 1, quotas, Duration.ZERO, null);
    quotas.add(new Quota(Limit.perMinute(100), 99, Duration.ofMillis(600)));
    assertThat(copied.quotas()).hasSize(1);
    assertThat(copied.remaining()).isEqualTo(4);
    quotas.add(null);
    assertThatThrownBy(() -> new Decision(Outcome.ALLOWED, 1, quotas, Duration.ZERO, null))
        .isInstanceOf(NullPointerException.class);
  }
}

package dev.bulwark.ratelimit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;

import dev.bulwark.ratelimit.Fields.Member;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The field values, read back by a Structured Field parser. */
class RateLimitHeadersTest {

  @Test
  void aPolicyMemberPerLimitNamedAfterTheLimiter() {
    RateLimitHeaders headers =
        new RateLimitHeaders(
            "api", List.of(Limit.perSecond(10), Limit.perHour(1000), Limit.perDay(5).withBurst(7)));
    assertThat(headers.names()).containsExactly("api-1", "api-2", "api-3");
    assertThat(headers.policy())
        .isEqualTo("\"api-1\";q=10;w=1, \"api-2\";q=1000;w=3600, \"api-3\";q=5;w=86400");
    assertThat(Fields.parse(headers.policy()))
        .containsExactly(
            new Member("api-1", Map.of("q", 10L, "w", 1L)),
            new Member("api-2", Map.of("q", 1000L, "w", 3600L)),
            new Member("api-3", Map.of("q", 5L, "w", 86400L)));
  }

  @Test
  void aPeriodOfNoWholeSecondsIsAdvertisedOverTheNextWholeSecondsNeverFaster() {
    assertThat(policy(Limit.of(3, Duration.ofMillis(1500)))).isEqualTo(Map.of("q", 4L, "w", 2L));
    assertThat(policy(Limit.of(10, Duration.ofMillis(100)))).isEqualTo(Map.of("q", 100L, "w", 1L));
    assertThat(policy(Limit.of(1, Duration.ofMillis(1500)))).isEqualTo(Map.of("q", 1L, "w", 2L));
    assertThat(policy(Limit.of(7, Duration.ofMillis(60_001)))).isEqualTo(Map.of("q", 7L, "w", 61L));
    // The fastest limit, one permit per nanosecond, over a period of 1 ms.
    assertThat(policy(Limit.of(1_000_000, Duration.ofMillis(1))))
        .isEqualTo(Map.of("q", 1_000_000_000L, "w", 1L));
    assertThat(policy(Limit.of(Limit.MAX_PERMITS, Duration.ofDays(Limit.MAX_PERIOD_DAYS))))
        .isEqualTo(Map.of("q", Limit.MAX_PERMITS, "w", 315_360_000L));
  }

  private static Map<String, Long> policy(Limit limit) {
    List<Member> members = Fields.parse(new RateLimitHeaders("x", List.of(limit)).policy());
    assertThat(members).hasSize(1);
    return members.get(0).params();
  }

  @Test
  void theServiceLimitsAreTheQuotasWithTheirWindowsRoundedUp() {
    Limit second = Limit.perSecond(10);
    Limit hour = Limit.perHour(1000);
    RateLimitHeaders headers = new RateLimitHeaders("api", List.of(second, hour));
    Decision allowed =
        new Decision(
            Outcome.ALLOWED,
            1,
            List.of(
                new Quota(second, 9, Duration.ofMillis(100)),
                new Quota(hour, 999, Duration.ofMillis(3600))),
            Duration.ZERO,
            null);
    assertThat(headers.rateLimit(allowed)).isEqualTo("\"api-1\";r=9;t=1, \"api-2\";r=999;t=4");
    Decision full =
        new Decision(
            Outcome.FALLBACK_ALLOWED,
            1,
            List.of(new Quota(second, 10, Duration.ZERO), new Quota(hour, 1000, Duration.ZERO)),
            Duration.ZERO,
            null);
    assertThat(Fields.parse(headers.rateLimit(full)))
        .containsExactly(
            new Member("api-1", Map.of("r", 10L, "t", 0L)),
            new Member("api-2", Map.of("r", 1000L, "t", 0L)));
  }

  @Test
  void aRefusalsWindowsEndNoLaterThanItsRetryAfter() {
    Limit second = Limit.perSecond(10);
    Limit hour = Limit.perHour(1000);
    RateLimitHeaders headers = new RateLimitHeaders("api", List.of(second, hour));
    Decision denied =
        new Decision(
            Outcome.FALLBACK_DENIED,
            1,
            List.of(
                new Quota(second, 5, Duration.ofMillis(500)),
                new Quota(hour, 0, Duration.ofHours(1))),
            Duration.ofMillis(3_600),
            hour);
    assertThat(headers.rateLimit(denied)).isEqualTo("\"api-1\";r=5;t=1, \"api-2\";r=0;t=4");
    // In shadow mode the request is admitted: the window is the quota's own.
    Decision shadow =
        new Decision(
            Outcome.SHADOW_DENIED,
            1,
            List.of(
                new Quota(second, 5, Duration.ofMillis(500)),
                new Quota(hour, 0, Duration.ofHours(1))),
            Duration.ofMillis(3_600),
            hour);
    assertThat(headers.rateLimit(shadow)).isEqualTo("\"api-1\";r=5;t=1, \"api-2\";r=0;t=3600");
    assertThat(headers.nameOf(hour)).isEqualTo("api-2");
    assertThat(headers.nameOf(Limit.perDay(1))).isEmpty();
  }

  @Test
  void aDecisionWithoutQuotasHasNoServiceLimit() {
    RateLimitHeaders headers = new RateLimitHeaders("api", List.of(Limit.perMinute(1)));
    Decision failedOpen = new Decision(Outcome.FAILED_OPEN, 1, List.of(), Duration.ZERO, null);
    assertThat(headers.rateLimit(failedOpen)).isEmpty();
  }

  @Test
  void namesAreStructuredFieldStrings() {
    assertThat(RateLimitHeaders.string("a\"b\\c")).isEqualTo("\"a\\\"b\\\\c\"");
    assertThat(Fields.parse(RateLimitHeaders.string("a\"b\\c") + ";q=1"))
        .containsExactly(new Member("a\"b\\c", Map.of("q", 1L)));
    assertThatIllegalArgumentException()
        .isThrownBy(() -> RateLimitHeaders.string("caf\u00e9"))
        .withMessage(
            "a policy name must be printable ASCII to be a Structured Field String, but was"
                + " \"caf\u00e9\"");
    assertThatIllegalArgumentException().isThrownBy(() -> RateLimitHeaders.string("a\nb"));
    assertThat(RateLimitHeaders.seconds(Duration.ofNanos(1))).isEqualTo(1);
    assertThat(RateLimitHeaders.seconds(Duration.ofSeconds(2))).isEqualTo(2);
    assertThat(RateLimitHeaders.seconds(Duration.ofDays(365L * 100_000_000L)))
        .isEqualTo(RateLimitHeaders.MAX_INTEGER);
  }
}

package dev.bulwark.health;

import dev.bulwark.core.internal.Checks;
import dev.bulwark.ratelimit.Outcome;
import dev.bulwark.ratelimit.RateLimiter;
import dev.bulwark.ratelimit.RateLimiterSnapshot;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.StringJoiner;

/**
 * {@link HealthChecks#rateLimiter(RateLimiter)}: whether the limiter decided without Redis since
 * the previous call, from the growth of its counts. A class of its own, so that bulwark-ratelimit
 * is loaded only when a limiter is checked. Thread-safe: calls are serialized.
 */
final class RateLimiterCheck implements HealthCheck {
  /** The outcomes of decisions made without Redis's answer, as {@code fallbacks()} sums them. */
  private static final Outcome[] WITHOUT_REDIS = {
    Outcome.FAILED_OPEN, Outcome.FAILED_CLOSED, Outcome.FALLBACK_ALLOWED, Outcome.FALLBACK_DENIED
  };

  private final RateLimiter limiter;

  /** The counts at the previous call; at the check's creation before the first. */
  private RateLimiterSnapshot previous;

  RateLimiterCheck(RateLimiter limiter) {
    this.limiter = limiter;
    this.previous = limiter.snapshot();
  }

  @Override
  public synchronized HealthResult check() {
    RateLimiterSnapshot now = limiter.snapshot();
    RateLimiterSnapshot before = previous;
    previous = now;
    return rate(before, now);
  }

  static HealthResult rate(RateLimiterSnapshot before, RateLimiterSnapshot now) {
    long fallbacks = Math.max(0, now.fallbacks() - before.fallbacks());
    long errors = Math.max(0, now.redisErrors() - before.redisErrors());
    Findings findings = new Findings();
    if (now.distributed() && (fallbacks > 0 || errors > 0)) {
      StringJoiner outcomes = new StringJoiner(", ", " (", ")").setEmptyValue("");
      for (Outcome outcome : WITHOUT_REDIS) {
        long grew = Math.max(0, now.decisions(outcome) - before.decisions(outcome));
        if (grew > 0) {
          outcomes.add(outcome.tag() + " " + grew);
        }
      }
      findings.add(
          Status.WARN,
          Checks.format(
              "rate limiter %s made %s without Redis%s and counted %s"
                  + " since the previous check",
              now.name(),
              HealthChecks.count(fallbacks, "decision"),
              outcomes,
              HealthChecks.count(errors, "Redis error")));
    }
    Map<String, Object> details = new LinkedHashMap<>();
    details.put("distributed", now.distributed());
    for (Outcome outcome : Outcome.values()) {
      details.put("decisions." + outcome.tag(), now.decisions(outcome));
    }
    details.put("fallbacks", now.fallbacks());
    details.put("redisErrors", now.redisErrors());
    details.put("keys", now.keys());
    details.put("maxKeys", now.maxKeys());
    return HealthChecks.result(
        findings.status(),
        findings.output(),
        fallbacks,
        "decisions",
        HealthChecks.COMPONENT,
        details);
  }
}

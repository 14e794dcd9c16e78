package dev.bulwark.ratelimit;

import dev.bulwark.core.internal.Checks;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * A rate limiter's answer to one request for permits. Immutable.
 *
 * @param outcome how the decision was reached; {@link #allowed()} reads it
 * @param permits the permits asked for, at least 1
 * @param quotas each limit's state after the decision, in the order of the limiter's limits; empty
 *     when Redis could not be asked ({@link Outcome#FAILED_OPEN}, {@link Outcome#FAILED_CLOSED})
 * @param retryAfter when the request was not admitted, the time after which the same request may be
 *     admitted; zero when it was
 * @param deniedBy the limit that lacked the permits (the one that refills last, when several did),
 *     for {@link Outcome#DENIED}, {@link Outcome#SHADOW_DENIED} and {@link
 *     Outcome#FALLBACK_DENIED}; else {@code null}
 */
public record Decision(
    Outcome outcome,
    long permits,
    List<Quota> quotas,
    Duration retryAfter,
    @Nullable Limit deniedBy) {

  /**
   * Checks and copies the values.
   *
   * @param outcome how the decision was reached
   * @param permits at least 1
   * @param quotas the limits' states
   * @param retryAfter zero or more
   * @param deniedBy the limit that lacked the permits, or {@code null}
   * @throws IllegalArgumentException if {@code permits} is below 1 or {@code retryAfter} is
   *     negative
   * @throws NullPointerException if {@code outcome}, {@code quotas} or {@code retryAfter} is null
   */
  public Decision {
    Objects.requireNonNull(outcome, "outcome");
    Checks.between("permits", permits, 1, Long.MAX_VALUE);
    quotas = quotas instanceof OneQuota ? quotas : List.copyOf(quotas); // both immutable
    Checks.notNegative("retryAfter", retryAfter);
  }

  /**
   * Whether the request is admitted.
   *
   * @return {@code outcome().allowed()}
   */
  public boolean allowed() {
    return outcome.allowed();
  }

  /**
   * The fewest permits left across the limits: what the next request could take.
   *
   * @return the smallest {@link Quota#remaining()}, or -1 when {@link #quotas()} is empty
   */
  public long remaining() {
    if (quotas instanceof OneQuota one) {
      return one.remaining();
    }
    long least = -1;
    for (Quota quota : quotas) {
      if (least < 0 || quota.remaining() < least) {
        least = quota.remaining();
      }
    }
    return least;
  }

  /**
   * {@link #retryAfter()} in whole seconds, rounded up, as HTTP's {@code Retry-After} carries it.
   *
   * @return 0 when nothing needs waiting for, else at least 1
   */
  public long retryAfterSeconds() {
    long seconds = retryAfter.getSeconds();
    return retryAfter.getNano() == 0 ? seconds : seconds + 1;
  }
}

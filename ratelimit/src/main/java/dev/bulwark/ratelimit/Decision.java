package dev.bulwark.ratelimit;

import dev.bulwark.core.internal.Checks;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * A rate limiter's answer to one request for permits: how it was reached ({@link #outcome()}), the
 * permits asked for, each limit's state after it ({@link #quotas()}), when to retry, and which
 * limit refused. Immutable and thread-safe; equal to any decision with equal values.
 *
 * <p>A local limiter's decision on one limit holds that limit's state as numbers, and makes its
 * {@link Quota} when {@link #quotas()} is read: a caller that only asks {@link #allowed()} pays for
 * one object a decision.
 */
public final class Decision {
  private final Outcome outcome;
  private final long permits;

  /** The quotas; {@code null} when the decision holds one limit's state inline, below. */
  private final @Nullable List<Quota> quotas;

  private final @Nullable Limit limit;
  private final long remaining;
  private final long resetNanos;
  private final Duration retryAfter;
  private final @Nullable Limit deniedBy;

  /**
   * Checks and copies the values.
   *
   * @param outcome how the decision was reached; {@link #allowed()} reads it
   * @param permits the permits asked for, at least 1
   * @param quotas each limit's state after the decision, in the order of the limiter's limits;
   *     empty when Redis could not be asked ({@link Outcome#FAILED_OPEN}, {@link
   *     Outcome#FAILED_CLOSED}); copied
   * @param retryAfter when the request was not admitted, the time after which the same request may
   *     be admitted; zero when it was; zero or more
   * @param deniedBy the limit that lacked the permits (the one that refills last, when several
   *     did), for {@link Outcome#DENIED}, {@link Outcome#SHADOW_DENIED} and {@link
   *     Outcome#FALLBACK_DENIED}; else {@code null}
   * @throws IllegalArgumentException if {@code permits} is below 1 or {@code retryAfter} is
   *     negative
   * @throws NullPointerException if {@code outcome}, {@code quotas}, one of its elements or {@code
   *     retryAfter} is null
   */
  public Decision(
      Outcome outcome,
      long permits,
      List<Quota> quotas,
      Duration retryAfter,
      @Nullable Limit deniedBy) {
    this.outcome = Objects.requireNonNull(outcome, "outcome");
    this.permits = Checks.between("permits", permits, 1, Long.MAX_VALUE);
    this.quotas = List.copyOf(quotas);
    this.limit = null;
    this.remaining = 0;
    this.resetNanos = 0;
    this.retryAfter = Checks.notNegative("retryAfter", retryAfter);
    this.deniedBy = deniedBy;
  }

  /**
   * A decision on one limit, its state held as numbers; the caller passes checked values.
   *
   * @param remaining 0 to the limit's burst
   * @param resetNanos 0 or more: the time until the limit is whole again
   * @param retryAfter zero or more
   */
  Decision(
      Outcome outcome,
      long permits,
      Limit limit,
      long remaining,
      long resetNanos,
      Duration retryAfter,
      @Nullable Limit deniedBy) {
    this.outcome = outcome;
    this.permits = permits;
    this.quotas = null;
    this.limit = limit;
    this.remaining = remaining;
    this.resetNanos = resetNanos;
    this.retryAfter = retryAfter;
    this.deniedBy = deniedBy;
  }

  /**
   * How the decision was reached.
   *
   * @return the outcome; {@link #allowed()} reads it
   */
  public Outcome outcome() {
    return outcome;
  }

  /**
   * The permits asked for.
   *
   * @return at least 1
   */
  public long permits() {
    return permits;
  }

  /**
   * Each limit's state after the decision, in the order of the limiter's limits.
   *
   * @return an immutable list; empty when Redis could not be asked ({@link Outcome#FAILED_OPEN},
   *     {@link Outcome#FAILED_CLOSED})
   */
  public List<Quota> quotas() {
    List<Quota> given = quotas;
    if (given != null) {
      return given;
    }
    return List.of(
        new Quota(Objects.requireNonNull(limit, "limit"), remaining, Duration.ofNanos(resetNanos)));
  }

  /**
   * When the request was not admitted, the time after which the same request may be admitted.
   *
   * @return zero when it was admitted, else more
   */
  public Duration retryAfter() {
    return retryAfter;
  }

  /**
   * The limit that lacked the permits (the one that refills last, when several did).
   *
   * @return the limit for {@link Outcome#DENIED}, {@link Outcome#SHADOW_DENIED} and {@link
   *     Outcome#FALLBACK_DENIED}; else {@code null}
   */
  public @Nullable Limit deniedBy() {
    return deniedBy;
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
    List<Quota> given = quotas;
    if (given == null) {
      return remaining;
    }
    long least = -1;
    for (Quota quota : given) {
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

  /** The same decision, reached as {@code other}: a shadow limiter's, or a fallback's. */
  Decision withOutcome(Outcome other) {
    List<Quota> given = quotas;
    return given == null
        ? new Decision(
            other,
            permits,
            Objects.requireNonNull(limit, "limit"),
            remaining,
            resetNanos,
            retryAfter,
            deniedBy)
        : new Decision(other, permits, given, retryAfter, deniedBy);
  }

  /**
   * Whether {@code other} is a decision with equal values.
   *
   * @param other any object, or {@code null}
   * @return whether the outcomes, permits, quotas, retry-afters and denying limits are equal
   */
  @Override
  public boolean equals(@Nullable Object other) {
    return other instanceof Decision that
        && outcome == that.outcome
        && permits == that.permits
        && quotas().equals(that.quotas())
        && retryAfter.equals(that.retryAfter)
        && Objects.equals(deniedBy, that.deniedBy);
  }

  /**
   * A hash of the values {@link #equals} compares.
   *
   * @return the hash
   */
  @Override
  public int hashCode() {
    return Objects.hash(outcome, permits, quotas(), retryAfter, deniedBy);
  }

  /**
   * The values, for logs.
   *
   * @return the outcome, permits, quotas, retry-after and denying limit
   */
  @Override
  public String toString() {
    return "Decision[outcome="
        + outcome
        + ", permits="
        + permits
        + ", quotas="
        + quotas()
        + ", retryAfter="
        + retryAfter
        + ", deniedBy="
        + deniedBy
        + "]";
  }
}

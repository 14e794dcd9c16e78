package dev.bulwark.ratelimit;

/**
 * What a Redis rate limiter answers when Redis fails or does not answer within the command timeout.
 * Every such decision is counted in {@code bulwark.ratelimit.decisions} under its outcome ({@code
 * failed_open}, {@code failed_closed}, {@code fallback_allowed}, {@code fallback_denied}), and the
 * failure itself in {@code bulwark.ratelimit.redis.errors}.
 *
 * <p>Choose by what an extra request costs against what a refused one costs: a login or a password
 * reset fails closed (an outage must not open the door to guessing), a read-mostly API falls back
 * to a local limit, and a limiter that only protects capacity may fail open.
 */
public enum FailurePolicy {
  /** Admit the request: {@link Outcome#FAILED_OPEN}. */
  FAIL_OPEN,
  /** Refuse the request: {@link Outcome#FAILED_CLOSED}, with a retry-after of one second. */
  FAIL_CLOSED,
  /**
   * Decide on a local limiter whose limits are the configured ones divided by the expected number
   * of instances, rounded up: {@link Outcome#FALLBACK_ALLOWED} or {@link Outcome#FALLBACK_DENIED}.
   */
  LOCAL_FALLBACK
}

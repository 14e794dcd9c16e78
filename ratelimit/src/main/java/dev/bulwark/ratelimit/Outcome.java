package dev.bulwark.ratelimit;

/**
 * How a {@link Decision} was reached. Four outcomes admit the request ({@link #allowed()}); the
 * meter {@code bulwark.ratelimit.decisions} counts each under its tag {@code outcome} ({@link
 * #tag()}).
 */
public enum Outcome {
  /** The limits had the permits; they were taken. */
  ALLOWED(true, "allowed"),
  /** A limit lacked the permits; none was taken. */
  DENIED(false, "denied"),
  /**
   * A limit lacked the permits, and the limiter runs in shadow mode: the request is admitted, and
   * counted as one that would have been denied.
   */
  SHADOW_DENIED(true, "shadow_denied"),
  /** Redis failed or did not answer in time, and the policy is {@link FailurePolicy#FAIL_OPEN}. */
  FAILED_OPEN(true, "failed_open"),
  /**
   * Redis failed or did not answer in time, and the policy is {@link FailurePolicy#FAIL_CLOSED}.
   */
  FAILED_CLOSED(false, "failed_closed"),
  /**
   * Redis failed or did not answer in time, and the local fallback limiter ({@link
   * FailurePolicy#LOCAL_FALLBACK}) had the permits.
   */
  FALLBACK_ALLOWED(true, "fallback_allowed"),
  /**
   * Redis failed or did not answer in time, and the local fallback limiter ({@link
   * FailurePolicy#LOCAL_FALLBACK}) lacked the permits.
   */
  FALLBACK_DENIED(false, "fallback_denied");

  private final boolean allowed;
  private final String tag;

  Outcome(boolean allowed, String tag) {
    this.allowed = allowed;
    this.tag = tag;
  }

  /**
   * Whether this outcome admits the request.
   *
   * @return true for {@link #ALLOWED}, {@link #SHADOW_DENIED}, {@link #FAILED_OPEN} and {@link
   *     #FALLBACK_ALLOWED}
   */
  public boolean allowed() {
    return allowed;
  }

  /**
   * The value of the {@code outcome} tag on {@code bulwark.ratelimit.decisions}.
   *
   * @return the outcome in lower case, {@code "shadow_denied"} for {@link #SHADOW_DENIED}
   */
  public String tag() {
    return tag;
  }
}

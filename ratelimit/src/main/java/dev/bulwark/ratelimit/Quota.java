package dev.bulwark.ratelimit;

import dev.bulwark.core.internal.Checks;
import java.time.Duration;
import java.util.Objects;

/**
 * One limit's state after a decision: what is left of it, and when it is whole again. Immutable.
 *
 * @param limit the limit
 * @param remaining the permits that a request could take right after this decision, 0 to the
 *     limit's burst
 * @param reset the time until the limit has refilled to its burst, zero when it is full
 */
public record Quota(Limit limit, long remaining, Duration reset) {

  /**
   * Checks the values.
   *
   * @param limit the limit
   * @param remaining 0 to {@code limit.burst()}
   * @param reset zero or more
   * @throws IllegalArgumentException if {@code remaining} or {@code reset} is outside its range
   * @throws NullPointerException if {@code limit} or {@code reset} is null
   */
  public Quota {
    Objects.requireNonNull(limit, "limit");
    Checks.between("remaining", remaining, 0, limit.burst());
    Checks.notNegative("reset", reset);
  }
}

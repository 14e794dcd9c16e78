package dev.bulwark.ratelimit;

import dev.bulwark.core.internal.Checks;
import java.time.Duration;
import java.util.AbstractList;
import java.util.Objects;
import java.util.RandomAccess;

/**
 * The quotas of a decision on one limit, as a list of one {@link Quota} made when it is read: a
 * decision that only {@link Decision#allowed()} is asked of then costs no {@code Quota} and no
 * {@code Duration}. Immutable; equal to any list holding an equal quota.
 */
final class OneQuota extends AbstractList<Quota> implements RandomAccess {
  private final Limit limit;
  private final long remaining;
  private final long resetNanos;

  /**
   * @param remaining between 0 and the limit's burst
   * @param resetNanos 0 or more: the time until the limit is whole again
   */
  OneQuota(Limit limit, long remaining, long resetNanos) {
    this.limit = Objects.requireNonNull(limit, "limit");
    this.remaining = Checks.between("remaining", remaining, 0, limit.burst());
    this.resetNanos = Checks.between("resetNanos", resetNanos, 0, Long.MAX_VALUE);
  }

  long remaining() {
    return remaining;
  }

  @Override
  public Quota get(int index) {
    Objects.checkIndex(index, 1);
    return new Quota(limit, remaining, Duration.ofNanos(resetNanos));
  }

  @Override
  public int size() {
    return 1;
  }
}

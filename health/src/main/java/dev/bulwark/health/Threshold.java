package dev.bulwark.health;

import dev.bulwark.core.internal.Checks;

/**
 * When a measured value turns a check to {@link Status#WARN} and to {@link Status#FAIL}: at or
 * above {@code warnAt}, and at or above {@code failAt}. Infinity turns a level off. Immutable.
 *
 * @param warnAt the value from which the check warns; {@link Double#POSITIVE_INFINITY} for never
 * @param failAt the value from which the check fails, at least {@code warnAt}; {@link
 *     Double#POSITIVE_INFINITY} for never
 */
public record Threshold(double warnAt, double failAt) {

  /**
   * Checks the values.
   *
   * @param warnAt the warning level
   * @param failAt the failure level
   * @throws IllegalArgumentException if a level is NaN, or {@code failAt} is below {@code warnAt}
   */
  public Threshold {
    if (Double.isNaN(warnAt) || Double.isNaN(failAt)) {
      throw Checks.invalid("threshold levels must be numbers, but were %s and %s", warnAt, failAt);
    }
    if (failAt < warnAt) {
      throw Checks.invalid(
          "failAt must be at least warnAt (%s), but was %s", plain(warnAt), plain(failAt));
    }
  }

  /**
   * Warns from {@code warnAt} and fails from {@code failAt}.
   *
   * @param warnAt the warning level
   * @param failAt the failure level, at least {@code warnAt}
   * @return the threshold
   * @throws IllegalArgumentException if a level is NaN, or {@code failAt} is below {@code warnAt}
   */
  public static Threshold of(double warnAt, double failAt) {
    return new Threshold(warnAt, failAt);
  }

  /**
   * Warns from {@code warnAt}, and never fails.
   *
   * @param warnAt the warning level
   * @return the threshold
   * @throws IllegalArgumentException if {@code warnAt} is NaN
   */
  public static Threshold warnAt(double warnAt) {
    return new Threshold(warnAt, Double.POSITIVE_INFINITY);
  }

  /** {@return a threshold that always passes: the value is only reported} */
  public static Threshold none() {
    return new Threshold(Double.POSITIVE_INFINITY, Double.POSITIVE_INFINITY);
  }

  /**
   * Rates a value.
   *
   * @param value the measured value
   * @return {@code FAIL} at or above {@code failAt}, else {@code WARN} at or above {@code warnAt},
   *     else {@code PASS}; {@code PASS} for NaN, and for a level that is infinite (off), even for
   *     an infinite value
   */
  public Status rate(double value) {
    if (failAt != Double.POSITIVE_INFINITY && value >= failAt) {
      return Status.FAIL;
    }
    return warnAt != Double.POSITIVE_INFINITY && value >= warnAt ? Status.WARN : Status.PASS;
  }

  private static String plain(double value) {
    return value == Math.rint(value) && !Double.isInfinite(value)
        ? Long.toString((long) value)
        : Double.toString(value);
  }
}

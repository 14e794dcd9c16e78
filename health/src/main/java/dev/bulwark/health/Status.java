package dev.bulwark.health;

import java.util.Locale;

/**
 * The outcome of a health check, and of a set of them, as the IETF health-check draft names it: a
 * dependency works ({@link #PASS}), works but needs a look ({@link #WARN}), or does not work
 * ({@link #FAIL}). The worst status of a set is the set's status.
 */
public enum Status {
  /** Healthy. HTTP 200 by default. */
  PASS,
  /** Healthy, with a concern: a threshold crossed, a slow answer. HTTP 200 by default. */
  WARN,
  /** Unhealthy. HTTP 503 by default. */
  FAIL;

  /**
   * Returns the worse of this status and {@code other}: {@code FAIL} over {@code WARN} over {@code
   * PASS}.
   *
   * @param other the other status
   * @return the worse of the two
   */
  public Status worst(Status other) {
    return compareTo(other) >= 0 ? this : other;
  }

  /** {@return the draft's word for it: {@code pass}, {@code warn} or {@code fail}} */
  public String ietf() {
    return name().toLowerCase(Locale.ROOT);
  }

  /**
   * {@return MicroProfile Health's word for it: {@code UP} for pass and warn, {@code DOWN} for
   * fail}
   */
  public String microProfile() {
    return this == FAIL ? "DOWN" : "UP";
  }
}

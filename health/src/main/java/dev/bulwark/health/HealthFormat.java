package dev.bulwark.health;

/** The JSON a report is written in. */
public enum HealthFormat {
  /**
   * The IETF draft "Health Check Response Format for HTTP APIs"
   * (draft-inadarei-api-health-check-06): {@code application/health+json}, status {@code pass},
   * {@code warn} or {@code fail}, checks keyed {@code component:measurement}, each an array of
   * objects with {@code componentType}, {@code observedValue}, {@code observedUnit}, {@code
   * status}, {@code time} and, when not passing, {@code output}. The default.
   */
  IETF,
  /**
   * MicroProfile Health 4.0: {@code application/json}, {@code {"status":"UP","checks":[{"name",
   * "status","data"}]}}, with {@code UP} for pass and warn and {@code DOWN} for fail.
   */
  MICROPROFILE;

  /** {@return the response's {@code Content-Type}} */
  public String contentType() {
    return this == IETF ? "application/health+json" : "application/json";
  }
}

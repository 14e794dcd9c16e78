package dev.bulwark.health;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * The results of one role's checks at one moment, and their worst status. Immutable.
 *
 * @param role the role; {@link Role#DETAIL} holds every check
 * @param status the worst status of the results; {@link Status#PASS} when there are none
 * @param results each check's result by name, in the order the checks were registered
 */
public record HealthReport(Role role, Status status, Map<String, HealthResult> results) {

  /**
   * Copies the results.
   *
   * @param role the role
   * @param status the worst status
   * @param results the results by name
   * @throws NullPointerException if an argument is null
   */
  public HealthReport {
    Objects.requireNonNull(role, "role");
    Objects.requireNonNull(status, "status");
    results = Collections.unmodifiableMap(new LinkedHashMap<>(results));
  }

  static HealthReport of(Role role, Map<String, HealthResult> results) {
    Status worst = Status.PASS;
    for (HealthResult result : results.values()) {
      worst = worst.worst(result.status());
    }
    return new HealthReport(role, worst, results);
  }
}

package dev.bulwark.health;

/**
 * One health check: it looks at one component and says how it is.
 *
 * <p>A check is called by a {@link HealthRegistry}, on one of the registry's threads, at most once
 * per time-to-live, never twice at once: it need not be thread-safe against itself. It should
 * return within its timeout and answer an interrupt; one that does not is abandoned at its timeout
 * and reported as timed out, and is not called again until it returns. An exception it throws
 * becomes a {@link Status#FAIL} whose output is the exception's type and message, with secrets
 * masked.
 *
 * <p>{@link HealthChecks} holds the built-in checks.
 */
@FunctionalInterface
public interface HealthCheck {

  /**
   * Looks at the component.
   *
   * @return the result; its {@link HealthResult#time() time} and {@link HealthResult#duration()
   *     duration} are replaced by the registry's measurement
   * @throws Exception if the component could not be looked at; reported as {@link Status#FAIL}
   */
  HealthResult check() throws Exception;
}

package dev.bulwark.health;

import java.util.Objects;

/**
 * A check made by {@link HealthChecks}: the registry knows what it looks at, which a lambda does
 * not tell. A check that calls or reports on a system outside the process (a database, Redis, a
 * pool of connections to one) is {@code external}, and the registry refuses it as a liveness check:
 * a liveness probe that fails when the database is down restarts every instance and fixes nothing.
 */
final class BuiltInCheck implements HealthCheck {
  private final String description;
  private final boolean external;
  private final HealthCheck delegate;

  /**
   * @param description what it checks, as the factory call reads ({@code "HealthChecks.redis"}),
   *     for messages
   * @param external whether it depends on a system outside the process
   * @param delegate the check
   */
  BuiltInCheck(String description, boolean external, HealthCheck delegate) {
    this.description = Objects.requireNonNull(description, "description");
    this.external = external;
    this.delegate = Objects.requireNonNull(delegate, "delegate");
  }

  static BuiltInCheck local(String description, HealthCheck delegate) {
    return new BuiltInCheck(description, false, delegate);
  }

  static BuiltInCheck external(String description, HealthCheck delegate) {
    return new BuiltInCheck(description, true, delegate);
  }

  boolean isExternal() {
    return external;
  }

  String description() {
    return description;
  }

  @Override
  public HealthResult check() throws Exception {
    return delegate.check();
  }

  @Override
  public String toString() {
    return description;
  }
}

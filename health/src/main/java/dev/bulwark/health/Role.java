package dev.bulwark.health;

import org.jspecify.annotations.Nullable;

/**
 * Which probe a check answers, and so what its failure does. Kubernetes acts on each differently: a
 * failed liveness probe restarts the container, a failed readiness probe takes it out of the
 * service's endpoints until it passes again, and a startup probe holds the other two back until it
 * has passed once.
 */
public enum Role {
  /**
   * Whether the process works at all: a restart would fix what fails here (a deadlock). Never a
   * dependency outside the process: a database that is down would restart every instance and fix
   * nothing, so the registry refuses the built-in checks of external systems here. Served at {@code
   * /health/live}.
   */
  LIVENESS,
  /**
   * Whether the instance can serve requests now: its database, Redis, its pool. {@code
   * /health/ready}.
   */
  READINESS,
  /**
   * Whether the instance has finished starting: caches warmed, migrations run. {@code
   * /health/started}.
   */
  STARTUP,
  /**
   * Only in the detailed report, which holds every check of every role: figures to look at (cache
   * sizes, queue depth, the last run of a job) that should not take the instance out of service.
   * {@code /health}.
   */
  DETAIL;

  /** {@return the path {@link HealthServer} serves the role at} */
  public String path() {
    return switch (this) {
      case LIVENESS -> "/health/live";
      case READINESS -> "/health/ready";
      case STARTUP -> "/health/started";
      case DETAIL -> "/health";
    };
  }

  /** The role served at {@code path}, as {@link #path()} gives it; null for another path. */
  static @Nullable Role forPath(String path) {
    for (Role role : values()) {
      if (role.path().equals(path)) {
        return role;
      }
    }
    return null;
  }
}

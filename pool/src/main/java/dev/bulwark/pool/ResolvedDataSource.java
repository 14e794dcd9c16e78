package dev.bulwark.pool;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;

/**
 * A HikariCP pool that keeps the settings {@link PostgresPoolBuilder} resolved for it, for {@link
 * Pools#settings(HikariDataSource)}. Otherwise a plain {@link HikariDataSource}; thread-safe like
 * it.
 */
final class ResolvedDataSource extends HikariDataSource {
  private final PoolSettings settings;

  /** Starts the pool, as {@link HikariDataSource#HikariDataSource(HikariConfig)} does. */
  ResolvedDataSource(HikariConfig config, PoolSettings settings) {
    super(config);
    this.settings = settings;
  }

  PoolSettings settings() {
    return settings;
  }
}

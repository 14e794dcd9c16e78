package dev.bulwark.health;

import com.zaxxer.hikari.HikariDataSource;
import com.zaxxer.hikari.HikariPoolMXBean;
import com.zaxxer.hikari.pool.HikariPool;
import java.sql.Connection;
import java.sql.SQLException;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;

/**
 * The HikariCP half of {@link DataSourceCheck}: the one class of that check that links to HikariCP,
 * loaded only once {@link DataSourceCheck} has found HikariCP on the class path, so that {@code
 * HealthChecks.dataSource} works without it.
 *
 * <p>It reads the pool's counts from HikariCP's own {@link HikariPoolMXBean} (the counts {@code
 * Pools.snapshot} reads), so that it needs HikariCP only, not {@code bulwark-pool}; and borrows
 * through {@link HikariPool#getConnection(long)}, the pool's own borrow with a timeout of the
 * caller's, instead of the pool's {@code connectionTimeout}. Thread-safe, as HikariCP is.
 */
final class HikariSide {

  /** The pool's counts at one moment. */
  record Counts(int active, int idle, int pending, int total, int max) {
    /** {@return true if every connection the pool may open is lent out} */
    boolean full() {
      return active >= max;
    }
  }

  private final HikariDataSource pool;

  private HikariSide(HikariDataSource pool) {
    this.pool = pool;
  }

  /**
   * Returns the HikariCP side of a data source that is, or unwraps to, a {@link HikariDataSource}.
   *
   * @param dataSource any data source
   * @return its HikariCP side, or null when it is no HikariCP pool, or says it is and then fails to
   *     unwrap
   */
  static @Nullable HikariSide of(DataSource dataSource) {
    if (dataSource instanceof HikariDataSource) {
      return new HikariSide((HikariDataSource) dataSource);
    }
    try {
      if (dataSource.isWrapperFor(HikariDataSource.class)) {
        return new HikariSide(dataSource.unwrap(HikariDataSource.class));
      }
    } catch (SQLException | RuntimeException e) {
      // A wrapper that cannot say: treated as any data source.
    }
    return null;
  }

  /** {@return the pool's name} */
  String name() {
    return pool.getPoolName();
  }

  /** {@return true once the pool is closed} */
  boolean isClosed() {
    return pool.isClosed();
  }

  /**
   * {@return the pool's counts, or null while it has not started (a {@code new HikariDataSource()}
   * starts on its first borrow) or once it is closed}
   */
  @Nullable Counts counts() {
    HikariPoolMXBean bean = pool.getHikariPoolMXBean();
    if (bean == null || pool.isClosed()) {
      return null;
    }
    return new Counts(
        bean.getActiveConnections(),
        bean.getIdleConnections(),
        bean.getThreadsAwaitingConnection(),
        bean.getTotalConnections(),
        Math.max(1, pool.getMaximumPoolSize()));
  }

  /**
   * Borrows a connection, waiting at most {@code timeoutMillis} for one.
   *
   * @param timeoutMillis the longest wait, at least 1
   * @return the connection
   * @throws SQLException if none came in time ({@code SQLTransientConnectionException}, whose cause
   *     is the pool's last failure to connect, if any), or the thread was interrupted
   */
  Connection borrow(long timeoutMillis) throws SQLException {
    HikariPoolMXBean bean = pool.getHikariPoolMXBean();
    if (bean instanceof HikariPool) {
      return ((HikariPool) bean).getConnection(Math.max(1, timeoutMillis));
    }
    return pool.getConnection(); // not started yet: this starts it
  }
}

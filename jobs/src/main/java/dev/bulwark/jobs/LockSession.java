package dev.bulwark.jobs;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.SQLFeatureNotSupportedException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The connection that holds one run's advisory lock, and nothing else: the job never sees it. It is
 * borrowed from the scheduler's data source for the run and handed back only once the lock is
 * released; if the release cannot be confirmed, the connection is aborted instead, so that the
 * server ends the session and its lock with it (a session-level lock outlives the return of its
 * connection to a pool: the next borrower would hold it).
 *
 * <p>The connection runs in auto-commit, so the lock's session is never idle in a transaction, and
 * with a network timeout, so that no statement of the scheduler's waits longer than the statement
 * timeout. Both settings are restored before the connection goes back.
 *
 * <p>Thread-safe: the run's thread and the scheduler's lock check take turns on the connection.
 */
final class LockSession implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(LockingScheduler.class);

  // The clock is read once: the time returned is the time the guard compared.
  private static final String TRY_LOCK =
      "with t as materialized (select clock_timestamp() as now)"
          + " select now, pg_backend_pid(), case when now >= ? then pg_try_advisory_lock(?) end"
          + " from t";
  private static final String CHECK =
      "select pg_backend_pid(), exists (select 1 from pg_locks where locktype = 'advisory'"
          + " and pid = pg_backend_pid() and granted and objsubid = 1"
          + " and classid = (?::bigint)::oid and objid = (?::bigint)::oid)";

  /** Whether the lock is still held on this session. */
  enum State {
    HELD,
    /** The backend no longer holds it: the session was ended, or the lock released. */
    LOST,
    /** Another backend answered: a pooler moved the connection to another server session. */
    MOVED
  }

  /** What an attempt at the lock saw. {@code locked} is null when it was too early to try. */
  record Attempt(Instant now, int pid, @Nullable Boolean locked) {}

  private final Connection connection;
  private final boolean autoCommit;
  private final int networkTimeout;
  private int pid;
  private long key;
  private boolean locked;
  // A statement that may have taken the lock failed: whether the session holds it is unknown.
  private boolean uncertain;
  private volatile boolean aborted;

  private LockSession(Connection connection, boolean autoCommit, int networkTimeout) {
    this.connection = connection;
    this.autoCommit = autoCommit;
    this.networkTimeout = networkTimeout;
  }

  /** Borrows a connection and sets it up for the lock. */
  static LockSession open(DataSource dataSource, Duration statementTimeout) throws SQLException {
    Connection c = dataSource.getConnection();
    try {
      boolean autoCommit = c.getAutoCommit();
      int networkTimeout = c.getNetworkTimeout();
      LockSession session = new LockSession(c, autoCommit, networkTimeout);
      if (!autoCommit) {
        c.setAutoCommit(true);
      }
      c.setNetworkTimeout(
          Runnable::run, (int) Math.min(Integer.MAX_VALUE, statementTimeout.toMillis()));
      return session;
    } catch (SQLException | RuntimeException e) {
      try {
        c.close();
      } catch (SQLException suppressed) {
        e.addSuppressed(suppressed);
      }
      throw e;
    }
  }

  /** The connection, for the statements about the run's record. */
  Connection connection() {
    return connection;
  }

  /** The database's clock. */
  synchronized Instant now() throws SQLException {
    try (Statement s = connection.createStatement();
        ResultSet r = s.executeQuery("select clock_timestamp()")) {
      r.next();
      return required(RunTable.instant(r, 1));
    }
  }

  /**
   * Reads the database's clock and, if it is {@code notBefore} or later, tries the lock without
   * waiting, in one statement.
   */
  synchronized Attempt tryLock(long key, Instant notBefore) throws SQLException {
    this.key = key;
    uncertain = true;
    try (PreparedStatement s = connection.prepareStatement(TRY_LOCK)) {
      s.setObject(1, RunTable.timestamp(notBefore));
      s.setLong(2, key);
      try (ResultSet r = s.executeQuery()) {
        r.next();
        Instant now = required(RunTable.instant(r, 1));
        int backend = r.getInt(2);
        boolean value = r.getBoolean(3);
        Boolean result = r.wasNull() ? null : value;
        this.pid = backend;
        this.locked = Boolean.TRUE.equals(result);
        uncertain = false;
        return new Attempt(now, backend, result);
      }
    }
  }

  /** Whether the lock taken by {@link #tryLock} is still held, by the same backend. */
  synchronized State check() throws SQLException {
    try (PreparedStatement s = connection.prepareStatement(CHECK)) {
      s.setLong(1, key >>> 32);
      s.setLong(2, key & 0xFFFF_FFFFL);
      try (ResultSet r = s.executeQuery()) {
        r.next();
        if (r.getInt(1) != pid) {
          return State.MOVED;
        }
        return r.getBoolean(2) ? State.HELD : State.LOST;
      }
    }
  }

  /** The backend pid the lock was taken on. */
  synchronized int pid() {
    return pid;
  }

  /**
   * Ends the session's part in the run: releases the lock, and hands the connection back only if
   * the server confirmed the release; otherwise aborts it, so that no one borrows a session that
   * may still hold the lock. Never throws.
   */
  @Override
  public synchronized void close() {
    boolean clean = !aborted && !uncertain;
    if (clean && locked) {
      clean = unlock();
    }
    if (!clean && !aborted) {
      unlockAll();
    }
    if (clean) {
      try {
        connection.setNetworkTimeout(Runnable::run, networkTimeout);
        if (!autoCommit) {
          connection.setAutoCommit(false);
        }
      } catch (SQLException e) {
        clean = false;
      }
    }
    if (!clean) {
      abort();
    }
    try {
      connection.close();
    } catch (SQLException e) {
      // The connection is gone either way; its session, and any lock on it, end with it.
    }
  }

  private boolean unlock() {
    try (PreparedStatement s = connection.prepareStatement("select pg_advisory_unlock(?)")) {
      s.setLong(1, key);
      try (ResultSet r = s.executeQuery()) {
        r.next();
        locked = false;
        return r.getBoolean(1) && check() == State.LOST;
      }
    } catch (SQLException e) {
      return false;
    }
  }

  /** A last try before the abort, for a pool whose connections cannot be aborted. */
  private void unlockAll() {
    try (Statement s = connection.createStatement()) {
      s.execute("select pg_advisory_unlock_all()");
    } catch (SQLException | RuntimeException e) {
      // The abort that follows ends the session.
    }
  }

  /**
   * Closes the physical connection at once, from any thread, without waiting for a statement in
   * progress: the server ends the session and releases its lock.
   */
  void abort() {
    aborted = true;
    try {
      connection.abort(Runnable::run);
    } catch (SQLFeatureNotSupportedException | AbstractMethodError e) {
      log.error(
          "the data source's connections cannot be aborted ({}): a connection whose advisory lock"
              + " could not be released goes back to its pool after pg_advisory_unlock_all()",
          e.toString());
    } catch (SQLException | RuntimeException e) {
      // Already closed: nothing is left to release.
    }
  }

  private static Instant required(@Nullable Instant value) throws SQLException {
    if (value == null) {
      throw new SQLException("clock_timestamp() returned null");
    }
    return value;
  }
}

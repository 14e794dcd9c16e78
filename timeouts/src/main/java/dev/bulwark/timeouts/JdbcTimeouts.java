package dev.bulwark.timeouts;

import dev.bulwark.core.internal.Checks;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.SQLFeatureNotSupportedException;
import java.sql.Statement;
import java.time.Duration;
import java.util.Objects;

/**
 * Clamps a JDBC statement's timeout to the time the thread's current {@link Deadline} has left.
 *
 * <p>Two ways, for two needs:
 *
 * <ul>
 *   <li>{@link #applyTo(Statement, Duration)} sets {@link Statement#setQueryTimeout(int)}: the
 *       driver cancels the statement when it runs too long. JDBC counts in whole seconds, so the
 *       time is rounded up, and a deadline with 200 ms left gives a 1 s query timeout.
 *   <li>{@link #setLocalStatementTimeout(Connection, Duration)} runs PostgreSQL's {@code SET LOCAL
 *       statement_timeout} in milliseconds: the server cancels every statement of the current
 *       transaction that runs too long, and the setting ends with the transaction, so it never
 *       leaks to the next borrower of a pooled connection.
 * </ul>
 *
 * <p><b>The connection's network timeout.</b> A driver's network timeout ({@link
 * Connection#getNetworkTimeout()}; pgjdbc's {@code socketTimeout}, which {@code Pools.postgres}
 * always sets) closes a connection whose server has sent nothing for that long. A statement timeout
 * that is not well below it loses the race: the client gives up first, the connection is gone and
 * the statement fails with SQLState {@code 08006} instead of being cancelled cleanly ({@code
 * 57014}) on a connection that stays usable. Both methods therefore refuse a {@code timeout} that
 * is not at least 5 s (the margin {@code Pools.postgres} keeps between its socket and statement
 * timeouts) below the connection's network timeout, with an {@link IllegalArgumentException} that
 * names both. They refuse rather than shorten it: the check is on the {@code timeout} argument, not
 * on what the deadline leaves of it, so it fails the same way on every call, in the first test,
 * instead of now and then in production; and a statement that needs longer needs a longer network
 * timeout for that borrow ({@link Connection#setNetworkTimeout}), not a quietly shorter statement
 * timeout. A network timeout of 0 (none), or a driver that does not report one, is not checked.
 *
 * <p>Both throw {@link TimeoutExceededException} without touching the database if the deadline has
 * already passed. Stateless and thread-safe.
 */
public final class JdbcTimeouts {

  /**
   * How far below the connection's network timeout a statement timeout must stay: 5 s, so the
   * server's cancel, and its answer, arrive before the client gives up on the connection.
   */
  static final Duration NETWORK_TIMEOUT_MARGIN = Duration.ofSeconds(5);

  private static final long MARGIN_MILLIS = NETWORK_TIMEOUT_MARGIN.toMillis();

  private JdbcTimeouts() {}

  /**
   * Sets the statement's query timeout to {@code timeout}, or to the time the current deadline has
   * left if that is shorter, in whole seconds rounded up.
   *
   * @param statement the statement, before it is executed
   * @param timeout the per-statement timeout when the deadline allows it; positive and, rounded up
   *     to whole seconds, at most the connection's network timeout minus 5 s
   * @return the query timeout set, in seconds, at least 1
   * @throws SQLException if the driver refuses the timeout or cannot report its connection's
   *     network timeout
   * @throws TimeoutExceededException if the current deadline has passed
   * @throws IllegalArgumentException if {@code timeout} is not positive, or too close to the
   *     connection's network timeout: {@code timeout rounded up to whole seconds must be at most
   *     the connection's network timeout (6000 ms) - 5000 ms, but was 2000 ms}
   */
  public static int applyTo(Statement statement, Duration timeout) throws SQLException {
    Objects.requireNonNull(statement, "statement");
    Checks.positive("timeout", timeout);
    // At most about 9.2e9 s (a saturated Duration), so the milliseconds cannot overflow.
    long requestedMillis = ceilDiv(Checks.saturatedNanos(timeout), 1_000_000_000) * 1000;
    long networkMillis = networkTimeoutMillis(statement.getConnection());
    if (tooCloseToNetworkTimeout(requestedMillis, networkMillis)) {
      throw beyondNetworkTimeout(
          "timeout rounded up to whole seconds", networkMillis, requestedMillis);
    }
    Duration effective = Deadline.clampToCurrentOrFail(timeout);
    int seconds = (int) Math.min(Integer.MAX_VALUE, ceilDiv(effective.toMillis(), 1000));
    statement.setQueryTimeout(Math.max(1, seconds));
    return Math.max(1, seconds);
  }

  /**
   * Runs {@code SET LOCAL statement_timeout} with {@code timeout}, or the time the current deadline
   * has left if that is shorter, in milliseconds rounded up. PostgreSQL only.
   *
   * @param connection a connection inside a transaction (auto-commit off)
   * @param timeout the per-statement timeout when the deadline allows it; positive and at most the
   *     connection's network timeout minus 5 s
   * @return the statement timeout set, in milliseconds, at least 1
   * @throws SQLException if the statement fails, or the driver cannot report the connection's
   *     network timeout
   * @throws IllegalStateException if auto-commit is on: {@code SET LOCAL} would last for no
   *     statement at all
   * @throws TimeoutExceededException if the current deadline has passed
   * @throws IllegalArgumentException if {@code timeout} is not positive, or too close to the
   *     connection's network timeout: {@code timeout must be at most the connection's network
   *     timeout (6000 ms) - 5000 ms, but was 2000 ms}
   */
  public static long setLocalStatementTimeout(Connection connection, Duration timeout)
      throws SQLException {
    Objects.requireNonNull(connection, "connection");
    Checks.positive("timeout", timeout);
    long requestedMillis = ceilDiv(Checks.saturatedNanos(timeout), 1_000_000);
    long networkMillis = networkTimeoutMillis(connection);
    if (tooCloseToNetworkTimeout(requestedMillis, networkMillis)) {
      throw beyondNetworkTimeout("timeout", networkMillis, requestedMillis);
    }
    Duration effective = Deadline.clampToCurrentOrFail(timeout);
    if (connection.getAutoCommit()) {
      throw new IllegalStateException(
          "SET LOCAL statement_timeout needs a transaction, but auto-commit is on");
    }
    long millis = Math.max(1, ceilDiv(Checks.saturatedNanos(effective), 1_000_000));
    try (Statement statement = connection.createStatement()) {
      statement.execute("SET LOCAL statement_timeout = " + millis);
    }
    return millis;
  }

  /** The connection's network timeout in milliseconds; 0 when it has none or does not say. */
  private static long networkTimeoutMillis(Connection connection) throws SQLException {
    try {
      return Math.max(0, connection.getNetworkTimeout());
    } catch (SQLFeatureNotSupportedException e) {
      return 0;
    }
  }

  private static boolean tooCloseToNetworkTimeout(long millis, long networkMillis) {
    return networkMillis > 0 && millis > networkMillis - MARGIN_MILLIS;
  }

  private static IllegalArgumentException beyondNetworkTimeout(
      String setting, long networkMillis, long millis) {
    return new IllegalArgumentException(
        Checks.format(
            "%s must be at most the connection's network timeout (%d ms) - %d ms, but was %d ms",
            setting, networkMillis, MARGIN_MILLIS, millis));
  }

  private static long ceilDiv(long value, long divisor) {
    return -Math.floorDiv(-value, divisor);
  }
}

package dev.bulwark.timeouts;

import dev.bulwark.core.internal.Checks;
import java.sql.Connection;
import java.sql.SQLException;
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
 * <p>Both throw {@link TimeoutExceededException} without touching the database if the deadline has
 * already passed. Stateless and thread-safe.
 */
public final class JdbcTimeouts {
  private JdbcTimeouts() {}

  /**
   * Sets the statement's query timeout to {@code timeout}, or to the time the current deadline has
   * left if that is shorter, in whole seconds rounded up.
   *
   * @param statement the statement, before it is executed
   * @param timeout the per-statement timeout when the deadline allows it; positive
   * @return the query timeout set, in seconds, at least 1
   * @throws SQLException if the driver refuses the timeout
   * @throws TimeoutExceededException if the current deadline has passed
   * @throws IllegalArgumentException if {@code timeout} is not positive
   */
  public static int applyTo(Statement statement, Duration timeout) throws SQLException {
    Objects.requireNonNull(statement, "statement");
    Duration effective = effective(timeout);
    int seconds = (int) Math.min(Integer.MAX_VALUE, ceilDiv(effective.toMillis(), 1000));
    statement.setQueryTimeout(Math.max(1, seconds));
    return Math.max(1, seconds);
  }

  /**
   * Runs {@code SET LOCAL statement_timeout} with {@code timeout}, or the time the current deadline
   * has left if that is shorter, in milliseconds rounded up. PostgreSQL only.
   *
   * @param connection a connection inside a transaction (auto-commit off)
   * @param timeout the per-statement timeout when the deadline allows it; positive
   * @return the statement timeout set, in milliseconds, at least 1
   * @throws SQLException if the statement fails
   * @throws IllegalStateException if auto-commit is on: {@code SET LOCAL} would last for no
   *     statement at all
   * @throws TimeoutExceededException if the current deadline has passed
   * @throws IllegalArgumentException if {@code timeout} is not positive
   */
  public static long setLocalStatementTimeout(Connection connection, Duration timeout)
      throws SQLException {
    Objects.requireNonNull(connection, "connection");
    Duration effective = effective(timeout);
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

  private static Duration effective(Duration timeout) {
    return Deadline.clampToCurrentOrFail(Checks.positive("timeout", timeout));
  }

  private static long ceilDiv(long value, long divisor) {
    return -Math.floorDiv(-value, divisor);
  }
}

package dev.bulwark.examples.timeouts;

import dev.bulwark.timeouts.Deadline;
import dev.bulwark.timeouts.JdbcTimeouts;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import javax.sql.DataSource;

/**
 * Recipe "statement timeout per request taken from the request's deadline": the request gets a
 * deadline where it enters the service; each transaction then asks PostgreSQL to cancel any
 * statement that would outlive it.
 */
public final class RequestDeadline {
  private final DataSource dataSource;

  /**
   * Creates the handler.
   *
   * @param dataSource a pooled data source
   */
  public RequestDeadline(DataSource dataSource) {
    this.dataSource = dataSource;
  }

  /**
   * Serves one request under a deadline of {@code budget}.
   *
   * @param budget the time the whole request has, for example 2 s
   * @param customerId the customer
   * @return the customer's order count
   * @throws SQLException if the query fails, with SQLState 57014 when the deadline cancelled it
   */
  public long orderCount(Duration budget, long customerId) throws SQLException {
    return Deadline.after(budget).call(() -> countOrders(customerId));
  }

  private long countOrders(long customerId) throws SQLException {
    try (Connection c = dataSource.getConnection()) {
      c.setAutoCommit(false);
      try {
        // 30 s is the ceiling for this query; the request's deadline usually leaves less.
        JdbcTimeouts.setLocalStatementTimeout(c, Duration.ofSeconds(30));
        long count;
        try (PreparedStatement ps =
            c.prepareStatement("select count(*) from orders where customer_id = ?")) {
          ps.setLong(1, customerId);
          try (ResultSet rs = ps.executeQuery()) {
            rs.next();
            count = rs.getLong(1);
          }
        }
        c.commit();
        return count;
      } catch (SQLException | RuntimeException e) {
        c.rollback();
        throw e;
      } finally {
        c.setAutoCommit(true);
      }
    }
  }
}

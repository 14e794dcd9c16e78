package dev.bulwark.queries.dao;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import javax.sql.DataSource;

/** A data-access class of the application's own, for {@code skipCallSites}. */
public final class CustomerDao {
  private final DataSource db;

  public CustomerDao(DataSource db) {
    this.db = db;
  }

  /** One customer's name: one statement. */
  public String name(long id) throws SQLException {
    try (Connection c = db.getConnection();
        PreparedStatement s = c.prepareStatement("select name from customers where id = ?")) {
      s.setLong(1, id);
      try (ResultSet r = s.executeQuery()) {
        r.next();
        return r.getString(1);
      }
    }
  }
}

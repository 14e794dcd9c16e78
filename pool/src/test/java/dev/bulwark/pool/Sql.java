package dev.bulwark.pool;

import dev.bulwark.testing.TestPostgres;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;

/** Small JDBC helpers for the tests. */
final class Sql {
  private Sql() {}

  static String show(Connection c, String setting) throws SQLException {
    return text(c, "show " + setting);
  }

  static String text(Connection c, String query) throws SQLException {
    try (Statement s = c.createStatement();
        ResultSet rs = s.executeQuery(query)) {
      rs.next();
      return rs.getString(1);
    }
  }

  static void execute(Connection c, String sql) throws SQLException {
    try (Statement s = c.createStatement()) {
      s.execute(sql);
    }
  }

  /** True while a backend with this pid exists on the server. */
  static boolean backendExists(TestPostgres postgres, int pid) throws SQLException {
    try (Connection c = postgres.connect()) {
      return !"0".equals(text(c, "select count(*) from pg_stat_activity where pid = " + pid));
    }
  }
}

package dev.bulwark.jobs;

import com.zaxxer.hikari.HikariDataSource;
import dev.bulwark.pool.Pools;
import dev.bulwark.testing.TestDatabase;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

/** Small SQL helpers for the scheduler's tests. */
final class Db {
  private Db() {}

  /** A pool of the kind a service would pass: {@code Pools.postgres}, a few connections. */
  static HikariDataSource pool(TestDatabase db, String name, int size) {
    return Pools.postgres(db.jdbcUrl(), db.user(), db.password())
        .poolName(name)
        .maximumPoolSize(size)
        .build();
  }

  static void execute(Connection c, String sql) throws SQLException {
    try (Statement s = c.createStatement()) {
      s.execute(sql);
    }
  }

  static void execute(TestDatabase db, String sql) throws SQLException {
    try (Connection c = db.connect()) {
      execute(c, sql);
    }
  }

  static long count(TestDatabase db, String sql) throws SQLException {
    try (Connection c = db.connect()) {
      return count(c, sql);
    }
  }

  static long count(Connection c, String sql) throws SQLException {
    try (Statement s = c.createStatement();
        ResultSet r = s.executeQuery(sql)) {
      r.next();
      return r.getLong(1);
    }
  }

  static List<String> strings(TestDatabase db, String sql) throws SQLException {
    try (Connection c = db.connect();
        Statement s = c.createStatement();
        ResultSet r = s.executeQuery(sql)) {
      List<String> out = new ArrayList<>();
      while (r.next()) {
        out.add(r.getString(1));
      }
      return out;
    }
  }

  /** The backend pids that hold an advisory lock on {@code key}. */
  static List<Integer> lockHolders(TestDatabase db, long key) throws SQLException {
    try (Connection c = db.connect();
        PreparedStatement s =
            c.prepareStatement(
                "select pid from pg_locks where locktype = 'advisory' and granted and objsubid = 1"
                    + " and classid = (?::bigint)::oid and objid = (?::bigint)::oid")) {
      s.setLong(1, key >>> 32);
      s.setLong(2, key & 0xFFFF_FFFFL);
      try (ResultSet r = s.executeQuery()) {
        List<Integer> out = new ArrayList<>();
        while (r.next()) {
          out.add(r.getInt(1));
        }
        return out;
      }
    }
  }

  /** Whether another session can take the advisory lock {@code key} now (it releases it again). */
  static boolean lockFree(TestDatabase db, long key) throws SQLException {
    try (Connection c = db.connect();
        PreparedStatement s = c.prepareStatement("select pg_try_advisory_lock(?)")) {
      s.setLong(1, key);
      try (ResultSet r = s.executeQuery()) {
        r.next();
        return r.getBoolean(1);
      }
    }
  }
}

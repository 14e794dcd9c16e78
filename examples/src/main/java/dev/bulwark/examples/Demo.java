package dev.bulwark.examples;

import dev.bulwark.testing.TestPostgres;
import dev.bulwark.testing.TestRedis;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;

/**
 * Starts a real Redis and PostgreSQL on loopback (through {@code bulwark-testing}) and walks
 * through each module against them, printing what happens.
 *
 * <p>Run it with {@code mvn -B -ntp -q -DskipTests install && mvn -B -ntp -q -pl examples
 * exec:java}.
 */
public final class Demo {
  private Demo() {}

  /**
   * Runs the demo.
   *
   * @param args ignored
   * @throws Exception if a step fails
   */
  public static void main(String[] args) throws Exception {
    TestRedis redis = TestRedis.get();
    TestPostgres postgres = TestPostgres.get();
    System.out.println("Redis      " + redis.url() + " " + redisVersion(redis));
    System.out.println("PostgreSQL " + postgres.jdbcUrl() + " " + postgresVersion(postgres));
  }

  private static String redisVersion(TestRedis redis) {
    return redis
        .info("server")
        .lines()
        .filter(line -> line.startsWith("redis_version:"))
        .findFirst()
        .orElse("redis_version:?");
  }

  private static String postgresVersion(TestPostgres postgres) throws SQLException {
    try (Connection c = postgres.connect();
        Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("show server_version")) {
      rs.next();
      return "server_version:" + rs.getString(1);
    }
  }
}

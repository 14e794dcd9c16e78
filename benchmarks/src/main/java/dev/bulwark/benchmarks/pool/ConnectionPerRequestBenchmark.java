package dev.bulwark.benchmarks.pool;

import com.zaxxer.hikari.HikariDataSource;
import dev.bulwark.pool.PoolProfile;
import dev.bulwark.pool.Pools;
import dev.bulwark.testing.TestPostgres;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * One request's worth of database work, {@code select 1}, on a connection borrowed from a bulwark
 * API pool against a new connection opened per request with {@link DriverManager} (audit finding
 * 7). Both run against the same embedded PostgreSQL, on loopback: on a real network the new
 * connection also pays round trips and, often, TLS.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@State(Scope.Benchmark)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 3)
@Fork(2)
public class ConnectionPerRequestBenchmark {

  private HikariDataSource pool;
  private String url;
  private String user;
  private String password;

  /** Starts PostgreSQL (once per fork) and the pool. */
  @Setup(Level.Trial)
  public void start() {
    TestPostgres postgres = TestPostgres.get();
    url = postgres.jdbcUrl();
    user = postgres.user();
    password = postgres.password();
    pool = Pools.postgres(url, user, password).profile(PoolProfile.API).build();
  }

  /** Closes the pool; PostgreSQL stops with the fork. */
  @TearDown(Level.Trial)
  public void stop() {
    pool.close();
  }

  /** Borrow a pooled connection, run {@code select 1}, give the connection back. */
  @Benchmark
  public int pooled() throws SQLException {
    try (Connection c = pool.getConnection()) {
      return selectOne(c);
    }
  }

  /** Open a new connection, run {@code select 1}, close the connection. */
  @Benchmark
  public int newConnectionPerRequest() throws SQLException {
    try (Connection c = DriverManager.getConnection(url, user, password)) {
      return selectOne(c);
    }
  }

  private static int selectOne(Connection c) throws SQLException {
    try (Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("select 1")) {
      rs.next();
      return rs.getInt(1);
    }
  }
}

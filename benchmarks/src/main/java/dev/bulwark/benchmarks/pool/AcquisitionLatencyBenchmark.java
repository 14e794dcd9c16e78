package dev.bulwark.benchmarks.pool;

import com.zaxxer.hikari.HikariDataSource;
import dev.bulwark.pool.PoolProfile;
import dev.bulwark.pool.Pools;
import dev.bulwark.testing.TestPostgres;
import java.sql.Connection;
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
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * Latency distribution (p50, p99) of borrowing from a bulwark API pool of the default size, cores
 * &times; 2 + 1, with 16 threads competing for it: more borrowers than connections, as under a
 * burst of requests.
 */
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@State(Scope.Benchmark)
@Threads(16)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 3)
@Fork(2)
public class AcquisitionLatencyBenchmark {

  private HikariDataSource pool;

  /** Starts PostgreSQL (once per fork) and a pool of the API profile's default size. */
  @Setup(Level.Trial)
  public void start() {
    TestPostgres postgres = TestPostgres.get();
    pool =
        Pools.postgres(postgres.jdbcUrl(), postgres.user(), postgres.password())
            .profile(PoolProfile.API)
            .build();
  }

  /** Closes the pool; PostgreSQL stops with the fork. */
  @TearDown(Level.Trial)
  public void stop() {
    pool.close();
  }

  /** Borrow and return at once: the pool's own cost under contention. */
  @Benchmark
  public void acquireRelease(Blackhole blackhole) throws SQLException {
    try (Connection c = pool.getConnection()) {
      blackhole.consume(c);
    }
  }

  /** Borrow, run {@code select 1}, return: borrowers wait while others hold a connection. */
  @Benchmark
  public int acquireSelectRelease() throws SQLException {
    try (Connection c = pool.getConnection();
        Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("select 1")) {
      rs.next();
      return rs.getInt(1);
    }
  }
}

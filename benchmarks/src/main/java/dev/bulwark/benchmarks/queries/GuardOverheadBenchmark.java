package dev.bulwark.benchmarks.queries;

import com.zaxxer.hikari.HikariDataSource;
import dev.bulwark.pool.PoolProfile;
import dev.bulwark.pool.Pools;
import dev.bulwark.queries.QueryGuard;
import dev.bulwark.queries.QueryScope;
import dev.bulwark.testing.TestDatabase;
import dev.bulwark.testing.TestPostgres;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
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
 * The cost per statement of a {@link QueryGuard}-wrapped data source against the bare HikariCP pool
 * it wraps, on the embedded PostgreSQL over loopback: {@code select 1}, and a read of 100 rows of
 * three columns, each through a prepared statement on a borrowed connection.
 *
 * <ul>
 *   <li>{@code bare...}: the pool itself;
 *   <li>{@code guarded...}: the same pool through {@code guard.wrap(pool)}, with a meter registry,
 *       each operation in a scope of its own ({@code guard.begin(...)} and {@code close()}), as a
 *       request with one statement would be: the statement counted by shape, timed, its rows
 *       counted, through datasource-proxy's proxies of the connection, the statement and the result
 *       set.
 * </ul>
 *
 * <p>Loopback makes a round trip as cheap as it gets, so the ratio is the worst a service sees; on
 * a network the statement costs more and the guard the same.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@State(Scope.Benchmark)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(2)
public class GuardOverheadBenchmark {
  private TestDatabase db;
  private HikariDataSource pool;
  private QueryGuard guard;
  private DataSource guarded;
  private QueryGuard rowsGuard;
  private DataSource rowsGuarded;

  /** Starts PostgreSQL (once per fork), seeds 100 rows, builds the pool and the guard. */
  @Setup(Level.Trial)
  public void start() throws SQLException {
    db = TestPostgres.get().newDatabase();
    pool =
        Pools.postgres(db.jdbcUrl(), db.user(), db.password())
            .profile(PoolProfile.API)
            .maximumPoolSize(2)
            .build();
    try (Connection c = pool.getConnection();
        Statement s = c.createStatement()) {
      s.execute("create table items (id int primary key, name text not null, price numeric)");
      s.execute("insert into items select g, 'item ' || g, g * 1.5 from generate_series(1, 100) g");
    }
    guard = QueryGuard.builder().meterRegistry(new SimpleMeterRegistry()).build();
    guarded = guard.wrap(pool);
    rowsGuard =
        QueryGuard.builder()
            .name("rows")
            .rowsWarning(10_000)
            .meterRegistry(new SimpleMeterRegistry())
            .build();
    rowsGuarded = rowsGuard.wrap(pool);
  }

  /** Closes the pool and drops the database. */
  @TearDown(Level.Trial)
  public void stop() {
    pool.close();
    db.close();
  }

  /** {@code select 1} on the bare pool. */
  @Benchmark
  public int bareSelectOne() throws SQLException {
    return selectOne(pool);
  }

  /** {@code select 1} through the guard, in a scope. */
  @Benchmark
  public int guardedSelectOne() throws SQLException {
    try (QueryScope scope = guard.begin("GET /ping")) {
      return selectOne(guarded);
    }
  }

  /** 100 rows on the bare pool. */
  @Benchmark
  public long bareRead100() throws SQLException {
    return read100(pool);
  }

  /** 100 rows through the guard, in a scope. */
  @Benchmark
  public long guardedRead100() throws SQLException {
    try (QueryScope scope = guard.begin("GET /items")) {
      return read100(guarded);
    }
  }

  /** 100 rows through a guard that counts rows (a rows warning is set): result sets proxied. */
  @Benchmark
  public long rowsGuardedRead100() throws SQLException {
    try (QueryScope scope = rowsGuard.begin("GET /items")) {
      return read100(rowsGuarded);
    }
  }

  private static int selectOne(DataSource source) throws SQLException {
    try (Connection c = source.getConnection();
        PreparedStatement s = c.prepareStatement("select 1");
        ResultSet r = s.executeQuery()) {
      r.next();
      return r.getInt(1);
    }
  }

  private static long read100(DataSource source) throws SQLException {
    long sum = 0;
    try (Connection c = source.getConnection();
        PreparedStatement s = c.prepareStatement("select id, name, price from items order by id");
        ResultSet r = s.executeQuery()) {
      while (r.next()) {
        sum += r.getInt(1) + r.getString(2).length() + r.getBigDecimal(3).intValue();
      }
    }
    return sum;
  }
}

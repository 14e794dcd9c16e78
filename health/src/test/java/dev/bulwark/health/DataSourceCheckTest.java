package dev.bulwark.health;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.zaxxer.hikari.HikariDataSource;
import dev.bulwark.pool.Pools;
import dev.bulwark.testing.Await;
import dev.bulwark.testing.Closer;
import dev.bulwark.testing.FaultProxy;
import dev.bulwark.testing.NoSecrets;
import dev.bulwark.testing.PostgresExtension;
import dev.bulwark.testing.TestDatabase;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.SQLFeatureNotSupportedException;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * {@link HealthChecks#dataSource}: real PostgreSQL, through plain data sources and HikariCP pools,
 * with the database made unreachable and reachable again by a {@link FaultProxy}.
 */
@ExtendWith(PostgresExtension.class)
class DataSourceCheckTest {
  private static final Duration WAIT = Duration.ofSeconds(15);
  private static final String SECRET = "S3cr3t-pw";

  private final Closer closer = new Closer();

  @AfterEach
  void tearDown() throws Exception {
    closer.close();
  }

  private HikariDataSource pool(String jdbcUrl, TestDatabase db, String name) throws Exception {
    HikariDataSource pool =
        closer.add(
            Pools.postgres(jdbcUrl, db.user(), db.password())
                .poolName(name)
                .maximumPoolSize(3)
                .connectionTimeout(Duration.ofSeconds(30))
                .build());
    Await.until(WAIT, "3 open connections", () -> Pools.snapshot(pool).total() == 3);
    return pool;
  }

  private static PGSimpleDataSource plain(String jdbcUrl, TestDatabase db) {
    PGSimpleDataSource plain = new PGSimpleDataSource();
    plain.setUrl(jdbcUrl);
    plain.setUser(db.user());
    plain.setPassword(db.password());
    plain.setConnectTimeout(2);
    plain.setLoginTimeout(2);
    plain.setSocketTimeout(5);
    return plain;
  }

  private FaultProxy proxy(TestDatabase db) {
    return closer.add(FaultProxy.to(db.server().host(), db.server().port()));
  }

  private static String url(FaultProxy proxy, TestDatabase db) {
    return "jdbc:postgresql://" + proxy.host() + ":" + proxy.port() + "/" + db.database();
  }

  private static int closedPort() {
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return socket.getLocalPort();
    } catch (java.io.IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Test
  void aPlainDataSourcePassesWithTheRoundTrip(TestDatabase db) throws Exception {
    HealthCheck check = HealthChecks.dataSource(db.dataSource());

    HealthResult result = check.check();

    assertThat(result.status()).as(result.toString()).isEqualTo(Status.PASS);
    assertThat(result.output()).isNull();
    assertThat(result.observedUnit()).isEqualTo("ms");
    assertThat((Double) result.observedValue()).isNotNegative();
    assertThat(result.componentType()).isEqualTo("datastore");
    assertThat(result.details()).containsOnlyKeys("borrowMs");
    assertThat(check).hasToString("HealthChecks.dataSource");
    assertThat(((BuiltInCheck) check).isExternal()).isTrue();
  }

  @Test
  void aPoolPassesAndHasItsConnectionBackWhenTheCheckReturns(TestDatabase db) throws Exception {
    HikariDataSource pool = pool(db.jdbcUrl(), db, "health-ds");
    HealthCheck check = HealthChecks.dataSource(pool);

    for (int i = 0; i < 3; i++) {
      HealthResult result = check.check();
      assertThat(result.status()).as(result.toString()).isEqualTo(Status.PASS);
      assertThat(Pools.snapshot(pool).active()).isZero();
    }
  }

  @Test
  void aFullPoolWithWaitingThreadsWarnsWithoutBorrowing(TestDatabase db) throws Exception {
    HikariDataSource pool = pool(db.jdbcUrl(), db, "health-full");
    // Through a wrapper, as a statement-counting proxy would hand it over.
    HealthCheck check = HealthChecks.dataSource(new Wrapper(pool));
    Connection first = pool.getConnection();
    closer.add(pool.getConnection());
    closer.add(pool.getConnection());
    CompletableFuture<Connection> borrower =
        CompletableFuture.supplyAsync(
            () -> {
              try {
                return pool.getConnection();
              } catch (SQLException e) {
                throw new IllegalStateException(e);
              }
            });
    Await.until(WAIT, "a waiting borrower", () -> Pools.snapshot(pool).pending() > 0);

    HealthResult result = check.check();

    assertThat(result.status()).isEqualTo(Status.WARN);
    assertThat(result.output()).isEqualTo("pool full: 3 of 3 connections in use, 1 thread waiting");
    assertThat(result.componentType()).isEqualTo("datastore");
    assertThat(result.details())
        .containsEntry("active", 3)
        .containsEntry("pending", 1)
        .containsEntry("max", 3);
    assertThat(Pools.snapshot(pool).pending()).isEqualTo(1); // it joined no queue

    first.close(); // the borrower gets it
    borrower.get(WAIT.toSeconds(), TimeUnit.SECONDS).close();
  }

  @Test
  void aBorrowThatFindsEveryConnectionLentOutWarnsOfAFullPool(TestDatabase db) throws Exception {
    HikariDataSource pool = pool(db.jdbcUrl(), db, "health-lent");
    for (int i = 0; i < 3; i++) {
      closer.add(pool.getConnection());
    }

    HealthResult result = HealthChecks.dataSource(pool, Duration.ofMillis(400)).check();

    assertThat(result.status()).isEqualTo(Status.WARN);
    assertThat(result.output())
        .isEqualTo(
            "pool full: 3 of 3 connections in use, 0 threads waiting; none free within 200 ms");
  }

  @Test
  void aPoolFailsWhenTheDatabaseGoesAwayAndPassesOnceItIsBack(TestDatabase db) throws Exception {
    FaultProxy proxy = proxy(db);
    HikariDataSource pool = pool(url(proxy, db), db, "health-outage");
    Duration timeout = Duration.ofSeconds(1);
    HealthCheck check = HealthChecks.dataSource(pool, timeout);
    assertThat(check.check().status()).isEqualTo(Status.PASS);

    proxy.refuseNewConnections(true);
    proxy.resetConnections();
    long start = System.nanoTime();
    HealthResult down = check.check();

    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(timeout.plusSeconds(4));
    assertThat(down.status()).as(down.toString()).isEqualTo(Status.FAIL);
    assertThat(down.output())
        .as(down.toString())
        .doesNotContain("pool full")
        // The reset connection fails its validation, inside HikariCP's borrow or in isValid
        // (a connection used less than 500 ms ago is lent without one), then no new one comes.
        .satisfiesAnyOf(
            o -> assertThat(o).startsWith("cannot borrow a connection: "),
            o -> assertThat(o).startsWith("isValid failed: PSQLException (SQLState 08"),
            o -> assertThat(o).startsWith("isValid(1) returned false: "),
            o -> assertThat(o).isEqualTo("no connection within 1000 ms"));

    proxy.refuseNewConnections(false);
    Await.until(WAIT, "a passing check", () -> check.check().status() == Status.PASS);
  }

  @Test
  void aPlainDataSourceFailsWhenTheDatabaseGoesAwayAndPassesOnceItIsBack(TestDatabase db)
      throws Exception {
    FaultProxy proxy = proxy(db);
    HealthCheck check = HealthChecks.dataSource(plain(url(proxy, db), db), Duration.ofSeconds(5));
    assertThat(check.check().status()).isEqualTo(Status.PASS);

    proxy.refuseNewConnections(true);
    HealthResult down = check.check();

    assertThat(down.status()).as(down.toString()).isEqualTo(Status.FAIL);
    assertThat(down.output())
        .as(down.toString())
        .startsWith("cannot borrow a connection: PSQLException (SQLState ");

    proxy.refuseNewConnections(false);
    Await.until(WAIT, "a passing check", () -> check.check().status() == Status.PASS);
  }

  @Test
  void aRefusedConnectionFailsAndShowsNoPassword(TestDatabase db) throws Exception {
    int port = closedPort();
    HealthResult refused =
        HealthChecks.dataSource(
                plain("jdbc:postgresql://127.0.0.1:" + port + "/shop?password=" + SECRET, db),
                Duration.ofSeconds(5))
            .check();

    assertThat(refused.status()).isEqualTo(Status.FAIL);
    assertThat(refused.output())
        .isEqualTo(
            "cannot borrow a connection: PSQLException (SQLState 08001): Connection to 127.0.0.1:"
                + port
                + " refused. Check that the hostname and port are correct and that the postmaster"
                + " is accepting TCP/IP connections.; caused by ConnectException: Connection"
                + " refused");
    NoSecrets.assertHidden(new AssertionError(refused.toString()), SECRET);

    // A user-info pgjdbc does not read as such: it quotes it as the host it cannot resolve.
    HealthResult quoted =
        HealthChecks.dataSource(
                plain("jdbc:postgresql://shop:" + SECRET + "@127.0.0.1:" + port + "/shop", db),
                Duration.ofSeconds(5))
            .check();

    assertThat(quoted.status()).isEqualTo(Status.FAIL);
    assertThat(quoted.output())
        .isEqualTo(
            "cannot borrow a connection: PSQLException (SQLState 08001): The connection attempt"
                + " failed.; caused by UnknownHostException: ***@127.0.0.1");
    NoSecrets.assertHidden(new AssertionError(quoted.toString()), SECRET);
  }

  @Test
  void aHungConnectFailsOnTheTimeoutAndHoldsOneThreadAtMost(TestDatabase db) throws Exception {
    FaultProxy proxy = proxy(db);
    PGSimpleDataSource plain = plain(url(proxy, db), db);
    // Without a login timeout pgjdbc connects on the caller's thread, deaf to an interrupt, until
    // the socket timeout ends the wait for the server's first answer. (With one, it waits for a
    // thread of its own, and the interrupt ends the wait at once.)
    plain.setLoginTimeout(0);
    plain.setSocketTimeout(3);
    HealthCheck check = HealthChecks.dataSource(plain, Duration.ofMillis(300));
    Await.until(WAIT, "a passing check", () -> check.check().status() == Status.PASS);
    proxy.blackhole(true);

    HealthResult hung = check.check();
    long threads = healthThreads();
    HealthResult again = check.check();

    assertThat(hung.status()).isEqualTo(Status.FAIL);
    assertThat(hung.output()).isEqualTo("no connection within 300 ms");
    assertThat(again.status()).isEqualTo(Status.FAIL);
    assertThat(again.output())
        .matches("the previous check still waits for a connection, for [0-9.]+ ms so far");
    assertThat(healthThreads()).isEqualTo(threads).isPositive();

    proxy.heal();
    Await.until(WAIT, "a passing check", () -> check.check().status() == Status.PASS);
  }

  @Test
  void underARegistrysDefaultTimeoutTheCheckReportsItsOwnTextFirst(TestDatabase db)
      throws Exception {
    FaultProxy proxy = proxy(db);
    PGSimpleDataSource plain = plain(url(proxy, db), db);
    plain.setLoginTimeout(0);
    plain.setSocketTimeout(3);
    try (HealthRegistry registry =
        HealthRegistry.builder()
            .ttl(Duration.ofMillis(1))
            .readiness("postgres", HealthChecks.dataSource(plain)) // its own default: 1 s
            .build()) {
      Await.until(
          WAIT, "a passing check", () -> registry.report(Role.READINESS).status() == Status.PASS);
      proxy.blackhole(true);
      try {
        // The registry cuts the run at 500 ms; the check stops waiting a margin before that.
        Await.until(
            WAIT, "a failing check", () -> registry.report(Role.READINESS).status() == Status.FAIL);
        HealthResult hung = registry.report(Role.READINESS).results().get("postgres");
        assertThat(hung).isNotNull();
        assertThat(hung.status()).isEqualTo(Status.FAIL);
        assertThat(hung.output())
            .matches(
                "no connection within [0-9.]+ ms"
                    + "|the previous check still waits for a connection, for [0-9.]+ ms so far");
      } finally {
        proxy.heal();
      }
    }
  }

  private static long healthThreads() {
    return Thread.getAllStackTraces().keySet().stream()
        .filter(t -> t.getName().startsWith("bulwark-health-datasource-"))
        .count();
  }

  @Test
  void aClosedPoolFails(TestDatabase db) throws Exception {
    HikariDataSource pool = pool(db.jdbcUrl(), db, "health-closed");
    HealthCheck check = HealthChecks.dataSource(pool);
    pool.close();

    HealthResult result = check.check();

    assertThat(result.status()).isEqualTo(Status.FAIL);
    assertThat(result.output()).isEqualTo("pool health-closed is closed");
  }

  @Test
  void refusesATimeoutOutOfRange(TestDatabase db) {
    DataSource ds = db.dataSource();
    assertThatThrownBy(() -> HealthChecks.dataSource(ds, Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("timeout must be between 10 ms and 60000 ms, but was 0 ms");
    assertThatThrownBy(() -> HealthChecks.dataSource(ds, Duration.ofMinutes(2)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("timeout must be between 10 ms and 60000 ms, but was 120000 ms");
    assertThatThrownBy(() -> HealthChecks.dataSource(null))
        .isInstanceOf(NullPointerException.class)
        .hasMessage("dataSource");
    assertThatThrownBy(() -> HealthChecks.dataSource(ds, null))
        .isInstanceOf(NullPointerException.class)
        .hasMessage("timeout");
  }

  /** A data source that hands out another's connections and unwraps to it. */
  private static final class Wrapper implements DataSource {
    private final DataSource inner;

    Wrapper(DataSource inner) {
      this.inner = Objects.requireNonNull(inner);
    }

    @Override
    public Connection getConnection() throws SQLException {
      return inner.getConnection();
    }

    @Override
    public Connection getConnection(String user, String password) throws SQLException {
      return inner.getConnection(user, password);
    }

    @Override
    public PrintWriter getLogWriter() throws SQLException {
      return inner.getLogWriter();
    }

    @Override
    public void setLogWriter(PrintWriter out) throws SQLException {
      inner.setLogWriter(out);
    }

    @Override
    public void setLoginTimeout(int seconds) throws SQLException {
      inner.setLoginTimeout(seconds);
    }

    @Override
    public int getLoginTimeout() throws SQLException {
      return inner.getLoginTimeout();
    }

    @Override
    public Logger getParentLogger() throws SQLFeatureNotSupportedException {
      return inner.getParentLogger();
    }

    @Override
    public <T> T unwrap(Class<T> type) throws SQLException {
      return type.isInstance(inner) ? type.cast(inner) : inner.unwrap(type);
    }

    @Override
    public boolean isWrapperFor(Class<?> type) throws SQLException {
      return type.isInstance(inner) || inner.isWrapperFor(type);
    }
  }
}

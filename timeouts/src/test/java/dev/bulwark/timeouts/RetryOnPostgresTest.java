package dev.bulwark.timeouts;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.assertj.core.api.Assertions.catchThrowableOfType;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.bulwark.testing.PostgresExtension;
import dev.bulwark.testing.TestDatabase;
import dev.bulwark.testing.TestPostgres;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.SQLTransientConnectionException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The PostgreSQL classifiers against failures provoked on a real server. */
@ExtendWith(PostgresExtension.class)
class RetryOnPostgresTest {
  private static final Duration WAIT = Duration.ofSeconds(20);
  private static final Duration POLL = Duration.ofMillis(2);

  private final List<AutoCloseable> closeLast = new ArrayList<>();
  private final ExecutorService threads = Executors.newFixedThreadPool(2);
  private TestDatabase db;
  private HikariDataSource pool;

  @BeforeEach
  void table(TestDatabase db) throws SQLException {
    this.db = db;
    pool = pool(db.jdbcUrl(), "retry-on-test", 4, Duration.ofSeconds(10));
    try (Connection c = pool.getConnection();
        Statement s = c.createStatement()) {
      s.execute("create table account(id int primary key, balance int not null)");
      s.execute("insert into account values (1, 100), (2, 100)");
    }
  }

  @AfterEach
  void close() throws Exception {
    threads.shutdownNow();
    assertThat(threads.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
    for (int i = closeLast.size() - 1; i >= 0; i--) {
      closeLast.get(i).close();
    }
    pool.close();
  }

  @Test
  void aTerminatedBackendIs57P01ForItsVictimAndThen08003() throws Exception {
    Connection victim = db.connect();
    closeLast.add(victim);
    int pid = TestPostgres.backendPid(victim);
    Future<?> sleeping =
        threads.submit(
            () -> {
              try (Statement s = victim.createStatement()) {
                s.execute("select pg_sleep(30)");
              }
              return null;
            });
    awaitActive(pid, "pg_sleep");

    assertThat(db.server().terminateBackend(pid)).isTrue();

    SQLException terminated = (SQLException) causeOf(sleeping);
    assertThat(terminated.getSQLState()).isEqualTo("57P01");
    assertThat(terminated.getMessage())
        .isEqualTo("FATAL: terminating connection due to administrator command");
    assertRetriedAsConnectionFailure(terminated);

    SQLException closed = sqlFailure(() -> victim.createStatement().execute("select 1"));
    assertThat(closed.getSQLState()).isEqualTo("08003");
    assertThat(closed.getMessage()).isEqualTo("This connection has been closed.");
    assertRetriedAsConnectionFailure(closed);
  }

  @Test
  void aSessionClosedForIdlingIs57P05() throws Exception {
    Connection idle = db.connect();
    closeLast.add(idle);
    int pid = TestPostgres.backendPid(idle);
    try (Statement s = idle.createStatement()) {
      s.execute("set idle_session_timeout = '100ms'");
    }
    awaitGone(pid);

    SQLException timedOut = sqlFailure(() -> idle.createStatement().execute("select 1"));

    assertThat(timedOut.getSQLState()).isEqualTo("57P05");
    assertThat(timedOut.getMessage())
        .isEqualTo("FATAL: terminating connection due to idle-session timeout");
    assertRetriedAsConnectionFailure(timedOut);
  }

  @Test
  void aDeadlockIs40P01ForExactlyOneOfTheTwoTransactions() throws Exception {
    Connection a = transaction();
    Connection b = transaction();
    update(a, 1, -10);
    update(b, 2, -3);
    int pidA = TestPostgres.backendPid(a);
    Future<?> aWaits = threads.submit(() -> update(a, 2, 10));
    awaitLockWait(pidA);

    Throwable bFailure = catchThrowable(() -> update(b, 1, 3));
    Throwable aFailure = causeOrNull(aWaits);

    assertThat(aFailure == null ^ bFailure == null)
        .as("one victim, one survivor: a=%s, b=%s", aFailure, bFailure)
        .isTrue();
    SQLException deadlock = (SQLException) (aFailure != null ? aFailure : bFailure);
    assertThat(deadlock.getSQLState()).isEqualTo("40P01");
    assertThat(deadlock.getMessage()).startsWith("ERROR: deadlock detected");
    assertRetriedAsSerializationFailure(deadlock);
  }

  @Test
  void aConcurrentUpdateUnderSerializableIs40001() throws Exception {
    Connection serializable = transaction();
    serializable.setTransactionIsolation(Connection.TRANSACTION_SERIALIZABLE);
    assertThat(balance(serializable, 1)).isEqualTo(100);
    try (Connection other = pool.getConnection()) {
      update(other, 1, 5);
    }

    SQLException conflict = sqlFailure(() -> update(serializable, 1, 10));

    assertThat(conflict.getSQLState()).isEqualTo("40001");
    assertThat(conflict.getMessage())
        .isEqualTo("ERROR: could not serialize access due to concurrent update");
    assertRetriedAsSerializationFailure(conflict);
  }

  @Test
  void aRoleOverItsConnectionLimitIs53300() throws Exception {
    assumeTrue(db.server().isEmbedded(), "needs a superuser to create a role");
    String role =
        "bulwark_limited_" + Long.toHexString(ThreadLocalRandom.current().nextLong() >>> 1);
    try (Connection admin = db.connect();
        Statement s = admin.createStatement()) {
      s.execute("create role " + role + " login connection limit 1");
    }
    closeLast.add(() -> dropRole(role));
    Connection first = DriverManager.getConnection(db.jdbcUrl(), role, "");
    closeLast.add(first);

    SQLException refused = sqlFailure(() -> DriverManager.getConnection(db.jdbcUrl(), role, ""));

    assertThat(refused.getSQLState()).isEqualTo("53300");
    assertThat(refused.getMessage())
        .isEqualTo("FATAL: too many connections for role \"" + role + "\"");
    assertRetriedAsConnectionFailure(refused);
  }

  @Test
  void anExhaustedPoolTimesOutWithSqlTransientConnectionExceptionAndNoSqlState() throws Exception {
    HikariDataSource tiny = pool(db.jdbcUrl(), "tiny", 1, Duration.ofMillis(250));
    closeLast.add(tiny);
    Connection held = tiny.getConnection();
    closeLast.add(held);

    SQLException timeout = sqlFailure(tiny::getConnection);

    assertThat((Throwable) timeout).isExactlyInstanceOf(SQLTransientConnectionException.class);
    assertThat(timeout.getSQLState()).isNull();
    assertThat(timeout.getMessage())
        .startsWith("tiny - Connection is not available, request timed out after ")
        .endsWith("ms (total=1, active=1, idle=0, waiting=0)");
    assertRetriedAsConnectionFailure(timeout);
    // Wrapped by a framework, it is still found.
    assertThat(RetryOn.postgresTransient().test(new IllegalStateException("wrapped", timeout)))
        .isTrue();
  }

  @Test
  void aPoolThatCannotReachTheServerTimesOutWith08001() throws Exception {
    String url = "jdbc:postgresql://127.0.0.1:" + closedPort() + "/postgres";
    HikariDataSource unreachable = pool(url, "unreachable", 1, Duration.ofMillis(250));
    closeLast.add(unreachable);

    SQLException timeout = poolTimeoutWithState(unreachable);

    assertThat(timeout.getSQLState()).isEqualTo("08001");
    assertThat(timeout.getNextException().getMessage()).contains("refused");
    assertRetriedAsConnectionFailure(timeout);
  }

  @Test
  void aPoolTimeoutCausedByAMissingDatabaseIsNotRetried() throws Exception {
    HikariDataSource missing =
        pool(db.server().jdbcUrl("no_such_database"), "missing", 1, Duration.ofMillis(250));
    closeLast.add(missing);

    SQLException timeout = poolTimeoutWithState(missing);

    assertThat(timeout.getSQLState()).isEqualTo("3D000");
    assertThat(timeout.getNextException().getMessage())
        .isEqualTo("FATAL: database \"no_such_database\" does not exist");
    assertNotRetried(timeout);
  }

  @Test
  void aServerWithoutSslIs08004AndNotRetried() throws Exception {
    assumeTrue(db.server().isEmbedded(), "the embedded server has no SSL");

    SQLException rejected =
        sqlFailure(
            () ->
                DriverManager.getConnection(
                    db.jdbcUrl() + "?sslmode=require", db.user(), db.password()));

    assertThat(rejected.getSQLState()).isEqualTo("08004");
    assertThat(rejected.getMessage()).isEqualTo("The server does not support SSL.");
    assertNotRetried(rejected);
  }

  @Test
  void aUniqueViolationASyntaxErrorAndAStatementTimeoutAreNotRetried() throws Exception {
    try (Connection c = pool.getConnection();
        Statement s = c.createStatement()) {
      SQLException unique = sqlFailure(() -> s.execute("insert into account values (1, 0)"));
      assertThat(unique.getSQLState()).isEqualTo("23505");
      assertNotRetried(unique);

      SQLException syntax = sqlFailure(() -> s.execute("selec 1"));
      assertThat(syntax.getSQLState()).isEqualTo("42601");
      assertNotRetried(syntax);

      s.execute("set statement_timeout = '50ms'");
      SQLException timeout = sqlFailure(() -> s.execute("select pg_sleep(5)"));
      s.execute("set statement_timeout = 0");
      assertThat(timeout.getSQLState()).isEqualTo("57014");
      assertThat(timeout.getMessage())
          .isEqualTo("ERROR: canceling statement due to statement timeout");
      assertNotRetried(timeout);
      // Opting in is one expression.
      assertThat(RetryOn.postgresTransient().or(RetryOn.sqlStates("57014")).test(timeout)).isTrue();
    }
  }

  @Test
  void retryRunsASerializationFailureAgainToSuccess() throws Exception {
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    Retry retry = retry("credit", registry);
    AtomicInteger attempts = new AtomicInteger();

    int balance =
        retry.call(
            () -> {
              int attempt = attempts.incrementAndGet();
              try (Connection c = pool.getConnection()) {
                c.setAutoCommit(false);
                c.setTransactionIsolation(Connection.TRANSACTION_SERIALIZABLE);
                try {
                  int read = balance(c, 1);
                  if (attempt == 1) {
                    try (Connection other = pool.getConnection()) {
                      update(other, 1, 5); // commits between this transaction's read and write
                    }
                  }
                  update(c, 1, 10);
                  c.commit();
                  return read + 10;
                } catch (SQLException e) {
                  c.rollback();
                  throw e;
                }
              }
            });

    assertThat(balance).isEqualTo(115);
    assertThat(attempts).hasValue(2);
    assertThat(committedBalance(1)).isEqualTo(115);
    assertThat(registry.get("bulwark.timeouts.retry.retries").counter().count()).isEqualTo(1.0);
    assertThat(outcome(registry, "success_after_retry")).isEqualTo(1.0);
  }

  @Test
  void retryRunsTheDeadlockVictimAgainToSuccess() throws Exception {
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    Retry retry = retry("transfer", registry);
    CyclicBarrier bothHoldTheirFirstRow = new CyclicBarrier(2);

    AtomicInteger attemptsOneToTwo = new AtomicInteger();
    AtomicInteger attemptsTwoToOne = new AtomicInteger();

    Future<?> oneToTwo =
        threads.submit(
            () -> retry.call(() -> transfer(1, 2, 10, bothHoldTheirFirstRow, attemptsOneToTwo)));
    Future<?> twoToOne =
        threads.submit(
            () -> retry.call(() -> transfer(2, 1, 3, bothHoldTheirFirstRow, attemptsTwoToOne)));
    oneToTwo.get(WAIT.toSeconds(), TimeUnit.SECONDS);
    twoToOne.get(WAIT.toSeconds(), TimeUnit.SECONDS);

    assertThat(committedBalance(1)).isEqualTo(100 - 10 + 3);
    assertThat(committedBalance(2)).isEqualTo(100 + 10 - 3);
    // One deadlock, one victim, run once more.
    assertThat(attemptsOneToTwo.get() + attemptsTwoToOne.get()).isEqualTo(3);
    assertThat(registry.get("bulwark.timeouts.retry.attempts").counter().count()).isEqualTo(3.0);
    assertThat(outcome(registry, "success")).isEqualTo(1.0);
    assertThat(outcome(registry, "success_after_retry")).isEqualTo(1.0);
  }

  @Test
  void retryDoesNotRunAUniqueViolationAgain() {
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    Retry retry = retry("insert", registry);
    AtomicInteger attempts = new AtomicInteger();

    Throwable thrown =
        catchThrowable(
            () ->
                retry.call(
                    () -> {
                      attempts.incrementAndGet();
                      try (Connection c = pool.getConnection();
                          Statement s = c.createStatement()) {
                        return s.executeUpdate("insert into account values (2, 0)");
                      }
                    }));

    assertThat(thrown).isInstanceOf(SQLException.class);
    assertThat(((SQLException) thrown).getSQLState()).isEqualTo("23505");
    assertThat(attempts).hasValue(1);
    assertThat(outcome(registry, "not_retryable")).isEqualTo(1.0);
  }

  /**
   * Moves {@code amount} between two rows, locking {@code from} first. The first attempts of both
   * transfers each lock their first row before either asks for its second: a certain deadlock.
   */
  private int transfer(
      int from, int to, int amount, CyclicBarrier firstAttemptsMeet, AtomicInteger attempts)
      throws SQLException {
    boolean first = attempts.incrementAndGet() == 1;
    try (Connection c = pool.getConnection()) {
      c.setAutoCommit(false);
      try {
        update(c, from, -amount);
        if (first) {
          awaitOnce(firstAttemptsMeet);
        }
        update(c, to, amount);
        c.commit();
        return amount;
      } catch (SQLException e) {
        c.rollback();
        throw e;
      }
    }
  }

  private Retry retry(String name, SimpleMeterRegistry registry) {
    return Retry.builder(name)
        .maxAttempts(3)
        .backoff(Duration.ofMillis(10), Duration.ofMillis(50))
        .retryIf(RetryOn.postgresTransient())
        .meterRegistry(registry)
        .build();
  }

  private static double outcome(SimpleMeterRegistry registry, String outcome) {
    return registry.get("bulwark.timeouts.retry.calls").tag("outcome", outcome).counter().count();
  }

  private static void assertRetriedAsConnectionFailure(SQLException failure) {
    assertMatches(failure, true, false);
  }

  private static void assertRetriedAsSerializationFailure(SQLException failure) {
    assertMatches(failure, false, true);
  }

  private static void assertNotRetried(SQLException failure) {
    assertMatches(failure, false, false);
  }

  private static void assertMatches(
      SQLException failure, boolean connectionFailure, boolean serializationFailure) {
    String state = failure.getSQLState();
    assertThat(RetryOn.postgresConnectionFailure().test(failure))
        .as("postgresConnectionFailure on %s", state)
        .isEqualTo(connectionFailure);
    assertThat(RetryOn.postgresSerializationFailure().test(failure))
        .as("postgresSerializationFailure on %s", state)
        .isEqualTo(serializationFailure);
    assertThat(RetryOn.postgresTransient().test(failure))
        .as("postgresTransient on %s", state)
        .isEqualTo(connectionFailure || serializationFailure);
  }

  private Connection transaction() throws SQLException {
    Connection c = pool.getConnection();
    closeLast.add(c);
    c.setAutoCommit(false);
    return c;
  }

  private static Void update(Connection c, int id, int delta) throws SQLException {
    try (PreparedStatement ps =
        c.prepareStatement("update account set balance = balance + ? where id = ?")) {
      ps.setInt(1, delta);
      ps.setInt(2, id);
      assertThat(ps.executeUpdate()).isEqualTo(1);
    }
    return null;
  }

  private static int balance(Connection c, int id) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("select balance from account where id = ?")) {
      ps.setInt(1, id);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getInt(1);
      }
    }
  }

  private int committedBalance(int id) throws SQLException {
    try (Connection c = pool.getConnection()) {
      return balance(c, id);
    }
  }

  private static HikariDataSource pool(String url, String name, int size, Duration timeout) {
    HikariConfig config = new HikariConfig();
    config.setJdbcUrl(url);
    config.setUsername(TestPostgres.get().user());
    config.setPassword(TestPostgres.get().password());
    config.setMaximumPoolSize(size);
    config.setConnectionTimeout(timeout.toMillis());
    config.setInitializationFailTimeout(-1);
    config.setPoolName(name);
    return new HikariDataSource(config);
  }

  /**
   * Asks the pool until its timeout carries the state of a failed connection attempt: the first
   * timeouts may come before the pool's first attempt has failed.
   */
  private static SQLException poolTimeoutWithState(HikariDataSource pool) {
    long end = System.nanoTime() + WAIT.toNanos();
    SQLException timeout;
    do {
      timeout = sqlFailure(pool::getConnection);
      assertThat((Throwable) timeout).isExactlyInstanceOf(SQLTransientConnectionException.class);
    } while (timeout.getSQLState() == null && System.nanoTime() < end);
    assertThat(timeout.getMessage())
        .startsWith(
            pool.getPoolName() + " - Connection is not available, request timed out after ");
    return timeout;
  }

  private static SQLException sqlFailure(ThrowingCall call) {
    SQLException failure = catchThrowableOfType(SQLException.class, call::run);
    assertThat((Throwable) failure).as("an SQLException").isNotNull();
    return failure;
  }

  private static Throwable causeOf(Future<?> future) throws InterruptedException {
    Throwable cause = causeOrNull(future);
    assertThat(cause).as("the task's failure").isNotNull();
    return cause;
  }

  private static Throwable causeOrNull(Future<?> future) throws InterruptedException {
    try {
      future.get(WAIT.toSeconds(), TimeUnit.SECONDS);
      return null;
    } catch (ExecutionException e) {
      return e.getCause();
    } catch (java.util.concurrent.TimeoutException e) {
      throw new AssertionError("the task did not end within " + WAIT, e);
    }
  }

  private static void awaitOnce(CyclicBarrier barrier) throws SQLException {
    try {
      barrier.await(WAIT.toSeconds(), TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new IllegalStateException("the other transaction did not take its first row", e);
    }
  }

  private void awaitActive(int pid, String queryPart) throws SQLException {
    awaitRow(
        "select count(*) from pg_stat_activity where pid = ? and state = 'active' and query like ?",
        pid,
        "%" + queryPart + "%",
        n -> n == 1);
  }

  private void awaitLockWait(int pid) throws SQLException {
    awaitRow(
        "select count(*) from pg_stat_activity where pid = ? and wait_event_type = 'Lock'"
            + " and query like ?",
        pid,
        "%update account%",
        n -> n == 1);
  }

  private void awaitGone(int pid) throws SQLException {
    awaitRow(
        "select count(*) from pg_stat_activity where pid = ? and query like ?",
        pid,
        "%",
        n -> n == 0);
  }

  private void awaitRow(String sql, int pid, String like, Predicate<Integer> done)
      throws SQLException {
    long end = System.nanoTime() + WAIT.toNanos();
    try (Connection c = db.server().connect();
        PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setInt(1, pid);
      ps.setString(2, like);
      while (true) {
        try (ResultSet rs = ps.executeQuery()) {
          rs.next();
          if (done.test(rs.getInt(1))) {
            return;
          }
        }
        if (System.nanoTime() > end) {
          throw new AssertionError(
              String.format(
                  Locale.ROOT, "backend %d not as awaited within %s: %s", pid, WAIT, sql));
        }
        LockSupport.parkNanos(POLL.toNanos());
      }
    }
  }

  private void dropRole(String role) throws SQLException {
    try (Connection admin = db.server().connect();
        Statement s = admin.createStatement()) {
      s.execute("drop role if exists " + role);
    }
  }

  private static int closedPort() throws Exception {
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return socket.getLocalPort();
    }
  }

  /** A call that may throw anything. */
  @FunctionalInterface
  private interface ThrowingCall {
    void run() throws Exception;
  }
}

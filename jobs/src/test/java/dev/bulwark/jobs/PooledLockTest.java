package dev.bulwark.jobs;

import static org.assertj.core.api.Assertions.assertThat;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.bulwark.testing.Await;
import dev.bulwark.testing.PostgresExtension;
import dev.bulwark.testing.TestDatabase;
import dev.bulwark.testing.TestPostgres;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The pitfall of a session-level advisory lock held on a connection that goes back to a pool: the
 * next borrower inherits it. The scheduler's lock connection never goes back with the lock.
 */
@ExtendWith(PostgresExtension.class)
class PooledLockTest {
  private static final String ADVISORY_LOCKS_OF_THIS_SESSION =
      "select count(*) from pg_locks where locktype = 'advisory' and pid = pg_backend_pid()";

  private final List<AutoCloseable> open = new ArrayList<>();

  @AfterEach
  void closeAll() throws Exception {
    for (int i = open.size() - 1; i >= 0; i--) {
      open.get(i).close();
    }
  }

  @Test
  void aLockTakenOnAPooledConnectionIsInheritedByTheNextBorrower(TestDatabase db) throws Exception {
    // A plain HikariCP pool of one connection, so the next borrower gets the same session.
    HikariConfig config = new HikariConfig();
    config.setJdbcUrl(db.jdbcUrl());
    config.setUsername(db.user());
    config.setPassword(db.password());
    config.setMaximumPoolSize(1);
    HikariDataSource pool = new HikariDataSource(config);
    open.add(pool);
    try (Connection c = pool.getConnection()) {
      Db.execute(c, "select pg_try_advisory_lock(12345)");
    }
    try (Connection next = pool.getConnection()) {
      assertThat(Db.count(next, ADVISORY_LOCKS_OF_THIS_SESSION)).isOne();
    }
    assertThat(Db.lockFree(db, 12345)).isFalse();
  }

  @Test
  void theSchedulersLockConnectionGoesBackWithoutItsLock(TestDatabase db, TestPostgres server)
      throws Exception {
    HikariDataSource pool = Db.pool(db, "scheduler", 2);
    open.add(pool);
    LockingScheduler scheduler = LockingScheduler.postgres(pool).name("pitfall").build();
    open.add(scheduler);
    AtomicInteger runs = new AtomicInteger();
    List<String> seen = new ArrayList<>();
    scheduler.schedule(
        "rates",
        Schedule.fixedRate(Duration.ofSeconds(1)),
        context -> {
          // The job's own connection is not the lock's: its session holds no advisory lock.
          try (Connection c = pool.getConnection()) {
            synchronized (seen) {
              seen.add(
                  Db.count(c, ADVISORY_LOCKS_OF_THIS_SESSION)
                      + " "
                      + Db.lockHolders(db, LockKeys.of("pitfall", "rates")).contains(pid(c)));
            }
          }
          if (runs.incrementAndGet() % 2 == 0) {
            throw new IllegalStateException("a failing run releases its lock too");
          }
        });

    Await.until(Duration.ofSeconds(30), "four runs", () -> runs.get() >= 4);
    Await.until(
        Duration.ofSeconds(10),
        "the fourth run's end",
        () ->
            scheduler.snapshot("rates").orElseThrow().failures() >= 2
                && !scheduler.snapshot("rates").orElseThrow().running());
    scheduler.close();

    synchronized (seen) {
      assertThat(seen).hasSizeGreaterThanOrEqualTo(4).containsOnly("0 false");
    }
    // Both of the pool's connections went back without a lock.
    try (Connection a = pool.getConnection();
        Connection b = pool.getConnection()) {
      assertThat(Db.count(a, ADVISORY_LOCKS_OF_THIS_SESSION)).isZero();
      assertThat(Db.count(b, ADVISORY_LOCKS_OF_THIS_SESSION)).isZero();
    }
    assertThat(Db.lockFree(db, LockKeys.of("pitfall", "rates"))).isTrue();
  }

  private static int pid(Connection c) throws Exception {
    try (PreparedStatement s = c.prepareStatement("select pg_backend_pid()");
        ResultSet r = s.executeQuery()) {
      r.next();
      return r.getInt(1);
    }
  }
}

package dev.bulwark.jobs;

import static dev.bulwark.jobs.Ledgers.assertBalanced;
import static org.assertj.core.api.Assertions.assertThat;

import com.zaxxer.hikari.HikariDataSource;
import dev.bulwark.pool.PoolProfile;
import dev.bulwark.pool.Pools;
import dev.bulwark.testing.PostgresExtension;
import dev.bulwark.testing.TestDatabase;
import dev.bulwark.timeouts.JdbcTimeouts;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The audits' activity log: a queue of at most 10,000 entries, flushed every 5 s in batches of 500
 * into a real PostgreSQL table, alerting at 5,000. Every row the table holds is one the ledger
 * counts as processed.
 */
@ExtendWith(PostgresExtension.class)
class WorkerPostgresTest {
  private static final int ENTRIES = 2_345;

  /** An activity-log entry. */
  record LogEntry(long id, String action) {}

  @Test
  void theActivityLogInsertsEveryProcessedEntryOnce(TestDatabase db) throws Exception {
    try (Connection c = db.connect();
        Statement s = c.createStatement()) {
      s.execute("create table activity_log (id bigint primary key, action text not null)");
    }
    try (HikariDataSource pool =
        Pools.postgres(db.jdbcUrl(), db.user(), db.password())
            .profile(PoolProfile.WORKER)
            .poolName("activity-log")
            .maximumPoolSize(1)
            .build()) {
      BoundedWorker<LogEntry> worker =
          BoundedWorker.<LogEntry>builder("activity-log")
              .capacity(10_000)
              .batchSize(500)
              .flushEvery(Duration.ofSeconds(5))
              .alertAt(5_000)
              .handler(batch -> insertAll(pool, batch))
              .build();
      for (long id = 0; id < ENTRIES; id++) {
        assertThat(worker.offer(new LogEntry(id, "login"))).isEqualTo(Offer.ACCEPTED);
      }

      ShutdownReport<LogEntry> report = worker.shutdown(Duration.ofSeconds(30));

      assertThat(report.drained()).isTrue();
      WorkerLedger ledger = assertBalanced(report.ledger());
      assertThat(ledger.processed()).isEqualTo(ENTRIES);
      try (Connection c = db.connect();
          Statement s = c.createStatement();
          ResultSet rows =
              s.executeQuery("select count(*), count(distinct id) from activity_log")) {
        rows.next();
        assertThat(rows.getLong(1)).isEqualTo(ledger.processed());
        assertThat(rows.getLong(2)).isEqualTo(ledger.processed());
      }
    }
  }

  private static void insertAll(HikariDataSource pool, List<LogEntry> batch) throws SQLException {
    try (Connection c = pool.getConnection();
        PreparedStatement insert =
            c.prepareStatement("insert into activity_log (id, action) values (?, ?)")) {
      // pgjdbc ignores interrupts: the statement itself must end by the batch's deadline.
      JdbcTimeouts.applyTo(insert, Duration.ofSeconds(10));
      for (LogEntry entry : batch) {
        insert.setLong(1, entry.id());
        insert.setString(2, entry.action());
        insert.addBatch();
      }
      insert.executeBatch();
    }
  }
}

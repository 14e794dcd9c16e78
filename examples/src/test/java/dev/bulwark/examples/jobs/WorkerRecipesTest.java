package dev.bulwark.examples.jobs;

import static org.assertj.core.api.Assertions.assertThat;

import com.zaxxer.hikari.HikariDataSource;
import dev.bulwark.core.Secrets;
import dev.bulwark.jobs.BoundedWorker;
import dev.bulwark.jobs.MemoryAction;
import dev.bulwark.jobs.Offer;
import dev.bulwark.jobs.ShutdownReport;
import dev.bulwark.jobs.StopReason;
import dev.bulwark.pool.PoolProfile;
import dev.bulwark.pool.Pools;
import dev.bulwark.testing.Await;
import dev.bulwark.testing.PostgresExtension;
import dev.bulwark.testing.TestDatabase;
import dev.bulwark.timeouts.JdbcTimeouts;
import dev.bulwark.timeouts.Retry;
import dev.bulwark.timeouts.RetryOn;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The bounded-worker recipes of {@code docs/jobs.md}, run as written. */
@ExtendWith(PostgresExtension.class)
class WorkerRecipesTest {
  private static final Logger log = LoggerFactory.getLogger(WorkerRecipesTest.class);

  private final MeterRegistry registry = new SimpleMeterRegistry();
  private final List<AutoCloseable> closing = new ArrayList<>();

  record LogEntry(UUID id, long userId, String action, OffsetDateTime at) {}

  record ExportJob(long id) {}

  /** Where the exports go. */
  static final class Exporter {
    final ConcurrentLinkedQueue<ExportJob> done = new ConcurrentLinkedQueue<>();

    void export(ExportJob job) {
      done.add(job);
    }
  }

  /** Where failed exports are kept. */
  static final class FailedExports {
    final ConcurrentLinkedQueue<ExportJob> saved = new ConcurrentLinkedQueue<>();

    void save(ExportJob job, Throwable failure) {
      saved.add(job);
    }
  }

  /** The queue the exports came from. */
  static final class JobQueue {
    final List<ExportJob> requeued = new ArrayList<>();

    void requeue(List<ExportJob> jobs) {
      requeued.addAll(jobs);
    }
  }

  @AfterEach
  void close() throws Exception {
    for (int i = closing.size() - 1; i >= 0; i--) {
      closing.get(i).close();
    }
  }

  @Test
  void theShapeOfAWorker() throws Exception {
    List<String> stored = new ArrayList<>();
    // snippet:begin jobs-worker-shape
    BoundedWorker<String> worker =
        BoundedWorker.<String>builder("audit-trail")
            .capacity(10_000)
            .batchSize(500)
            .flushEvery(Duration.ofSeconds(5))
            .handler(batch -> stored.addAll(batch))
            .build();

    Offer offer = worker.offer("user 7 signed in"); // never waits: REJECTED_FULL when full
    // snippet:end
    closing.add(worker);
    assertThat(offer).isEqualTo(Offer.ACCEPTED);
    ShutdownReport<String> report = worker.shutdown(Duration.ofSeconds(10));
    assertThat(report.drained()).isTrue();
    assertThat(stored).containsExactly("user 7 signed in");
  }

  @Test
  void theActivityLogStoresEveryEntryItAccepts(TestDatabase db) throws Exception {
    execute(
        db,
        "create table activity_log (id uuid primary key, user_id bigint not null,"
            + " action text not null, at timestamptz not null)");
    Counter droppedEntries = registry.counter("activity.entries.dropped");
    String jdbcUrl = db.jdbcUrl();
    String user = db.user();
    String password = db.password();
    // snippet:begin jobs-worker-activity-log
    HikariDataSource database =
        Pools.postgres(jdbcUrl, user, password).profile(PoolProfile.WORKER).build();

    BoundedWorker<LogEntry> activityLog =
        BoundedWorker.<LogEntry>builder("activity-log")
            .capacity(10_000)
            .batchSize(500)
            .flushEvery(Duration.ofSeconds(5))
            .alertAt(5_000)
            .batchTimeLimit(Duration.ofSeconds(10))
            .retry(
                Retry.builder("activity-log")
                    .retryIf(RetryOn.postgresTransient())
                    .maxAttempts(3)
                    .build())
            .deadLetter(
                (batch, failure) ->
                    log.error(
                        "{} activity entries not stored: {}",
                        batch.size(),
                        Secrets.maskText(failure.toString())))
            .handler(
                batch -> {
                  try (Connection c = database.getConnection();
                      PreparedStatement insert =
                          c.prepareStatement(
                              "insert into activity_log (id, user_id, action, at)"
                                  + " values (?, ?, ?, ?) on conflict (id) do nothing")) {
                    JdbcTimeouts.applyTo(insert, Duration.ofSeconds(10));
                    for (LogEntry entry : batch) {
                      insert.setObject(1, entry.id());
                      insert.setLong(2, entry.userId());
                      insert.setString(3, entry.action());
                      insert.setObject(4, entry.at());
                      insert.addBatch();
                    }
                    insert.executeBatch();
                  }
                })
            .meterRegistry(registry)
            .build();
    // snippet:end
    closing.add(database);
    closing.add(activityLog);

    for (int i = 0; i < 1_200; i++) {
      LogEntry entry = new LogEntry(UUID.randomUUID(), i % 7, "view", OffsetDateTime.now());
      // snippet:begin jobs-worker-activity-log-offer
      if (!activityLog.offer(entry).accepted()) {
        droppedEntries.increment(); // the queue is full or closing: the request goes on
      }
      // snippet:end
    }
    // The two full batches of 500 go at once; the last 200 wait for the 5 s flush or the shutdown.
    Await.until(
        Duration.ofSeconds(30),
        "two full batches",
        () -> activityLog.snapshot().ledger().processed() >= 1_000);
    // snippet:begin jobs-worker-activity-log-shutdown
    ShutdownReport<LogEntry> report = activityLog.shutdown(Duration.ofSeconds(20));
    report.undelivered().forEach(entry -> log.warn("activity entry not stored: {}", entry));
    // snippet:end
    assertThat(report.drained()).isTrue();
    assertThat(report.ledger().processed()).isEqualTo(1_200);
    assertThat(report.ledger().unaccounted()).isZero();
    assertThat(droppedEntries.count()).isZero();
    assertThat(count(db, "select count(*) from activity_log")).isEqualTo(1_200);
  }

  @Test
  void theExportWorkerStopsWithAReportAndAStatus() throws Exception {
    Exporter exporter = new Exporter();
    FailedExports failedExports = new FailedExports();
    JobQueue jobQueue = new JobQueue();
    // snippet:begin jobs-worker-recycle
    BoundedWorker<ExportJob> exports =
        BoundedWorker.<ExportJob>builder("exports")
            .capacity(1_000)
            .batchSize(1)
            .blockWhenFull(Duration.ofSeconds(1))
            .batchTimeLimit(Duration.ofMinutes(5))
            .maxIterations(86_400)
            .maxRuntime(Duration.ofHours(24))
            .memoryCeiling(0.9, MemoryAction.STOP)
            .drainTimeout(Duration.ofSeconds(30))
            .handler(batch -> exporter.export(batch.get(0)))
            .deadLetter((batch, failure) -> failedExports.save(batch.get(0), failure))
            .build();
    // snippet:end
    closing.add(exports);
    for (long id = 1; id <= 5; id++) {
      assertThat(exports.offer(new ExportJob(id)).accepted()).isTrue();
    }
    // The service's stop signal, here: a close once the five exports are done.
    CompletableFuture<Void> stop =
        CompletableFuture.runAsync(
            () -> {
              try {
                Await.until(
                    Duration.ofSeconds(30), "five exports", () -> exporter.done.size() == 5);
              } catch (Exception e) {
                throw new IllegalStateException(e);
              }
              exports.close();
            });

    // snippet:begin jobs-worker-recycle-wait
    // It stops by itself within 24 h and its 30 s drain, or sooner at a limit.
    ShutdownReport<ExportJob> report = exports.awaitTermination(Duration.ofHours(25)).orElseThrow();
    jobQueue.requeue(report.undelivered());
    log.info("exports stopped ({}): {}", report.reason(), report.ledger());
    int status = report.reason() == StopReason.CLOSED ? 0 : 75; // 75: restart me
    // snippet:end
    stop.get(30, TimeUnit.SECONDS);
    assertThat(status).isZero();
    assertThat(report.ledger().processed()).isEqualTo(5);
    assertThat(jobQueue.requeued).isEmpty();
    assertThat(failedExports.saved).isEmpty();
  }

  private static long count(TestDatabase db, String sql) throws SQLException {
    try (Connection c = db.connect();
        Statement s = c.createStatement();
        ResultSet r = s.executeQuery(sql)) {
      r.next();
      return r.getLong(1);
    }
  }

  private static void execute(TestDatabase db, String sql) throws SQLException {
    try (Connection c = db.connect();
        Statement s = c.createStatement()) {
      s.execute(sql);
    }
  }
}

package dev.bulwark.jobs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.zaxxer.hikari.HikariDataSource;
import dev.bulwark.pool.Pools;
import dev.bulwark.pool.ServerSettings;
import dev.bulwark.testing.Await;
import dev.bulwark.testing.PgBouncerExtension;
import dev.bulwark.testing.PostgresExtension;
import dev.bulwark.testing.TestDatabase;
import dev.bulwark.testing.TestPgBouncer;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The scheduler behind a real PgBouncer: refused in transaction pooling mode, where session-level
 * advisory locks do not work, and working in session mode. Skipped, with the reason, where there is
 * no pgbouncer binary.
 */
@ExtendWith({PgBouncerExtension.class, PostgresExtension.class})
class PgBouncerSchedulerTest {

  @Test
  void transactionPoolingIsRefusedWithAClearError(TestPgBouncer bouncer, TestDatabase db) {
    try (HikariDataSource pool =
        Pools.postgres(
                bouncer.transactionJdbcUrl(db.database()), bouncer.user(), bouncer.password())
            .serverSettingsVia(ServerSettings.SERVER_DEFAULTS)
            .maximumPoolSize(3)
            .build()) {
      assertThatThrownBy(() -> LockingScheduler.postgres(pool).name("behind-bouncer").build())
          .isInstanceOf(IllegalStateException.class)
          .hasMessageStartingWith(
              "scheduler behind-bouncer: its data source hands out connections that share"
                  + " database sessions (backend pid ")
          .hasMessageContaining("as PgBouncer does in transaction or statement pooling mode")
          .hasMessageEndingWith(
              "Give the scheduler a data source that connects to PostgreSQL directly, or through"
                  + " a pool in session mode");
    }
  }

  @Test
  void sessionPoolingRunsEachPeriodOnce(TestPgBouncer bouncer, TestDatabase db) throws Exception {
    try (HikariDataSource pool =
            Pools.postgres(
                    bouncer.sessionJdbcUrl(db.database()), bouncer.user(), bouncer.password())
                .serverSettingsVia(ServerSettings.CONNECTION_INIT_SQL)
                .maximumPoolSize(3)
                .build();
        LockingScheduler scheduler =
            LockingScheduler.postgres(pool).name("behind-bouncer").build()) {
      AtomicInteger runs = new AtomicInteger();
      scheduler.schedule(
          "tick", Schedule.fixedRate(Duration.ofSeconds(1)), context -> runs.incrementAndGet());
      Await.until(Duration.ofSeconds(30), "three runs", () -> runs.get() >= 3);
      scheduler.close();
      JobSnapshot tick = scheduler.snapshot("tick").orElseThrow();
      assertThat(tick.errors()).isZero();
      assertThat(tick.successes()).isEqualTo(runs.get());
      assertThat(Db.count(db, "select count(*) from bulwark_job_runs where job = 'tick'"))
          .isEqualTo(runs.get());
    }
  }
}

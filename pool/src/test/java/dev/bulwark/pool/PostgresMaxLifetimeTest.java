package dev.bulwark.pool;

import static org.assertj.core.api.Assertions.assertThat;

import com.zaxxer.hikari.HikariDataSource;
import dev.bulwark.testing.Await;
import dev.bulwark.testing.PostgresExtension;
import dev.bulwark.testing.TestPostgres;
import java.sql.Connection;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.parallel.Execution;
import org.junit.jupiter.api.parallel.ExecutionMode;

/**
 * A connection older than maxLifetime is retired and replaced. HikariCP accepts no max lifetime
 * under 30 s, so this test waits about half a minute, polling with a deadline; it runs beside the
 * other test classes.
 */
@ExtendWith(PostgresExtension.class)
@Execution(ExecutionMode.CONCURRENT)
class PostgresMaxLifetimeTest {

  @Test
  void connectionIsRetiredAfterMaxLifetime(TestPostgres postgres) throws Exception {
    Duration lifetime = Duration.ofSeconds(31);
    long opened = System.nanoTime();
    try (HikariDataSource ds =
        Pools.postgres(postgres.jdbcUrl(), postgres.user(), postgres.password())
            .profile(PoolProfile.WORKER)
            .maximumPoolSize(1)
            .maxLifetime(lifetime)
            .keepaliveTime(Duration.ofSeconds(30))
            .build()) {
      assertThat(ds.getMaxLifetime()).isEqualTo(lifetime.toMillis());
      int first;
      try (Connection c = ds.getConnection()) {
        first = TestPostgres.backendPid(c);
      }
      Await.until(
          Duration.ofSeconds(60),
          "replacement of the first connection",
          () -> {
            try (Connection c = ds.getConnection()) {
              return TestPostgres.backendPid(c) != first;
            }
          });
      Duration age = Duration.ofNanos(System.nanoTime() - opened);
      // HikariCP shortens each connection's lifetime by a random amount of up to a quarter, so
      // that connections do not all retire together: 75 % to 100 % of maxLifetime.
      assertThat(age).isBetween(lifetime.multipliedBy(3).dividedBy(4), lifetime.plusSeconds(20));
      Await.until(
          Duration.ofSeconds(10),
          "end of the retired backend",
          () -> !Sql.backendExists(postgres, first));
    }
  }
}

package dev.bulwark.queries;

import static org.assertj.core.api.Assertions.assertThat;

import com.zaxxer.hikari.HikariDataSource;
import dev.bulwark.pool.Pools;
import dev.bulwark.testing.PostgresExtension;
import dev.bulwark.testing.TestDatabase;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Slow statements: {@code pg_sleep} makes a statement take at least its argument, so a 0.3 s sleep
 * is slow against a 100 ms threshold on any machine. The WARN lines are read from standard error,
 * where slf4j-simple (the tests' SLF4J binding) writes them, looking {@code System.err} up on every
 * line.
 */
@ExtendWith(PostgresExtension.class)
class SlowStatementsTest {
  private static final String WARN_SLOW =
      "WARN dev.bulwark.queries.QueryGuard - query guard default: slow statement";

  private HikariDataSource pool;

  @BeforeEach
  void pool(TestDatabase db) {
    pool = Pools.postgres(db.jdbcUrl(), db.user(), db.password()).maximumPoolSize(2).build();
  }

  @AfterEach
  void close() {
    pool.close();
  }

  /** What the action writes to standard error, where slf4j-simple logs. */
  static String stderr(SqlAction action) throws SQLException {
    PrintStream before = System.err;
    ByteArrayOutputStream captured = new ByteArrayOutputStream();
    System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
    try {
      action.run();
    } finally {
      System.setErr(before);
    }
    String text = captured.toString(StandardCharsets.UTF_8);
    before.print(text); // still in the test's report
    return text;
  }

  @FunctionalInterface
  interface SqlAction {
    void run() throws SQLException;
  }

  static void run(DataSource db, String sql) throws SQLException {
    try (Connection c = db.getConnection();
        Statement s = c.createStatement();
        ResultSet r = s.executeQuery(sql)) {
      while (r.next()) {
        r.getObject(1);
      }
    }
  }

  static long lines(String text, String containing) {
    return text.lines().filter(line -> line.contains(containing)).count();
  }

  @Test
  void aSlowStatementIsCountedKeptInItsScopeWithItsTimeAndLoggedOncePerShape() throws Exception {
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    QueryGuard guard =
        QueryGuard.builder().slowThreshold(Duration.ofMillis(100)).meterRegistry(registry).build();
    DataSource db = guard.wrap(pool);
    QueryScope scope = guard.begin("GET /report");
    String log =
        stderr(
            () -> {
              try (scope) {
                run(db, "select pg_sleep(0.3)");
                run(db, "select pg_sleep(0.3)");
                run(db, "select pg_sleep(0.3), 'another shape'");
              }
            });

    assertThat(
            registry.get("bulwark.queries.events").tag("kind", "slow_statement").counter().count())
        .isEqualTo(3);
    List<QueryEvent> slow = scope.recording().events(QueryEvent.Kind.SLOW_STATEMENT);
    assertThat(slow)
        .extracting(QueryEvent::shape)
        .containsExactly("select pg_sleep(?)", "select pg_sleep(?)", "select pg_sleep(?), ?");
    for (QueryEvent event : slow) {
      assertThat(event.scope()).isEqualTo("GET /report");
      assertThat(event.count()).isOne();
      assertThat(event.limit()).isEqualTo(100);
      assertThat(event.callSite()).isNull();
      // pg_sleep(0.3) sleeps at least 300 ms, so that much at least was measured.
      assertThat(event.elapsed()).isGreaterThanOrEqualTo(Duration.ofMillis(300));
      assertThat(event.describe())
          .matches(
              "slow statement in GET /report: \\d+ ms \\(threshold 100 ms\\) select pg_sleep\\(\\?\\).*");
    }
    // Once per shape: the second sleep of the first shape is counted and kept, not logged.
    assertThat(lines(log, WARN_SLOW)).isEqualTo(2);
    assertThat(lines(log, WARN_SLOW + " in GET /report: ")).isEqualTo(2);
    assertThat(lines(log, "(threshold 100 ms) select pg_sleep(?) (logged at most once a minute"))
        .isOne();
    assertThat(lines(log, "(threshold 100 ms) select pg_sleep(?), ? (logged at most once a minute"))
        .isOne();
    // A slow statement is not a broken limit: the scope logs nothing of its own when it closes.
    assertThat(lines(log, "WARN")).isEqualTo(2);
  }

  @Test
  void aShapeIsLoggedOnceAMinuteEvenWhenTheShapesAreAtTheirBound() throws Exception {
    // maxShapes(1): the first slow shape fills the bound.
    QueryGuard guard =
        QueryGuard.builder().slowThreshold(Duration.ofMillis(100)).maxShapes(1).build();
    DataSource db = guard.wrap(pool);
    String log =
        stderr(
            () -> {
              run(db, "select pg_sleep(0.3)");
              run(db, "select pg_sleep(0.3)");
              run(db, "select pg_sleep(0.3), 'another shape'");
              run(db, "select pg_sleep(0.3), 'another shape'");
            });
    // One line for the first shape; the shapes past the bound share one gate, one line between
    // them.
    assertThat(lines(log, WARN_SLOW)).isEqualTo(2);
    assertThat(lines(log, "(threshold 100 ms) select pg_sleep(?) (logged")).isOne();
    assertThat(lines(log, "(threshold 100 ms) select pg_sleep(?), ? (logged")).isOne();
  }

  @Test
  void aSlowStatementOutsideAnyScopeIsCountedAndLoggedWithoutAScope() throws Exception {
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    QueryGuard guard =
        QueryGuard.builder().slowThreshold(Duration.ofMillis(100)).meterRegistry(registry).build();
    DataSource db = guard.wrap(pool);
    String log = stderr(() -> run(db, "select pg_sleep(0.3)"));
    assertThat(
            registry.get("bulwark.queries.events").tag("kind", "slow_statement").counter().count())
        .isEqualTo(1);
    assertThat(lines(log, WARN_SLOW + ": ")).isOne();
    assertThat(lines(log, " in ")).isZero();
  }
}

package dev.bulwark.queries;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalStateException;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

import com.zaxxer.hikari.HikariDataSource;
import dev.bulwark.pool.Pools;
import dev.bulwark.testing.PostgresExtension;
import dev.bulwark.testing.TestDatabase;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.testkit.engine.EngineExecutionResults;
import org.junit.platform.testkit.engine.EngineTestKit;
import org.junit.platform.testkit.engine.Event;

/** A test class that uses the recorder, and one run by JUnit's test kit to see it fail a test. */
@ExtendWith(PostgresExtension.class)
class QueryRecorderTest {
  private static final String BY_ID = "select name from customers where id = ?";

  static final QueryGuard GUARD = QueryGuard.builder().policy(QueryPolicy.COUNT).build();

  @RegisterExtension static final QueryRecorder queries = QueryRecorder.of(GUARD);

  private HikariDataSource pool;
  private DataSource db;

  @BeforeEach
  void schema(TestDatabase database) throws SQLException {
    pool =
        Pools.postgres(database.jdbcUrl(), database.user(), database.password())
            .maximumPoolSize(2)
            .build();
    db = GUARD.wrap(pool);
    // Through the guard, but before the test's scope opens: not counted in it.
    try (Connection c = db.getConnection();
        Statement s = c.createStatement()) {
      s.execute("create table customers (id bigint primary key, name text not null)");
      s.execute("insert into customers select g, 'customer ' || g from generate_series(1, 20) g");
    }
  }

  @AfterEach
  void theScopeIsClosedAndItsRecordingStillThere(TestInfo test) {
    assertThat(GUARD.current()).isEmpty();
    assertThat(queries.recording().scope())
        .isEqualTo(
            test.getTestClass().orElseThrow().getSimpleName()
                + "."
                + test.getTestMethod().orElseThrow().getName());
    pool.close();
  }

  /** Reads customers 1 to n by id, one statement each. */
  static void byId(DataSource db, int n) throws SQLException {
    try (Connection c = db.getConnection();
        PreparedStatement s = c.prepareStatement(BY_ID)) {
      for (long id = 1; id <= n; id++) {
        s.setLong(1, id);
        try (ResultSet r = s.executeQuery()) {
          r.next();
        }
      }
    }
  }

  @Test
  void theTestsStatementsAreItsScopes() throws SQLException {
    byId(db, 2);
    QueryAssert.assertThat(queries.recording()).hasStatementCount(2).hasNoNPlusOne();
    assertThat(queries.recording().scope())
        .isEqualTo("QueryRecorderTest.theTestsStatementsAreItsScopes");
    assertThat(GUARD.current()).hasValueSatisfying(s -> assertThat(s.statements()).isEqualTo(2));
  }

  @Test
  void anNPlusOneFailsTheAssertionInsideTheTest() throws SQLException {
    byId(db, 6);
    assertThatThrownBy(() -> QueryAssert.assertThat(queries.recording()).hasNoNPlusOne())
        .isInstanceOf(AssertionError.class)
        .hasMessageStartingWith(
            "scope QueryRecorderTest.anNPlusOneFailsTheAssertionInsideTheTest: expected no N+1,"
                + " but found:\n  N+1 in QueryRecorderTest.anNPlusOneFailsTheAssertionInsideTheTest:"
                + " 6 executions (threshold 5) of "
                + BY_ID);
  }

  @Test
  void anotherThreadHasNoRecording() throws Exception {
    ExecutorService executor = Executors.newSingleThreadExecutor();
    try {
      assertThatThrownBy(() -> executor.submit(queries::recording).get(10, TimeUnit.SECONDS))
          .isInstanceOf(ExecutionException.class)
          .cause()
          .isInstanceOf(IllegalStateException.class)
          .hasMessage(
              "no test runs on this thread in a scope of this recorder: call recording() from a"
                  + " test method or an @AfterEach method, on the test's own thread, of a class"
                  + " that registers the recorder with @RegisterExtension");
    } finally {
      executor.shutdownNow();
    }
    assertThat(queries).hasToString("QueryRecorder[guard=default]");
  }

  /** An instance field's recorder, of another guard, in a nested class. */
  @Nested
  class OnAnInstanceField {
    final QueryGuard guard = QueryGuard.builder().name("nested").build();

    @RegisterExtension final QueryRecorder nested = QueryRecorder.of(guard);

    @Test
    void countsItsOwnGuardsStatements() throws SQLException {
      byId(guard.wrap(pool), 3);
      byId(db, 1);
      QueryAssert.assertThat(nested.recording()).hasStatementCount(3);
      assertThat(nested.recording().scope())
          .isEqualTo("OnAnInstanceField.countsItsOwnGuardsStatements");
      // The outer class's recorder covers this test too, with its own guard.
      QueryAssert.assertThat(queries.recording()).hasStatementCount(1);
    }
  }

  @Test
  void underThrowAnNPlusOneFailsTheTestAtTheStatementThatLoops() throws Exception {
    NPlusOneUnderThrow.db = THROWING.wrap(pool);
    NPlusOneUnderThrow.read.set(0);
    EngineExecutionResults results =
        EngineTestKit.engine("junit-jupiter")
            .selectors(selectClass(NPlusOneUnderThrow.class))
            .execute();

    results.testEvents().assertStatistics(stats -> stats.started(1).failed(1).succeeded(0));
    Event failed = results.testEvents().failed().list().get(0);
    Throwable failure =
        failed.getPayload(TestExecutionResult.class).orElseThrow().getThrowable().orElseThrow();
    assertThat(failure)
        .isInstanceOf(QueryLimitExceededException.class)
        .hasMessageStartingWith(
            "N+1 in NPlusOneUnderThrow.loopsOverTheCustomers: 6 executions (threshold 5) of "
                + BY_ID
                + " at dev.bulwark.queries.QueryRecorderTest$NPlusOneUnderThrow"
                + ".loopsOverTheCustomers(QueryRecorderTest.java:");
    // Five customers read; the sixth statement was refused before it ran.
    assertThat(NPlusOneUnderThrow.read).hasValue(5);
    QueryRecording after = NPlusOneUnderThrow.after;
    assertThat(after.statements()).isEqualTo(6);
    assertThat(after.events(QueryEvent.Kind.N_PLUS_ONE))
        .extracting(QueryEvent::count)
        .containsExactly(6L);
    // The recorder closed the failed test's scope.
    assertThat(THROWING.current()).isEmpty();
  }

  static final QueryGuard THROWING =
      QueryGuard.builder().name("throwing").policy(QueryPolicy.THROW).build();

  /** Run only through the test kit: surefire skips nested static classes. */
  static class NPlusOneUnderThrow {
    static volatile DataSource db;
    static final AtomicInteger read = new AtomicInteger();
    static volatile QueryRecording after;

    @RegisterExtension static final QueryRecorder queries = QueryRecorder.of(THROWING);

    @BeforeEach
    void onlyThroughTheTestKit() {
      assumeTrue(db != null, "runs only through the test kit, which sets its data source");
    }

    @AfterEach
    void keep() {
      after = queries.recording();
    }

    @Test
    void loopsOverTheCustomers() throws SQLException {
      try (Connection c = db.getConnection();
          PreparedStatement s = c.prepareStatement(BY_ID)) {
        for (long id = 1; id <= 20; id++) {
          s.setLong(1, id);
          try (ResultSet r = s.executeQuery()) {
            r.next();
            read.incrementAndGet();
          }
        }
      }
    }
  }

  @Test
  void recorderNeedsAGuard() {
    assertThatThrownBy(() -> QueryRecorder.of(null))
        .isInstanceOf(NullPointerException.class)
        .hasMessage("guard");
    assertThatIllegalStateException()
        .isThrownBy(() -> QueryRecorder.of(GUARD).recording())
        .withMessageStartingWith("no test runs on this thread in a scope of this recorder");
  }
}

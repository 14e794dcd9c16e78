package dev.bulwark.queries;

import java.util.Objects;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.AfterTestExecutionCallback;
import org.junit.jupiter.api.extension.BeforeTestExecutionCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A JUnit 5 extension that runs each test method in a {@link QueryScope} of a guard, so that a test
 * can assert what its code ran:
 *
 * <pre>{@code
 * class CustomerServiceTest {
 *   static final QueryGuard guard = QueryGuard.builder().policy(QueryPolicy.THROW).build();
 *
 *   @RegisterExtension static final QueryRecorder queries = QueryRecorder.of(guard);
 *
 *   CustomerService service = new CustomerService(guard.wrap(dataSource));
 *
 *   @Test
 *   void findsACustomerWithItsAppointments() {
 *     service.customer(7);
 *     QueryAssert.assertThat(queries.recording()).hasStatementCount(2).hasNoNPlusOne();
 *   }
 * }
 * }</pre>
 *
 * <p>The scope opens right before the test method and closes right after it, whether it passed or
 * not; {@code @BeforeEach} and {@code @AfterEach} methods run outside it, so a fixture's statements
 * are not counted. Its name is the test class's simple name, a dot and the method's name ({@code
 * "CustomerServiceTest.findsACustomerWithItsAppointments"}): every invocation of a parameterized or
 * repeated test has the same one, and limits given for that name with {@link
 * QueryGuard.Builder#scope(String, ScopeLimits)} apply to it. Under {@link QueryPolicy#THROW} the
 * statement that breaks a limit (an N+1's first run past the threshold) throws {@link
 * QueryLimitExceededException}, which fails the test there, its message naming the test and the
 * line that loops.
 *
 * <p>Register it with {@code @RegisterExtension} (it has no constructor for {@code @ExtendWith}),
 * on a static field or on an instance field (for a guard made per test instance): both behave the
 * same, and cover the tests of {@code @Nested} classes too. Only statements run on the test's own
 * thread count, as for any scope: wrap the executors the test's code uses ({@link
 * QueryGuard#wrap(java.util.concurrent.Executor)}), and note that {@code @Timeout} with {@code
 * threadMode = SEPARATE_THREAD} runs the method on another thread, outside the scope.
 *
 * <p>It needs {@code junit-jupiter-api} 5, which {@code bulwark-queries} declares optional: a test
 * classpath has it, an application's runtime does not get it from here. Thread-safe: each thread
 * that runs a test has its own scope, so tests may run in parallel.
 */
public final class QueryRecorder
    implements BeforeTestExecutionCallback, AfterTestExecutionCallback, AfterEachCallback {
  private final QueryGuard guard;

  // Per recorder, not static: two recorders (two guards) have scopes of their own.
  @SuppressWarnings("ThreadLocalUsage")
  private final ThreadLocal<@Nullable QueryScope> scope = new ThreadLocal<>();

  private QueryRecorder(QueryGuard guard) {
    this.guard = guard;
  }

  /**
   * Makes a recorder for a guard.
   *
   * @param guard the guard that wrapped the data sources the tests' code uses
   * @return the recorder, to register with {@code @RegisterExtension}
   * @throws NullPointerException if {@code guard} is null
   */
  public static QueryRecorder of(QueryGuard guard) {
    return new QueryRecorder(Objects.requireNonNull(guard, "guard"));
  }

  /**
   * What the current test has run so far: from the test method, the recording of its open scope,
   * with the limits broken so far ({@link QueryScope#recording()}); from an {@code @AfterEach}
   * method, the final recording of its closed scope.
   *
   * @return the recording
   * @throws IllegalStateException if no test of this recorder runs on the calling thread
   */
  public QueryRecording recording() {
    QueryScope current = scope.get();
    if (current == null) {
      throw new IllegalStateException(
          "no test runs on this thread in a scope of this recorder: call recording() from a test"
              + " method or an @AfterEach method, on the test's own thread, of a class that"
              + " registers the recorder with @RegisterExtension");
    }
    return current.recording();
  }

  /**
   * Opens the test's scope. JUnit calls this.
   *
   * @param context the test's context
   */
  @Override
  public void beforeTestExecution(ExtensionContext context) {
    String name =
        context.getRequiredTestClass().getSimpleName()
            + "."
            + context.getRequiredTestMethod().getName();
    scope.set(guard.begin(name));
  }

  /**
   * Closes the test's scope, whether the test passed or not: its events are counted, and logged
   * under {@link QueryPolicy#LOG}. JUnit calls this.
   *
   * @param context the test's context
   */
  @Override
  public void afterTestExecution(ExtensionContext context) {
    QueryScope current = scope.get();
    if (current != null) {
      current.close();
    }
  }

  /**
   * Forgets the test's scope, after its {@code @AfterEach} methods. JUnit calls this.
   *
   * @param context the test's context
   */
  @Override
  public void afterEach(ExtensionContext context) {
    scope.remove();
  }

  /** {@return {@code QueryRecorder[guard=default]}} */
  @Override
  public String toString() {
    return "QueryRecorder[guard=" + guard.name() + "]";
  }
}

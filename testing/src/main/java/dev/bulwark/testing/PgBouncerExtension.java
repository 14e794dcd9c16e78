package dev.bulwark.testing;

import java.util.Optional;
import org.junit.jupiter.api.extension.ConditionEvaluationResult;
import org.junit.jupiter.api.extension.ExecutionCondition;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;

/**
 * Hands a JUnit 5 test the JVM's {@link TestPgBouncer}, and skips the tests of its class where
 * there is no {@code pgbouncer} binary.
 *
 * <p>Register it with {@code @ExtendWith(PgBouncerExtension.class)}; it resolves parameters of type
 * {@link TestPgBouncer}. Where no binary is found (see {@link TestPgBouncer}), every test of the
 * class is reported as skipped with the reason, for example {@code pgbouncer not found on the PATH:
 * ...}; nothing is started then. Resolving a parameter starts PgBouncer on first use.
 *
 * <pre>{@code
 * @ExtendWith(PgBouncerExtension.class)
 * class BehindPgBouncerTest {
 *   @Test
 *   void runs(TestPgBouncer bouncer) throws SQLException {
 *     try (Connection c = DriverManager.getConnection(
 *         bouncer.transactionJdbcUrl(), bouncer.user(), bouncer.password())) { ... }
 *   }
 * }
 * }</pre>
 */
public final class PgBouncerExtension implements ExecutionCondition, ParameterResolver {

  /** Creates the extension; JUnit calls this. */
  public PgBouncerExtension() {}

  @Override
  public ConditionEvaluationResult evaluateExecutionCondition(ExtensionContext context) {
    // JUnit reports an exception from parameter resolution as a failure, not as a skip: the
    // condition skips first.
    Optional<String> missing =
        TestPgBouncer.missingReason(
            System.getProperty(TestPgBouncer.BINARY_PROPERTY), System.getenv("PATH"));
    return missing.isPresent()
        ? ConditionEvaluationResult.disabled(missing.get())
        : ConditionEvaluationResult.enabled("pgbouncer found");
  }

  @Override
  public boolean supportsParameter(ParameterContext parameter, ExtensionContext context) {
    return parameter.getParameter().getType() == TestPgBouncer.class;
  }

  @Override
  public Object resolveParameter(ParameterContext parameter, ExtensionContext context) {
    return TestPgBouncer.get();
  }
}

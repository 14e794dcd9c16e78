package dev.bulwark.testing;

import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;

/**
 * Hands a JUnit 5 test the JVM's real PostgreSQL server.
 *
 * <p>Register it with {@code @ExtendWith(PostgresExtension.class)}; it resolves parameters of type
 * {@link TestPostgres} (the shared server) and {@link TestDatabase} (a new, empty database, dropped
 * when the test or, for a constructor or {@code @BeforeAll} parameter, the class is done):
 *
 * <pre>{@code
 * @ExtendWith(PostgresExtension.class)
 * class OrderRepositoryTest {
 *   @Test
 *   void insertsOnce(TestDatabase db) throws SQLException {
 *     try (Connection c = db.connect()) { ... }
 *   }
 * }
 * }</pre>
 */
public final class PostgresExtension implements ParameterResolver {

  private static final ExtensionContext.Namespace NAMESPACE =
      ExtensionContext.Namespace.create(PostgresExtension.class);

  /** Creates the extension; JUnit calls this. */
  public PostgresExtension() {}

  @Override
  public boolean supportsParameter(ParameterContext parameter, ExtensionContext context) {
    Class<?> type = parameter.getParameter().getType();
    return type == TestPostgres.class || type == TestDatabase.class;
  }

  @Override
  public Object resolveParameter(ParameterContext parameter, ExtensionContext context) {
    TestPostgres postgres = TestPostgres.get();
    if (parameter.getParameter().getType() == TestPostgres.class) {
      return postgres;
    }
    TestDatabase database = postgres.newDatabase();
    // The store closes AutoCloseable values when the context ends, which drops the database.
    context.getStore(NAMESPACE).put(database.database(), database);
    return database;
  }
}

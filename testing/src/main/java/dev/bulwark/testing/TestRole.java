package dev.bulwark.testing;

/**
 * A login role made for one test by {@link TestPostgres#newRole()}, whose password the server
 * checks: a wrong one fails the login with SQLState {@code 28P01}. {@link #close()} drops it.
 * Thread-safe.
 *
 * <pre>{@code
 * try (TestRole role = postgres.newRole()) {
 *   DriverManager.getConnection(postgres.jdbcUrl(), role.name(), role.password());  // logs in
 *   DriverManager.getConnection(postgres.jdbcUrl(), role.name(), "wrong");          // 28P01
 * }
 * }</pre>
 */
public final class TestRole implements AutoCloseable {
  private final TestPostgres server;
  private final String name;
  private final String password;

  TestRole(TestPostgres server, String name, String password) {
    this.server = server;
    this.name = name;
    this.password = password;
  }

  /** {@return the role name, to log in as} */
  public String name() {
    return name;
  }

  /** {@return the role's password: 24 letters and digits, safe in a URL without encoding} */
  public String password() {
    return password;
  }

  /** {@return the server this role lives on} */
  public TestPostgres server() {
    return server;
  }

  /**
   * Ends the role's sessions, drops the role and removes its line from {@code pg_hba.conf}.
   *
   * @throws IllegalStateException if the server refuses
   */
  @Override
  public void close() {
    server.dropRole(name);
  }

  /** {@return {@code role <name>}, without the password} */
  @Override
  public String toString() {
    return "role " + name;
  }
}

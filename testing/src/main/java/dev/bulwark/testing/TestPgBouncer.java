package dev.bulwark.testing;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.jspecify.annotations.Nullable;
import org.opentest4j.TestAbortedException;

/**
 * PgBouncer in front of the JVM's PostgreSQL server ({@link TestPostgres#get()}), for tests.
 *
 * <p>{@link #get()} starts two {@code pgbouncer} processes on the first call, each on a free port
 * of 127.0.0.1 (PgBouncer has one listening port per process): one with {@code pool_mode =
 * transaction}, one with {@code pool_mode = session}, and stops them when the JVM exits. Both
 * accept any database of the server ({@code * = host=... port=...}), trust their clients ({@code
 * auth_type = trust}, the server's own password is in the auth file), ignore the {@code
 * extra_float_digits} startup parameter that pgjdbc sends, and keep at most {@value #POOL_SIZE}
 * server connections per database and user; a client beyond that waits for one. The {@code options}
 * startup parameter is refused, as by any PgBouncer: that is what a pool behind PgBouncer must be
 * made to cope with.
 *
 * <p>PgBouncer does not come in a Maven artifact: the binary is the one named by the system
 * property {@value #BINARY_PROPERTY}, or else {@code pgbouncer} on the {@code PATH} or in {@code
 * /usr/sbin} (Debian's package installs it there: {@code apt-get install pgbouncer}). Where there
 * is none, {@link #get()} throws a JUnit assumption failure, so a test that needs PgBouncer is
 * reported as skipped with the reason, never as passed. PgBouncer refuses to run as root; as root
 * it is started inside {@code unshare -U}, as zonky starts PostgreSQL, with its configuration in a
 * temporary folder that the unprivileged user can read.
 *
 * <p>Thread-safe.
 */
public final class TestPgBouncer {

  /**
   * System property naming the {@code pgbouncer} binary to use instead of looking for one on the
   * {@code PATH} and in {@code /usr/sbin}.
   */
  public static final String BINARY_PROPERTY = "bulwark.test.pgbouncer";

  /** Server connections each process keeps at most per database and user. */
  public static final int POOL_SIZE = 20;

  private static final Duration START_TIMEOUT = Duration.ofSeconds(10);
  private static final Duration STOP_TIMEOUT = Duration.ofSeconds(5);
  private static final Path SBIN = Path.of("/usr/sbin");

  private static @Nullable TestPgBouncer instance;

  private final TestPostgres postgres;
  private final Path dir;
  private final Process transaction;
  private final int transactionPort;
  private final Process session;
  private final int sessionPort;

  private TestPgBouncer(
      TestPostgres postgres,
      Path dir,
      Process transaction,
      int transactionPort,
      Process session,
      int sessionPort) {
    this.postgres = postgres;
    this.dir = dir;
    this.transaction = transaction;
    this.transactionPort = transactionPort;
    this.session = session;
    this.sessionPort = sessionPort;
  }

  /**
   * Returns the JVM's PgBouncer processes, starting them (and {@link TestPostgres#get()}) on the
   * first call.
   *
   * @return the shared PgBouncer
   * @throws TestAbortedException if there is no {@code pgbouncer} binary: the calling test is
   *     reported as skipped
   * @throws IllegalStateException if PgBouncer or PostgreSQL cannot be started, or PgBouncer does
   *     not accept a connection within 10 s
   */
  public static synchronized TestPgBouncer get() {
    TestPgBouncer bouncer = instance;
    if (bouncer == null) {
      Path binary = requireBinary(System.getProperty(BINARY_PROPERTY), System.getenv("PATH"));
      bouncer = start(binary, TestPostgres.get());
      instance = bouncer;
      TestPgBouncer stopping = bouncer;
      Runtime.getRuntime()
          .addShutdownHook(new Thread(stopping::shutdown, "bulwark-testing-pgbouncer-shutdown"));
    }
    return bouncer;
  }

  /**
   * Returns why PgBouncer cannot be started here, or empty if a binary is there.
   *
   * @param property the value of {@value #BINARY_PROPERTY}, or null
   * @param path the {@code PATH}, or null
   */
  static Optional<String> missingReason(@Nullable String property, @Nullable String path) {
    return missingReason(property, path, SBIN);
  }

  static Optional<String> missingReason(
      @Nullable String property, @Nullable String path, Path sbin) {
    if (property != null && !property.isBlank()) {
      Path named = Path.of(property.strip());
      return Files.isExecutable(named) && Files.isRegularFile(named)
          ? Optional.empty()
          : Optional.of(
              "pgbouncer not found at " + named + " (the system property " + BINARY_PROPERTY + ")");
    }
    return findOnPath(path, sbin).isPresent()
        ? Optional.empty()
        : Optional.of(
            "pgbouncer not found on the PATH: "
                + (path == null ? "" : path)
                + ", nor in "
                + sbin
                + " (install it, for example with apt-get install pgbouncer)");
  }

  /** {@return the binary, or throws the assumption failure that skips the calling test} */
  static Path requireBinary(@Nullable String property, @Nullable String path) {
    return requireBinary(property, path, SBIN);
  }

  static Path requireBinary(@Nullable String property, @Nullable String path, Path sbin) {
    Optional<String> reason = missingReason(property, path, sbin);
    if (reason.isPresent()) {
      throw new TestAbortedException(reason.get());
    }
    if (property != null && !property.isBlank()) {
      return Path.of(property.strip());
    }
    return findOnPath(path, sbin).orElseThrow();
  }

  private static Optional<Path> findOnPath(@Nullable String path, Path sbin) {
    List<Path> dirs = new ArrayList<>();
    if (path != null) {
      for (String entry : path.split(File.pathSeparator, -1)) {
        if (!entry.isEmpty()) {
          dirs.add(Path.of(entry));
        }
      }
    }
    dirs.add(sbin);
    for (Path candidate : dirs) {
      Path binary = candidate.resolve("pgbouncer");
      if (Files.isRegularFile(binary) && Files.isExecutable(binary)) {
        return Optional.of(binary);
      }
    }
    return Optional.empty();
  }

  /** Starts both processes in front of the server; the caller shuts them down. */
  static TestPgBouncer start(Path binary, TestPostgres postgres) {
    Path dir = null;
    Process transaction = null;
    Process session = null;
    try {
      dir = Files.createTempDirectory("bulwark-pgbouncer-");
      // The unprivileged user of unshare -U reads the configuration; nothing is secret in it
      // beyond the test server's password.
      Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
      Path users = dir.resolve("users.txt");
      write(users, quote(postgres.user()) + " " + quote(postgres.password()) + "\n");
      int transactionPort = Ports.freeLoopbackPort();
      transaction = launch(binary, postgres, dir, "transaction", transactionPort, users);
      int sessionPort = Ports.freeLoopbackPort();
      session = launch(binary, postgres, dir, "session", sessionPort, users);
      TestPgBouncer bouncer =
          new TestPgBouncer(postgres, dir, transaction, transactionPort, session, sessionPort);
      bouncer.awaitReady(transaction, bouncer.transactionJdbcUrl(), dir.resolve("transaction.log"));
      bouncer.awaitReady(session, bouncer.sessionJdbcUrl(), dir.resolve("session.log"));
      return bouncer;
    } catch (IOException | RuntimeException e) {
      stop(transaction);
      stop(session);
      if (dir != null) {
        TempDirs.deleteQuietly(dir);
      }
      throw e instanceof IllegalStateException ise
          ? ise
          : new IllegalStateException("cannot start pgbouncer (" + binary + ")", e);
    }
  }

  private static Process launch(
      Path binary, TestPostgres postgres, Path dir, String mode, int port, Path users)
      throws IOException {
    Path config = dir.resolve(mode + ".ini");
    write(
        config,
        String.join(
            "\n",
            "[databases]",
            "* = host=" + postgres.host() + " port=" + postgres.port(),
            "",
            "[pgbouncer]",
            "listen_addr = 127.0.0.1",
            "listen_port = " + port,
            "unix_socket_dir =",
            "pidfile =",
            "logfile =",
            "auth_type = trust",
            "auth_file = " + users,
            "pool_mode = " + mode,
            "default_pool_size = " + POOL_SIZE,
            "max_client_conn = 500",
            "ignore_startup_parameters = extra_float_digits",
            ""));
    List<String> command = new ArrayList<>();
    if ("root".equals(System.getProperty("user.name"))) {
      // "FATAL PgBouncer should not run as root": a user namespace makes it an unprivileged user.
      command.add("unshare");
      command.add("-U");
    }
    command.add(binary.toString());
    command.add(config.toString());
    return new ProcessBuilder(command)
        .redirectErrorStream(true)
        .redirectOutput(dir.resolve(mode + ".log").toFile())
        .start();
  }

  /** Polls until the process accepts a pgjdbc connection, with a deadline. */
  private void awaitReady(Process process, String url, Path log) {
    long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
    while (true) {
      if (!process.isAlive()) {
        throw new IllegalStateException(
            "pgbouncer exited with status " + process.exitValue() + ": " + read(log));
      }
      try {
        DriverManager.getConnection(url, user(), password()).close();
        return;
      } catch (SQLException e) {
        if (System.nanoTime() - deadline > 0) {
          throw new IllegalStateException(
              "pgbouncer did not accept a connection within "
                  + START_TIMEOUT.toSeconds()
                  + " s: "
                  + read(log),
              e);
        }
      }
      // Each try opens a connection: pause between them rather than spin on 2 cores.
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(10));
    }
  }

  private static void write(Path file, String text) throws IOException {
    Files.writeString(file, text, StandardCharsets.UTF_8);
    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--"));
  }

  private static String quote(String text) {
    return '"' + text.replace("\"", "\"\"") + '"';
  }

  private static String read(Path log) {
    try {
      return Files.readString(log, StandardCharsets.UTF_8).strip();
    } catch (IOException e) {
      return "(no log: " + e.getMessage() + ")";
    }
  }

  /** {@return the address PgBouncer listens on, {@code 127.0.0.1}} */
  public String host() {
    return "127.0.0.1";
  }

  /** {@return the TCP port of the process in transaction mode} */
  public int transactionPort() {
    return transactionPort;
  }

  /** {@return the TCP port of the process in session mode} */
  public int sessionPort() {
    return sessionPort;
  }

  /** {@return the user name to connect as: the one of {@link TestPostgres#user()}} */
  public String user() {
    return postgres.user();
  }

  /** {@return the password to connect with: PgBouncer trusts its clients, so any will do} */
  public String password() {
    return postgres.password();
  }

  /**
   * {@return a pgjdbc URL of the server's main database through transaction mode, without
   * credentials}
   */
  public String transactionJdbcUrl() {
    return transactionJdbcUrl(postgres.database());
  }

  /**
   * Returns a pgjdbc URL of the named database through the process in transaction mode, without
   * credentials. It sets {@code prepareThreshold=0}: in transaction mode the next transaction may
   * run on another server connection, where a statement pgjdbc prepared by name does not exist, and
   * PgBouncer 1.18 does not track prepared statements (1.21 and later can).
   *
   * @param databaseName the database name, for example {@link TestDatabase#database()}
   * @return {@code jdbc:postgresql://127.0.0.1:port/databaseName?prepareThreshold=0}
   */
  public String transactionJdbcUrl(String databaseName) {
    return "jdbc:postgresql://"
        + host()
        + ":"
        + transactionPort
        + "/"
        + databaseName
        + "?prepareThreshold=0";
  }

  /**
   * {@return a pgjdbc URL of the server's main database through session mode, without credentials}
   */
  public String sessionJdbcUrl() {
    return sessionJdbcUrl(postgres.database());
  }

  /**
   * Returns a pgjdbc URL of the named database through the process in session mode, without
   * credentials.
   *
   * @param databaseName the database name
   * @return {@code jdbc:postgresql://127.0.0.1:port/databaseName}
   */
  public String sessionJdbcUrl(String databaseName) {
    return "jdbc:postgresql://" + host() + ":" + sessionPort + "/" + databaseName;
  }

  /** {@return both processes, for tests of the shutdown} */
  List<ProcessHandle> processes() {
    return List.of(transaction.toHandle(), session.toHandle());
  }

  /** {@return the temporary folder of the configuration and logs} */
  Path directory() {
    return dir;
  }

  @Override
  public String toString() {
    return String.format(
        Locale.ROOT,
        "TestPgBouncer[transaction=%s:%d, session=%s:%d]",
        host(),
        transactionPort,
        host(),
        sessionPort);
  }

  /** Stops both processes, waiting up to 5 s for each, and deletes the temporary folder. */
  void shutdown() {
    stop(transaction);
    stop(session);
    TempDirs.deleteQuietly(dir);
  }

  private static void stop(@Nullable Process process) {
    if (process == null) {
      return;
    }
    // SIGTERM: PgBouncer's fast exit, which closes every connection.
    process.destroy();
    try {
      if (!process.waitFor(STOP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
        process.destroyForcibly();
      }
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
    }
  }
}

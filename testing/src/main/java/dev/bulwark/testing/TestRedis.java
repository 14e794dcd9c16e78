package dev.bulwark.testing;

import dev.bulwark.core.Secrets;
import dev.bulwark.core.internal.Checks;
import io.lettuce.core.ClientOptions;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.SocketOptions;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.output.StatusOutput;
import io.lettuce.core.protocol.CommandArgs;
import io.lettuce.core.protocol.CommandType;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.StringJoiner;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;
import redis.embedded.RedisServer;
import redis.embedded.core.RedisServerBuilder;

/**
 * One real Redis server per JVM, for tests.
 *
 * <p>{@link #get()} starts the {@code redis-server} binary shipped in the {@code
 * com.github.codemonstur:embedded-redis} artifact on a free port of 127.0.0.1, with persistence off
 * ({@code save ""}, {@code appendonly no}) and its working directory in a temporary folder, and
 * stops it when the JVM exits. The system property {@code bulwark.test.redis.binary} or, if it is
 * not set, the environment variable {@code BULWARK_TEST_REDIS_BINARY} names another {@code
 * redis-server} binary to start instead, for tests against another Redis version; one that is not
 * an executable file fails {@link #get()}. If the environment variable {@value #URL_VARIABLE} is
 * set (for example {@code redis://127.0.0.1:6379}), that server is used instead and nothing is
 * started; the fault-injection methods that need to own the process ({@link #stop()}, {@link
 * #start()}, {@link #restart()}) then throw {@link UnsupportedOperationException}.
 *
 * <p>Thread-safe. Administrative commands run on a short-lived connection of their own with a 5 s
 * timeout, so they work across restarts.
 */
public final class TestRedis {

  /** Environment variable naming an existing Redis server to use instead of starting one. */
  public static final String URL_VARIABLE = "BULWARK_TEST_REDIS_URL";

  /** Databases 1 to 15 are handed out by {@link #cleanDatabase()}; 0 is left to {@link #uri()}. */
  private static final int DATABASES = 16;

  private static final Duration ADMIN_TIMEOUT = Duration.ofSeconds(5);
  private static final int DEFAULT_PORT = 6379;
  private static final int MAX_PORT = 65_535;

  private static @Nullable TestRedis instance;

  private final RedisURI baseUri;

  /** Scheme, credentials, host and port, before the database of {@link #cleanDatabaseUrl()}. */
  private final String baseUrl;

  /** The query, without a database, after it. */
  private final String urlQuery;

  private final @Nullable RedisServer server;
  private final @Nullable Path workDir;
  private final RedisClient admin;
  private final AtomicInteger nextDatabase = new AtomicInteger();

  private TestRedis(
      RedisURI baseUri,
      String baseUrl,
      String urlQuery,
      @Nullable RedisServer server,
      @Nullable Path workDir) {
    this.baseUri = baseUri;
    this.baseUrl = baseUrl;
    this.urlQuery = urlQuery;
    this.server = server;
    this.workDir = workDir;
    this.admin = adminClient(ADMIN_TIMEOUT);
  }

  /**
   * A client for the harness's own setup and fault commands: it never reconnects, and gives up
   * connecting after {@code connectTimeout}, so a dead server fails a test instead of hanging it.
   */
  static RedisClient adminClient(Duration connectTimeout) {
    RedisClient client = RedisClient.create();
    client.setOptions(
        ClientOptions.builder()
            .autoReconnect(false)
            .socketOptions(SocketOptions.builder().connectTimeout(connectTimeout).build())
            .build());
    return client;
  }

  /**
   * Returns the JVM's Redis server, starting it on the first call.
   *
   * @return the shared server
   * @throws IllegalStateException if the server cannot be started or {@value #URL_VARIABLE} is not
   *     a valid Redis URL
   */
  public static synchronized TestRedis get() {
    TestRedis redis = instance;
    if (redis == null) {
      redis = create(System.getenv(URL_VARIABLE));
      instance = redis;
      TestRedis stopping = redis;
      Runtime.getRuntime()
          .addShutdownHook(new Thread(stopping::shutdown, "bulwark-testing-redis-shutdown"));
    }
    return redis;
  }

  static TestRedis create(@Nullable String url) {
    if (url != null && !url.isBlank()) {
      URI uri = parseUrl(url.strip());
      return new TestRedis(RedisURI.create(uri), baseUrl(uri), query(uri), null, null);
    }
    Path binary = RedisBinary.configured();
    int port = Ports.freeLoopbackPort();
    Path dir;
    RedisServer server;
    try {
      dir = Files.createTempDirectory("bulwark-redis-");
      RedisServerBuilder builder = RedisServer.newRedisServer();
      if (binary != null) {
        builder.executableProvider(binary::toFile);
      }
      server =
          builder
              .port(port)
              .bind("127.0.0.1")
              .setting("save \"\"")
              .setting("appendonly no")
              .setting("dir " + dir.toAbsolutePath())
              .setting("databases " + DATABASES)
              .build();
      server.start();
    } catch (IOException e) {
      throw new IllegalStateException("cannot start the embedded Redis server on port " + port, e);
    }
    RedisURI uri = RedisURI.builder().withHost("127.0.0.1").withPort(port).build();
    return new TestRedis(uri, "redis://127.0.0.1:" + port, "", server, dir);
  }

  /**
   * Checks a {@value #URL_VARIABLE} value: a {@code redis://} or {@code rediss://} URL with a host
   * and, if it has one, a port from 1 to 65535, that Lettuce can read. A URL that fails is refused
   * with a message that shows it masked ({@link Secrets#maskUrl(String)}) and chains no cause,
   * whose text could quote the password.
   */
  static URI parseUrl(String url) {
    String shown = Secrets.maskUrl(url);
    URI uri;
    try {
      uri = new URI(url);
    } catch (URISyntaxException e) {
      // Not e: its message quotes the URL, password included.
      throw new IllegalStateException(URL_VARIABLE + " is not a Redis URL: " + shown);
    }
    if (!("redis".equals(uri.getScheme()) || "rediss".equals(uri.getScheme()))
        || uri.getHost() == null
        || uri.getPort() == 0
        || uri.getPort() > MAX_PORT) {
      throw new IllegalStateException(
          URL_VARIABLE + " must look like redis://[:password@]host[:port], but was " + shown);
    }
    try {
      RedisURI.create(uri);
    } catch (RuntimeException e) {
      throw new IllegalStateException(URL_VARIABLE + " is not a Redis URL: " + shown);
    }
    return uri;
  }

  /** The URL's scheme, credentials, host and port (6379 when it has none). */
  static String baseUrl(URI uri) {
    StringBuilder url = new StringBuilder(uri.getScheme()).append("://");
    if (uri.getRawUserInfo() != null) {
      url.append(uri.getRawUserInfo()).append('@');
    }
    url.append(uri.getHost()).append(':').append(uri.getPort() < 0 ? DEFAULT_PORT : uri.getPort());
    return url.toString();
  }

  /**
   * The query of the URL without the database parameters, which would override the path's; empty,
   * or starting with {@code '?'}.
   */
  static String query(URI uri) {
    String query = uri.getRawQuery();
    if (query == null) {
      return "";
    }
    StringJoiner kept = new StringJoiner("&", "?", "").setEmptyValue("");
    for (String parameter : query.split("&", -1)) {
      String name = parameter.split("=", 2)[0];
      if (!name.equalsIgnoreCase("database")
          && !name.equalsIgnoreCase("db")
          && !parameter.isEmpty()) {
        kept.add(parameter);
      }
    }
    return kept.toString();
  }

  /** {@return the server's host name or address} */
  public String host() {
    return baseUri.getHost();
  }

  /** {@return the server's TCP port} */
  public int port() {
    return baseUri.getPort();
  }

  /** {@return true if this JVM started the server, and so can stop and restart it} */
  public boolean isEmbedded() {
    return server != null;
  }

  /**
   * Returns a new URI for database 0 of the server. Each call returns a fresh copy, since {@link
   * RedisURI} is mutable.
   *
   * @return the URI
   */
  public RedisURI uri() {
    return copy(baseUri, baseUri.getDatabase());
  }

  /**
   * Returns the server's URL as a string, for example {@code redis://127.0.0.1:6379}, without
   * credentials or database.
   *
   * @return the URL
   */
  public String url() {
    return "redis://" + host() + ":" + port();
  }

  /**
   * Returns a URI for a database that has just been flushed. Databases 1 to 15 are handed out in
   * turn, so up to 15 tests in one JVM can hold a clean database at once.
   *
   * @return a URI whose database is empty
   */
  public RedisURI cleanDatabase() {
    int database = 1 + Math.floorMod(nextDatabase.getAndIncrement(), DATABASES - 1);
    RedisURI uri = copy(baseUri, database);
    withConnection(uri, RedisCommands::flushdb);
    return uri;
  }

  /**
   * Returns the URL of a database that has just been flushed, for example {@code
   * redis://127.0.0.1:6379/3}, to hand to code that takes a URL string: {@code
   * Pools.redis(redis.cleanDatabaseUrl())}. Databases are handed out as by {@link
   * #cleanDatabase()}. For a server from {@value #URL_VARIABLE} the URL keeps that URL's scheme,
   * credentials and query parameters (other than a database).
   *
   * @return a URL whose database is empty
   */
  public String cleanDatabaseUrl() {
    return baseUrl + "/" + cleanDatabase().getDatabase() + urlQuery;
  }

  /** Removes every key in every database. */
  public void flushAll() {
    withConnection(baseUri, RedisCommands::flushall);
  }

  /**
   * Returns the text of {@code INFO section}.
   *
   * @param section an INFO section, for example {@code server}
   * @return the raw INFO text
   */
  public String info(String section) {
    return withConnection(baseUri, c -> c.info(section));
  }

  /** {@return true if the server answers {@code PING}} */
  public boolean isRunning() {
    try {
      return "PONG".equals(withConnection(baseUri, RedisCommands::ping));
    } catch (RuntimeException e) {
      return false;
    }
  }

  /**
   * Stops the server. Clients see their connections closed and new connections refused until {@link
   * #start()}.
   *
   * @throws UnsupportedOperationException if the server was not started by this JVM
   */
  public synchronized void stop() {
    try {
      ownedServer("stop").stop();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot stop the embedded Redis server", e);
    }
  }

  /**
   * Starts the server again on the same port, with no data. Does nothing if it is running.
   *
   * @throws UnsupportedOperationException if the server was not started by this JVM
   */
  public synchronized void start() {
    RedisServer owned = ownedServer("start");
    if (owned.isActive()) {
      return;
    }
    try {
      owned.start();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot restart the embedded Redis server on " + port(), e);
    }
  }

  /**
   * Stops the server and starts it again on the same port, with no data.
   *
   * @throws UnsupportedOperationException if the server was not started by this JVM
   */
  public synchronized void restart() {
    stop();
    start();
  }

  /**
   * Pauses every client of the server for the given time ({@code CLIENT PAUSE ms ALL}). Returns at
   * once; commands sent during the pause are answered when it ends. Connections stay open.
   *
   * @param duration how long to pause, at least 1 ms
   * @throws IllegalArgumentException if {@code duration} is shorter than 1 ms
   */
  public void pause(Duration duration) {
    long millis = duration.toMillis();
    if (millis < 1) {
      throw new IllegalArgumentException(
          Checks.format("duration must be at least 1 ms, but was %s", Checks.duration(duration)));
    }
    withConnection(
        baseUri,
        c ->
            c.dispatch(
                CommandType.CLIENT,
                new StatusOutput<>(StringCodec.UTF8),
                new CommandArgs<>(StringCodec.UTF8).add("PAUSE").add(millis).add("ALL")));
  }

  private RedisServer ownedServer(String action) {
    RedisServer owned = server;
    if (owned == null) {
      throw new UnsupportedOperationException(
          "cannot "
              + action
              + " a Redis server this JVM did not start (it came from "
              + URL_VARIABLE
              + ")");
    }
    return owned;
  }

  private <T> T withConnection(RedisURI uri, Function<RedisCommands<String, String>, T> action) {
    try (StatefulRedisConnection<String, String> connection = admin.connect(uri)) {
      connection.setTimeout(ADMIN_TIMEOUT);
      return action.apply(connection.sync());
    }
  }

  private static RedisURI copy(RedisURI source, int database) {
    return RedisURI.builder(source).withDatabase(database).build();
  }

  void shutdown() {
    admin.shutdown(Duration.ZERO, Duration.ofSeconds(2));
    RedisServer owned = server;
    if (owned != null && owned.isActive()) {
      try {
        owned.stop();
      } catch (IOException | RuntimeException e) {
        // The JVM is exiting; the process dies with it.
      }
    }
    Path dir = workDir;
    if (dir != null) {
      TempDirs.deleteQuietly(dir);
    }
  }
}

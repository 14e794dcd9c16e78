package dev.bulwark.health;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.bulwark.core.Secrets;
import dev.bulwark.core.internal.Checks;
import dev.bulwark.core.internal.NamedThreads;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Objects;
import java.util.OptionalInt;
import java.util.StringJoiner;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Serves a {@link HealthRegistry} over HTTP on the JDK's own {@code com.sun.net.httpserver}: no
 * dependency beyond the JDK, and threads of its own.
 *
 * <pre>{@code
 * HealthServer server = HealthServer.builder(health, 8081)
 *     .bearerToken(System.getenv("HEALTH_TOKEN"))
 *     .prometheus(prometheusRegistry)
 *     .start();
 * }</pre>
 *
 * <table>
 *   <caption>Paths (GET and HEAD)</caption>
 *   <tr><th>path</th><th>answers</th></tr>
 *   <tr><td>{@code /health/live}</td><td>the {@link Role#LIVENESS} report</td></tr>
 *   <tr><td>{@code /health/ready}</td><td>the {@link Role#READINESS} report</td></tr>
 *   <tr><td>{@code /health/started}</td><td>the {@link Role#STARTUP} report</td></tr>
 *   <tr><td>{@code /health}</td><td>the detailed report: every check</td></tr>
 *   <tr><td>{@code /metrics}</td><td>Prometheus text from the {@link Builder#prometheus} registry</td></tr>
 * </table>
 *
 * <p>A report answers 200 for pass and warn and 503 for fail (as the registry maps them), with the
 * status alone for any caller and every check for an authorized one: a caller that sends {@code
 * Authorization: Bearer <token>}, or any caller on the {@link Builder#detailPort} (a port that only
 * the cluster's monitoring can reach). {@code /metrics} answers authorized callers only, others
 * 401; a wrong token is 401 on every path. Other paths are 404, other methods 405.
 *
 * <p>Requests run on {@code threads} threads named {@code bulwark-health-<registry>-http-<n>}, with
 * at most 64 requests waiting; past that, the server's own thread answers, which slows the
 * accepting of connections instead of queueing without bound. Reports come from the registry's
 * cache, so a request takes lock-free reads; while the cached results are the ones the last
 * response was made from, it answers that response's bytes again, and writes no JSON. The first
 * request after start waits for the checks' first runs, at most the longest timeout.
 *
 * <p><b>{@code TCP_NODELAY}.</b> The JDK server writes a response's headers and its body in two
 * writes, and with Nagle's algorithm on (its default) the body waits for the client's delayed
 * acknowledgement of the headers: about 40 ms a response on Linux, on every kept-alive connection.
 * So loading this class sets the JDK's {@code sun.net.httpserver.nodelay} system property to {@code
 * true}, unless it is set already; it applies to every {@code com.sun.net.httpserver} server of the
 * process, and only if none was created before this class was loaded (the JDK reads it once).
 * Measured at 64 clients on loopback: p50 44 ms without it, about 2 ms with it.
 *
 * <p>Thread-safe. {@link #close()} stops the server; it does not close the registry.
 */
public final class HealthServer implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(HealthServer.class);

  /** The JDK server's switch for {@code TCP_NODELAY} on the connections it accepts. */
  static final String NODELAY = "sun.net.httpserver.nodelay";

  static {
    // The JDK server writes a response's headers and its body in two writes. With Nagle's
    // algorithm on (its default), the body waits for the client's delayed ACK of the headers:
    // about 40 ms a response on Linux, on every kept-alive connection.
    try {
      if (System.getProperty(NODELAY) == null) {
        System.setProperty(NODELAY, "true");
      }
    } catch (SecurityException e) {
      LOG.debug("{} not set: {}", NODELAY, e.toString());
    }
  }

  static final int DEFAULT_THREADS = 2;
  static final int QUEUE = 64;

  private final HealthRegistry registry;
  private final HealthFormat format;
  private final @Nullable BearerToken token;
  private final @Nullable PrometheusText metrics;
  private final HttpServer server;
  private final @Nullable HttpServer detailServer;
  private final ThreadPoolExecutor executor;

  private HealthServer(Builder builder) throws IOException {
    this.registry = builder.registry;
    this.format = builder.format == null ? HealthFormat.IETF : builder.format;
    this.token = builder.token;
    this.metrics = builder.metrics;
    int threads = builder.threads < 0 ? DEFAULT_THREADS : builder.threads;
    this.executor =
        new ThreadPoolExecutor(
            threads,
            threads,
            0,
            TimeUnit.MILLISECONDS,
            new ArrayBlockingQueue<>(QUEUE),
            NamedThreads.daemon("health", registry.name() + "-http"),
            new ThreadPoolExecutor.AbortPolicy());
    InetAddress address = builder.address();
    HttpServer main = null;
    HttpServer detail = null;
    try {
      main = HttpServer.create(new InetSocketAddress(address, builder.port), 0);
      main.createContext("/", exchange -> handle(exchange, false));
      main.setExecutor(executor);
      if (builder.detailPort >= 0) {
        detail = HttpServer.create(new InetSocketAddress(address, builder.detailPort), 0);
        detail.createContext("/", exchange -> handle(exchange, true));
        detail.setExecutor(executor);
      }
    } catch (IOException | RuntimeException e) {
      if (main != null) {
        main.stop(0);
      }
      executor.shutdownNow();
      throw e;
    }
    this.server = main;
    this.detailServer = detail;
    server.start();
    if (detailServer != null) {
      detailServer.start();
    }
  }

  /**
   * Starts a server on {@code port} with the defaults: no token, no detail port, no metrics, so
   * every caller sees the statuses alone.
   *
   * @param port the port, 0 for any free one
   * @param registry the checks to serve
   * @return the running server
   * @throws UncheckedIOException if the port cannot be bound
   */
  public static HealthServer start(int port, HealthRegistry registry) {
    return builder(registry, port).start();
  }

  /**
   * Returns a builder.
   *
   * @param registry the checks to serve
   * @param port the port, between 0 (any free one) and 65535
   * @return a new builder
   * @throws IllegalArgumentException if the port is out of range
   */
  public static Builder builder(HealthRegistry registry, int port) {
    return new Builder(registry, port);
  }

  /** {@return the port the server listens on} */
  public int port() {
    return server.getAddress().getPort();
  }

  /** {@return the port that shows every caller the details, if one was set} */
  public OptionalInt detailPort() {
    HttpServer detail = detailServer;
    return detail == null ? OptionalInt.empty() : OptionalInt.of(detail.getAddress().getPort());
  }

  /**
   * The address of a role's report on the main port, for logs and for tests.
   *
   * @param role the role
   * @return {@code http://<host>:<port><path>}, with {@code localhost} for a server bound to every
   *     interface
   */
  public URI uri(Role role) {
    return uri(server, role.path());
  }

  /** {@return the address of {@code /metrics} on the main port} */
  public URI metricsUri() {
    return uri(server, "/metrics");
  }

  private static URI uri(HttpServer server, String path) {
    InetSocketAddress address = server.getAddress();
    String host =
        address.getAddress().isAnyLocalAddress()
            ? "localhost"
            : address.getAddress().getHostAddress();
    if (host.indexOf(':') >= 0) {
      host = "[" + host + "]";
    }
    return URI.create("http://" + host + ":" + address.getPort() + path);
  }

  private void handle(HttpExchange exchange, boolean detailPort) throws IOException {
    try (exchange) {
      String method = exchange.getRequestMethod();
      boolean head = method.equals("HEAD");
      if (!head && !method.equals("GET")) {
        exchange.getResponseHeaders().set("Allow", "GET, HEAD");
        send(exchange, 405, "text/plain; charset=utf-8", "method not allowed\n", head);
        return;
      }
      String raw = exchange.getRequestURI().getPath();
      String path = raw == null ? "" : raw;
      if (path.length() > 1 && path.endsWith("/")) {
        path = path.substring(0, path.length() - 1);
      }
      String header = exchange.getRequestHeaders().getFirst("Authorization");
      BearerToken expected = token;
      boolean authorized = detailPort || (expected != null && expected.matches(header));
      if (path.equals("/metrics")) {
        PrometheusText source = metrics;
        if (source == null) {
          send(exchange, 404, "text/plain; charset=utf-8", "no metrics are served\n", head);
        } else if (!authorized) {
          unauthorized(exchange, header == null ? null : "invalid_token", head);
        } else {
          send(exchange, 200, source.contentType(), source.scrape(), head);
        }
        return;
      }
      Role role = Role.forPath(path);
      if (role == null) {
        send(exchange, 404, "text/plain; charset=utf-8", "not found\n", head);
        return;
      }
      HealthRegistry.Rendered rendered = registry.rendered(role, authorized, format);
      HealthResponse response = rendered.response;
      for (Map.Entry<String, String> h : response.headers().entrySet()) {
        exchange.getResponseHeaders().set(h.getKey(), h.getValue());
      }
      byte[] body = rendered.body();
      exchange.sendResponseHeaders(response.status(), head ? -1 : body.length);
      if (!head) {
        try (OutputStream out = exchange.getResponseBody()) {
          out.write(body);
        }
      }
    } catch (IOException e) { // the client went away: nothing to answer
      LOG.debug("health response not sent: {}", Secrets.maskText(e.getMessage()));
    } catch (RuntimeException e) {
      LOG.warn(
          "health request failed: {}: {}",
          e.getClass().getSimpleName(),
          Secrets.maskText(e.getMessage()));
    }
  }

  private static void unauthorized(HttpExchange exchange, @Nullable String error, boolean head)
      throws IOException {
    exchange
        .getResponseHeaders()
        .set(
            "WWW-Authenticate",
            error == null
                ? "Bearer realm=\"health\""
                : "Bearer realm=\"health\", error=\"" + error + "\"");
    send(exchange, 401, "text/plain; charset=utf-8", "unauthorized\n", head);
  }

  private static void send(
      HttpExchange exchange, int status, String contentType, String text, boolean head)
      throws IOException {
    byte[] body = text.getBytes(StandardCharsets.UTF_8);
    exchange.getResponseHeaders().set("Content-Type", contentType);
    exchange.getResponseHeaders().set("Cache-Control", "no-store");
    exchange.sendResponseHeaders(status, head ? -1 : body.length);
    if (!head) {
      try (OutputStream out = exchange.getResponseBody()) {
        out.write(body);
      }
    }
  }

  /** Stops both ports at once, and the server's threads. The registry stays open. */
  @Override
  public void close() {
    server.stop(0);
    HttpServer detail = detailServer;
    if (detail != null) {
      detail.stop(0);
    }
    executor.shutdownNow();
  }

  @Override
  public String toString() {
    StringJoiner out = new StringJoiner(", ", "HealthServer[", "]");
    out.add("port=" + port());
    detailPort().ifPresent(port -> out.add("detailPort=" + port));
    out.add("token=" + (token == null ? "none" : "***"));
    return out.toString();
  }

  /** Configures a {@link HealthServer}. Each setting may be given once. Not thread-safe. */
  public static final class Builder {
    private final HealthRegistry registry;
    private final int port;
    private @Nullable String host;
    private int detailPort = -1;
    private int threads = -1;
    private @Nullable HealthFormat format;
    private @Nullable BearerToken token;
    private @Nullable PrometheusText metrics;

    private Builder(HealthRegistry registry, int port) {
      this.registry = Objects.requireNonNull(registry, "registry");
      this.port = Checks.between("port", port, 0, 65535);
    }

    /**
     * Binds to one address instead of every interface.
     *
     * @param host a host name or address, such as {@code 127.0.0.1}
     * @return this builder
     * @throws IllegalStateException if already set
     */
    public Builder host(String host) {
      Checks.requireUnset("host", this.host);
      this.host = Checks.notBlank("host", host);
      return this;
    }

    /**
     * Opens a second port whose every caller sees the details and {@code /metrics}, for a network
     * only monitoring reaches. Default: none.
     *
     * @param port between 0 (any free one) and 65535, not the main port
     * @return this builder
     * @throws IllegalArgumentException if out of range or the main port
     * @throws IllegalStateException if already set
     */
    public Builder detailPort(int port) {
      Checks.requireUnset("detailPort", detailPort >= 0, detailPort);
      Checks.between("detailPort", port, 0, 65535);
      if (port != 0 && port == this.port) {
        throw Checks.invalid("detailPort must differ from port %d, but was %d", this.port, port);
      }
      this.detailPort = port;
      return this;
    }

    /**
     * Lets callers that send {@code Authorization: Bearer <token>} see the details and {@code
     * /metrics}. Only its SHA-256 digest is kept; it is compared in constant time and never shown.
     * Default: none.
     *
     * @param token 16 to 4096 visible ASCII characters
     * @return this builder
     * @throws IllegalArgumentException if not such a token (the message gives its length only)
     * @throws IllegalStateException if already set
     */
    public Builder bearerToken(String token) {
      Checks.requireUnset("bearerToken", this.token);
      this.token = BearerToken.of("bearerToken", token);
      return this;
    }

    /**
     * Serves {@code /metrics}, the registry's Prometheus text, to authorized callers. Needs
     * micrometer-registry-prometheus, an optional dependency of this module. Default: none.
     *
     * @param registry the Prometheus registry
     * @return this builder
     * @throws IllegalStateException if already set
     */
    public Builder prometheus(PrometheusMeterRegistry registry) {
      Checks.requireUnset("prometheus", metrics);
      this.metrics = new PrometheusText(Objects.requireNonNull(registry, "registry"));
      return this;
    }

    /**
     * Sets the JSON format of the reports. Default: {@link HealthFormat#IETF}.
     *
     * @param format the format
     * @return this builder
     * @throws IllegalStateException if already set
     */
    public Builder format(HealthFormat format) {
      Checks.requireUnset("format", this.format);
      this.format = Objects.requireNonNull(format, "format");
      return this;
    }

    /**
     * Sets the number of threads that answer requests. Default: 2.
     *
     * @param threads between 1 and 64
     * @return this builder
     * @throws IllegalArgumentException if out of range
     * @throws IllegalStateException if already set
     */
    public Builder threads(int threads) {
      Checks.requireUnset("threads", this.threads >= 0, this.threads);
      this.threads = Checks.between("threads", threads, 1, 64);
      return this;
    }

    private InetAddress address() throws UnknownHostException {
      String name = host;
      return name == null ? new InetSocketAddress(0).getAddress() : InetAddress.getByName(name);
    }

    /**
     * Binds the ports and starts serving.
     *
     * @return the running server
     * @throws UncheckedIOException if a port cannot be bound or the host is unknown
     * @throws IllegalStateException if {@code prometheus} is set without a {@code bearerToken} or a
     *     {@code detailPort}
     */
    public HealthServer start() {
      if (metrics != null && token == null && detailPort < 0) {
        throw new IllegalStateException(
            "prometheus needs bearerToken or detailPort: /metrics answers authorized callers only,"
                + " and without either there are none");
      }
      try {
        return new HealthServer(this);
      } catch (IOException e) {
        throw new UncheckedIOException(
            Checks.format(
                "health server could not listen on port %d: %s",
                port, Secrets.maskText(e.getMessage())),
            e);
      }
    }
  }
}

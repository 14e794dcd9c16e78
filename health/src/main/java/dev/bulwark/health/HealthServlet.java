package dev.bulwark.health;

import dev.bulwark.core.internal.Checks;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.io.OutputStream;
import java.util.Map;
import java.util.Objects;
import java.util.function.Predicate;
import org.jspecify.annotations.Nullable;

/**
 * Serves a {@link HealthRegistry} from a servlet container that the service already runs. Map it to
 * {@code /health/*}: the path after the mapping picks the report, as on {@link HealthServer}
 * ({@code /live}, {@code /ready}, {@code /started}, and nothing or {@code /} for the detailed one).
 *
 * <pre>{@code
 * context.addServlet(new ServletHolder(HealthServlet.builder(health)
 *     .bearerToken(System.getenv("HEALTH_TOKEN"))
 *     .build()), "/health/*");
 * }</pre>
 *
 * <p>A caller is authorized to see the checks when it sends the bearer token, or when the {@link
 * Builder#authorizeWhen} predicate accepts its request (a role the container checked, a management
 * port); a wrong token is answered 401. GET and HEAD only. Thread-safe, as a servlet must be; it
 * does not close the registry.
 */
public final class HealthServlet extends HttpServlet {
  private static final long serialVersionUID = 1L;

  private final transient HealthRegistry registry;
  private final transient HealthFormat format;
  private final transient @Nullable BearerToken token;
  private final transient Predicate<HttpServletRequest> authorizeWhen;

  private HealthServlet(Builder builder) {
    this.registry = builder.registry;
    this.format = builder.format == null ? HealthFormat.IETF : builder.format;
    this.token = builder.token;
    Predicate<HttpServletRequest> when = builder.authorizeWhen;
    this.authorizeWhen = when == null ? request -> false : when;
  }

  /**
   * Returns a builder.
   *
   * @param registry the checks to serve
   * @return a new builder
   */
  public static Builder builder(HealthRegistry registry) {
    return new Builder(registry);
  }

  @Override
  protected void doGet(HttpServletRequest request, HttpServletResponse response)
      throws IOException {
    answer(request, response, false);
  }

  @Override
  protected void doHead(HttpServletRequest request, HttpServletResponse response)
      throws IOException {
    answer(request, response, true);
  }

  /** TRACE would echo the request's headers, the token among them: refused. */
  @Override
  protected void doTrace(HttpServletRequest request, HttpServletResponse response)
      throws IOException {
    response.setHeader("Allow", "GET, HEAD");
    response.sendError(HttpServletResponse.SC_METHOD_NOT_ALLOWED);
  }

  private void answer(HttpServletRequest request, HttpServletResponse response, boolean head)
      throws IOException {
    String path = request.getPathInfo();
    Role role = role(path == null ? "" : path);
    if (role == null) {
      response.sendError(HttpServletResponse.SC_NOT_FOUND);
      return;
    }
    String header = request.getHeader("Authorization");
    BearerToken expected = token;
    boolean authorized =
        (expected != null && expected.matches(header)) || authorizeWhen.test(request);
    HealthRegistry.Rendered rendered = registry.rendered(role, authorized, format);
    HealthResponse health = rendered.response;
    response.setStatus(health.status());
    for (Map.Entry<String, String> h : health.headers().entrySet()) {
      response.setHeader(h.getKey(), h.getValue());
    }
    byte[] body = rendered.body();
    response.setContentLength(body.length);
    if (!head) {
      try (OutputStream out = response.getOutputStream()) {
        out.write(body);
      }
    }
  }

  /** The role below the servlet's mapping: {@code /ready} is {@code /health/ready}'s. */
  private static @Nullable Role role(String path) {
    String trimmed = path.endsWith("/") ? path.substring(0, path.length() - 1) : path;
    return Role.forPath(Role.DETAIL.path() + trimmed);
  }

  @Override
  public String toString() {
    return "HealthServlet[" + registry.name() + ", token=" + (token == null ? "none" : "***") + "]";
  }

  /** Configures a {@link HealthServlet}. Each setting may be given once. Not thread-safe. */
  public static final class Builder {
    private final HealthRegistry registry;
    private @Nullable HealthFormat format;
    private @Nullable BearerToken token;
    private @Nullable Predicate<HttpServletRequest> authorizeWhen;

    private Builder(HealthRegistry registry) {
      this.registry = Objects.requireNonNull(registry, "registry");
    }

    /**
     * Lets callers that send {@code Authorization: Bearer <token>} see the checks; only its SHA-256
     * digest is kept, compared in constant time. Default: none.
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
     * Lets the requests this predicate accepts see the checks, such as {@code r ->
     * r.isUserInRole("ops")} or {@code r -> r.getLocalPort() == 9090}. Default: none.
     *
     * @param predicate called on the request's thread; must be thread-safe
     * @return this builder
     * @throws IllegalStateException if already set
     */
    public Builder authorizeWhen(Predicate<HttpServletRequest> predicate) {
      Checks.requireUnset("authorizeWhen", authorizeWhen);
      this.authorizeWhen = Objects.requireNonNull(predicate, "predicate");
      return this;
    }

    /**
     * Sets the JSON format. Default: {@link HealthFormat#IETF}.
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

    /** {@return the servlet} */
    public HealthServlet build() {
      return new HealthServlet(this);
    }
  }
}

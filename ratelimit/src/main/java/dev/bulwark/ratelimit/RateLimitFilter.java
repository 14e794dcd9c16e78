package dev.bulwark.ratelimit;

import dev.bulwark.core.internal.Checks;
import jakarta.servlet.Filter;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.ServletRequest;
import jakarta.servlet.ServletResponse;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.StringJoiner;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;

/**
 * A servlet filter that rate-limits requests by route and client, answers {@code 429 Too Many
 * Requests} with {@code Retry-After} when a limit is reached, and advertises the limits in the
 * {@code RateLimit-Policy} and {@code RateLimit} headers of draft-ietf-httpapi-ratelimit-headers.
 *
 * <pre>{@code
 * ClientAddress clients = ClientAddress.builder().trustedProxies("10.0.0.0/8").build();
 * RateLimitFilter filter = RateLimitFilter.builder()
 *     .route("POST", "/quotes/calculate", expensive)   // 10/minute
 *     .route("*", "/**", perEndpoint)                   // 50/minute
 *     .key(KeyResolvers.clientIp(clients))
 *     .build();
 * servletContext.addFilter("rate-limit", filter).addMappingForUrlPatterns(null, false, "/*");
 * }</pre>
 *
 * <p><b>Routes.</b> A request is decided by the first route, in the order given, whose method and
 * path pattern match it; a request that no route matches is not limited and gets no header. The
 * method is an HTTP method ({@code "POST"}, compared exactly) or {@code "*"} for any; a {@code GET}
 * route takes {@code HEAD} too. The pattern is matched against the request's path within the
 * context ({@code getServletPath()} and {@code getPathInfo()}, which the container has decoded and
 * normalized), segment by segment, case-sensitively, ignoring empty segments (so a trailing slash
 * or a doubled one changes nothing):
 *
 * <ul>
 *   <li>{@code /quotes/calculate}: that path only;
 *   <li>{@code /users/*}: one whole segment in place of {@code *} ({@code /users/42}, not {@code
 *       /users} nor {@code /users/42/avatar}); {@code *} may stand for any segment, as in {@code
 *       /users/*}{@code /avatar}, but never for part of one;
 *   <li>{@code /exports/**}: {@code /exports} and every path under it; {@code **} only last;
 *   <li>{@code /**}: every path.
 * </ul>
 *
 * <p><b>Keys.</b> The key resolver names whom a request counts against ({@link KeyResolvers}:
 * client address, API key header, principal, or any function). The limiter's key is the route
 * ({@code "POST /quotes/calculate"}) followed by the resolver's key, so two routes that share a
 * limiter still give each client a budget per route; to share one budget across paths, cover them
 * with one route. A key longer than {@value RateLimiter#MAX_KEY_LENGTH} characters is replaced by
 * its SHA-256.
 *
 * <p><b>Headers.</b> Every response to a limited route carries {@code RateLimit-Policy} (one member
 * per limit of the route's limiter, {@code "<limiter>-<n>";q=<permits>;w=<period seconds>}) and,
 * when the decision has quotas, {@code RateLimit} ({@code "<limiter>-<n>";r=<remaining>;t=<seconds
 * until whole>}); a decision taken without Redis's answer ({@link Outcome#FAILED_OPEN}, {@link
 * Outcome#FAILED_CLOSED}) has no quota, so its response carries the policy only. The headers are
 * added before the rest of the chain runs, so they are there even when the servlet commits the
 * response; they are added, not set, so that the members of two such filters form one list: give
 * their limiters distinct names.
 *
 * <p><b>Refusals.</b> A request the decision does not admit is answered here, and the chain does
 * not run: status 429, {@code Retry-After} in whole seconds rounded up ({@link
 * Decision#retryAfterSeconds()}), and an RFC 9457 {@code application/problem+json} body of the
 * draft's {@code quota-exceeded} type naming the policy that lacked the permits. A decision in
 * shadow mode ({@link Outcome#SHADOW_DENIED}) admits the request, and so does this filter; its
 * headers still show the limits being tried.
 *
 * <p>The filter decides each request once, however often it is dispatched (forwards, includes,
 * async and error dispatches). It never closes the limiters: they are the caller's. A limiter that
 * throws (a closed one) and a resolver that returns no key fail the request with the exception.
 * Immutable and thread-safe.
 */
public final class RateLimitFilter implements Filter {
  private static final AtomicLong INSTANCES = new AtomicLong();

  private final List<Route> routes;
  private final Function<HttpServletRequest, String> key;
  private final String decidedAttribute;
  private final String description;

  private RateLimitFilter(List<Route> routes, Function<HttpServletRequest, String> key) {
    this.routes = List.copyOf(routes);
    this.key = key;
    this.decidedAttribute =
        RateLimitFilter.class.getName() + ".decided." + INSTANCES.incrementAndGet();
    this.description = "RateLimitFilter[routes=" + this.routes + ", key=" + key + "]";
  }

  /**
   * Starts a builder; at least one route and the key are required.
   *
   * @return a new builder
   */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Decides the request on its route's limiter, adds the headers, and either passes it on or
   * answers 429. Requests that are not HTTP, that no route matches, or that this filter already
   * decided are passed on untouched.
   *
   * @param request the request
   * @param response the response
   * @param chain the rest of the chain
   * @throws IOException if the chain or writing the 429 fails
   * @throws ServletException if the chain fails
   * @throws IllegalStateException if the key resolver returns no key, or the limiter is closed
   */
  @Override
  public void doFilter(ServletRequest request, ServletResponse response, FilterChain chain)
      throws IOException, ServletException {
    if (!(request instanceof HttpServletRequest)
        || !(response instanceof HttpServletResponse)
        || request.getAttribute(decidedAttribute) != null) {
      chain.doFilter(request, response);
      return;
    }
    request.setAttribute(decidedAttribute, true);
    HttpServletRequest http = (HttpServletRequest) request;
    Route route = route(http);
    if (route == null) {
      chain.doFilter(request, response);
      return;
    }
    String clientKey = key.apply(http);
    if (clientKey == null || clientKey.isEmpty()) {
      throw new IllegalStateException(
          "the key resolver " + key + " returned no key for a request to route " + route);
    }
    Decision decision = route.limiter().tryAcquire(route.key(clientKey));
    HttpServletResponse out = (HttpServletResponse) response;
    RateLimitHeaders headers = route.headers();
    out.addHeader(RateLimitHeaders.POLICY_FIELD, headers.policy());
    String rateLimit = headers.rateLimit(decision);
    if (!rateLimit.isEmpty()) {
      out.addHeader(RateLimitHeaders.RATE_LIMIT_FIELD, rateLimit);
    }
    if (decision.allowed()) {
      chain.doFilter(request, response);
      return;
    }
    byte[] body = route.body(decision);
    out.setStatus(429);
    out.setHeader("Retry-After", Long.toString(decision.retryAfterSeconds()));
    out.setContentType("application/problem+json");
    out.setContentLength(body.length);
    out.getOutputStream().write(body);
  }

  private @Nullable Route route(HttpServletRequest request) {
    String servletPath = request.getServletPath();
    String pathInfo = request.getPathInfo();
    String path = (servletPath == null ? "" : servletPath) + (pathInfo == null ? "" : pathInfo);
    List<String> segments = PathPattern.split(path);
    String method = request.getMethod();
    for (Route route : routes) {
      if (route.matches(method, segments)) {
        return route;
      }
    }
    return null;
  }

  /**
   * The routes and the key resolver, for logs.
   *
   * @return {@code RateLimitFilter[routes=[POST /quotes/calculate -> expensive, * /** -> api],
   *     key=clientIp(...)]}
   */
  @Override
  public String toString() {
    return description;
  }

  /**
   * Builds a {@link RateLimitFilter}. Obtain one with {@link RateLimitFilter#builder()}. Not
   * thread-safe; the filter it builds is.
   */
  public static final class Builder {
    private final List<Route> routes = new ArrayList<>();
    private @Nullable Function<HttpServletRequest, String> key;

    private Builder() {}

    /**
     * Adds a route, after those already given: requests of {@code method} to paths matching {@code
     * pattern} are decided by {@code limiter}, one permit each. See {@link RateLimitFilter} for the
     * pattern syntax. A route that an earlier one would always take the requests of (the same route
     * twice, {@code /quotes/calculate} after {@code /**}) is refused, since it could never apply:
     * give narrow routes first.
     *
     * @param method an HTTP method such as {@code "POST"}, 1 to 32 token characters, or {@code "*"}
     *     for any
     * @param pattern a path pattern such as {@code "/quotes/calculate"}, {@code "/users/*"} or
     *     {@code "/exports/**"}, at most 256 characters without spaces
     * @param limiter the limiter; its name names its policies in the headers, so it must be
     *     printable ASCII (the names bulwark's limiters accept are)
     * @return this builder
     * @throws IllegalArgumentException if the method, the pattern or the limiter's name is not of
     *     that form
     * @throws IllegalStateException if an earlier route matches every request this one would
     */
    public Builder route(String method, String pattern, RateLimiter limiter) {
      Route route = new Route(method, pattern, limiter);
      for (Route earlier : routes) {
        if (earlier.covers(route)) {
          throw new IllegalStateException(
              "route "
                  + method
                  + " "
                  + pattern
                  + " would never apply: route "
                  + earlier
                  + ", given before it, matches every request it would");
        }
      }
      routes.add(route);
      return this;
    }

    /**
     * Whom a request counts against: one of {@link KeyResolvers}, or a function that returns a
     * non-empty key of at most a few hundred characters (a longer one is hashed). Required.
     *
     * @param resolver the key resolver, called once per limited request, from any thread
     * @return this builder
     * @throws IllegalStateException if the key was already set
     */
    public Builder key(Function<HttpServletRequest, String> resolver) {
      Objects.requireNonNull(resolver, "key");
      Checks.requireUnset("key", key);
      this.key = resolver;
      return this;
    }

    /**
     * Builds the filter.
     *
     * @return a new filter
     * @throws IllegalStateException if no route or no key was given
     */
    public RateLimitFilter build() {
      if (routes.isEmpty()) {
        throw new IllegalStateException(
            "routes must be given: at least one route(method, pattern, limiter)");
      }
      Function<HttpServletRequest, String> resolver = key;
      if (resolver == null) {
        throw new IllegalStateException(
            "key must be set, such as KeyResolvers.clientIp(ClientAddress.direct())");
      }
      return new RateLimitFilter(routes, resolver);
    }

    /**
     * The settings given, for logs.
     *
     * @return {@code RateLimitFilter.Builder[routes=[...], key=...]}
     */
    @Override
    public String toString() {
      StringJoiner out = new StringJoiner(", ", "RateLimitFilter.Builder[", "]");
      out.add("routes=" + routes);
      Checks.addSetting(out, "key", key);
      return out.toString();
    }
  }
}

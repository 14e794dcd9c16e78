package dev.bulwark.queries;

import dev.bulwark.core.internal.Checks;
import jakarta.servlet.Filter;
import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.ServletRequest;
import jakarta.servlet.ServletResponse;
import jakarta.servlet.http.HttpServletRequest;
import java.io.IOException;
import java.util.Objects;
import java.util.Set;
import java.util.StringJoiner;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;

/**
 * A servlet filter that runs each request in a {@link QueryScope} of its guard: the scope opens
 * before the rest of the chain runs and closes when it returns or throws, so every statement the
 * request runs on its thread through the guard's data sources is counted in it.
 *
 * <pre>{@code
 * QueryGuard guard = QueryGuard.builder().meterRegistry(registry).build();
 * DataSource dataSource = guard.wrap(pool);
 * servletContext.addFilter("query-scope", QueryScopeFilter.builder(guard).build())
 *     .addMappingForUrlPatterns(null, false, "/*");
 * }</pre>
 *
 * <p><b>Scope names.</b> Limits given with {@link QueryGuard.Builder#scope(String, ScopeLimits)}
 * are looked up by the scope's name, and events are logged with it, so the name must be the route
 * ({@code "GET /customers/{id}"}), not the path ({@code "GET /customers/7"}): a name per id would
 * match no limit and make a log line of its own per customer. A filter runs before the application
 * routes the request, so it cannot read the route template a framework finds later (Spring MVC's,
 * for one, is set inside the chain). By default the name is made from the request:
 *
 * <ul>
 *   <li>its method, if it is one of {@code GET}, {@code HEAD}, {@code POST}, {@code PUT}, {@code
 *       DELETE}, {@code CONNECT}, {@code OPTIONS}, {@code TRACE} and {@code PATCH}, else {@code
 *       _OTHER} (as OpenTelemetry's HTTP conventions do), since a client may send any token;
 *   <li>a space;
 *   <li>its path within the context ({@code getServletPath()} and {@code getPathInfo()}, which the
 *       container has decoded and normalized, without the query string), its empty segments dropped
 *       (so a trailing or doubled slash changes nothing), and every segment that is all digits
 *       ({@code 7}) or a UUID ({@code 550e8400-e29b-41d4-a716-446655440000}, either case) replaced
 *       by {@code {id}}; the root is {@code /}.
 * </ul>
 *
 * <p>So {@code GET /customers/7/} is {@code "GET /customers/{id}"}. That covers the ids of most
 * APIs, and is simple enough to write a limit's name from. It is a rule, not a router: a slug
 * ({@code /articles/how-to-x}), a name or a token in a path stays in the name, and so does every
 * path a scanner tries. The guard keeps nothing per scope name (no meter is tagged with it, no map
 * holds it), so such a name costs its log lines, not memory; where the paths carry such values,
 * give {@link Builder#scopeName(Function)} a function that returns the route.
 *
 * <p><b>Failures.</b> Under {@link QueryPolicy#THROW} a statement that breaks a limit throws {@link
 * QueryLimitExceededException}; this filter lets it go on to the container, which answers the
 * request with its error response (500): THROW is for tests and staging. Whatever the chain throws,
 * the scope is closed before it goes on, and under {@link QueryPolicy#LOG} its events are logged
 * then.
 *
 * <p><b>Dispatches.</b> A request is scoped once, on its first pass through this filter; a forward,
 * an include, an error or an async dispatch of it passes through without a scope of its own (the
 * forward's and the include's statements count in the request's scope, since they run within it).
 * The scope ends when the first pass returns: what an async request does after that is not counted.
 * A request whose thread has a scope of the guard open already (a test that calls the application
 * in-process, such as a MockMvc test in a {@link QueryRecorder}'s scope) runs in a scope nested in
 * it: its statements count in the request's scope, not in the outer one. Requests that are not HTTP
 * pass through unscoped. Immutable and thread-safe.
 */
public final class QueryScopeFilter implements Filter {
  private static final AtomicLong INSTANCES = new AtomicLong();

  /** The methods kept in a default scope name: RFC 9110's and PATCH. */
  static final Set<String> METHODS =
      Set.of("GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH");

  /** The method of a default scope name for any other method. */
  static final String OTHER_METHOD = "_OTHER";

  /** What a segment of digits or a UUID becomes in a default scope name. */
  static final String ID = "{id}";

  private static final Function<HttpServletRequest, String> DEFAULT_SCOPE_NAME =
      new Function<>() {
        @Override
        public String apply(HttpServletRequest request) {
          return defaultScopeName(
              request.getMethod(), request.getServletPath(), request.getPathInfo());
        }

        @Override
        public String toString() {
          return "method and path, ids as {id}";
        }
      };

  private final QueryGuard guard;
  private final Function<HttpServletRequest, String> scopeName;
  private final String scopedAttribute;

  private QueryScopeFilter(QueryGuard guard, Function<HttpServletRequest, String> scopeName) {
    this.guard = guard;
    this.scopeName = scopeName;
    this.scopedAttribute =
        QueryScopeFilter.class.getName() + ".scoped." + INSTANCES.incrementAndGet();
  }

  /**
   * Starts a builder.
   *
   * @param guard the guard whose scopes the requests run in: the one that wrapped the data sources
   *     the application uses
   * @return a new builder
   * @throws NullPointerException if {@code guard} is null
   */
  public static Builder builder(QueryGuard guard) {
    return new Builder(Objects.requireNonNull(guard, "guard"));
  }

  /**
   * Runs the rest of the chain in a new scope named by the scope name function, and closes the
   * scope when the chain returns or throws. A request that is not HTTP, or that this filter scoped
   * already (a forward, an include, an error or an async dispatch of it), is passed on as it is.
   *
   * @param request the request
   * @param response the response
   * @param chain the rest of the chain
   * @throws IOException if the chain throws it
   * @throws ServletException if the chain throws it
   * @throws QueryLimitExceededException under {@link QueryPolicy#THROW}, from the statement that
   *     broke a limit
   * @throws IllegalStateException if the scope name function returns null or a blank name; the
   *     chain does not run then
   */
  @Override
  public void doFilter(ServletRequest request, ServletResponse response, FilterChain chain)
      throws IOException, ServletException {
    if (!(request instanceof HttpServletRequest) || request.getAttribute(scopedAttribute) != null) {
      chain.doFilter(request, response);
      return;
    }
    request.setAttribute(scopedAttribute, true);
    String name = scopeName.apply((HttpServletRequest) request);
    if (name == null || name.isBlank()) {
      throw new IllegalStateException(
          "the scopeName function " + scopeName + " returned no name for a request");
    }
    QueryScope scope = guard.begin(name);
    try {
      chain.doFilter(request, response);
    } finally {
      scope.close();
    }
  }

  /**
   * The default scope name: the method ({@code _OTHER} for one not in {@code METHODS}), a space and
   * the path with its empty segments dropped and its ids as {@code {id}}.
   */
  static String defaultScopeName(
      @Nullable String method, @Nullable String servletPath, @Nullable String pathInfo) {
    String kept = method != null && METHODS.contains(method) ? method : OTHER_METHOD;
    return kept + " " + route((servletPath == null ? "" : servletPath) + nonNull(pathInfo));
  }

  private static String nonNull(@Nullable String text) {
    return text == null ? "" : text;
  }

  /** The path with its empty segments dropped and each id replaced by {@code {id}}. */
  static String route(String path) {
    StringBuilder out = new StringBuilder(path.length() + 1);
    int n = path.length();
    int start = 0;
    while (start < n) {
      int end = path.indexOf('/', start);
      if (end < 0) {
        end = n;
      }
      if (end > start) {
        out.append('/');
        if (isId(path, start, end)) {
          out.append(ID);
        } else {
          out.append(path, start, end);
        }
      }
      start = end + 1;
    }
    return out.length() == 0 ? "/" : out.toString();
  }

  /** Whether {@code path[start, end)} is all ASCII digits or a UUID in its 8-4-4-4-12 form. */
  static boolean isId(String path, int start, int end) {
    boolean digits = true;
    for (int i = start; i < end && digits; i++) {
      char c = path.charAt(i);
      digits = c >= '0' && c <= '9';
    }
    if (digits) {
      return true;
    }
    if (end - start != 36) {
      return false;
    }
    for (int i = 0; i < 36; i++) {
      char c = path.charAt(start + i);
      boolean dash = i == 8 || i == 13 || i == 18 || i == 23;
      boolean hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
      if (dash ? c != '-' : !hex) {
        return false;
      }
    }
    return true;
  }

  /**
   * The guard and the scope name function, for logs.
   *
   * @return {@code QueryScopeFilter[guard=default, scopeName=method and path, ids as {id}]}
   */
  @Override
  public String toString() {
    return "QueryScopeFilter[guard=" + guard.name() + ", scopeName=" + scopeName + "]";
  }

  /**
   * Builds a {@link QueryScopeFilter}. Obtain one with {@link
   * QueryScopeFilter#builder(QueryGuard)}. Not thread-safe; the filter it builds is.
   */
  public static final class Builder {
    private final QueryGuard guard;
    private @Nullable Function<HttpServletRequest, String> scopeName;

    private Builder(QueryGuard guard) {
      this.guard = guard;
    }

    /**
     * How a request's scope is named: a function that returns its route, such as {@code request ->
     * request.getMethod() + " " + routes.template(request)}, for an application whose paths carry
     * values the default does not take out (see {@link QueryScopeFilter}). Default: the method and
     * the path, with every segment of digits or a UUID as {@code {id}}.
     *
     * @param scopeName called once per request, on the request's thread, before the chain runs; it
     *     must return a name that is not blank, and what it throws fails the request
     * @return this builder
     * @throws IllegalStateException if it was already set
     */
    public Builder scopeName(Function<HttpServletRequest, String> scopeName) {
      Objects.requireNonNull(scopeName, "scopeName");
      Checks.requireUnset("scopeName", this.scopeName);
      this.scopeName = scopeName;
      return this;
    }

    /**
     * Builds the filter.
     *
     * @return a new filter
     */
    public QueryScopeFilter build() {
      Function<HttpServletRequest, String> name = scopeName;
      return new QueryScopeFilter(guard, name == null ? DEFAULT_SCOPE_NAME : name);
    }

    /**
     * The settings given, for logs.
     *
     * @return {@code QueryScopeFilter.Builder{guard=default}}, and {@code scopeName=...} when it
     *     was set
     */
    @Override
    public String toString() {
      StringJoiner out = new StringJoiner(", ", "QueryScopeFilter.Builder{", "}");
      out.add("guard=" + guard.name());
      Checks.addSetting(out, "scopeName", scopeName);
      return out.toString();
    }
  }
}

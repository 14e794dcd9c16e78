package dev.bulwark.ratelimit;

import dev.bulwark.core.internal.Checks;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * One rule of {@link RateLimitFilter}: requests of a method to paths of a pattern are decided by a
 * limiter, under keys that start with the route, so that two routes on one limiter count apart.
 * Immutable.
 */
final class Route {
  static final String ANY_METHOD = "*";
  static final int MAX_METHOD_LENGTH = 32;

  private static final String QUOTA_EXCEEDED =
      "https://iana.org/assignments/http-problem-types#quota-exceeded";

  private final String method;
  private final PathPattern pattern;
  private final RateLimiter limiter;
  private final String id;
  private final RateLimitHeaders headers;
  private final List<byte[]> deniedBodies;
  private final byte[] refusedBody;

  Route(String method, String pattern, RateLimiter limiter) {
    this.method = checkMethod(method);
    this.pattern = PathPattern.parse(pattern);
    this.limiter = Objects.requireNonNull(limiter, "limiter");
    this.id = method + " " + pattern;
    this.headers = new RateLimitHeaders(limiter.name(), limiter.limits());
    List<byte[]> bodies = new ArrayList<>();
    for (String name : headers.names()) {
      bodies.add(problem(QUOTA_EXCEEDED, name));
    }
    this.deniedBodies = List.copyOf(bodies);
    this.refusedBody = problem("about:blank", null);
  }

  private static String checkMethod(String method) {
    Objects.requireNonNull(method, "method");
    boolean token = !method.isEmpty() && method.length() <= MAX_METHOD_LENGTH;
    for (int i = 0; token && i < method.length(); i++) {
      token = ProxyChain.tokenChar(method.charAt(i));
    }
    if (!token) {
      throw Checks.invalid(
          "method must be \"*\" or an HTTP method of 1 to %d token characters such as \"POST\","
              + " but was \"%s\"",
          MAX_METHOD_LENGTH, method);
    }
    return method;
  }

  /**
   * An RFC 9457 problem: the draft's {@code quota-exceeded} type naming the policy that lacked the
   * permits, or {@code about:blank} when none did (Redis failed and the limiter fails closed).
   */
  private static byte[] problem(String type, @Nullable String policy) {
    StringBuilder json = new StringBuilder(160);
    json.append("{\"type\":\"").append(type).append("\",\"title\":\"Too Many Requests\"");
    json.append(",\"status\":429");
    if (policy != null) {
      json.append(",\"violated-policies\":[\"");
      for (int i = 0; i < policy.length(); i++) {
        char c = policy.charAt(i);
        if (c == '"' || c == '\\') {
          json.append('\\');
        }
        json.append(c);
      }
      json.append("\"]");
    }
    return json.append("}\n").toString().getBytes(StandardCharsets.UTF_8);
  }

  /**
   * Whether this route decides a request: its method is the route's, or the route's is {@code *}; a
   * {@code GET} route also takes {@code HEAD}, which {@code HttpServlet} answers by running {@code
   * doGet}.
   */
  boolean matches(String requestMethod, List<String> path) {
    return methodMatches(requestMethod) && pattern.matches(path);
  }

  private boolean methodMatches(String requestMethod) {
    return method.equals(ANY_METHOD)
        || method.equals(requestMethod)
        || (method.equals("GET") && requestMethod.equals("HEAD"));
  }

  /** Whether this route matches every request that {@code later} would. */
  boolean covers(Route later) {
    return methodMatches(later.method) && pattern.covers(later.pattern);
  }

  RateLimiter limiter() {
    return limiter;
  }

  RateLimitHeaders headers() {
    return headers;
  }

  /**
   * The limiter's key: the route, then the client's key. A key that would exceed {@link
   * RateLimiter#MAX_KEY_LENGTH} keeps the route and the SHA-256 of the client's key instead.
   */
  String key(String clientKey) {
    if (id.length() + 1 + clientKey.length() <= RateLimiter.MAX_KEY_LENGTH) {
      return id + " " + clientKey;
    }
    return id + " sha256:" + sha256(clientKey);
  }

  /** The body of a 429 for this decision, shared: not to be changed. */
  byte[] body(Decision decision) {
    Limit deniedBy = decision.deniedBy();
    int index = deniedBy == null ? -1 : limiter.limits().indexOf(deniedBy);
    return index < 0 ? refusedBody : deniedBodies.get(index);
  }

  /** The SHA-256 of the text's UTF-8 bytes, in unpadded base64url: 43 characters. */
  static String sha256(String text) {
    try {
      byte[] digest =
          MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8));
      return Base64.getUrlEncoder().withoutPadding().encodeToString(digest);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java platform has SHA-256", e);
    }
  }

  /** {@code POST /quotes/calculate -> expensive}. */
  @Override
  public String toString() {
    return id + " -> " + limiter.name();
  }
}

package dev.bulwark.ratelimit;

import dev.bulwark.core.internal.Checks;
import jakarta.servlet.http.HttpServletRequest;
import java.security.Principal;
import java.util.Objects;
import java.util.function.Function;

/**
 * The usual keys of {@link RateLimitFilter}: whom a request is counted against. Each resolver
 * writes its kind before the value ({@code ip:}, {@code key:}, {@code user:}), so that the keys of
 * two kinds never meet; one that finds no value of its kind counts the request under the client's
 * address, so that no request goes uncounted.
 *
 * <p>A custom resolver is any {@code Function<HttpServletRequest, String>}, such as {@code request
 * -> "tenant:" + tenantOf(request)}; it must return a non-empty key. Stateless; the resolvers are
 * thread-safe.
 */
public final class KeyResolvers {
  private KeyResolvers() {}

  /**
   * The client's address, grouped as {@link ClientAddress#resolve} gives it: {@code
   * "ip:203.0.113.7"}, {@code "ip:2001:db8:1:2::/64"}.
   *
   * @param address how to find the address behind the proxies
   * @return the resolver
   */
  public static Function<HttpServletRequest, String> clientIp(ClientAddress address) {
    Objects.requireNonNull(address, "address");
    return new Resolver("clientIp(" + address + ")") {
      @Override
      public String apply(HttpServletRequest request) {
        return "ip:" + address.resolve(request);
      }
    };
  }

  /**
   * A header that names the caller, such as an API key: {@code "key:"} and the SHA-256 of the
   * value, in base64url, so that the credential itself is never stored in a limiter (nor in Redis).
   * A request without the header, or with an empty one, is counted under its address, as {@link
   * #clientIp} would count it. The header's value is the client's to choose: unless an earlier
   * filter rejects unknown keys, a client can vary it to get a fresh budget each time, so pair it
   * with a per-address limit.
   *
   * @param name the header's field name, such as {@code "X-Api-Key"}
   * @param fallback how to find the address of a request without the header
   * @return the resolver
   * @throws IllegalArgumentException if {@code name} is not a field name
   */
  public static Function<HttpServletRequest, String> header(String name, ClientAddress fallback) {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(fallback, "fallback");
    boolean token = !name.isEmpty();
    for (int i = 0; token && i < name.length(); i++) {
      token = ProxyChain.tokenChar(name.charAt(i));
    }
    if (!token) {
      throw Checks.invalid(
          "name must be a header field name such as \"X-Api-Key\", but was \"%s\"", name);
    }
    return new Resolver("header(" + name + ", " + fallback + ")") {
      @Override
      public String apply(HttpServletRequest request) {
        String value = request.getHeader(name);
        String trimmed = value == null ? "" : value.strip();
        return trimmed.isEmpty()
            ? "ip:" + fallback.resolve(request)
            : "key:" + Route.sha256(trimmed);
      }
    };
  }

  /**
   * The authenticated user ({@link HttpServletRequest#getUserPrincipal()}): {@code "user:"} and the
   * principal's name. A request without a principal, or whose principal has an empty name, is
   * counted under its address. Authentication must run before the rate limit filter for the
   * principal to be known there.
   *
   * @param fallback how to find the address of an anonymous request
   * @return the resolver
   */
  public static Function<HttpServletRequest, String> principal(ClientAddress fallback) {
    Objects.requireNonNull(fallback, "fallback");
    return new Resolver("principal(" + fallback + ")") {
      @Override
      public String apply(HttpServletRequest request) {
        Principal principal = request.getUserPrincipal();
        String name = principal == null ? null : principal.getName();
        return name == null || name.isEmpty() ? "ip:" + fallback.resolve(request) : "user:" + name;
      }
    };
  }

  /** A resolver that says what it is, for the filter's {@code toString}. */
  private abstract static class Resolver implements Function<HttpServletRequest, String> {
    private final String description;

    Resolver(String description) {
      this.description = description;
    }

    @Override
    public String toString() {
      return description;
    }
  }
}

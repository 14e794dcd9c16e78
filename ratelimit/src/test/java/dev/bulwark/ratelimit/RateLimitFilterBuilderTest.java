package dev.bulwark.ratelimit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;
import static org.assertj.core.api.Assertions.assertThatIllegalStateException;
import static org.assertj.core.api.Assertions.assertThatNullPointerException;

import java.time.Duration;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Every refusal of the filter's builder and of the key resolvers, with its text. */
class RateLimitFilterBuilderTest {
  private final RateLimiter api =
      RateLimiter.local().name("api").limits(java.util.List.of(Limit.perMinute(50))).build();

  @AfterEach
  void close() {
    api.close();
  }

  private static RateLimitFilter.Builder keyed() {
    return RateLimitFilter.builder().key(KeyResolvers.clientIp(ClientAddress.direct()));
  }

  @Test
  void routesAndAKeyAreRequired() {
    assertThatIllegalStateException()
        .isThrownBy(() -> keyed().build())
        .withMessage("routes must be given: at least one route(method, pattern, limiter)");
    assertThatIllegalStateException()
        .isThrownBy(() -> RateLimitFilter.builder().route("*", "/**", api).build())
        .withMessage("key must be set, such as KeyResolvers.clientIp(ClientAddress.direct())");
    Function<jakarta.servlet.http.HttpServletRequest, String> key = request -> "k";
    assertThatIllegalStateException()
        .isThrownBy(() -> RateLimitFilter.builder().key(key).key(key))
        .withMessage("key was already set to " + key);
    assertThatNullPointerException()
        .isThrownBy(() -> RateLimitFilter.builder().key(null))
        .withMessage("key");
  }

  @Test
  void methodsArePatternsOrTokens() {
    for (String bad : new String[] {"", "GET POST", "GET,POST", "G\u00c9T", "A".repeat(33)}) {
      assertThatIllegalArgumentException()
          .isThrownBy(() -> keyed().route(bad, "/a", api))
          .withMessage(
              "method must be \"*\" or an HTTP method of 1 to 32 token characters such as"
                  + " \"POST\", but was \""
                  + bad
                  + "\"");
    }
    keyed().route("PROPFIND", "/a", api).route("M-SEARCH", "/a", api);
    assertThatNullPointerException()
        .isThrownBy(() -> keyed().route(null, "/a", api))
        .withMessage("method");
    assertThatNullPointerException()
        .isThrownBy(() -> keyed().route("GET", null, api))
        .withMessage("pattern");
    assertThatNullPointerException()
        .isThrownBy(() -> keyed().route("GET", "/a", null))
        .withMessage("limiter");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> keyed().route("GET", "/a/*.csv", api))
        .withMessageStartingWith("pattern must start with '/'");
  }

  @Test
  void aRouteThatCouldNeverApplyIsRefused() {
    assertThatIllegalStateException()
        .isThrownBy(() -> keyed().route("*", "/**", api).route("POST", "/quotes/calculate", api))
        .withMessage(
            "route POST /quotes/calculate would never apply: route * /** -> api, given before it,"
                + " matches every request it would");
    assertThatIllegalStateException()
        .isThrownBy(() -> keyed().route("GET", "/a/*", api).route("GET", "/a/b", api))
        .withMessage(
            "route GET /a/b would never apply: route GET /a/* -> api, given before it, matches"
                + " every request it would");
    assertThatIllegalStateException()
        .isThrownBy(() -> keyed().route("GET", "/a", api).route("HEAD", "/a", api))
        .withMessageStartingWith("route HEAD /a would never apply");
    assertThatIllegalStateException()
        .isThrownBy(() -> keyed().route("POST", "/a", api).route("POST", "/a/", api))
        .withMessageStartingWith("route POST /a/ would never apply");
    // Narrow first is fine, and so are routes that only overlap.
    keyed()
        .route("POST", "/quotes/calculate", api)
        .route("GET", "/quotes/*", api)
        .route("*", "/quotes/**", api)
        .route("HEAD", "/x", api)
        .route("GET", "/x", api)
        .route("*", "/**", api)
        .build();
  }

  @Test
  void aLimiterWhoseNameCannotBeAPolicyNameIsRefused() {
    RateLimiter odd =
        FixedLimiter.of("caf\u00e9", Limit.perMinute(1), Outcome.ALLOWED, Duration.ZERO);
    assertThatIllegalArgumentException()
        .isThrownBy(() -> keyed().route("*", "/**", odd))
        .withMessage(
            "a policy name must be printable ASCII to be a Structured Field String, but was"
                + " \"caf\u00e9-1\"");
  }

  @Test
  void theFilterAndBuilderDescribeTheirSettings() {
    RateLimitFilter.Builder builder =
        RateLimitFilter.builder().route("POST", "/quotes/calculate", api).route("*", "/**", api);
    assertThat(builder)
        .hasToString(
            "RateLimitFilter.Builder[routes=[POST /quotes/calculate -> api, * /** -> api]]");
    RateLimitFilter filter =
        builder
            .key(
                KeyResolvers.clientIp(ClientAddress.builder().trustedProxies("10.0.0.0/8").build()))
            .build();
    assertThat(filter)
        .hasToString(
            "RateLimitFilter[routes=[POST /quotes/calculate -> api, * /** -> api],"
                + " key=clientIp(ClientAddress[trustedProxies=[10.0.0.0/8],"
                + " proxyHeader=X_FORWARDED_FOR, ipv4PrefixLength=32, ipv6PrefixLength=64])]");
    assertThat(KeyResolvers.header("X-Api-Key", ClientAddress.direct()).toString())
        .startsWith("header(X-Api-Key, ClientAddress[");
    assertThat(KeyResolvers.principal(ClientAddress.direct()).toString())
        .startsWith("principal(ClientAddress[");
  }

  @Test
  void theResolversCheckTheirArguments() {
    for (String bad : new String[] {"", "X Api Key", "X-Api-Key:", "X-\u00c4"}) {
      assertThatIllegalArgumentException()
          .isThrownBy(() -> KeyResolvers.header(bad, ClientAddress.direct()))
          .withMessage(
              "name must be a header field name such as \"X-Api-Key\", but was \"" + bad + "\"");
    }
    assertThatNullPointerException()
        .isThrownBy(() -> KeyResolvers.header(null, ClientAddress.direct()))
        .withMessage("name");
    assertThatNullPointerException()
        .isThrownBy(() -> KeyResolvers.header("X-Api-Key", null))
        .withMessage("fallback");
    assertThatNullPointerException()
        .isThrownBy(() -> KeyResolvers.principal(null))
        .withMessage("fallback");
    assertThatNullPointerException()
        .isThrownBy(() -> KeyResolvers.clientIp(null))
        .withMessage("address");
  }

  @Test
  void keysStartWithTheRouteAndLongOnesAreHashed() {
    Route route = new Route("POST", "/quotes/calculate", api);
    assertThat(route.key("ip:203.0.113.7")).isEqualTo("POST /quotes/calculate ip:203.0.113.7");
    String fits = "k".repeat(RateLimiter.MAX_KEY_LENGTH - "POST /quotes/calculate ".length());
    assertThat(route.key(fits)).isEqualTo("POST /quotes/calculate " + fits);
    String key = route.key(fits + "k");
    assertThat(key)
        .isEqualTo("POST /quotes/calculate sha256:" + Route.sha256(fits + "k"))
        .hasSize("POST /quotes/calculate sha256:".length() + 43);
    // The SHA-256 of "abc", FIPS 180-2's example, in base64url.
    assertThat(Route.sha256("abc")).isEqualTo("ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0");
  }
}

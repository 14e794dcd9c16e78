package dev.bulwark.ratelimit;

import static org.assertj.core.api.Assertions.assertThat;

import dev.bulwark.ratelimit.Fields.Member;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The filter in a real Jetty 12, read by a real HTTP client, its headers by a real structured-field
 * parser. The limiters run on a clock the test holds still (or moves), so every figure is exact.
 */
class RateLimitFilterTest {
  private final AtomicLong nanos = new AtomicLong(1_000_000_000L);
  private final List<RateLimiter> limiters = new ArrayList<>();
  private JettyServer server;

  @AfterEach
  void stop() throws Exception {
    if (server != null) {
      server.close();
    }
    limiters.forEach(RateLimiter::close);
  }

  private RateLimiter limiter(String name, Limit... limits) {
    return limiter(name, false, limits);
  }

  private RateLimiter limiter(String name, boolean shadow, Limit... limits) {
    RateLimiter limiter =
        RateLimiter.local()
            .name(name)
            .limits(List.of(limits))
            .shadow(shadow)
            .nanoTime(nanos::get)
            .build();
    limiters.add(limiter);
    return limiter;
  }

  private void start(RateLimitFilter... filters) throws Exception {
    server = JettyServer.start(filters);
  }

  private static List<Member> policy(HttpResponse<?> response) {
    return Fields.parse(response.headers().allValues("RateLimit-Policy"));
  }

  private static List<Member> rateLimit(HttpResponse<?> response) {
    return Fields.parse(response.headers().allValues("RateLimit"));
  }

  @Test
  void theEleventhCallOfATenPerMinuteRouteIsRefusedWithRetryAfterAndBothHeaders() throws Exception {
    start(
        RateLimitFilter.builder()
            .route("*", "/**", limiter("api", Limit.perMinute(10)))
            .key(KeyResolvers.clientIp(ClientAddress.direct()))
            .build());

    HttpResponse<String> first = server.get("/orders");
    assertThat(first.statusCode()).isEqualTo(200);
    assertThat(first.body()).isEqualTo("ok");
    assertThat(first.headers().firstValue("Retry-After")).isEmpty();
    assertThat(policy(first)).containsExactly(new Member("api-1", Map.of("q", 10L, "w", 60L)));
    // 9 left; one permit comes back every 6 s, so the bucket is whole again in 6 s.
    assertThat(rateLimit(first)).containsExactly(new Member("api-1", Map.of("r", 9L, "t", 6L)));

    HttpResponse<String> tenth = null;
    for (int i = 2; i <= 10; i++) {
      tenth = server.get("/orders");
      assertThat(tenth.statusCode()).as("call %d", i).isEqualTo(200);
    }
    assertThat(rateLimit(tenth)).containsExactly(new Member("api-1", Map.of("r", 0L, "t", 60L)));

    HttpResponse<String> eleventh = server.get("/orders");
    assertThat(eleventh.statusCode()).isEqualTo(429);
    assertThat(eleventh.headers().allValues("Retry-After")).containsExactly("6");
    assertThat(policy(eleventh)).containsExactly(new Member("api-1", Map.of("q", 10L, "w", 60L)));
    // The effective window ends no later than Retry-After.
    assertThat(rateLimit(eleventh)).containsExactly(new Member("api-1", Map.of("r", 0L, "t", 6L)));
    assertThat(eleventh.headers().firstValue("Content-Type"))
        .hasValueSatisfying(type -> assertThat(type).startsWith("application/problem+json"));
    assertThat(eleventh.body())
        .isEqualTo(
            "{\"type\":\"https://iana.org/assignments/http-problem-types#quota-exceeded\","
                + "\"title\":\"Too Many Requests\",\"status\":429,"
                + "\"violated-policies\":[\"api-1\"]}\n");
    assertThat(server.served()).isEqualTo(10);

    nanos.addAndGet(Duration.ofSeconds(6).toNanos());
    HttpResponse<String> later = server.get("/orders");
    assertThat(later.statusCode()).isEqualTo(200);
    assertThat(rateLimit(later)).containsExactly(new Member("api-1", Map.of("r", 0L, "t", 60L)));
  }

  @Test
  void aStricterRouteBeforeTheDefaultOneHasItsOwnBudget() throws Exception {
    start(
        RateLimitFilter.builder()
            .route("POST", "/quotes/calculate", limiter("expensive", Limit.perMinute(2)))
            .route("*", "/**", limiter("default", Limit.perMinute(5)))
            .key(KeyResolvers.clientIp(ClientAddress.direct()))
            .build());

    assertThat(server.send("POST", "/quotes/calculate").statusCode()).isEqualTo(200);
    HttpResponse<String> second = server.send("POST", "/quotes/calculate");
    assertThat(second.statusCode()).isEqualTo(200);
    assertThat(policy(second))
        .containsExactly(new Member("expensive-1", Map.of("q", 2L, "w", 60L)));
    HttpResponse<String> third = server.send("POST", "/quotes/calculate");
    assertThat(third.statusCode()).isEqualTo(429);
    assertThat(third.headers().allValues("Retry-After")).containsExactly("30");
    assertThat(third.body()).contains("\"violated-policies\":[\"expensive-1\"]");

    // The default route did not count those: all 5 of its permits are left.
    HttpResponse<String> other = server.get("/quotes");
    assertThat(other.statusCode()).isEqualTo(200);
    assertThat(policy(other)).containsExactly(new Member("default-1", Map.of("q", 5L, "w", 60L)));
    assertThat(rateLimit(other)).extracting(member -> member.get("r")).containsExactly(4L);
  }

  @Test
  void aRouteTakesOnlyItsMethodAndAGetRouteTakesHead() throws Exception {
    start(
        RateLimitFilter.builder()
            .route("POST", "/quotes/calculate", limiter("expensive", Limit.perMinute(1)))
            .route("GET", "/reports/*", limiter("reports", Limit.perMinute(1)))
            .key(KeyResolvers.clientIp(ClientAddress.direct()))
            .build());

    assertThat(server.send("POST", "/quotes/calculate").statusCode()).isEqualTo(200);
    assertThat(server.send("POST", "/quotes/calculate").statusCode()).isEqualTo(429);
    // GET is not the route's method: no route, no limit, no header.
    for (int i = 0; i < 3; i++) {
      HttpResponse<String> get = server.get("/quotes/calculate");
      assertThat(get.statusCode()).isEqualTo(200);
      assertThat(get.headers().firstValue("RateLimit-Policy")).isEmpty();
    }

    assertThat(server.send("HEAD", "/reports/daily").statusCode()).isEqualTo(200);
    HttpResponse<String> get = server.get("/reports/daily");
    assertThat(get.statusCode()).isEqualTo(429);
    assertThat(get.headers().allValues("Retry-After")).containsExactly("60");
  }

  @Test
  void unmatchedPathsAreNotLimitedAndGetNoHeader() throws Exception {
    start(
        RateLimitFilter.builder()
            .route("*", "/api/**", limiter("api", Limit.perMinute(1)))
            .route("*", "/uploads/*", limiter("uploads", Limit.perMinute(1)))
            .key(KeyResolvers.clientIp(ClientAddress.direct()))
            .build());

    for (String path : List.of("/", "/apix", "/uploads", "/uploads/a/b", "/health")) {
      for (int i = 0; i < 3; i++) {
        HttpResponse<String> response = server.get(path);
        assertThat(response.statusCode()).as(path).isEqualTo(200);
        assertThat(response.headers().map()).as(path).doesNotContainKeys("ratelimit-policy");
        assertThat(response.headers().map()).as(path).doesNotContainKeys("ratelimit");
      }
    }
    // The servlet mapped /api/* sees its path in getPathInfo; the route still matches, with or
    // without a trailing slash, and /api itself.
    assertThat(server.get("/api/orders").statusCode()).isEqualTo(200);
    assertThat(server.get("/api/orders/").statusCode()).isEqualTo(429);
    assertThat(server.get("/api").statusCode()).isEqualTo(429);
    assertThat(server.get("/uploads/a").statusCode()).isEqualTo(200);
    assertThat(server.get("/uploads/b").statusCode()).isEqualTo(429);
  }

  @Test
  void aSpoofedForwardedForFromAnUntrustedPeerDoesNotChangeTheKey() throws Exception {
    // The test connects from 127.0.0.1, which is not in the trusted block.
    ClientAddress clients = ClientAddress.builder().trustedProxies("10.0.0.0/8").build();
    start(
        RateLimitFilter.builder()
            .route("*", "/**", limiter("api", Limit.perMinute(3)))
            .key(KeyResolvers.clientIp(clients))
            .build());

    for (int i = 1; i <= 3; i++) {
      String spoofed = "198.51.100." + i;
      assertThat(server.get("/orders", "X-Forwarded-For", spoofed).statusCode()).isEqualTo(200);
    }
    HttpResponse<String> fourth = server.get("/orders", "X-Forwarded-For", "198.51.100.4");
    assertThat(fourth.statusCode()).isEqualTo(429);
    assertThat(server.get("/orders", "Forwarded", "for=198.51.100.5").statusCode()).isEqualTo(429);
  }

  @Test
  void aTrustedProxysForwardedForNamesTheClient() throws Exception {
    ClientAddress clients = ClientAddress.builder().trustedProxies("127.0.0.0/8").build();
    start(
        RateLimitFilter.builder()
            .route("*", "/**", limiter("api", Limit.perMinute(2)))
            .key(KeyResolvers.clientIp(clients))
            .build());

    // The proxy appended the client it saw (203.0.113.7); what the client wrote before is not read.
    for (String forged : List.of("198.51.100.1", "198.51.100.2")) {
      HttpResponse<String> response =
          server.get("/orders", "X-Forwarded-For", forged + ", 203.0.113.7");
      assertThat(response.statusCode()).isEqualTo(200);
    }
    assertThat(server.get("/orders", "X-Forwarded-For", "198.51.100.3, 203.0.113.7").statusCode())
        .isEqualTo(429);
    // Another client behind the same proxy has its own budget.
    assertThat(server.get("/orders", "X-Forwarded-For", "203.0.113.8").statusCode()).isEqualTo(200);
    // A chain of trusted proxies is stepped over, over several field lines.
    assertThat(
            server
                .get(
                    "/orders",
                    "X-Forwarded-For",
                    "203.0.113.8",
                    "X-Forwarded-For",
                    "127.0.0.9, 127.0.0.5")
                .statusCode())
        .isEqualTo(200);
    assertThat(server.get("/orders", "X-Forwarded-For", "203.0.113.8").statusCode()).isEqualTo(429);
  }

  @Test
  void theForwardedHeaderNamesTheClientWhenItIsTheProxysHeader() throws Exception {
    ClientAddress clients =
        ClientAddress.builder()
            .trustedProxies("127.0.0.1")
            .proxyHeader(ClientAddress.ProxyHeader.FORWARDED)
            .build();
    start(
        RateLimitFilter.builder()
            .route("*", "/**", limiter("api", Limit.perMinute(1)))
            .key(KeyResolvers.clientIp(clients))
            .build());

    assertThat(server.get("/a", "Forwarded", "for=\"[2001:db8:cafe::17]:4711\";proto=https"))
        .extracting(HttpResponse::statusCode)
        .isEqualTo(200);
    // The same /64, another address and port: the same client.
    assertThat(server.get("/a", "Forwarded", "for=\"[2001:db8:cafe:0:1::99]\"").statusCode())
        .isEqualTo(429);
    assertThat(server.get("/a", "Forwarded", "for=192.0.2.60;by=203.0.113.43").statusCode())
        .isEqualTo(200);
    // X-Forwarded-For is not this proxy's header: ignored, the peer (the proxy) is counted.
    assertThat(server.get("/a", "X-Forwarded-For", "192.0.2.61").statusCode()).isEqualTo(200);
    assertThat(server.get("/a", "X-Forwarded-For", "192.0.2.62").statusCode()).isEqualTo(429);
    // A hidden client stops the walk at the proxy, whose budget is spent.
    assertThat(server.get("/a", "Forwarded", "for=_hidden").statusCode()).isEqualTo(429);
    assertThat(server.get("/a", "Forwarded", "for=unknown").statusCode()).isEqualTo(429);
  }

  @Test
  void ipv6ClientsAreGroupedByTheirSlash64() throws Exception {
    ClientAddress clients = ClientAddress.builder().trustedProxies("127.0.0.1/32").build();
    start(
        RateLimitFilter.builder()
            .route("*", "/**", limiter("api", Limit.perMinute(2)))
            .key(KeyResolvers.clientIp(clients))
            .build());

    assertThat(server.get("/a", "X-Forwarded-For", "2001:db8:1:2::1").statusCode()).isEqualTo(200);
    assertThat(server.get("/a", "X-Forwarded-For", "2001:DB8:1:2:ffff:ffff:ffff:ffff").statusCode())
        .isEqualTo(200);
    assertThat(server.get("/a", "X-Forwarded-For", "[2001:db8:1:2::abcd]:443").statusCode())
        .isEqualTo(429);
    // The next /64 is another client.
    assertThat(server.get("/a", "X-Forwarded-For", "2001:db8:1:3::1").statusCode()).isEqualTo(200);
  }

  @Test
  void theHeaderResolverCountsEachKeyApartAndFallsBackToTheAddress() throws Exception {
    start(
        RateLimitFilter.builder()
            .route("*", "/**", limiter("api", Limit.perMinute(1)))
            .key(KeyResolvers.header("X-Api-Key", ClientAddress.direct()))
            .build());

    assertThat(server.get("/a", "X-Api-Key", "k-1").statusCode()).isEqualTo(200);
    assertThat(server.get("/a", "X-Api-Key", "k-1").statusCode()).isEqualTo(429);
    assertThat(server.get("/a", "X-Api-Key", "k-2").statusCode()).isEqualTo(200);
    // Without the header: the client's address, once.
    assertThat(server.get("/a").statusCode()).isEqualTo(200);
    assertThat(server.get("/a", "X-Api-Key", " ").statusCode()).isEqualTo(429);
  }

  @Test
  void thePrincipalResolverCountsEachUserApart() throws Exception {
    start(
        RateLimitFilter.builder()
            .route("*", "/**", limiter("api", Limit.perMinute(1)))
            .key(KeyResolvers.principal(ClientAddress.direct()))
            .build());

    assertThat(server.get("/a", "X-Test-User", "alice").statusCode()).isEqualTo(200);
    assertThat(server.get("/a", "X-Test-User", "alice").statusCode()).isEqualTo(429);
    assertThat(server.get("/a", "X-Test-User", "bob").statusCode()).isEqualTo(200);
    assertThat(server.get("/a").statusCode()).isEqualTo(200);
    assertThat(server.get("/a").statusCode()).isEqualTo(429);
  }

  @Test
  void aCustomResolversKeyIsUsedAndTwoRoutesOnOneLimiterCountApart() throws Exception {
    RateLimiter shared = limiter("tenant", Limit.perMinute(1));
    start(
        RateLimitFilter.builder()
            .route("*", "/a", shared)
            .route("*", "/b", shared)
            .key(request -> "tenant:" + request.getHeader("X-Tenant"))
            .build());

    assertThat(server.get("/a", "X-Tenant", "1").statusCode()).isEqualTo(200);
    assertThat(server.get("/b", "X-Tenant", "1").statusCode()).isEqualTo(200);
    assertThat(server.get("/a", "X-Tenant", "1").statusCode()).isEqualTo(429);
    assertThat(server.get("/a", "X-Tenant", "2").statusCode()).isEqualTo(200);
  }

  @Test
  void shadowModeDecisionsPassTheRequestThrough() throws Exception {
    start(
        RateLimitFilter.builder()
            .route("*", "/**", limiter("trial", true, Limit.perMinute(1)))
            .key(KeyResolvers.clientIp(ClientAddress.direct()))
            .build());

    for (int i = 0; i < 3; i++) {
      HttpResponse<String> response = server.get("/a");
      assertThat(response.statusCode()).isEqualTo(200);
      assertThat(response.headers().firstValue("Retry-After")).isEmpty();
      assertThat(rateLimit(response)).extracting(member -> member.get("r")).containsExactly(0L);
    }
    assertThat(server.served()).isEqualTo(3);
    assertThat(limiters.get(0).snapshot().decisions(Outcome.SHADOW_DENIED)).isEqualTo(2);
  }

  @Test
  void theHeadersAreThereWhenTheServletCommitsTheResponse() throws Exception {
    start(
        RateLimitFilter.builder()
            .route("*", "/**", limiter("api", Limit.perSecond(10), Limit.perHour(1000)))
            .key(KeyResolvers.clientIp(ClientAddress.direct()))
            .build());

    HttpResponse<String> response = server.get("/commit/now");
    assertThat(response.body()).isEqualTo("ok and more");
    assertThat(policy(response))
        .containsExactly(
            new Member("api-1", Map.of("q", 10L, "w", 1L)),
            new Member("api-2", Map.of("q", 1000L, "w", 3600L)));
    assertThat(rateLimit(response))
        .containsExactly(
            new Member("api-1", Map.of("r", 9L, "t", 1L)),
            new Member("api-2", Map.of("r", 999L, "t", 4L)));
  }

  @Test
  void decisionsWithoutRedisCarryThePolicyButNoRateLimit() throws Exception {
    Limit limit = Limit.perMinute(100);
    RateLimiter open = FixedLimiter.of("open", limit, Outcome.FAILED_OPEN, Duration.ZERO);
    RateLimiter closed =
        FixedLimiter.of("closed", limit, Outcome.FAILED_CLOSED, Duration.ofSeconds(1));
    start(
        RateLimitFilter.builder()
            .route("*", "/open", open)
            .route("*", "/closed", closed)
            .key(KeyResolvers.clientIp(ClientAddress.direct()))
            .build());

    HttpResponse<String> admitted = server.get("/open");
    assertThat(admitted.statusCode()).isEqualTo(200);
    assertThat(policy(admitted)).containsExactly(new Member("open-1", Map.of("q", 100L, "w", 60L)));
    assertThat(admitted.headers().map()).doesNotContainKey("ratelimit");

    HttpResponse<String> refused = server.get("/closed");
    assertThat(refused.statusCode()).isEqualTo(429);
    assertThat(refused.headers().allValues("Retry-After")).containsExactly("1");
    assertThat(policy(refused)).extracting(Member::name).containsExactly("closed-1");
    assertThat(refused.headers().map()).doesNotContainKey("ratelimit");
    assertThat(refused.body())
        .isEqualTo("{\"type\":\"about:blank\",\"title\":\"Too Many Requests\",\"status\":429}\n");
  }

  @Test
  void twoFiltersAddTheirMembersToOneListAndEachDecidesOncePerRequest() throws Exception {
    ClientAddress clients = ClientAddress.direct();
    start(
        RateLimitFilter.builder()
            .route("*", "/**", limiter("per-address", Limit.perMinute(100)))
            .key(KeyResolvers.clientIp(clients))
            .build(),
        RateLimitFilter.builder()
            .route("*", "/**", limiter("per-user", Limit.perMinute(10)))
            .key(KeyResolvers.principal(clients))
            .build());

    // The servlet forwards /forward/x to /x: the filters see the forward, and do not count it.
    HttpResponse<String> response = server.get("/forward/x", "X-Test-User", "alice");
    assertThat(response.statusCode()).isEqualTo(200);
    assertThat(response.headers().allValues("RateLimit-Policy")).hasSize(2);
    assertThat(policy(response))
        .containsExactly(
            new Member("per-address-1", Map.of("q", 100L, "w", 60L)),
            new Member("per-user-1", Map.of("q", 10L, "w", 60L)));
    assertThat(rateLimit(response)).extracting(member -> member.get("r")).containsExactly(99L, 9L);
  }
}

package dev.bulwark.examples.ratelimit;

import static org.assertj.core.api.Assertions.assertThat;

import dev.bulwark.ratelimit.ClientAddress;
import dev.bulwark.ratelimit.KeyResolvers;
import dev.bulwark.ratelimit.RateLimitFilter;
import dev.bulwark.ratelimit.RateLimiter;
import jakarta.servlet.DispatcherType;
import jakarta.servlet.ServletContext;
import jakarta.servlet.ServletContextEvent;
import jakarta.servlet.ServletContextListener;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.EnumSet;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The servlet filter recipe of {@code docs/ratelimit.md}, run as written in a real Jetty 12: the
 * audits' limits, registered from a {@code ServletContextListener} as an application would.
 */
class RateLimitFilterRecipesTest {
  private final HttpClient client =
      HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
  private Server server;
  private URI base;
  private List<RateLimiter> limiters;

  @AfterEach
  void stop() throws Exception {
    if (server != null) {
      server.stop();
    }
    if (limiters != null) {
      limiters.forEach(RateLimiter::close);
    }
  }

  @Test
  void theAuditsLimits() throws Exception {
    // snippet:begin ratelimit-filter-limiters
    RateLimiter perAddress = RateLimiter.local().name("per-address").limits("100/minute").build();
    RateLimiter perEndpoint = RateLimiter.local().name("endpoint").limits("50/minute").build();
    RateLimiter expensive = RateLimiter.local().name("expensive").limits("10/minute").build();
    RateLimiter uploads = RateLimiter.local().name("uploads").limits("5/minute").build();
    RateLimiter exports = RateLimiter.local().name("exports").limits("20/minute").build();
    // snippet:end
    limiters = List.of(perAddress, perEndpoint, expensive, uploads, exports);

    // snippet:begin ratelimit-filter-routes
    ClientAddress clients =
        ClientAddress.builder()
            .trustedProxies("10.0.0.0/8") // the load balancers, and nothing else
            .build();

    RateLimitFilter byAddress =
        RateLimitFilter.builder()
            .route("*", "/**", perAddress)
            .key(KeyResolvers.clientIp(clients))
            .build();

    RateLimitFilter byEndpoint =
        RateLimitFilter.builder()
            .route("POST", "/quotes/calculate", expensive)
            .route("POST", "/reports/*/render", expensive)
            .route("POST", "/uploads/**", uploads)
            .route("GET", "/exports/**", exports)
            .route("*", "/orders/**", perEndpoint)
            .route("*", "/customers/**", perEndpoint)
            .route("*", "/**", perEndpoint)
            .key(KeyResolvers.principal(clients))
            .build();
    // snippet:end

    start(
        servletContext -> {
          // snippet:begin ratelimit-filter-register
          servletContext
              .addFilter("rate-limit-by-address", byAddress)
              .addMappingForUrlPatterns(EnumSet.of(DispatcherType.REQUEST), false, "/*");
          // ... the authentication filter, which sets the principal ...
          servletContext
              .addFilter("rate-limit-by-endpoint", byEndpoint)
              .addMappingForUrlPatterns(EnumSet.of(DispatcherType.REQUEST), true, "/*");
          // snippet:end
        });

    // Expensive calls: at least 10 a minute are admitted, then a 429 names the policy.
    int admitted = 0;
    HttpResponse<String> refused = null;
    for (int i = 0; i < 1000 && refused == null; i++) {
      HttpResponse<String> response = send("POST", "/quotes/calculate");
      if (response.statusCode() == 429) {
        refused = response;
      } else {
        assertThat(response.statusCode()).isEqualTo(200);
        admitted++;
      }
    }
    assertThat(admitted).isGreaterThanOrEqualTo(10);
    assertThat(refused).isNotNull();
    assertThat(Long.parseLong(refused.headers().firstValue("Retry-After").orElseThrow()))
        .isBetween(1L, 6L);
    assertThat(refused.body()).contains("\"violated-policies\":[\"expensive-1\"]");
    // Both filters' policies, in one list over two field lines.
    assertThat(refused.headers().allValues("RateLimit-Policy"))
        .containsExactly("\"per-address-1\";q=100;w=60", "\"expensive-1\";q=10;w=60");

    // The other endpoints keep their own budgets: the catch-all route is not spent.
    HttpResponse<String> other = send("GET", "/orders/42");
    assertThat(other.statusCode()).isEqualTo(200);
    assertThat(other.headers().allValues("RateLimit-Policy"))
        .containsExactly("\"per-address-1\";q=100;w=60", "\"endpoint-1\";q=50;w=60");
    // The test connects from 127.0.0.1, no trusted proxy: a forged header gets no fresh budget
    // (a fresh one would show 9 left; a permit or two may have come back since the refusal).
    HttpResponse<String> forged = send("POST", "/quotes/calculate", "X-Forwarded-For", "192.0.2.1");
    assertThat(available(forged, "expensive-1")).isLessThan(9);
  }

  /** The {@code a} parameter of a policy's member of the RateLimit field. */
  private static long available(HttpResponse<?> response, String policy) {
    for (String line : response.headers().allValues("RateLimit")) {
      Matcher member = Pattern.compile("\"" + policy + "\";r=(\\d+);t=\\d+").matcher(line);
      if (member.find()) {
        return Long.parseLong(member.group(1));
      }
    }
    throw new AssertionError("no " + policy + " in " + response.headers().allValues("RateLimit"));
  }

  private void start(java.util.function.Consumer<ServletContext> register) throws Exception {
    server = new Server();
    ServerConnector connector = new ServerConnector(server);
    connector.setHost("127.0.0.1");
    connector.setPort(0);
    server.addConnector(connector);
    ServletContextHandler context = new ServletContextHandler("/");
    context.addEventListener(
        new ServletContextListener() {
          @Override
          public void contextInitialized(ServletContextEvent event) {
            register.accept(event.getServletContext());
          }
        });
    context.addServlet(
        new ServletHolder(
            new HttpServlet() {
              private static final long serialVersionUID = 1L;

              @Override
              protected void service(HttpServletRequest request, HttpServletResponse response)
                  throws IOException {
                response.getWriter().write("ok");
              }
            }),
        "/");
    server.setHandler(context);
    server.start();
    base = URI.create("http://127.0.0.1:" + connector.getLocalPort());
  }

  private HttpResponse<String> send(String method, String path, String... headers)
      throws Exception {
    HttpRequest.Builder request =
        HttpRequest.newBuilder(base.resolve(path))
            .timeout(Duration.ofSeconds(30))
            .method(method, HttpRequest.BodyPublishers.noBody());
    for (int i = 0; i < headers.length; i += 2) {
      request.header(headers[i], headers[i + 1]);
    }
    return client.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }
}

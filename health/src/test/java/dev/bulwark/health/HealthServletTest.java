package dev.bulwark.health;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The servlet adapter in a real servlet container, Jetty. */
class HealthServletTest {
  private static final String TOKEN = "servlet-token-0123456789";
  private static final ObjectMapper JSON = new ObjectMapper();

  private final HttpClient client = HttpClient.newHttpClient();
  private final HealthRegistry registry =
      HealthRegistry.builder()
          .liveness("jvm", HealthResult::pass)
          .readiness("db", () -> HealthResult.fail("connection refused"))
          .build();
  private Server server = new Server();
  private URI base = URI.create("http://127.0.0.1/");

  @BeforeEach
  void start() throws Exception {
    ServerConnector connector = new ServerConnector(server);
    connector.setHost("127.0.0.1");
    connector.setPort(0);
    server.addConnector(connector);
    ServletContextHandler context = new ServletContextHandler("/app");
    context.addServlet(
        new ServletHolder(
            HealthServlet.builder(registry)
                .bearerToken(TOKEN)
                .authorizeWhen(request -> "ops".equals(request.getHeader("X-Test-Role")))
                .build()),
        "/health/*");
    context.addServlet(
        new ServletHolder(
            HealthServlet.builder(registry).format(HealthFormat.MICROPROFILE).build()),
        "/mp/*");
    server.setHandler(context);
    server.start();
    base = URI.create("http://127.0.0.1:" + connector.getLocalPort() + "/app");
  }

  @AfterEach
  void stop() throws Exception {
    server.stop();
    registry.close();
  }

  private HttpResponse<String> get(String path, String... headers) throws Exception {
    HttpRequest.Builder request =
        HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(10));
    if (headers.length > 0) {
      request.headers(headers);
    }
    return client.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void servesEachRoleBelowItsMapping() throws Exception {
    HttpResponse<String> live = get("/health/live");
    assertThat(live.statusCode()).isEqualTo(200);
    assertThat(live.body()).isEqualTo("{\"status\":\"pass\"}");
    assertThat(live.headers().firstValue("Content-Type")).hasValue("application/health+json");
    HttpResponse<String> ready = get("/health/ready");
    assertThat(ready.statusCode()).isEqualTo(503);
    assertThat(ready.body()).isEqualTo("{\"status\":\"fail\"}");
    assertThat(get("/health").statusCode()).isEqualTo(503);
    assertThat(get("/health/").statusCode()).isEqualTo(503);
    assertThat(get("/health/other").statusCode()).isEqualTo(404);
  }

  @Test
  void showsTheChecksForTheTokenOrThePredicateAndRefusesAWrongToken() throws Exception {
    HttpResponse<String> withToken = get("/health", "Authorization", "Bearer " + TOKEN);
    assertThat(
            JSON.readTree(withToken.body()).get("checks").get("db").get(0).get("output").asText())
        .isEqualTo("connection refused");
    HttpResponse<String> withRole = get("/health/ready", "X-Test-Role", "ops");
    assertThat(JSON.readTree(withRole.body()).get("checks").size()).isEqualTo(1);
    HttpResponse<String> wrong = get("/health", "Authorization", "Bearer wrong-token-0123456789");
    assertThat(wrong.statusCode()).isEqualTo(503);
    assertThat(wrong.body()).isEqualTo("{\"status\":\"fail\"}");
  }

  @Test
  void writesMicroProfileHealthWhenAskedTo() throws Exception {
    HttpResponse<String> mp = get("/mp/ready");
    assertThat(mp.statusCode()).isEqualTo(503);
    assertThat(mp.headers().firstValue("Content-Type"))
        .hasValueSatisfying(type -> assertThat(type).startsWith("application/json"));
    assertThat(mp.body()).isEqualTo("{\"status\":\"DOWN\",\"checks\":[]}");
  }
}

package dev.bulwark.health;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.micrometer.core.instrument.Counter;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.ByteArrayInputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.hawkular.agent.prometheus.text.TextPrometheusMetricsProcessor;
import org.hawkular.agent.prometheus.types.MetricFamily;
import org.hawkular.agent.prometheus.walkers.CollectorPrometheusMetricsWalker;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class HealthServerTest {
  private static final String TOKEN = "s3cret-token-0123456789";
  private static final ObjectMapper JSON = new ObjectMapper();

  private final HttpClient client =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  private final CountDownLatch release = new CountDownLatch(1);
  private final HealthRegistry registry =
      HealthRegistry.builder()
          .liveness("jvm:ok", HealthResult::pass)
          .readiness("db:responseTime", () -> HealthResult.pass().withObserved(3, "ms"))
          .startup("warmup", HealthResult::pass)
          .detail("queue:depth", () -> HealthResult.warn("queue is deep").withObserved(6000, null))
          .build();

  @AfterEach
  void closeAll() {
    release.countDown();
    registry.close();
  }

  private HttpResponse<String> get(URI uri, String... headers) throws Exception {
    HttpRequest.Builder request = HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(10));
    if (headers.length > 0) {
      request.headers(headers);
    }
    return client.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void servesEveryRoleAtItsPathWithTheStatusAloneToAnyone() throws Exception {
    try (HealthServer server = HealthServer.start(0, registry)) {
      HttpResponse<String> ready = get(server.uri(Role.READINESS));
      assertThat(ready.statusCode()).isEqualTo(200);
      assertThat(ready.headers().firstValue("Content-Type")).hasValue("application/health+json");
      assertThat(ready.headers().firstValue("Cache-Control")).hasValue("max-age=5");
      assertThat(ready.body()).isEqualTo("{\"status\":\"pass\"}");
      assertThat(get(server.uri(Role.LIVENESS)).body()).isEqualTo("{\"status\":\"pass\"}");
      assertThat(get(server.uri(Role.STARTUP)).body()).isEqualTo("{\"status\":\"pass\"}");
      HttpResponse<String> detail = get(server.uri(Role.DETAIL));
      assertThat(detail.statusCode()).isEqualTo(200);
      assertThat(detail.body()).isEqualTo("{\"status\":\"warn\"}");
      assertThat(server.uri(Role.READINESS).getPath()).isEqualTo("/health/ready");
      assertThat(get(server.uri(Role.READINESS).resolve("/health/ready/")).statusCode())
          .isEqualTo(200);
    }
  }

  @Test
  void showsTheChecksToACallerWithTheTokenAndRefusesAWrongOne() throws Exception {
    try (HealthServer server = HealthServer.builder(registry, 0).bearerToken(TOKEN).start()) {
      HttpResponse<String> detail =
          get(server.uri(Role.DETAIL), "Authorization", "Bearer " + TOKEN);
      assertThat(detail.statusCode()).isEqualTo(200);
      assertThat(detail.headers().firstValue("Cache-Control")).hasValue("private, max-age=5");
      JsonNode body = JSON.readTree(detail.body());
      assertThat(body.get("status").asText()).isEqualTo("warn");
      assertThat(body.get("checks").size()).isEqualTo(4);
      JsonNode queue = body.get("checks").get("queue:depth").get(0);
      assertThat(queue.get("observedValue").asInt()).isEqualTo(6000);
      assertThat(queue.get("output").asText()).isEqualTo("queue is deep");
      assertThat(body.get("checks").get("db:responseTime").get(0).get("observedUnit").asText())
          .isEqualTo("ms");

      HttpResponse<String> ready =
          get(server.uri(Role.READINESS), "Authorization", "bearer " + TOKEN);
      assertThat(JSON.readTree(ready.body()).get("checks").size()).isEqualTo(1);

      // A wrong token reads the status as any caller does: a stale probe header fails nothing.
      HttpResponse<String> wrong =
          get(server.uri(Role.DETAIL), "Authorization", "Bearer not-the-token-at-all");
      assertThat(wrong.statusCode()).isEqualTo(200);
      assertThat(wrong.body()).isEqualTo("{\"status\":\"warn\"}");
      assertThat(server.toString()).doesNotContain(TOKEN).contains("token=***");
    }
  }

  @Test
  void theDetailPortShowsEveryCallerTheChecks() throws Exception {
    try (HealthServer server = HealthServer.builder(registry, 0).detailPort(0).start()) {
      int detailPort = server.detailPort().orElseThrow();
      assertThat(detailPort).isNotEqualTo(server.port());
      URI detail = URI.create("http://localhost:" + detailPort + "/health");
      assertThat(JSON.readTree(get(detail).body()).get("checks").size()).isEqualTo(4);
      assertThat(get(server.uri(Role.DETAIL)).body()).isEqualTo("{\"status\":\"warn\"}");
    }
  }

  @Test
  void answersAFailingReport503() throws Exception {
    try (HealthRegistry failing =
            HealthRegistry.builder().readiness("db", () -> HealthResult.fail("down")).build();
        HealthServer server = HealthServer.start(0, failing)) {
      HttpResponse<String> ready = get(server.uri(Role.READINESS));
      assertThat(ready.statusCode()).isEqualTo(503);
      assertThat(ready.body()).isEqualTo("{\"status\":\"fail\"}");
    }
  }

  @Test
  void answersAReportWithAHungCheckWithinItsTimeout() throws Exception {
    try (HealthRegistry hung =
            HealthRegistry.builder()
                .timeout(Duration.ofMillis(300))
                .readiness(
                    "stuck",
                    () -> {
                      release.await();
                      return HealthResult.pass();
                    })
                .readiness("db", HealthResult::pass)
                .build();
        HealthServer server = HealthServer.builder(hung, 0).bearerToken(TOKEN).start()) {
      long start = System.nanoTime();
      HttpResponse<String> ready =
          get(server.uri(Role.READINESS), "Authorization", "Bearer " + TOKEN);
      long tookMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
      assertThat(ready.statusCode()).isEqualTo(503);
      JsonNode stuck = JSON.readTree(ready.body()).get("checks").get("stuck").get(0);
      assertThat(stuck.get("status").asText()).isEqualTo("fail");
      assertThat(stuck.get("output").asText()).isEqualTo("timed out after 300 ms");
      assertThat(JSON.readTree(ready.body()).get("checks").get("db").get(0).get("status").asText())
          .isEqualTo("pass");
      // The timeout plus a margin for a loaded machine: the point is that it is not unbounded.
      assertThat(tookMs).isLessThan(300 + 2_000);
    }
  }

  @Test
  void servesPrometheusTextThatAPrometheusParserReads() throws Exception {
    PrometheusMeterRegistry prometheus = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    Counter.builder("orders.placed").tag("region", "eu").register(prometheus).increment(7);
    try (HealthRegistry metered =
            HealthRegistry.builder()
                .name("metered")
                .meterRegistry(prometheus)
                .readiness("db", HealthResult::pass)
                .build();
        HealthServer server =
            HealthServer.builder(metered, 0).bearerToken(TOKEN).prometheus(prometheus).start()) {
      get(server.uri(Role.READINESS)); // the check has run: its meters exist
      assertThat(get(server.metricsUri()).statusCode()).isEqualTo(401);
      HttpResponse<String> wrong =
          get(server.metricsUri(), "Authorization", "Bearer not-the-token-at-all");
      assertThat(wrong.statusCode()).isEqualTo(401);
      assertThat(wrong.headers().firstValue("WWW-Authenticate"))
          .hasValue("Bearer realm=\"health\", error=\"invalid_token\"");
      assertThat(wrong.body()).doesNotContain("orders");
      HttpResponse<String> metrics = get(server.metricsUri(), "Authorization", "Bearer " + TOKEN);
      assertThat(metrics.statusCode()).isEqualTo(200);
      assertThat(metrics.headers().firstValue("Content-Type"))
          .hasValue("text/plain; version=0.0.4; charset=utf-8");
      CollectorPrometheusMetricsWalker walker = new CollectorPrometheusMetricsWalker();
      new TextPrometheusMetricsProcessor(
              new ByteArrayInputStream(metrics.body().getBytes(StandardCharsets.UTF_8)), walker)
          .walk();
      List<MetricFamily> families = walker.getAllMetricFamilies();
      assertThat(families)
          .extracting(MetricFamily::getName)
          .contains(
              "orders_placed_total", "bulwark_health_status", "bulwark_health_checks_seconds");
      MetricFamily status =
          families.stream()
              .filter(f -> f.getName().equals("bulwark_health_status"))
              .findFirst()
              .orElseThrow();
      assertThat(status.getMetrics()).hasSize(1);
      assertThat(status.getMetrics().get(0).getLabels())
          .containsEntry("check", "db")
          .containsEntry("name", "metered");
    }
  }

  @Test
  void refusesOtherMethodsAndPaths() throws Exception {
    try (HealthServer server = HealthServer.start(0, registry)) {
      HttpResponse<String> post =
          client.send(
              HttpRequest.newBuilder(server.uri(Role.READINESS))
                  .POST(HttpRequest.BodyPublishers.noBody())
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      assertThat(post.statusCode()).isEqualTo(405);
      assertThat(post.headers().firstValue("Allow")).hasValue("GET, HEAD");
      HttpResponse<String> head =
          client.send(
              HttpRequest.newBuilder(server.uri(Role.READINESS))
                  .method("HEAD", HttpRequest.BodyPublishers.noBody())
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      assertThat(head.statusCode()).isEqualTo(200);
      assertThat(head.body()).isEmpty();
      assertThat(get(server.uri(Role.READINESS).resolve("/nope")).statusCode()).isEqualTo(404);
      assertThat(get(server.metricsUri()).statusCode()).isEqualTo(404);
    }
  }

  @Test
  void validatesItsSettingsWithoutShowingTheToken() {
    assertThatThrownBy(() -> HealthServer.builder(registry, 70000))
        .hasMessage("port must be between 0 and 65535, but was 70000");
    assertThatThrownBy(() -> HealthServer.builder(registry, 8081).detailPort(8081))
        .hasMessage("detailPort must differ from port 8081, but was 8081");
    assertThatThrownBy(() -> HealthServer.builder(registry, 0).bearerToken("short-secret"))
        .hasMessage("bearerToken must be 16 to 4096 characters, but was 12 characters")
        .hasMessageNotContaining("short-secret");
    assertThatThrownBy(
            () -> HealthServer.builder(registry, 0).bearerToken("has a space in the secret"))
        .hasMessage("bearerToken must be visible ASCII characters, but has another at index 3");
    assertThatThrownBy(() -> HealthServer.builder(registry, 0).threads(0))
        .hasMessage("threads must be between 1 and 64, but was 0");
    assertThatThrownBy(
            () -> HealthServer.builder(registry, 0).bearerToken(TOKEN).bearerToken(TOKEN))
        .hasMessage("bearerToken was already set to ***");
  }

  @Test
  void refusesMetricsThatNoCallerCouldRead() {
    PrometheusMeterRegistry prometheus = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    assertThatThrownBy(() -> HealthServer.builder(registry, 0).prometheus(prometheus).start())
        .isInstanceOf(IllegalStateException.class)
        .hasMessage(
            "prometheus needs bearerToken or detailPort: /metrics answers authorized callers only,"
                + " and without either there are none");
  }

  @Test
  void failsClearlyWhenThePortIsTaken() {
    try (HealthServer server = HealthServer.builder(registry, 0).host("127.0.0.1").start()) {
      assertThatThrownBy(
              () -> HealthServer.builder(registry, server.port()).host("127.0.0.1").start())
          .isInstanceOf(java.io.UncheckedIOException.class)
          .hasMessageStartingWith("health server could not listen on port " + server.port());
    }
  }
}

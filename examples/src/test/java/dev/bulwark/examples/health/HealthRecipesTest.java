package dev.bulwark.examples.health;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.zaxxer.hikari.HikariDataSource;
import dev.bulwark.cache.BoundedCache;
import dev.bulwark.health.HealthCheck;
import dev.bulwark.health.HealthChecks;
import dev.bulwark.health.HealthRegistry;
import dev.bulwark.health.HealthRegistry.CheckOptions;
import dev.bulwark.health.HealthResponse;
import dev.bulwark.health.HealthResult;
import dev.bulwark.health.HealthServer;
import dev.bulwark.health.HealthServlet;
import dev.bulwark.health.Role;
import dev.bulwark.health.Status;
import dev.bulwark.health.Threshold;
import dev.bulwark.jobs.BoundedWorker;
import dev.bulwark.jobs.LockingScheduler;
import dev.bulwark.jobs.Schedule;
import dev.bulwark.pool.PoolProfile;
import dev.bulwark.pool.Pools;
import dev.bulwark.testing.Await;
import dev.bulwark.testing.Closer;
import dev.bulwark.testing.PostgresExtension;
import dev.bulwark.testing.RedisExtension;
import dev.bulwark.testing.TestDatabase;
import dev.bulwark.testing.TestRedis;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The recipes of {@code docs/health.md}, run as written against the embedded servers. */
@ExtendWith({PostgresExtension.class, RedisExtension.class})
class HealthRecipesTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private final Closer closer = new Closer();
  private final HttpClient http = HttpClient.newHttpClient();

  /** The service's exchange rates, whose age a check of its own reports. */
  static final class Rates {
    volatile Instant updatedAt = Instant.now();

    Instant updatedAt() {
      return updatedAt;
    }
  }

  @AfterEach
  void close() throws Exception {
    closer.close();
  }

  private JsonNode get(URI uri, String token) throws Exception {
    HttpRequest request =
        HttpRequest.newBuilder(uri).header("Authorization", "Bearer " + token).build();
    return JSON.readTree(http.send(request, HttpResponse.BodyHandlers.ofString()).body());
  }

  @Test
  void theAuditsDetailedEndpointReportsEveryModule(TestDatabase db, TestRedis redis)
      throws Exception {
    HikariDataSource database =
        closer.add(
            Pools.postgres(db.jdbcUrl(), db.user(), db.password())
                .profile(PoolProfile.API)
                .build());
    RedisClient redisClient = closer.client(Pools.redis(redis.uri()).build());
    StatefulRedisConnection<String, String> connection = closer.add(redisClient.connect());
    BoundedCache<String, String> prices =
        closer.add(BoundedCache.<String, String>builder("prices").maximumSize(10_000).build());
    BoundedWorker<String> activityLog =
        closer.add(
            BoundedWorker.<String>builder("activity-log")
                .capacity(10_000)
                .handler(batch -> {})
                .build());
    LockingScheduler scheduler = closer.add(LockingScheduler.postgres(database).build());
    scheduler.schedule("exchange-rates", Schedule.fixedDelay(Duration.ofHours(24)), () -> {});
    PrometheusMeterRegistry prometheus = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    int port = 0; // any free port; a service names its own, such as 8081
    String token = "health-token-for-the-recipes";

    // snippet:begin health-service
    HealthRegistry health =
        HealthRegistry.builder()
            .meterRegistry(prometheus)
            .detail("memory:utilization", HealthChecks.heap()) // warn 80%, fail 90%
            .liveness("jvm:threads", HealthChecks.threads()) // fails on a deadlock
            .readiness("postgres:responseTime", HealthChecks.dataSource(database))
            .readiness("redis:responseTime", HealthChecks.redis(connection))
            .detail("postgres:utilization", HealthChecks.pool(database)) // warn at 80%
            .detail("cache:prices", HealthChecks.cache(prices)) // warn at 90% full
            .detail("worker:activity-log", HealthChecks.worker(activityLog)) // warn at 5,000
            .detail(
                "job:exchange-rates",
                HealthChecks.job(scheduler, "exchange-rates", Duration.ofHours(25)))
            .detail("jvm:gc", HealthChecks.gcPause())
            .detail("jvm:cpu", HealthChecks.processCpu())
            .detail("jvm:uptime", HealthChecks.uptime())
            .build();

    HealthServer server =
        HealthServer.builder(health, port)
            .bearerToken(token) // details and /metrics for callers that send it
            .prometheus(prometheus)
            .start();
    // snippet:end
    closer.add(health);
    closer.add(server);

    JsonNode detail = get(server.uri(Role.DETAIL), token);
    assertThat(detail.get("checks").size()).isEqualTo(11);
    assertThat(detail.get("checks").get("memory:utilization").get(0).get("observedUnit").asText())
        .isEqualTo("%");
    assertThat(detail.get("checks").get("redis:responseTime").get(0).get("status").asText())
        .isEqualTo("pass");
    assertThat(detail.get("checks").get("postgres:responseTime").get(0).get("status").asText())
        .isEqualTo("pass");
    HttpResponse<String> anonymous =
        http.send(
            HttpRequest.newBuilder(server.uri(Role.READINESS)).build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(anonymous.statusCode()).isEqualTo(200);
    assertThat(anonymous.body()).isEqualTo("{\"status\":\"pass\"}");
    HttpResponse<String> metrics =
        http.send(
            HttpRequest.newBuilder(server.metricsUri())
                .header("Authorization", "Bearer " + token)
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(metrics.body()).contains("bulwark_health_status{check=\"redis:responseTime\"");
  }

  @Test
  void theRedisCheckFailsWhileRedisIsDownAndPassesOnceItIsBack(TestRedis redis) throws Exception {
    RedisClient redisClient = closer.client(Pools.redis(redis.uri()).build());
    StatefulRedisConnection<String, String> connection = closer.add(redisClient.connect());
    HealthRegistry health =
        closer.add(
            HealthRegistry.builder()
                .ttl(Duration.ofMillis(100))
                .readiness("redis:responseTime", HealthChecks.redis(connection))
                .build());
    assertThat(health.report(Role.READINESS).status()).isEqualTo(Status.PASS);
    assertThat(redis.isEmbedded()).isTrue();
    redis.stop();
    try {
      Await.until(
          Duration.ofSeconds(10),
          "the Redis check fails",
          () -> health.report(Role.READINESS).status() == Status.FAIL);
      assertThat(health.respond(Role.READINESS, false).status()).isEqualTo(503);
    } finally {
      redis.start();
    }
    Await.until(
        Duration.ofSeconds(30),
        "the Redis check passes again",
        () -> health.report(Role.READINESS).status() == Status.PASS);
  }

  @Test
  void theAuditsAlertThresholds(TestDatabase db) throws Exception {
    HikariDataSource database =
        closer.add(Pools.postgres(db.jdbcUrl(), db.user(), db.password()).build());
    BoundedCache<String, String> prices =
        closer.add(BoundedCache.<String, String>builder("prices").maximumSize(10).build());
    BoundedWorker<String> activityLog =
        closer.add(
            BoundedWorker.<String>builder("activity-log")
                .capacity(10_000)
                .handler(batch -> {})
                .build());
    for (int i = 0; i < 10; i++) {
      prices.put("sku-" + i, "9.99");
    }

    // snippet:begin health-thresholds
    HealthRegistry health =
        HealthRegistry.builder()
            .detail("memory:utilization", HealthChecks.heap(Threshold.of(80, 90)))
            .detail(
                "worker:activity-log", HealthChecks.worker(activityLog, Threshold.warnAt(5_000)))
            .detail("cache:prices", HealthChecks.cache(prices, Threshold.warnAt(90)))
            .check(
                "postgres:responseTime",
                HealthChecks.dataSource(database),
                CheckOptions.roles(Role.READINESS)
                    .timeout(Duration.ofSeconds(2)) // a response over 2 s ...
                    .onTimeout(Status.WARN)) // ... warns, and does not take the instance out
            .build();
    // snippet:end
    closer.add(health);

    Map<String, HealthResult> results = health.report(Role.DETAIL).results();
    assertThat(results.get("cache:prices").status()).isEqualTo(Status.WARN);
    assertThat(results.get("cache:prices").output()).contains("100");
    assertThat(results.get("worker:activity-log").status()).isEqualTo(Status.PASS);
    assertThat(results.get("postgres:responseTime").status()).isEqualTo(Status.PASS);
  }

  @Test
  void aCheckOfTheServicesOwn() throws Exception {
    Rates rates = new Rates();
    rates.updatedAt = Instant.now().minus(Duration.ofHours(3));

    // snippet:begin health-own-check
    HealthCheck exchangeRates =
        () -> {
          Duration age = Duration.between(rates.updatedAt(), Instant.now());
          HealthResult result = HealthResult.pass().withObserved(age.toMinutes(), "min");
          return age.compareTo(Duration.ofHours(2)) > 0
              ? result.withStatus(Status.WARN, "rates are " + age.toMinutes() + " minutes old")
              : result;
        };
    // snippet:end
    HealthRegistry health =
        closer.add(HealthRegistry.builder().detail("rates:age", exchangeRates).build());
    HealthResult result = health.report(Role.DETAIL).results().get("rates:age");
    assertThat(result.status()).isEqualTo(Status.WARN);
    assertThat(result.output()).isEqualTo("rates are 180 minutes old");
  }

  @Test
  void anyFrameworkWritesTheResponseItGets() {
    HealthRegistry health =
        closer.add(
            HealthRegistry.builder().liveness("jvm:threads", HealthChecks.threads()).build());
    List<String> written = new ArrayList<>();

    // snippet:begin health-respond
    HealthResponse response = health.respond(Role.LIVENESS, false);
    written.add("HTTP " + response.status());
    response.headers().forEach((name, value) -> written.add(name + ": " + value));
    written.add(response.body());
    // snippet:end

    assertThat(written)
        .containsExactly(
            "HTTP 200",
            "Content-Type: application/health+json",
            "Cache-Control: max-age=5",
            "Vary: Authorization",
            "{\"status\":\"pass\"}");
  }

  @Test
  void theServletServesTheSameReportsInAServletContainer() throws Exception {
    HealthRegistry health =
        closer.add(
            HealthRegistry.builder().liveness("jvm:threads", HealthChecks.threads()).build());
    String token = "health-token-for-the-recipes";
    Server jetty = new Server();
    ServerConnector connector = new ServerConnector(jetty);
    connector.setHost("127.0.0.1");
    jetty.addConnector(connector);
    ServletContextHandler context = new ServletContextHandler("/");

    // snippet:begin health-servlet
    context.addServlet(
        new ServletHolder(HealthServlet.builder(health).bearerToken(token).build()), "/health/*");
    // snippet:end
    jetty.setHandler(context);
    jetty.start();
    try {
      URI live = URI.create("http://127.0.0.1:" + connector.getLocalPort() + "/health/live");
      JsonNode body = get(live, token);
      assertThat(body.get("status").asText()).isEqualTo("pass");
      assertThat(body.get("checks").get("jvm:threads").get(0).get("observedUnit").asText())
          .isNotBlank();
    } finally {
      jetty.stop();
    }
  }
}

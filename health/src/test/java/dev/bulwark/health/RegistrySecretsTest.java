package dev.bulwark.health;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.bulwark.testing.NoSecrets;
import java.sql.SQLException;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

class RegistrySecretsTest {
  private static final String PASSWORD = "s3cret-pw";
  private static final String HOST = "db.prod.internal";
  private static final HealthCheck LEAKY =
      () -> {
        throw new SQLException(
            "Connection to jdbc:postgresql://app:"
                + PASSWORD
                + "@"
                + HOST
                + ":5432/orders?password="
                + PASSWORD
                + " failed");
      };

  private static final ObjectMapper JSON = new ObjectMapper();

  private static HealthRegistry registry(HealthCheck check, Consumer<HealthRegistry.Builder> more) {
    HealthRegistry.Builder builder = HealthRegistry.builder().readiness("postgres", check);
    more.accept(builder);
    return builder.build();
  }

  /** Fails if a secret appears in the text, as it is or percent-encoded. */
  private static void assertHidden(String text, String... secrets) {
    NoSecrets.assertHidden(new AssertionError(text), secrets);
  }

  @Test
  void anExceptionsMessageLosesItsPasswordAndHost() throws Exception {
    try (HealthRegistry health = registry(LEAKY, builder -> {})) {
      String masked =
          "SQLException: Connection to jdbc:postgresql://***@***:5432/orders?password=*** failed";
      HealthResult result = health.report(Role.READINESS).results().get("postgres");
      assertThat(result.status()).isEqualTo(Status.FAIL);
      assertThat(result.output()).isEqualTo(masked);

      for (HealthFormat format : HealthFormat.values()) {
        String body = health.respond(Role.READINESS, true, format).body();
        assertHidden(body, PASSWORD, HOST);
        assertThat(body).contains(masked);
        String output =
            format == HealthFormat.IETF
                ? JSON.readTree(body)
                    .path("checks")
                    .path("postgres")
                    .path(0)
                    .path("output")
                    .asText()
                : JSON.readTree(body).path("checks").path(0).path("data").path("output").asText();
        assertThat(output).isEqualTo(masked);
        assertThat(health.respond(Role.DETAIL, true, format).body()).contains(masked);
        assertHidden(health.respond(Role.READINESS, false, format).body(), PASSWORD, HOST);
      }
    }
  }

  @Test
  void exposedHostnamesShowTheHostButNeverThePassword() {
    try (HealthRegistry health = registry(LEAKY, builder -> builder.exposeHostnames(true))) {
      String masked =
          "SQLException: Connection to jdbc:postgresql://***@db.prod.internal:5432/orders"
              + "?password=*** failed";
      assertThat(health.report(Role.READINESS).results().get("postgres").output())
          .isEqualTo(masked);
      for (HealthFormat format : HealthFormat.values()) {
        String body = health.respond(Role.READINESS, true, format).body();
        assertHidden(body, PASSWORD);
        assertThat(body).contains(masked);
      }
    }
  }

  @Test
  void aChecksOwnOutputAndStringValuesAreMasked() throws Exception {
    HealthCheck chatty =
        () ->
            HealthResult.warn("slow answer from redis://default:hunter2@cache.prod.internal:6379")
                .withObserved("token=hunter2", null)
                .withDetail("url", "jdbc:postgresql://10.0.0.7:5432/orders?password=hunter2")
                .withDetail("server", "redis-main:6379")
                .withDetail("port", 6379)
                .withDetail("pooled", true);
    try (HealthRegistry health = registry(chatty, builder -> {})) {
      HealthResult result = health.report(Role.READINESS).results().get("postgres");
      assertThat(result.status()).isEqualTo(Status.WARN);
      assertThat(result.output()).isEqualTo("slow answer from redis://***@***:6379");
      assertThat(result.observedValue()).isEqualTo("token=***");
      assertThat(result.details())
          .containsExactly(
              org.assertj.core.api.Assertions.entry(
                  "url", "jdbc:postgresql://***:5432/orders?password=***"),
              org.assertj.core.api.Assertions.entry("server", "***:6379"),
              org.assertj.core.api.Assertions.entry("port", 6379),
              org.assertj.core.api.Assertions.entry("pooled", true));
      for (HealthFormat format : HealthFormat.values()) {
        String body = health.respond(Role.READINESS, true, format).body();
        assertHidden(body, "hunter2", "cache.prod.internal", "10.0.0.7", "redis-main");
        JsonNode tree = JSON.readTree(body);
        assertThat(tree.path("status").asText())
            .isEqualTo(format == HealthFormat.IETF ? "warn" : "UP");
      }
    }
  }

  @Test
  void aLongOutputIsCut() {
    String longText = "x".repeat(2_000);
    try (HealthRegistry health = registry(() -> HealthResult.fail(longText), builder -> {})) {
      String output = health.report(Role.READINESS).results().get("postgres").output();
      assertThat(output).hasSize(Sanitizer.MAX_OUTPUT).endsWith("...");
    }
  }

  @Test
  void theHostNamesOfEveryDriversMessagesAreMasked() {
    String[][] cases = {
      {
        "Unable to connect to redis-master/<unresolved>:6379",
        "IOException: Unable to connect to ***/<unresolved>:6379"
      },
      {
        "Connection to pg-primary/10.0.0.5:5432 refused",
        "IOException: Connection to ***/***:5432 refused"
      },
      {"Connection to pg_primary:5432 refused", "IOException: Connection to ***:5432 refused"},
      {"connect to 2001:db8::5 failed", "IOException: connect to *** failed"},
      {"connect to fe80::1 failed", "IOException: connect to *** failed"},
    };
    for (String[] c : cases) {
      try (HealthRegistry health =
          registry(
              () -> {
                throw new java.io.IOException(c[0]);
              },
              builder -> {})) {
        assertThat(health.report(Role.READINESS).results().get("postgres").output())
            .isEqualTo(c[1]);
      }
    }
    try (HealthRegistry health =
        registry(
            () -> {
              throw new java.net.UnknownHostException("redis-master: Name or service not known");
            },
            builder -> {})) {
      assertThat(health.report(Role.READINESS).results().get("postgres").output())
          .isEqualTo("UnknownHostException: ***");
    }
  }

  @Test
  void aVeryLongDottedOutputIsMaskedWithoutOverflowingAndTheCheckKeepsRefreshing()
      throws Exception {
    java.util.concurrent.atomic.AtomicInteger runs =
        new java.util.concurrent.atomic.AtomicInteger();
    HealthCheck dotted =
        () -> {
          runs.incrementAndGet();
          throw new IllegalStateException("x.".repeat(5_000) + "end");
        };
    try (HealthRegistry health =
        HealthRegistry.builder()
            .ttl(java.time.Duration.ofMillis(1))
            .readiness("postgres", dotted)
            .build()) {
      HealthResult first = health.report(Role.READINESS).results().get("postgres");
      assertThat(first.status()).isEqualTo(Status.FAIL);
      assertThat(first.output()).hasSizeLessThanOrEqualTo(Sanitizer.MAX_OUTPUT);
      dev.bulwark.testing.Await.until(
          java.time.Duration.ofSeconds(10),
          "the check to run again",
          () -> {
            health.report(Role.READINESS);
            return runs.get() >= 3;
          });
    }
  }
}

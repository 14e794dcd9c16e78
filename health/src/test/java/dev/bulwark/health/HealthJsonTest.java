package dev.bulwark.health;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.networknt.schema.InputFormat;
import com.networknt.schema.JsonSchema;
import com.networknt.schema.JsonSchemaFactory;
import com.networknt.schema.SchemaValidatorsConfig;
import com.networknt.schema.SpecVersion;
import com.networknt.schema.ValidationMessage;
import java.io.InputStream;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class HealthJsonTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Instant NOW = Instant.parse("2025-03-04T05:06:07.089Z");
  private static JsonSchema schema;

  @BeforeAll
  static void loadSchema() throws Exception {
    JsonSchemaFactory factory = JsonSchemaFactory.getInstance(SpecVersion.VersionFlag.V202012);
    SchemaValidatorsConfig config =
        SchemaValidatorsConfig.builder().formatAssertionsEnabled(true).build();
    try (InputStream in =
        HealthJsonTest.class.getResourceAsStream("/health-check-06.schema.json")) {
      schema = factory.getSchema(in, config);
    }
  }

  private static Set<ValidationMessage> validate(String body) {
    return schema.validate(body, InputFormat.JSON);
  }

  private static HealthRegistry registry(AtomicReference<Status> db) {
    return HealthRegistry.builder()
        .readiness(
            "postgres:responseTime",
            () ->
                HealthResult.pass()
                    .withObserved(12, "ms")
                    .withComponentType("datastore")
                    .withDetail("pool", "orders")
                    .withDetail("active", 3)
                    .withDetail("valid", true))
        .readiness(
            "db",
            () ->
                HealthResult.of(db.get(), db.get() == Status.PASS ? "ignored" : "db is " + db.get())
                    .withObserved(97.5, "%"))
        .liveness("jvm:uptime", () -> HealthResult.pass().withObserved(3600L, "s"))
        .clock(Clock.fixed(NOW, ZoneOffset.UTC))
        .build();
  }

  @Test
  void theSchemaRefusesWhatTheDraftRefuses() {
    assertThat(validate("{\"status\":\"pass\"}")).isEmpty();
    assertThat(validate("{}")).isNotEmpty();
    assertThat(validate("{\"status\":\"UP\"}")).isNotEmpty();
    assertThat(validate("{\"status\":\"pass\",\"checks\":{\"a:b:c\":[]}}")).isNotEmpty();
    assertThat(validate("{\"status\":\"pass\",\"checks\":{\"a:b\":{\"status\":\"pass\"}}}"))
        .isNotEmpty();
    assertThat(validate("{\"status\":\"pass\",\"checks\":{\"a\":[{\"status\":\"ok\"}]}}"))
        .isNotEmpty();
    assertThat(validate("{\"status\":\"pass\",\"checks\":{\"a\":[{\"time\":\"yesterday\"}]}}"))
        .isNotEmpty();
    assertThat(validate("{\"status\":\"pass\",\"checks\":{\"a\":[{\"observedUnit\":5}]}}"))
        .isNotEmpty();
  }

  @ParameterizedTest
  @EnumSource(Status.class)
  void ietfBodiesValidateForEveryStatusAuthorizedOrNot(Status status) throws Exception {
    try (HealthRegistry health = registry(new AtomicReference<>(status))) {
      for (Role role : Role.values()) {
        for (boolean authorized : new boolean[] {false, true}) {
          HealthResponse response = health.respond(role, authorized);
          assertThat(validate(response.body()))
              .as("%s %s authorized=%s: %s", status, role, authorized, response.body())
              .isEmpty();
          JsonNode body = JSON.readTree(response.body());
          Status expected = role == Role.READINESS || role == Role.DETAIL ? status : Status.PASS;
          assertThat(body.path("status").asText()).isEqualTo(expected.ietf());
          if (!authorized) {
            assertThat(body.size()).as(response.body()).isEqualTo(1);
          }
        }
      }
    }
  }

  @Test
  void ietfBodiesParseBackToTheResults() throws Exception {
    try (HealthRegistry health = registry(new AtomicReference<>(Status.WARN))) {
      JsonNode body = JSON.readTree(health.respond(Role.DETAIL, true).body());
      assertThat(body.path("status").asText()).isEqualTo("warn");
      assertThat(body.path("output").asText()).isEqualTo("warn: db");
      List<String> names = new ArrayList<>();
      body.path("checks").fieldNames().forEachRemaining(names::add);
      assertThat(names).containsExactly("postgres:responseTime", "db", "jvm:uptime");

      JsonNode postgres = body.path("checks").path("postgres:responseTime");
      assertThat(postgres.isArray()).isTrue();
      assertThat(postgres.size()).isEqualTo(1);
      JsonNode check = postgres.get(0);
      assertThat(check.path("componentType").asText()).isEqualTo("datastore");
      assertThat(check.path("observedValue").isIntegralNumber()).isTrue();
      assertThat(check.path("observedValue").asLong()).isEqualTo(12);
      assertThat(check.path("observedUnit").asText()).isEqualTo("ms");
      assertThat(check.path("status").asText()).isEqualTo("pass");
      assertThat(check.path("time").asText()).isEqualTo("2025-03-04T05:06:07.089Z");
      assertThat(check.has("output")).as("no output on pass").isFalse();
      assertThat(check.path("durationMs").isNumber()).isTrue();
      assertThat(check.path("details").path("pool").asText()).isEqualTo("orders");
      assertThat(check.path("details").path("active").asInt()).isEqualTo(3);
      assertThat(check.path("details").path("valid").asBoolean()).isTrue();

      JsonNode db = body.path("checks").path("db").get(0);
      assertThat(db.path("status").asText()).isEqualTo("warn");
      assertThat(db.path("output").asText()).isEqualTo("db is WARN");
      assertThat(db.path("observedValue").asDouble()).isEqualTo(97.5);
      assertThat(db.path("observedUnit").asText()).isEqualTo("%");
      assertThat(db.has("componentType")).isFalse();
      assertThat(db.has("details")).isFalse();

      assertThat(body.path("checks").path("jvm:uptime").get(0).path("observedValue").asLong())
          .isEqualTo(3600);
    }
    try (HealthRegistry health = registry(new AtomicReference<>(Status.FAIL))) {
      JsonNode body = JSON.readTree(health.respond(Role.READINESS, true).body());
      assertThat(body.path("status").asText()).isEqualTo("fail");
      assertThat(body.path("output").asText()).isEqualTo("fail: db");
    }
    try (HealthRegistry health = registry(new AtomicReference<>(Status.PASS))) {
      JsonNode body = JSON.readTree(health.respond(Role.READINESS, true).body());
      assertThat(body.has("output")).isFalse();
      assertThat(body.path("checks").path("db").get(0).has("output")).isFalse();
    }
  }

  @Test
  void microProfileBodiesSayUpOrDown() throws Exception {
    try (HealthRegistry health = registry(new AtomicReference<>(Status.WARN))) {
      HealthResponse response = health.respond(Role.READINESS, true, HealthFormat.MICROPROFILE);
      JsonNode body = JSON.readTree(response.body());
      assertThat(body.path("status").asText()).as("WARN is UP").isEqualTo("UP");
      JsonNode checks = body.path("checks");
      assertThat(checks.isArray()).isTrue();
      assertThat(checks.size()).isEqualTo(2);
      JsonNode postgres = checks.get(0);
      assertThat(postgres.path("name").asText()).isEqualTo("postgres:responseTime");
      assertThat(postgres.path("status").asText()).isEqualTo("UP");
      JsonNode data = postgres.path("data");
      assertThat(data.path("status").asText()).isEqualTo("pass");
      assertThat(data.path("observedValue").asLong()).isEqualTo(12);
      assertThat(data.path("observedUnit").asText()).isEqualTo("ms");
      assertThat(data.path("time").asText()).isEqualTo("2025-03-04T05:06:07.089Z");
      assertThat(data.path("pool").asText()).isEqualTo("orders");
      assertThat(data.path("active").asInt()).isEqualTo(3);
      assertThat(data.path("valid").asBoolean()).isTrue();
      assertThat(data.has("output")).isFalse();
      JsonNode db = checks.get(1);
      assertThat(db.path("name").asText()).isEqualTo("db");
      assertThat(db.path("status").asText()).isEqualTo("UP");
      assertThat(db.path("data").path("status").asText()).isEqualTo("warn");
      assertThat(db.path("data").path("output").asText()).isEqualTo("db is WARN");
      // MicroProfile's data values are strings, numbers or booleans only.
      for (JsonNode check : checks) {
        check
            .path("data")
            .elements()
            .forEachRemaining(value -> assertThat(value.isValueNode()).isTrue());
      }

      JsonNode anonymous =
          JSON.readTree(health.respond(Role.READINESS, false, HealthFormat.MICROPROFILE).body());
      assertThat(anonymous.path("status").asText()).isEqualTo("UP");
      assertThat(anonymous.path("checks").isArray()).isTrue();
      assertThat(anonymous.path("checks").size()).isZero();
    }
    try (HealthRegistry health = registry(new AtomicReference<>(Status.FAIL))) {
      HealthResponse response = health.respond(Role.READINESS, true, HealthFormat.MICROPROFILE);
      JsonNode body = JSON.readTree(response.body());
      assertThat(body.path("status").asText()).isEqualTo("DOWN");
      assertThat(body.path("checks").get(1).path("status").asText()).isEqualTo("DOWN");
      assertThat(response.status()).isEqualTo(503);
    }
  }

  @Test
  void headersNameTheFormatAndTheCaching() {
    try (HealthRegistry health = registry(new AtomicReference<>(Status.PASS))) {
      assertThat(health.respond(Role.READINESS, false).headers())
          .containsExactly(
              org.assertj.core.api.Assertions.entry("Content-Type", "application/health+json"),
              org.assertj.core.api.Assertions.entry("Cache-Control", "max-age=5"),
              org.assertj.core.api.Assertions.entry("Vary", "Authorization"));
      assertThat(health.respond(Role.READINESS, true).headers())
          .containsEntry("Cache-Control", "private, max-age=5");
      assertThat(health.respond(Role.READINESS, true, HealthFormat.MICROPROFILE).headers())
          .containsEntry("Content-Type", "application/json")
          .containsEntry("Cache-Control", "private, max-age=5")
          .containsEntry("Vary", "Authorization");
      HealthResponse response = health.respond(Role.LIVENESS, false);
      assertThat(response.bodyBytes()).isEqualTo("{\"status\":\"pass\"}".getBytes());
    }
  }
}

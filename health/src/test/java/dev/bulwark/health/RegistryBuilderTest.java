package dev.bulwark.health;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.bulwark.health.HealthRegistry.CheckOptions;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class RegistryBuilderTest {
  private static final HealthCheck PASSING = HealthResult::pass;

  private static HealthRegistry.Builder oneCheck() {
    return HealthRegistry.builder().readiness("db", PASSING);
  }

  @Test
  void settingsOutOfRangeAreRefusedWithTheirRule() {
    assertThatThrownBy(() -> HealthRegistry.builder().name("bad name"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("name must be 1 to 63 letters, digits, '.', '_' or '-', but was \"bad name\"");
    for (String shared : new String[] {"watchdog", "cancel"}) {
      assertThatThrownBy(() -> HealthRegistry.builder().name(shared))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessage(
              "name must not be watchdog or cancel (the shared threads' names), but was \""
                  + shared
                  + "\"");
    }
    assertThatThrownBy(() -> HealthRegistry.builder().timeout(Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("timeout must be between 1 ms and 300000 ms, but was 0 ms");
    assertThatThrownBy(() -> HealthRegistry.builder().timeout(Duration.ofMinutes(6)))
        .hasMessage("timeout must be between 1 ms and 300000 ms, but was 360000 ms");
    assertThatThrownBy(() -> HealthRegistry.builder().ttl(Duration.ofNanos(999_999)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("ttl must be between 1 ms and 86400000 ms, but was 999999 ns");
    assertThatThrownBy(() -> HealthRegistry.builder().ttl(Duration.ofDays(2)))
        .hasMessage("ttl must be between 1 ms and 86400000 ms, but was 172800000 ms");
    assertThatThrownBy(() -> HealthRegistry.builder().onTimeout(Status.PASS))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("onTimeout must be WARN or FAIL, but was PASS");
    assertThatThrownBy(() -> HealthRegistry.builder().threads(0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("threads must be between 1 and 64, but was 0");
    assertThatThrownBy(() -> HealthRegistry.builder().threads(65))
        .hasMessage("threads must be between 1 and 64, but was 65");
    assertThatThrownBy(() -> HealthRegistry.builder().httpStatus(Status.FAIL, 199))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("httpStatus(FAIL) must be between 200 and 599, but was 199");
    assertThatThrownBy(() -> HealthRegistry.builder().httpStatus(Status.WARN, 600))
        .hasMessage("httpStatus(WARN) must be between 200 and 599, but was 600");
  }

  @Test
  void checkOptionsAreRefusedWithTheSameRules() {
    CheckOptions options = CheckOptions.roles(Role.READINESS);
    assertThatThrownBy(() -> options.timeout(Duration.ofMillis(-1)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("timeout must be between 1 ms and 300000 ms, but was -1 ms");
    assertThatThrownBy(() -> options.ttl(Duration.ZERO))
        .hasMessage("ttl must be between 1 ms and 86400000 ms, but was 0 ms");
    assertThatThrownBy(() -> options.onTimeout(Status.PASS))
        .hasMessage("onTimeout must be WARN or FAIL, but was PASS");
    assertThatThrownBy(() -> options.timeout(null))
        .isInstanceOf(NullPointerException.class)
        .hasMessage("timeout");
  }

  @Test
  void eachSettingIsSetOnce() {
    assertThatThrownBy(() -> HealthRegistry.builder().name("a").name("b"))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("name was already set to a");
    assertThatThrownBy(
            () -> HealthRegistry.builder().timeout(Duration.ofMillis(200)).timeout(Duration.ZERO))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("timeout was already set to 200 ms");
    assertThatThrownBy(
            () -> HealthRegistry.builder().ttl(Duration.ofSeconds(1)).ttl(Duration.ofSeconds(2)))
        .hasMessage("ttl was already set to 1000 ms");
    assertThatThrownBy(() -> HealthRegistry.builder().onTimeout(Status.WARN).onTimeout(Status.FAIL))
        .hasMessage("onTimeout was already set to WARN");
    assertThatThrownBy(() -> HealthRegistry.builder().threads(2).threads(3))
        .hasMessage("threads was already set to 2");
    assertThatThrownBy(
            () ->
                HealthRegistry.builder().httpStatus(Status.FAIL, 500).httpStatus(Status.FAIL, 503))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("httpStatus(FAIL) was already set to 500");
    assertThatThrownBy(() -> HealthRegistry.builder().exposeHostnames(true).exposeHostnames(true))
        .hasMessage("exposeHostnames was already set to true");
    SimpleMeterRegistry meters = new SimpleMeterRegistry();
    assertThatThrownBy(() -> HealthRegistry.builder().meterRegistry(meters).meterRegistry(meters))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageStartingWith("meterRegistry was already set to ");
    // Each status's code is its own setting.
    assertThat(HealthRegistry.builder().httpStatus(Status.FAIL, 500).httpStatus(Status.WARN, 299))
        .isNotNull();
  }

  @Test
  void checkNamesAreComponentOrComponentColonMeasurementAndUnique() {
    String rule =
        "check name must be component or component:measurement, each 1 to 63 letters, digits,"
            + " '.', '_' or '-', but was ";
    for (String bad : new String[] {"", "a:b:c", ":time", "db:", "my db", "x".repeat(64)}) {
      assertThatThrownBy(() -> HealthRegistry.builder().readiness(bad, PASSING))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessage(rule + "\"" + bad + "\"");
    }
    assertThat(
            HealthRegistry.builder()
                .readiness("postgres:responseTime", PASSING)
                .readiness("x".repeat(63) + ":" + "y".repeat(63), PASSING)
                .readiness("jvm.heap_used-pct", PASSING))
        .isNotNull();
    assertThatThrownBy(() -> oneCheck().liveness("db", PASSING))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("check name must be unique, but \"db\" is already registered");
  }

  @Test
  void aRegistryNeedsACheck() {
    assertThatThrownBy(() -> HealthRegistry.builder().build())
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("no check is registered: register at least one");
  }

  @Test
  void livenessRefusesTheBuiltInChecksOfExternalSystems() {
    BuiltInCheck redis = BuiltInCheck.external("HealthChecks.redis", PASSING);
    String message =
        "liveness check \"redis\" must not depend on a system outside the process, but"
            + " HealthChecks.redis does: a restart does not fix it; register it for readiness";
    assertThatThrownBy(() -> HealthRegistry.builder().liveness("redis", redis))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage(message);
    assertThatThrownBy(
            () ->
                HealthRegistry.builder()
                    .check("redis", redis, CheckOptions.roles(Role.READINESS, Role.LIVENESS)))
        .hasMessage(message);
    try (HealthRegistry health =
        HealthRegistry.builder()
            .readiness("redis", redis)
            .liveness("jvm:heap", BuiltInCheck.local("HealthChecks.heap", PASSING))
            .build()) {
      assertThat(health.names(Role.LIVENESS)).containsExactly("jvm:heap");
      assertThat(health.names(Role.READINESS)).containsExactly("redis");
    }
  }

  @Test
  void rolesHoldTheirChecksAndTheDetailedReportHoldsAll() {
    try (HealthRegistry health =
        HealthRegistry.builder()
            .liveness("jvm", PASSING)
            .readiness("db", PASSING)
            .startup("migrations", PASSING)
            .detail("cache", PASSING)
            .check("redis", PASSING, CheckOptions.roles(Role.READINESS, Role.STARTUP))
            .build()) {
      assertThat(health.names(Role.LIVENESS)).containsExactly("jvm");
      assertThat(health.names(Role.READINESS)).containsExactly("db", "redis");
      assertThat(health.names(Role.STARTUP)).containsExactly("migrations", "redis");
      assertThat(health.names(Role.DETAIL))
          .containsExactly("jvm", "db", "migrations", "cache", "redis");
      assertThat(health.report(Role.DETAIL).results().keySet())
          .containsExactly("jvm", "db", "migrations", "cache", "redis");
      assertThat(health.name()).isEqualTo("health");
      assertThat(health).hasToString("HealthRegistry[health, 5 checks]");
    }
  }

  @Test
  void theWorstStatusWinsAndMapsToItsHttpStatus() {
    AtomicReference<HealthResult> warn = new AtomicReference<>(HealthResult.warn("slow"));
    try (HealthRegistry health =
        HealthRegistry.builder()
            .liveness("jvm", PASSING)
            .readiness("db", PASSING)
            .readiness("redis", warn::get)
            .startup("migrations", () -> HealthResult.fail("pending"))
            .startup("cache", () -> HealthResult.warn("cold"))
            .build()) {
      assertThat(health.report(Role.LIVENESS).status()).isEqualTo(Status.PASS);
      assertThat(health.report(Role.READINESS).status()).isEqualTo(Status.WARN);
      assertThat(health.report(Role.STARTUP).status()).isEqualTo(Status.FAIL);
      assertThat(health.report(Role.DETAIL).status()).isEqualTo(Status.FAIL);
      assertThat(health.respond(Role.LIVENESS, false).status()).isEqualTo(200);
      assertThat(health.respond(Role.READINESS, false).status()).isEqualTo(200);
      assertThat(health.respond(Role.STARTUP, false).status()).isEqualTo(503);
      assertThat(health.respond(Role.DETAIL, true).status()).isEqualTo(503);
    }
    try (HealthRegistry health =
        HealthRegistry.builder()
            .httpStatus(Status.WARN, 299)
            .httpStatus(Status.FAIL, 500)
            .liveness("jvm", PASSING)
            .readiness("redis", () -> HealthResult.warn("slow"))
            .startup("migrations", () -> HealthResult.fail("pending"))
            .build()) {
      assertThat(health.respond(Role.LIVENESS, false).status()).isEqualTo(200);
      assertThat(health.respond(Role.READINESS, false).status()).isEqualTo(299);
      assertThat(health.respond(Role.STARTUP, false).status()).isEqualTo(500);
    }
  }

  @Test
  void aRoleWithoutChecksPasses() {
    try (HealthRegistry health = oneCheck().build()) {
      HealthReport report = health.report(Role.LIVENESS);
      assertThat(report.status()).isEqualTo(Status.PASS);
      assertThat(report.results()).isEmpty();
      HealthResponse response = health.respond(Role.LIVENESS, false);
      assertThat(response.status()).isEqualTo(200);
      assertThat(response.body()).isEqualTo("{\"status\":\"pass\"}");
    }
  }

  @Test
  void aClosedRegistryFailsEveryCheck() {
    HealthRegistry health = oneCheck().liveness("jvm", PASSING).build();
    assertThat(health.report(Role.DETAIL).status()).isEqualTo(Status.PASS);
    health.close();
    health.close(); // again: nothing more
    HealthReport report = health.report(Role.DETAIL);
    assertThat(report.status()).isEqualTo(Status.FAIL);
    assertThat(report.results().keySet()).containsExactly("db", "jvm");
    assertThat(report.results().values())
        .allSatisfy(
            result -> {
              assertThat(result.status()).isEqualTo(Status.FAIL);
              assertThat(result.output()).isEqualTo("the health registry is closed");
            });
    assertThat(health.respond(Role.LIVENESS, false).status()).isEqualTo(503);
  }

  @Test
  void aCheckThatReturnsNullOrThrowsFails() {
    try (HealthRegistry health =
        HealthRegistry.builder()
            .readiness("null", () -> null)
            .readiness(
                "throws",
                () -> {
                  throw new IllegalStateException("no connection");
                })
            .readiness(
                "silent",
                () -> {
                  throw new UnsupportedOperationException();
                })
            .build()) {
      HealthReport report = health.report(Role.READINESS);
      assertThat(report.status()).isEqualTo(Status.FAIL);
      assertThat(report.results().get("null").status()).isEqualTo(Status.FAIL);
      assertThat(report.results().get("null").output())
          .isEqualTo("IllegalStateException: the check returned null");
      assertThat(report.results().get("throws").status()).isEqualTo(Status.FAIL);
      assertThat(report.results().get("throws").output())
          .isEqualTo("IllegalStateException: no connection");
      assertThat(report.results().get("silent").output())
          .isEqualTo("UnsupportedOperationException");
    }
  }

  @Test
  void theBuilderSaysWhatIsSet() {
    assertThat(oneCheck().name("orders").timeout(Duration.ofMillis(250)))
        .hasToString("HealthRegistry.Builder[name=orders, timeout=250 ms, checks=[db]]");
  }

  @Test
  void aResultRefusesADetailNamedAsOneOfItsFieldsAndANumberThatIsNotFinite() {
    assertThatThrownBy(() -> HealthResult.pass().withDetail("status", "up"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage(
            "a detail's name must not be one of the result's own fields [status, componentType,"
                + " observedValue, observedUnit, output, time, durationMs], but was \"status\"");
    java.util.concurrent.atomic.DoubleAdder nan = new java.util.concurrent.atomic.DoubleAdder();
    nan.add(Double.NaN);
    assertThatThrownBy(() -> HealthResult.pass().withObserved(nan, "ms"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("observedValue must be a finite number, but was NaN");
  }

  @Test
  void aThresholdsInfiniteLevelIsOffEvenForAnInfiniteValue() {
    assertThat(Threshold.none().rate(Double.POSITIVE_INFINITY)).isEqualTo(Status.PASS);
    assertThat(Threshold.warnAt(10).rate(Double.POSITIVE_INFINITY)).isEqualTo(Status.WARN);
    assertThat(Threshold.of(10, 20).rate(20)).isEqualTo(Status.FAIL);
  }
}

package dev.bulwark.health;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.bulwark.health.HealthRegistry.CheckOptions;
import dev.bulwark.testing.Await;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class RegistryMetersTest {
  private static final Duration TTL = Duration.ofSeconds(10);
  private static final Duration WAIT = Duration.ofSeconds(5);

  private final SimpleMeterRegistry meters = new SimpleMeterRegistry();
  private final FakeTicker ticker = new FakeTicker();
  private final CountDownLatch release = new CountDownLatch(1);

  @AfterEach
  void releaseHungChecks() {
    release.countDown();
  }

  private double status(String check) {
    Gauge gauge =
        meters.find("bulwark.health.status").tag("name", "health").tag("check", check).gauge();
    assertThat(gauge).as("status gauge of %s", check).isNotNull();
    return gauge.value();
  }

  private long runs(String check, String outcome) {
    Timer timer =
        meters
            .find("bulwark.health.checks")
            .tag("name", "health")
            .tag("check", check)
            .tag("outcome", outcome)
            .timer();
    return timer == null ? 0 : timer.count();
  }

  @Test
  void theStatusGaugeFollowsTheLatestResult() throws Exception {
    AtomicReference<Status> status = new AtomicReference<>(Status.PASS);
    try (HealthRegistry health =
        HealthRegistry.builder()
            .ttl(TTL)
            .meterRegistry(meters)
            .readiness("db", () -> HealthResult.of(status.get(), "db"))
            .ticker(ticker)
            .build()) {
      assertThat(status("db")).isNaN();
      health.report(Role.READINESS);
      assertThat(status("db")).isEqualTo(0.0);
      for (Status next : new Status[] {Status.WARN, Status.FAIL, Status.PASS}) {
        status.set(next);
        ticker.advance(TTL);
        health.report(Role.READINESS); // serves the stale result, refreshes in the background
        double expected = next.ordinal();
        Await.until(WAIT, "status gauge " + expected, () -> status("db") == expected);
      }
      assertThat(runs("db", "pass")).isEqualTo(2);
      assertThat(runs("db", "warn")).isEqualTo(1);
      assertThat(runs("db", "fail")).isEqualTo(1);
    }
  }

  @Test
  void theRunTimerCountsEachOutcome() {
    HealthCheck hung =
        () -> {
          release.await();
          return HealthResult.pass();
        };
    try (HealthRegistry health =
        HealthRegistry.builder()
            .meterRegistry(meters)
            .readiness("pass", HealthResult::pass)
            .readiness("warn", () -> HealthResult.warn("slow"))
            .readiness("fail", () -> HealthResult.fail("down"))
            .readiness(
                "error",
                () -> {
                  throw new IllegalStateException("boom");
                })
            .check(
                "timeout", hung, CheckOptions.roles(Role.READINESS).timeout(Duration.ofMillis(50)))
            .build()) {
      HealthReport report = health.report(Role.READINESS);
      assertThat(report.results().get("timeout").output()).isEqualTo("timed out after 50 ms");
      for (String outcome : new String[] {"pass", "warn", "fail", "error", "timeout"}) {
        assertThat(runs(outcome, outcome)).as(outcome).isEqualTo(1);
      }
      assertThat(runs("error", "fail")).isZero();
      assertThat(runs("timeout", "fail")).isZero();
      assertThat(status("timeout")).isEqualTo(2.0);
      assertThat(status("error")).isEqualTo(2.0);
      assertThat(status("warn")).isEqualTo(1.0);
    }
  }

  @Test
  void closeRemovesTheMetersAndFreesTheName() {
    HealthRegistry health =
        HealthRegistry.builder().meterRegistry(meters).readiness("db", HealthResult::pass).build();
    health.report(Role.READINESS);
    assertThat(meters.find("bulwark.health.status").meters()).hasSize(1);
    assertThat(meters.find("bulwark.health.checks").meters()).hasSize(1);
    assertThat(meters.find("bulwark.timeouts.timelimiter.calls").tag("name", "health").meters())
        .isNotEmpty();

    assertThatThrownBy(
            () ->
                HealthRegistry.builder()
                    .meterRegistry(meters)
                    .readiness("redis", HealthResult::pass)
                    .build())
        .isInstanceOf(IllegalStateException.class)
        .hasMessage(
            "meterRegistry already holds the meters of a health registry named \"health\": give"
                + " each health registry its own name");
    try (HealthRegistry other =
        HealthRegistry.builder()
            .name("admin")
            .meterRegistry(meters)
            .readiness("db", HealthResult::pass)
            .build()) {
      assertThat(meters.find("bulwark.health.status").tag("name", "admin").meters()).hasSize(1);
    }

    health.close();
    assertThat(meters.getMeters()).noneMatch(m -> m.getId().getName().startsWith("bulwark.health"));
    assertThat(meters.find("bulwark.timeouts.timelimiter.calls").tag("name", "health").meters())
        .isEmpty();
    try (HealthRegistry again =
        HealthRegistry.builder()
            .meterRegistry(meters)
            .readiness("db", HealthResult::pass)
            .build()) {
      assertThat(again.report(Role.READINESS).status()).isEqualTo(Status.PASS);
      assertThat(status("db")).isEqualTo(0.0);
    }
  }
}

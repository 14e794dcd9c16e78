package dev.bulwark.timeouts;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.resilience4j.circuitbreaker.CallNotPermittedException;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.github.resilience4j.circuitbreaker.CircuitBreakerConfig;
import io.github.resilience4j.circuitbreaker.CircuitBreakerConfig.SlidingWindowType;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class CircuitBreakersTest {

  private static void fail(CircuitBreaker breaker, int times) {
    for (int i = 0; i < times; i++) {
      breaker.onError(1, TimeUnit.MILLISECONDS, new IOException("down " + i));
    }
  }

  private static void succeed(CircuitBreaker breaker, int times) {
    for (int i = 0; i < times; i++) {
      breaker.onSuccess(1, TimeUnit.MILLISECONDS);
    }
  }

  @Test
  void defaultsFitALowTrafficDependency() {
    CircuitBreaker breaker = CircuitBreakers.builder("db").build();
    CircuitBreakerConfig config = breaker.getCircuitBreakerConfig();

    assertThat(breaker.getName()).isEqualTo("db");
    assertThat(breaker.getState()).isEqualTo(CircuitBreaker.State.CLOSED);
    assertThat(config.getSlidingWindowType()).isEqualTo(SlidingWindowType.TIME_BASED);
    assertThat(config.getSlidingWindowSize()).isEqualTo(60);
    assertThat(config.getMinimumNumberOfCalls()).isEqualTo(10);
    assertThat(config.getFailureRateThreshold()).isEqualTo(50f);
    assertThat(config.getWaitIntervalFunctionInOpenState().apply(1))
        .isEqualTo(Duration.ofSeconds(30).toMillis());
    assertThat(config.getPermittedNumberOfCallsInHalfOpenState()).isEqualTo(3);
  }

  @Test
  void customSettingsReachTheConfig() {
    CircuitBreaker breaker =
        CircuitBreakers.builder("custom")
            .failureRateThreshold(25)
            .minimumCalls(4)
            .window(Duration.ofSeconds(30))
            .waitInOpenState(Duration.ofSeconds(5))
            .halfOpenCalls(1)
            .build();
    CircuitBreakerConfig config = breaker.getCircuitBreakerConfig();

    assertThat(config.getFailureRateThreshold()).isEqualTo(25f);
    assertThat(config.getMinimumNumberOfCalls()).isEqualTo(4);
    assertThat(config.getSlidingWindowSize()).isEqualTo(30);
    assertThat(config.getWaitIntervalFunctionInOpenState().apply(1)).isEqualTo(5_000L);
    assertThat(config.getPermittedNumberOfCallsInHalfOpenState()).isEqualTo(1);
  }

  @Test
  void nineFailuresKeepItClosedAndTheTenthOpensIt() {
    CircuitBreaker breaker = CircuitBreakers.builder("db").build();

    fail(breaker, 9);
    assertThat(breaker.getState()).isEqualTo(CircuitBreaker.State.CLOSED);
    assertThat(breaker.tryAcquirePermission()).isTrue();

    fail(breaker, 1);
    assertThat(breaker.getState()).isEqualTo(CircuitBreaker.State.OPEN);

    assertThatThrownBy(breaker::acquirePermission).isInstanceOf(CallNotPermittedException.class);
    AtomicInteger ran = new AtomicInteger();
    assertThatThrownBy(() -> breaker.executeSupplier(ran::incrementAndGet))
        .isInstanceOf(CallNotPermittedException.class)
        .hasMessageContaining("'db'");
    assertThat(ran).hasValue(0);
    assertThat(breaker.getMetrics().getNumberOfNotPermittedCalls()).isEqualTo(2);
  }

  @Test
  void opensAtHalfFailuresButNotBelow() {
    CircuitBreaker below = CircuitBreakers.builder("below").build();
    succeed(below, 6);
    fail(below, 4);
    assertThat(below.getState()).isEqualTo(CircuitBreaker.State.CLOSED);
    assertThat(below.getMetrics().getFailureRate()).isEqualTo(40f);

    CircuitBreaker half = CircuitBreakers.builder("half").build();
    succeed(half, 5);
    fail(half, 5);
    assertThat(half.getState()).isEqualTo(CircuitBreaker.State.OPEN);
  }

  @Test
  void bindsResilience4jMetersTaggedWithTheName() {
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    CircuitBreaker breaker = CircuitBreakers.builder("db").meterRegistry(registry).build();

    List<Meter> meters = registry.getMeters();
    assertThat(meters).isNotEmpty();
    assertThat(meters)
        .allSatisfy(
            m -> {
              assertThat(m.getId().getName()).startsWith("resilience4j.circuitbreaker.");
              assertThat(m.getId().getTag("name")).isEqualTo("db");
            });
    assertThat(registry.find("resilience4j.circuitbreaker.state").tag("name", "db").gauges())
        .isNotEmpty();

    fail(breaker, 10);

    assertThat(
            registry
                .get("resilience4j.circuitbreaker.state")
                .tag("name", "db")
                .tag("state", "open")
                .gauge()
                .value())
        .isEqualTo(1.0);
    assertThat(
            registry
                .get("resilience4j.circuitbreaker.failure.rate")
                .tag("name", "db")
                .gauge()
                .value())
        .isEqualTo(100.0);
  }

  @Test
  void slowCallThresholdCountsSlowCallsAsFailures() {
    CircuitBreaker breaker =
        CircuitBreakers.builder("slow").slowCallThreshold(Duration.ofSeconds(1)).build();
    CircuitBreakerConfig config = breaker.getCircuitBreakerConfig();

    assertThat(config.getSlowCallRateThreshold()).isEqualTo(100f);
    assertThat(config.getSlowCallDurationThreshold()).isEqualTo(Duration.ofSeconds(1));

    for (int i = 0; i < 9; i++) {
      breaker.onSuccess(2, TimeUnit.SECONDS);
    }
    assertThat(breaker.getState()).isEqualTo(CircuitBreaker.State.CLOSED);
    breaker.onSuccess(2, TimeUnit.SECONDS);
    assertThat(breaker.getState()).isEqualTo(CircuitBreaker.State.OPEN);
    assertThat(breaker.getMetrics().getNumberOfSlowSuccessfulCalls()).isEqualTo(10);
  }

  @Test
  void badValuesAreRejectedWithTheSettingTheRuleAndTheValue() {
    assertThatThrownBy(() -> CircuitBreakers.builder("b").failureRateThreshold(0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("failureRateThreshold must be in (0, 100] percent, but was 0.0");
    assertThatThrownBy(() -> CircuitBreakers.builder("b").failureRateThreshold(101))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("failureRateThreshold must be in (0, 100] percent, but was 101.0");
    assertThatThrownBy(() -> CircuitBreakers.builder("b").failureRateThreshold(Float.NaN))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("failureRateThreshold must be in (0, 100] percent, but was NaN");
    assertThatThrownBy(() -> CircuitBreakers.builder("b").minimumCalls(0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("minimumCalls must be between 1 and 10000, but was 0");
    assertThatThrownBy(() -> CircuitBreakers.builder("b").window(Duration.ofMillis(1500)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage(
            "window must be a whole number of seconds between 1 s and 3600 s, but was 1.5 s");
    assertThatThrownBy(() -> CircuitBreakers.builder("b").window(Duration.ofMillis(999)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage(
            "window must be a whole number of seconds between 1 s and 3600 s, but was 0.999 s");
    assertThatThrownBy(() -> CircuitBreakers.builder("b").window(Duration.ofSeconds(3601)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage(
            "window must be a whole number of seconds between 1 s and 3600 s, but was 3601 s");
    assertThatThrownBy(() -> CircuitBreakers.builder("b").waitInOpenState(Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("waitInOpenState must be positive, but was 0 ms");
    assertThatThrownBy(() -> CircuitBreakers.builder("b").halfOpenCalls(0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("halfOpenCalls must be between 1 and 1000, but was 0");
    assertThatThrownBy(() -> CircuitBreakers.builder("b").slowCallThreshold(Duration.ofMillis(-1)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("slowCallThreshold must be positive, but was -1 ms");
    assertThat(CircuitBreakers.builder("b").failureRateThreshold(100).build()).isNotNull();
  }

  @Test
  void aSettingGivenTwiceIsAnIllegalState() {
    assertThatThrownBy(() -> CircuitBreakers.builder("b").minimumCalls(10).minimumCalls(5))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("minimumCalls was already set to 10");
    assertThatThrownBy(
            () -> CircuitBreakers.builder("b").failureRateThreshold(30).failureRateThreshold(40))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("failureRateThreshold was already set to 30.0");
  }

  @Test
  void aBlankNameIsRejected() {
    assertThatThrownBy(() -> CircuitBreakers.builder(""))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("name must not be blank, but was \"\"");
  }
}

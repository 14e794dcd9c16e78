package dev.bulwark.core.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Test;

class MetersTest {

  @Test
  void namesFollowTheModuleAndCarryANameTag() {
    assertThat(Meters.name("timeouts", "calls")).isEqualTo("bulwark.timeouts.calls");
    assertThat(Meters.NAME_TAG).isEqualTo("name");
  }

  @Test
  void refusesASecondOwnerOfTheSameNameInOneRegistry() {
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    Meters.requireUnused(registry, "bulwark.timeouts.calls", "time limiter", "payments", "name");
    Counter.builder("bulwark.timeouts.calls").tag("name", "payments").register(registry);

    assertThatThrownBy(
            () ->
                Meters.requireUnused(
                    registry, "bulwark.timeouts.calls", "time limiter", "payments", "name"))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage(
            "meterRegistry already holds the meters of a time limiter named \"payments\": give"
                + " each time limiter its own name");
    Meters.requireUnused(registry, "bulwark.timeouts.calls", "time limiter", "search", "name");
    Meters.requireUnused(new SimpleMeterRegistry(), "bulwark.timeouts.calls", "x", "payments", "n");
    assertThat(Meters.holds(registry, "bulwark.timeouts.calls", "name", "payments")).isTrue();
    assertThat(Meters.holds(registry, "bulwark.timeouts.calls", "pool", "payments")).isFalse();
  }
}

package dev.bulwark.timeouts;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Metrics;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class HookMetricsTest {

  private static double hooks(MeterRegistry registry, String outcome) {
    return registry.get("bulwark.timeouts.hooks").tag("outcome", outcome).functionCounter().count();
  }

  /** Times out a call whose one hook throws; returns once the hook has run and been counted. */
  private static void failOneHook() {
    assertThatThrownBy(
            () ->
                Timeouts.within(
                    Duration.ofMillis(20),
                    ctx -> {
                      ctx.onTimeout(
                          () -> {
                            throw new IOException("cannot cancel");
                          });
                      Thread.sleep(30_000);
                      return null;
                    }))
        .isInstanceOf(TimeoutExceededException.class);
  }

  @Test
  void hookTroubleIsCountedInTheRegistryItIsBoundTo() {
    MeterRegistry registry = new SimpleMeterRegistry();
    Timeouts.bindTo(registry);
    double before = hooks(registry, "failed");

    failOneHook(); // within waits for the hooks, so the failure is counted when it returns

    assertThat(hooks(registry, "failed")).isEqualTo(before + 1);
    assertThat(registry.get("bulwark.timeouts.hooks").functionCounters())
        .extracting(c -> c.getId().getTag("outcome"))
        .containsExactlyInAnyOrder("failed", "dropped", "overdue");
  }

  @Test
  void troubleBeforeTheBindingIsNotLost() {
    MeterRegistry early = new SimpleMeterRegistry();
    Timeouts.bindTo(early);
    failOneHook();
    double counted = hooks(early, "failed");
    assertThat(counted).isPositive();

    MeterRegistry late = new SimpleMeterRegistry();
    Timeouts.bindTo(late);

    assertThat(hooks(late, "failed")).isEqualTo(counted);
  }

  @Test
  void bindingTheSameRegistryAgainRegistersNothingNew() {
    MeterRegistry registry = new SimpleMeterRegistry();
    Timeouts.bindTo(registry);
    FunctionCounter first =
        registry.get("bulwark.timeouts.hooks").tag("outcome", "failed").functionCounter();

    Timeouts.bindTo(registry);
    try (TimeLimiter limiter = TimeLimiter.builder("hooks").meterRegistry(registry).build()) {
      assertThat(limiter.name()).isEqualTo("hooks");
    }

    assertThat(registry.get("bulwark.timeouts.hooks").functionCounters()).hasSize(3);
    assertThat(registry.get("bulwark.timeouts.hooks").tag("outcome", "failed").functionCounter())
        .isSameAs(first);
  }

  @Test
  void aLimiterWithARegistryBindsTheHookCountsToIt() {
    MeterRegistry registry = new SimpleMeterRegistry();
    try (TimeLimiter limiter = TimeLimiter.builder("hooks").meterRegistry(registry).build()) {
      assertThat(limiter.name()).isEqualTo("hooks");
    }

    assertThat(registry.find("bulwark.timeouts.hooks").functionCounters()).hasSize(3);
  }

  @Test
  void nothingGoesToTheGlobalRegistry() {
    failOneHook();

    assertThat(Metrics.globalRegistry.find("bulwark.timeouts.hooks").meters()).isEmpty();
  }
}

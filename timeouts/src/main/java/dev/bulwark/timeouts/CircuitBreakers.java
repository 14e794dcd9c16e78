package dev.bulwark.timeouts;

import dev.bulwark.core.internal.Checks;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.github.resilience4j.circuitbreaker.CircuitBreakerConfig;
import io.github.resilience4j.circuitbreaker.CircuitBreakerConfig.SlidingWindowType;
import io.github.resilience4j.circuitbreaker.CircuitBreakerRegistry;
import io.github.resilience4j.micrometer.tagged.TaggedCircuitBreakerMetrics;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * Resilience4j circuit breakers with defaults that fit low-traffic dependencies.
 *
 * <p>Resilience4j's own defaults (a window of the last 100 calls, and 100 calls before the breaker
 * may trip) suit a busy dependency; one called a few times a minute would fail for hours before
 * reaching 100 calls. Here the window is the last 60 seconds and 10 calls in it are enough to
 * judge: a dependency that fails half of at least 10 calls in a minute is cut off for 30 seconds,
 * then probed with 3 calls.
 *
 * <p>The built breaker is a plain Resilience4j {@link CircuitBreaker}: use its API and events as
 * usual, or hand it to {@link Policies}. An open breaker rejects calls with Resilience4j's {@code
 * CallNotPermittedException}. With a registry, Resilience4j's tagged meters are bound ({@code
 * resilience4j.circuitbreaker.*}, tag {@code name}).
 */
public final class CircuitBreakers {
  private CircuitBreakers() {}

  /** Default failure rate that opens the breaker: 50 (percent). */
  static final float DEFAULT_FAILURE_RATE_THRESHOLD = 50;

  /** Default calls needed in the window before the rate counts: 10. */
  static final int DEFAULT_MINIMUM_CALLS = 10;

  /** Default sliding window: the last 60 seconds. */
  static final Duration DEFAULT_WINDOW = Duration.ofSeconds(60);

  /** Default time an open breaker waits before probing: 30 seconds. */
  static final Duration DEFAULT_WAIT_IN_OPEN_STATE = Duration.ofSeconds(30);

  /** Default probe calls in the half-open state: 3. */
  static final int DEFAULT_HALF_OPEN_CALLS = 3;

  /**
   * Returns a builder.
   *
   * @param name the dependency's name, used in metrics; not blank
   * @return a new builder
   * @throws IllegalArgumentException if {@code name} is blank
   */
  public static Builder builder(String name) {
    return new Builder(name);
  }

  /** Configures a circuit breaker. Each setting may be given once. Not thread-safe. */
  public static final class Builder {
    private final String name;
    private float failureRateThreshold = Float.NaN;
    private int minimumCalls = -1;
    private @Nullable Duration window;
    private @Nullable Duration waitInOpenState;
    private int halfOpenCalls = -1;
    private @Nullable Duration slowCallThreshold;
    private @Nullable MeterRegistry meterRegistry;

    private Builder(String name) {
      this.name = Checks.notBlank("name", name);
    }

    /**
     * Sets the failure rate, in percent of the calls in the window, at which the breaker opens.
     * Default 50.
     *
     * @param percent in (0, 100]
     * @return this builder
     * @throws IllegalArgumentException if out of range
     * @throws IllegalStateException if already set
     */
    public Builder failureRateThreshold(float percent) {
      Checks.requireUnset(
          "failureRateThreshold", !Float.isNaN(failureRateThreshold), failureRateThreshold);
      if (!(percent > 0 && percent <= 100)) {
        throw new IllegalArgumentException(
            Checks.format("failureRateThreshold must be in (0, 100] percent, but was %s", percent));
      }
      this.failureRateThreshold = percent;
      return this;
    }

    /**
     * Sets how many calls the window must hold before its failure rate can open the breaker.
     * Default 10.
     *
     * @param calls between 1 and 10,000
     * @return this builder
     * @throws IllegalArgumentException if out of range
     * @throws IllegalStateException if already set
     */
    public Builder minimumCalls(int calls) {
      Checks.requireUnset("minimumCalls", minimumCalls >= 0, minimumCalls);
      this.minimumCalls = Checks.between("minimumCalls", calls, 1, 10_000);
      return this;
    }

    /**
     * Sets the time-based sliding window, in whole seconds. Default 60 s.
     *
     * @param window between 1 s and 1 h, whole seconds
     * @return this builder
     * @throws IllegalArgumentException if out of range or not whole seconds
     * @throws IllegalStateException if already set
     */
    public Builder window(Duration window) {
      Checks.requireUnset("window", this.window != null, this.window);
      this.window =
          Checks.wholeSecondsBetween("window", window, Duration.ofSeconds(1), Duration.ofHours(1));
      return this;
    }

    /**
     * Sets how long an open breaker rejects calls before letting probes through. Default 30 s.
     *
     * @param wait positive
     * @return this builder
     * @throws IllegalArgumentException if not positive
     * @throws IllegalStateException if already set
     */
    public Builder waitInOpenState(Duration wait) {
      Checks.requireUnset("waitInOpenState", waitInOpenState != null, waitInOpenState);
      this.waitInOpenState = Checks.positive("waitInOpenState", wait);
      return this;
    }

    /**
     * Sets how many probe calls a half-open breaker lets through. Default 3.
     *
     * @param calls between 1 and 1,000
     * @return this builder
     * @throws IllegalArgumentException if out of range
     * @throws IllegalStateException if already set
     */
    public Builder halfOpenCalls(int calls) {
      Checks.requireUnset("halfOpenCalls", halfOpenCalls >= 0, halfOpenCalls);
      this.halfOpenCalls = Checks.between("halfOpenCalls", calls, 1, 1_000);
      return this;
    }

    /**
     * Counts calls slower than {@code threshold} as failures too: a window in which every call is
     * slow opens the breaker. Default: Resilience4j's, where a call counts as slow from 60 s.
     *
     * @param threshold positive
     * @return this builder
     * @throws IllegalArgumentException if not positive
     * @throws IllegalStateException if already set
     */
    public Builder slowCallThreshold(Duration threshold) {
      Checks.requireUnset("slowCallThreshold", slowCallThreshold != null, slowCallThreshold);
      this.slowCallThreshold = Checks.positive("slowCallThreshold", threshold);
      return this;
    }

    /**
     * Binds Resilience4j's tagged meters to {@code registry}. Default: no meters.
     *
     * @param registry the registry
     * @return this builder
     * @throws IllegalStateException if already set
     */
    public Builder meterRegistry(MeterRegistry registry) {
      Checks.requireUnset("meterRegistry", meterRegistry != null, meterRegistry);
      this.meterRegistry = Objects.requireNonNull(registry, "registry");
      return this;
    }

    /**
     * Builds the breaker, closed.
     *
     * @return a Resilience4j circuit breaker
     */
    public CircuitBreaker build() {
      CircuitBreakerConfig.Builder config =
          CircuitBreakerConfig.custom()
              .slidingWindowType(SlidingWindowType.TIME_BASED)
              .slidingWindowSize((int) (window == null ? DEFAULT_WINDOW : window).getSeconds())
              .minimumNumberOfCalls(minimumCalls < 0 ? DEFAULT_MINIMUM_CALLS : minimumCalls)
              .failureRateThreshold(
                  Float.isNaN(failureRateThreshold)
                      ? DEFAULT_FAILURE_RATE_THRESHOLD
                      : failureRateThreshold)
              .waitDurationInOpenState(
                  waitInOpenState == null ? DEFAULT_WAIT_IN_OPEN_STATE : waitInOpenState)
              .permittedNumberOfCallsInHalfOpenState(
                  halfOpenCalls < 0 ? DEFAULT_HALF_OPEN_CALLS : halfOpenCalls);
      if (slowCallThreshold != null) {
        config.slowCallDurationThreshold(slowCallThreshold).slowCallRateThreshold(100);
      }
      CircuitBreakerRegistry registry = CircuitBreakerRegistry.of(config.build());
      CircuitBreaker breaker = registry.circuitBreaker(name);
      if (meterRegistry != null) {
        TaggedCircuitBreakerMetrics.ofCircuitBreakerRegistry(registry).bindTo(meterRegistry);
      }
      return breaker;
    }
  }
}

package dev.bulwark.timeouts;

import dev.bulwark.core.internal.Checks;
import io.github.resilience4j.bulkhead.Bulkhead;
import io.github.resilience4j.bulkhead.BulkheadConfig;
import io.github.resilience4j.bulkhead.BulkheadRegistry;
import io.github.resilience4j.micrometer.tagged.TaggedBulkheadMetrics;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * Resilience4j bulkheads: a cap on how many calls to one dependency run at once.
 *
 * <p>This is the answer to "limit concurrency": when a slow dependency holds every caller, the
 * bulkhead keeps it from holding every thread of the service. A call over the cap waits at most
 * {@code maxWait} (default zero: it is rejected at once) and then fails with Resilience4j's {@code
 * BulkheadFullException}, which callers can map to HTTP 503. With a registry, Resilience4j's tagged
 * meters are bound ({@code resilience4j.bulkhead.*}, tag {@code name}).
 */
public final class Bulkheads {
  private Bulkheads() {}

  /** Default cap of concurrent calls: 25. */
  static final int DEFAULT_MAX_CONCURRENT_CALLS = 25;

  /** Default wait for a free slot: zero, a full bulkhead rejects at once. */
  static final Duration DEFAULT_MAX_WAIT = Duration.ZERO;

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

  /** Configures a bulkhead. Each setting may be given once. Not thread-safe. */
  public static final class Builder {
    private final String name;
    private int maxConcurrentCalls = -1;
    private @Nullable Duration maxWait;
    private @Nullable MeterRegistry meterRegistry;

    private Builder(String name) {
      this.name = Checks.notBlank("name", name);
    }

    /**
     * Sets the most calls that may run at once. Default: 25 calls.
     *
     * @param calls between 1 and 100,000
     * @return this builder
     * @throws IllegalArgumentException if out of range
     * @throws IllegalStateException if already set
     */
    public Builder maxConcurrentCalls(int calls) {
      Checks.requireUnset("maxConcurrentCalls", maxConcurrentCalls >= 0, maxConcurrentCalls);
      this.maxConcurrentCalls = Checks.between("maxConcurrentCalls", calls, 1, 100_000);
      return this;
    }

    /**
     * Sets how long a call over the cap waits for a slot before it is rejected. Default: zero, a
     * full bulkhead rejects at once.
     *
     * @param maxWait zero or more, at most 1 minute
     * @return this builder
     * @throws IllegalArgumentException if out of range
     * @throws IllegalStateException if already set
     */
    public Builder maxWait(Duration maxWait) {
      Checks.requireUnset("maxWait", this.maxWait != null, this.maxWait);
      this.maxWait = Checks.between("maxWait", maxWait, Duration.ZERO, Duration.ofMinutes(1));
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
     * Builds the bulkhead.
     *
     * @return a Resilience4j semaphore bulkhead
     */
    public Bulkhead build() {
      BulkheadConfig config =
          BulkheadConfig.custom()
              .maxConcurrentCalls(
                  maxConcurrentCalls < 0 ? DEFAULT_MAX_CONCURRENT_CALLS : maxConcurrentCalls)
              .maxWaitDuration(maxWait == null ? DEFAULT_MAX_WAIT : maxWait)
              .build();
      BulkheadRegistry registry = BulkheadRegistry.of(config);
      Bulkhead bulkhead = registry.bulkhead(name);
      if (meterRegistry != null) {
        TaggedBulkheadMetrics.ofBulkheadRegistry(registry).bindTo(meterRegistry);
      }
      return bulkhead;
    }
  }
}

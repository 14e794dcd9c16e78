package dev.bulwark.ratelimit;

import dev.bulwark.core.internal.Meters;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.ToDoubleFunction;
import org.jspecify.annotations.Nullable;

/**
 * A limiter's counts, and the meters that read them: counting never touches Micrometer on the hot
 * path, only a {@link LongAdder}. Thread-safe.
 */
final class LimiterMeters {
  static final String DECISIONS = Meters.name("ratelimit", "decisions");
  static final String KEYS = Meters.name("ratelimit", "keys");
  static final String EVICTED = Meters.name("ratelimit", "keys.evicted");
  static final String REDIS_ERRORS = Meters.name("ratelimit", "redis.errors");
  static final String BATCH_PERMITS = Meters.name("ratelimit", "batch.permits");
  static final String DENIED_CACHE_HITS = Meters.name("ratelimit", "denied.cache.hits");

  private final String name;

  /**
   * Each outcome's count, at its ordinal: an array read on the hot path, where an {@code EnumMap}'s
   * {@code get} checks the key's class first.
   */
  private final LongAdder[] decisions = new LongAdder[Outcome.values().length];

  private final @Nullable MeterRegistry registry;
  private final List<Meter> meters = new ArrayList<>();

  LimiterMeters(String name, @Nullable MeterRegistry registry) {
    this.name = name;
    this.registry = registry;
    for (int i = 0; i < decisions.length; i++) {
      decisions[i] = new LongAdder();
    }
    if (registry != null) {
      Meters.requireUnused(registry, DECISIONS, "rate limiter", name, "name");
      for (Outcome outcome : Outcome.values()) {
        meters.add(
            FunctionCounter.builder(DECISIONS, count(outcome), LongAdder::sum)
                .tag(Meters.NAME_TAG, name)
                .tag("outcome", outcome.tag())
                .description("Rate limit decisions, by outcome")
                .register(registry));
      }
    }
  }

  @SuppressWarnings("EnumOrdinal") // the array is this class's own, indexed by every outcome
  private LongAdder count(Outcome outcome) {
    return decisions[outcome.ordinal()];
  }

  void record(Outcome outcome) {
    count(outcome).increment();
  }

  Map<Outcome, Long> decisions() {
    Map<Outcome, Long> counts = new EnumMap<>(Outcome.class);
    for (Outcome outcome : Outcome.values()) {
      counts.put(outcome, count(outcome).sum());
    }
    return counts;
  }

  void counter(String meter, LongAdder count, String description, String... tags) {
    if (registry != null) {
      meters.add(
          FunctionCounter.builder(meter, count, LongAdder::sum)
              .tag(Meters.NAME_TAG, name)
              .tags(tags)
              .description(description)
              .register(registry));
    }
  }

  <T> void gauge(String meter, T source, ToDoubleFunction<T> value, String description) {
    if (registry != null) {
      meters.add(
          Gauge.builder(meter, source, value)
              .tag(Meters.NAME_TAG, name)
              .description(description)
              .strongReference(true)
              .register(registry));
    }
  }

  void close() {
    MeterRegistry given = registry;
    if (given != null) {
      synchronized (meters) {
        for (Meter meter : meters) {
          given.remove(meter);
        }
        meters.clear();
      }
    }
  }
}

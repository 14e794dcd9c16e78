package dev.bulwark.cache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalStateException;

import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Micrometer's Caffeine binding plus bulwark's own meters, registered, counted, removed. */
class MetricsTest {
  private final MeterRegistry registry = new SimpleMeterRegistry();

  private BoundedCache<String, String> cache(String name) {
    return BoundedCache.<String, String>builder(name)
        .maximumSize(100)
        .expireAfterWrite(Duration.ofMinutes(5))
        .tags(k -> List.of("t"))
        .executor(Runnable::run)
        .meterRegistry(registry)
        .build();
  }

  private double count(String meter, String... tags) {
    return registry.get(meter).tags("name", "prices").tags(tags).counter().count();
  }

  @Test
  void statsGoThroughMicrometersCaffeineBinding() {
    try (BoundedCache<String, String> cache = cache("prices")) {
      cache.get("a", k -> "A");
      cache.get("a", k -> "A");
      cache.getIfPresent("b");
      assertThat(count("cache.gets", "cache", "prices", "result", "hit")).isEqualTo(1);
      assertThat(count("cache.gets", "cache", "prices", "result", "miss")).isEqualTo(2);
      assertThat(
              registry
                  .get("cache.loads")
                  .tags("cache", "prices", "name", "prices", "result", "success")
                  .timer()
                  .count())
          .isEqualTo(1);
      assertThat(
              registry.get("cache.size").tags("cache", "prices", "name", "prices").gauge().value())
          .isEqualTo(1);
      CacheSnapshot snapshot = cache.snapshot();
      assertThat(snapshot.hits()).isEqualTo(1);
      assertThat(snapshot.misses()).isEqualTo(2);
      assertThat(snapshot.hitRatio()).isEqualTo(1 / 3.0);
    }
  }

  @Test
  void invalidationsAreCountedByScope() {
    try (BoundedCache<String, String> cache = cache("prices")) {
      cache.invalidate("a");
      cache.invalidate("b");
      cache.invalidateTag("t");
      cache.invalidateAll();
      assertThat(count("bulwark.cache.invalidations", "scope", "key")).isEqualTo(2);
      assertThat(count("bulwark.cache.invalidations", "scope", "tag")).isEqualTo(1);
      assertThat(count("bulwark.cache.invalidations", "scope", "all")).isEqualTo(1);
      assertThat(count("bulwark.cache.fills.discarded")).isZero();

      cache.getAll(
          List.of("a"),
          keys -> {
            cache.invalidate("a");
            return Map.of("a", "A");
          });
      cache.get(
          "b",
          k -> {
            cache.invalidateTag("t");
            return "B";
          });
      assertThat(count("bulwark.cache.fills.discarded")).isEqualTo(2);
    }
  }

  @Test
  void closeRemovesEveryMeterOfTheCacheAndFreesTheName() {
    BoundedCache<String, String> other = cache("other");
    BoundedCache<String, String> cache = cache("prices");
    assertThat(meters("prices"))
        .contains(
            "cache.gets",
            "cache.loads",
            "cache.evictions",
            "cache.size",
            "bulwark.cache.invalidations",
            "bulwark.cache.fills.discarded");
    cache.close();
    assertThat(meters("prices")).isEmpty();
    assertThat(meters("other")).isNotEmpty();
    try (BoundedCache<String, String> again = cache("prices")) {
      again.put("a", "A");
      assertThat(meters("prices")).contains("cache.gets", "bulwark.cache.invalidations");
    }
    other.close();
    assertThat(registry.getMeters()).isEmpty();
  }

  @Test
  void aSecondOpenCacheOfTheSameNameInOneRegistryIsRefused() {
    try (BoundedCache<String, String> cache = cache("prices")) {
      assertThatIllegalStateException()
          .isThrownBy(() -> cache("prices"))
          .withMessage(
              "meterRegistry already holds the meters of a cache named \"prices\": give each"
                  + " cache its own name");
      assertThat(cache.getIfPresent("a")).isNull();
    }
  }

  private List<String> meters(String name) {
    return registry.getMeters().stream()
        .map(Meter::getId)
        .filter(id -> name.equals(id.getTag("name")))
        .map(Meter.Id::getName)
        .distinct()
        .toList();
  }
}

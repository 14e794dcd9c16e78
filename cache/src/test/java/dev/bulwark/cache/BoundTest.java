package dev.bulwark.cache;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The bound holds however many distinct keys go in. */
class BoundTest {

  @Test
  void aMillionDistinctKeysStayWithinMaximumSize() {
    try (BoundedCache<Integer, Integer> cache =
        BoundedCache.<Integer, Integer>builder("bounded")
            .maximumSize(10_000)
            .expireAfterWrite(Duration.ofHours(1))
            .build()) {
      for (int i = 0; i < 1_000_000; i++) {
        Integer key = i;
        assertThat(cache.get(key, k -> k * 2)).isEqualTo(i * 2);
      }
      cache.cleanUp();
      CacheSnapshot snapshot = cache.snapshot();
      assertThat(snapshot.size()).isLessThanOrEqualTo(10_000);
      assertThat(snapshot.bound()).isEqualTo(10_000);
      assertThat(snapshot.weighted()).isFalse();
      assertThat(snapshot.weight()).isEqualTo(snapshot.size());
      assertThat(snapshot.evictions()).isGreaterThanOrEqualTo(1_000_000 - 10_000);
      assertThat(snapshot.misses()).isEqualTo(1_000_000);
      assertThat(snapshot.fill()).isLessThanOrEqualTo(1.0);
    }
  }

  @Test
  void aWeightBoundCountsTheWeigher() {
    try (BoundedCache<String, String> cache =
        BoundedCache.<String, String>builder("weighted")
            .maximumWeight(1_000, (k, v) -> v.length())
            .cacheMissingFor(Duration.ofMinutes(1))
            .executor(Runnable::run)
            .build()) {
      for (int i = 0; i < 1_000; i++) {
        cache.put("k" + i, "0123456789");
      }
      assertThat(cache.get("absent", k -> null)).isNull();
      cache.cleanUp();
      CacheSnapshot snapshot = cache.snapshot();
      assertThat(snapshot.weighted()).isTrue();
      assertThat(snapshot.bound()).isEqualTo(1_000);
      assertThat(snapshot.weight()).isLessThanOrEqualTo(1_000);
      assertThat(snapshot.size()).isLessThanOrEqualTo(101);
      assertThat(snapshot.fill()).isEqualTo(snapshot.weight() / 1000.0);
    }
  }

  @Test
  void aSnapshotCountsWritesWhoseMaintenanceHasNotRunYet() {
    List<Runnable> parked = new ArrayList<>();
    try (BoundedCache<String, String> cache =
        BoundedCache.<String, String>builder("pending")
            .maximumWeight(1_000, (k, v) -> v.length())
            .executor(parked::add) // Caffeine's maintenance never runs on its own
            .build()) {
      cache.put("a", "abc");
      cache.put("b", "de");
      CacheSnapshot snapshot = cache.snapshot();
      assertThat(snapshot.weight()).isEqualTo(5);
      assertThat(snapshot.size()).isEqualTo(2);
    }
  }

  @Test
  void aSnapshotRefusesImpossibleFigures() {
    org.assertj.core.api.Assertions.assertThatIllegalArgumentException()
        .isThrownBy(() -> new CacheSnapshot("c", -1, 1, false, 0, 1.0, 0, 0, 0, 0, 0, null))
        .withMessage(
            "counts must be at least 0, but were size -1, weight 0, hits 0, misses 0, evictions 0,"
                + " loadFailures 0");
    org.assertj.core.api.Assertions.assertThatIllegalArgumentException()
        .isThrownBy(() -> new CacheSnapshot("c", 0, 0, false, 0, 1.0, 0, 0, 0, 0, 0, null))
        .withMessage("bound must be at least 1, but was 0");
    org.assertj.core.api.Assertions.assertThatIllegalArgumentException()
        .isThrownBy(() -> new CacheSnapshot("c", 0, 1, false, 0, Double.NaN, 0, 0, 0, 0, 0, null))
        .withMessage("hitRatio must be between 0.0 and 1.0, but was NaN");
  }
}

package dev.bulwark.cache;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Queue;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** Expiry, refresh and remembered absences, on a clock the test moves. */
class ExpiryTest {
  private final FakeTicker ticker = new FakeTicker();
  private final AtomicInteger loads = new AtomicInteger();

  private String load(String key) {
    return key + "-" + loads.incrementAndGet();
  }

  private BoundedCache.Builder<String, String> builder() {
    return BoundedCache.<String, String>builder("test")
        .maximumSize(100)
        .ticker(ticker)
        .executor(Runnable::run);
  }

  @Test
  void aValueExpiresAfterWriteWhetherReadOrNot() {
    try (BoundedCache<String, String> cache =
        builder().expireAfterWrite(Duration.ofMinutes(5)).build()) {
      assertThat(cache.get("a", this::load)).isEqualTo("a-1");
      ticker.advance(Duration.ofMinutes(4));
      assertThat(cache.get("a", this::load)).isEqualTo("a-1");
      ticker.advance(Duration.ofSeconds(59));
      assertThat(cache.getIfPresent("a")).isEqualTo("a-1");
      ticker.advance(Duration.ofSeconds(1));
      assertThat(cache.getIfPresent("a")).isNull();
      assertThat(cache.get("a", this::load)).isEqualTo("a-2");
    }
  }

  @Test
  void aPutStartsTheTimeAgain() {
    try (BoundedCache<String, String> cache =
        builder().expireAfterWrite(Duration.ofMinutes(5)).build()) {
      cache.put("a", "first");
      ticker.advance(Duration.ofMinutes(4));
      cache.put("a", "second");
      ticker.advance(Duration.ofMinutes(4));
      assertThat(cache.getIfPresent("a")).isEqualTo("second");
      ticker.advance(Duration.ofMinutes(1));
      assertThat(cache.getIfPresent("a")).isNull();
    }
  }

  @Test
  void aValueExpiresAfterAccessOnlyWhenIdle() {
    try (BoundedCache<String, String> cache =
        builder().expireAfterAccess(Duration.ofMinutes(5)).build()) {
      cache.put("a", "kept");
      cache.put("b", "idle");
      for (int i = 0; i < 10; i++) {
        ticker.advance(Duration.ofMinutes(3));
        assertThat(cache.getIfPresent("a")).isEqualTo("kept");
      }
      assertThat(cache.getIfPresent("b")).isNull();
      ticker.advance(Duration.ofMinutes(5));
      assertThat(cache.getIfPresent("a")).isNull();
    }
  }

  @Test
  void withoutExpiryAnEntryStaysUntilEvicted() {
    try (BoundedCache<String, String> cache = builder().build()) {
      cache.put("a", "v");
      ticker.advance(Duration.ofDays(10_000));
      assertThat(cache.getIfPresent("a")).isEqualTo("v");
    }
  }

  @Test
  void aMissingKeyIsRememberedForItsOwnShorterTime() {
    AtomicInteger lookups = new AtomicInteger();
    try (BoundedCache<String, String> cache =
        builder()
            .expireAfterWrite(Duration.ofMinutes(5))
            .cacheMissingFor(Duration.ofSeconds(30))
            .build()) {
      assertThat(cache.get("missing", k -> lookups.incrementAndGet() > 0 ? null : k)).isNull();
      assertThat(cache.get("missing", k -> lookups.incrementAndGet() > 0 ? null : k)).isNull();
      assertThat(lookups).hasValue(1);
      assertThat(cache.getIfPresent("missing")).isNull();
      assertThat(cache.get("present", this::load)).isEqualTo("present-1");

      ticker.advance(Duration.ofSeconds(29));
      assertThat(cache.get("missing", k -> lookups.incrementAndGet() > 0 ? null : k)).isNull();
      assertThat(lookups).hasValue(1);
      ticker.advance(Duration.ofSeconds(1));
      assertThat(cache.get("missing", k -> lookups.incrementAndGet() > 0 ? null : k)).isNull();
      assertThat(lookups).hasValue(2);

      ticker.advance(Duration.ofMinutes(4));
      assertThat(cache.get("present", this::load)).isEqualTo("present-1");
      ticker.advance(Duration.ofMinutes(1));
      assertThat(cache.get("present", this::load)).isEqualTo("present-2");
    }
  }

  @Test
  void readsDoNotExtendARememberedAbsenceUnderExpireAfterAccess() {
    AtomicInteger lookups = new AtomicInteger();
    try (BoundedCache<String, String> cache =
        builder()
            .expireAfterAccess(Duration.ofMinutes(5))
            .cacheMissingFor(Duration.ofSeconds(30))
            .build()) {
      for (int i = 0; i < 3; i++) {
        assertThat(cache.get("missing", k -> lookups.incrementAndGet() > 0 ? null : k)).isNull();
        ticker.advance(Duration.ofSeconds(20));
      }
      assertThat(lookups).hasValue(2);
    }
  }

  @Test
  void withoutCacheMissingForANullIsNotCached() {
    AtomicInteger lookups = new AtomicInteger();
    try (BoundedCache<String, String> cache =
        builder().expireAfterWrite(Duration.ofMinutes(5)).build()) {
      assertThat(cache.get("missing", k -> lookups.incrementAndGet() > 0 ? null : k)).isNull();
      assertThat(cache.get("missing", k -> lookups.incrementAndGet() > 0 ? null : k)).isNull();
      assertThat(lookups).hasValue(2);
      assertThat(cache.snapshot().size()).isZero();
    }
  }

  @Test
  void refreshAnswersTheCurrentValueAndReloadsBehindIt() {
    Queue<Runnable> background = new ArrayDeque<>();
    try (BoundedCache<String, String> cache =
        BoundedCache.<String, String>builder("test")
            .maximumSize(100)
            .ticker(ticker)
            .executor(background::add)
            .expireAfterWrite(Duration.ofMinutes(10))
            .refreshAfterWrite(Duration.ofMinutes(1))
            .loader(this::load)
            .build()) {
      assertThat(cache.get("a")).isEqualTo("a-1");
      ticker.advance(Duration.ofSeconds(59));
      assertThat(cache.get("a")).isEqualTo("a-1");
      runAll(background);
      assertThat(loads).hasValue(1);
      ticker.advance(Duration.ofSeconds(2));
      assertThat(cache.get("a")).isEqualTo("a-1"); // answered at once, the reload is queued
      assertThat(loads).hasValue(1);
      runAll(background);
      assertThat(loads).hasValue(2);
      assertThat(cache.get("a")).isEqualTo("a-2");
      // A refreshed value expires 10 minutes after its reload, not after the first load.
      ticker.advance(Duration.ofMinutes(9));
      assertThat(cache.getIfPresent("a")).isEqualTo("a-2");
    }
  }

  private static void runAll(Queue<Runnable> tasks) {
    for (Runnable task = tasks.poll(); task != null; task = tasks.poll()) {
      task.run();
    }
  }

  @Test
  void aFailedRefreshKeepsTheCurrentValueAndCountsTheFailure() {
    AtomicInteger calls = new AtomicInteger();
    try (BoundedCache<String, String> cache =
        builder()
            .expireAfterWrite(Duration.ofMinutes(10))
            .refreshAfterWrite(Duration.ofMinutes(1))
            .loader(
                k -> {
                  if (calls.incrementAndGet() > 1) {
                    throw new IllegalStateException("database down");
                  }
                  return "v";
                })
            .build()) {
      assertThat(cache.get("a")).isEqualTo("v");
      ticker.advance(Duration.ofMinutes(2));
      assertThat(cache.get("a")).isEqualTo("v");
      assertThat(calls).hasValue(2);
      assertThat(cache.snapshot().loadFailures()).isEqualTo(1);
      assertThat(cache.getIfPresent("a")).isEqualTo("v");
    }
  }
}

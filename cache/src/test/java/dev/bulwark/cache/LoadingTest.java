package dev.bulwark.cache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalStateException;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.bulwark.testing.Await;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** Reads, loads, writes and invalidations on one cache. */
class LoadingTest {

  private static BoundedCache<String, String> cache() {
    return BoundedCache.<String, String>builder("test")
        .maximumSize(1000)
        .expireAfterWrite(Duration.ofMinutes(5))
        .executor(Runnable::run)
        .build();
  }

  @Test
  void sixteenThreadsMissingOneKeyCauseOneLoad() throws Exception {
    int threads = 16;
    AtomicInteger loads = new AtomicInteger();
    CountDownLatch loading = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    CountDownLatch start = new CountDownLatch(1);
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    List<Thread> callers = new ArrayList<>();
    try (BoundedCache<String, String> cache = cache()) {
      List<Future<String>> results = new ArrayList<>();
      for (int i = 0; i < threads; i++) {
        results.add(
            pool.submit(
                () -> {
                  synchronized (callers) {
                    callers.add(Thread.currentThread());
                  }
                  start.await();
                  return cache.get(
                      "hot",
                      k -> {
                        loads.incrementAndGet();
                        loading.countDown();
                        try {
                          release.await(30, TimeUnit.SECONDS);
                        } catch (InterruptedException e) {
                          Thread.currentThread().interrupt();
                        }
                        return "value";
                      });
                }));
      }
      start.countDown();
      assertThat(loading.await(30, TimeUnit.SECONDS)).isTrue();
      // Every other caller is waiting for the one load (blocked on the key), not loading.
      Await.until(
          Duration.ofSeconds(30),
          "every other caller blocked",
          () -> {
            synchronized (callers) {
              return callers.size() == threads
                  && callers.stream()
                          .filter(
                              t ->
                                  t.getState() == Thread.State.BLOCKED
                                      || t.getState() == Thread.State.WAITING
                                      || t.getState() == Thread.State.TIMED_WAITING)
                          .count()
                      == threads;
            }
          });
      release.countDown();
      for (Future<String> result : results) {
        assertThat(result.get(30, TimeUnit.SECONDS)).isEqualTo("value");
      }
      assertThat(loads).hasValue(1);
      CacheSnapshot snapshot = cache.snapshot();
      assertThat(snapshot.hits() + snapshot.misses()).isEqualTo(threads);
      assertThat(snapshot.misses()).isGreaterThanOrEqualTo(1);
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void aLoaderFailurePropagatesUnwrappedAndCachesNothing() {
    IllegalStateException failure = new IllegalStateException("database down");
    try (BoundedCache<String, String> cache = cache()) {
      assertThatThrownBy(
              () ->
                  cache.get(
                      "a",
                      k -> {
                        throw failure;
                      }))
          .isSameAs(failure);
      assertThat(cache.getIfPresent("a")).isNull();
      assertThat(cache.get("a", k -> "loaded")).isEqualTo("loaded");
      assertThat(cache.snapshot().loadFailures()).isEqualTo(1);
    }
  }

  @Test
  void putReplacesAndInvalidateRemoves() {
    try (BoundedCache<String, String> cache = cache()) {
      cache.put("a", "1");
      assertThat(cache.get("a", k -> "loaded")).isEqualTo("1");
      cache.put("a", "2");
      assertThat(cache.getIfPresent("a")).isEqualTo("2");
      cache.invalidate("a");
      assertThat(cache.getIfPresent("a")).isNull();
      cache.put("a", "3");
      cache.put("b", "4");
      cache.invalidateAll();
      assertThat(cache.getIfPresent("a")).isNull();
      assertThat(cache.getIfPresent("b")).isNull();
    }
  }

  @Test
  void getWithoutALoaderIsRefused() {
    try (BoundedCache<String, String> cache = cache()) {
      assertThatIllegalStateException()
          .isThrownBy(() -> cache.get("a"))
          .withMessage("cache test has no loader: pass one to get(key, loader), or set loader");
    }
  }

  @Test
  void getAllLoadsOnlyTheMissingKeysInOneCall() {
    List<Set<String>> calls = new ArrayList<>();
    try (BoundedCache<String, String> cache = cache()) {
      cache.put("a", "A");
      Map<String, String> values =
          cache.getAll(
              List.of("c", "a", "b", "c", "none"),
              keys -> {
                calls.add(Set.copyOf(keys));
                Map<String, String> found = new HashMap<>();
                for (String key : keys) {
                  if (!key.equals("none")) {
                    found.put(key, key.toUpperCase(java.util.Locale.ROOT));
                  }
                }
                found.put("extra", "not asked for");
                return found;
              });
      assertThat(values)
          .containsExactly(Map.entry("c", "C"), Map.entry("a", "A"), Map.entry("b", "B"));
      assertThat(calls).containsExactly(Set.of("b", "c", "none"));
      assertThat(cache.getIfPresent("b")).isEqualTo("B");
      assertThat(cache.getIfPresent("extra")).isNull();

      assertThat(
              cache.getAll(
                  List.of("a", "b"),
                  keys -> {
                    throw new AssertionError("nothing is missing");
                  }))
          .containsExactly(Map.entry("a", "A"), Map.entry("b", "B"));
    }
  }

  @Test
  void getAllPropagatesALoaderFailureAndCachesNothing() {
    IllegalStateException failure = new IllegalStateException("database down");
    try (BoundedCache<String, String> cache = cache()) {
      assertThatThrownBy(
              () ->
                  cache.getAll(
                      List.of("a"),
                      keys -> {
                        throw failure;
                      }))
          .isSameAs(failure);
      assertThat(cache.snapshot().size()).isZero();
      assertThat(cache.snapshot().loadFailures()).isEqualTo(1);
      assertThatThrownBy(() -> cache.getAll(List.of("a"), keys -> null))
          .isInstanceOf(NullPointerException.class)
          .hasMessage("the bulk loader of cache test returned null");
    }
  }

  @Test
  void aBulkLoadOverlappingAnInvalidationIsAnsweredButNotKept() {
    try (BoundedCache<String, String> cache = cache()) {
      Map<String, String> values =
          cache.getAll(
              List.of("a", "b"),
              keys -> {
                cache.invalidate("a"); // an update handler, while the bulk load runs
                Map<String, String> found = new LinkedHashMap<>();
                keys.forEach(k -> found.put(k, "old-" + k));
                return found;
              });
      assertThat(values).containsEntry("a", "old-a").containsEntry("b", "old-b");
      assertThat(cache.getIfPresent("a")).isNull();
      assertThat(cache.getIfPresent("b")).isEqualTo("old-b");

      assertThat(
              cache.warm(
                  List.of("c", "d"),
                  keys -> {
                    cache.invalidateAll();
                    return Map.of("c", "C", "d", "D");
                  }))
          .isZero();
      assertThat(cache.snapshot().size()).isZero();
    }
  }

  @Test
  void aLoadOverlappingAPutKeepsThePut() {
    try (BoundedCache<String, String> cache = cache()) {
      Map<String, String> values =
          cache.getAll(
              List.of("a"),
              keys -> {
                cache.put("a", "new");
                return Map.of("a", "old");
              });
      assertThat(values).containsEntry("a", "old");
      assertThat(cache.getIfPresent("a")).isEqualTo("new");
    }
  }

  @Test
  void warmLoadsTheMissingKeysWithoutCountingLookups() {
    List<Set<String>> calls = new ArrayList<>();
    try (BoundedCache<String, String> cache = cache()) {
      cache.put("a", "A");
      int added =
          cache.warm(
              List.of("a", "b", "c"),
              keys -> {
                calls.add(Set.copyOf(keys));
                return Map.of("b", "B", "c", "C");
              });
      assertThat(added).isEqualTo(2);
      assertThat(calls).containsExactly(Set.of("b", "c"));
      CacheSnapshot snapshot = cache.snapshot();
      assertThat(snapshot.hits()).isZero();
      assertThat(snapshot.misses()).isZero();
      assertThat(snapshot.size()).isEqualTo(3);
      assertThat(cache.warm(List.of("a", "b"), keys -> Map.of())).isZero();
      assertThat(cache.get("b", k -> "reloaded")).isEqualTo("B");
    }
  }

  @Test
  void aClosedCacheRefusesEveryCallByName() {
    BoundedCache<String, String> cache = cache();
    cache.put("a", "A");
    cache.close();
    cache.close(); // again: nothing more
    String closed = "cache test is closed";
    List<Runnable> calls =
        List.of(
            () -> cache.get("a", k -> k),
            () -> cache.get("a"),
            () -> cache.getIfPresent("a"),
            () -> cache.getAll(List.of("a"), keys -> Map.of()),
            () -> cache.warm(List.of("a"), keys -> Map.of()),
            () -> cache.put("a", "B"),
            () -> cache.invalidate("a"),
            cache::invalidateAll,
            () -> cache.invalidateTag("t"),
            cache::snapshot);
    for (Runnable call : calls) {
      assertThatIllegalStateException().isThrownBy(call::run).withMessage(closed);
    }
    assertThat(cache.name()).isEqualTo("test");
    assertThat(cache.toString()).startsWith("BoundedCache[test");
  }
}

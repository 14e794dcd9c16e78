package dev.bulwark.benchmarks.cache;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.bulwark.cache.BoundedCache;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * What a hit costs: {@code get(key, loader)} on a {@link BoundedCache} that holds every key,
 * against raw Caffeine's {@code get(key, mappingFunction)} on the same settings (the goal: at least
 * 95 % of its throughput) and against a synchronized access-order {@link LinkedHashMap}, the usual
 * hand-written LRU, at 1 and 2 threads. The map takes one lock for every read, so it collapses
 * under contention; Caffeine reads without a lock.
 *
 * <p>Each cache holds 1,024 keys under a bound of 10,000 and an expiry of an hour, so every read
 * hits; each thread walks the keys in its own order. Throughput in operations per microsecond; run
 * with {@code -bm sample} for the latency percentiles (p99) under contention.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(2)
public class L1HitBenchmark {

  private static final int KEYS = 1 << 10;
  private static final int BOUND = 10_000;

  /** The three caches, filled once and shared by every thread. */
  @State(Scope.Benchmark)
  public static class Caches {
    final String[] keys = new String[KEYS];
    BoundedCache<String, String> bulwark;
    Cache<String, String> caffeine;
    Map<String, String> lru;

    @Setup(Level.Trial)
    public void setUp() {
      bulwark =
          BoundedCache.<String, String>builder("benchmark")
              .maximumSize(BOUND)
              .expireAfterWrite(Duration.ofHours(1))
              .build();
      caffeine =
          Caffeine.newBuilder()
              .maximumSize(BOUND)
              .expireAfterWrite(Duration.ofHours(1))
              .recordStats()
              .build();
      lru = synchronizedLru(BOUND);
      for (int i = 0; i < KEYS; i++) {
        keys[i] = "key-" + i;
        bulwark.put(keys[i], "value-" + i);
        caffeine.put(keys[i], "value-" + i);
        lru.put(keys[i], "value-" + i);
      }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
      bulwark.close();
    }
  }

  /** Each thread's walk over the keys, from its own start. */
  @State(Scope.Thread)
  public static class Walk {
    private static final AtomicInteger THREADS = new AtomicInteger();

    private int index = THREADS.incrementAndGet() * 0x9E3779B9;

    String next(String[] keys) {
      index = index + 1;
      return keys[index & (KEYS - 1)];
    }
  }

  static Map<String, String> synchronizedLru(int bound) {
    return java.util.Collections.synchronizedMap(
        new LinkedHashMap<String, String>(16, 0.75f, true) {
          private static final long serialVersionUID = 1L;

          @Override
          protected boolean removeEldestEntry(Map.Entry<String, String> eldest) {
            return size() > bound;
          }
        });
  }

  static String load(String key) {
    return "loaded-" + key;
  }

  @Benchmark
  @Threads(1)
  public @Nullable String bulwark1(Caches caches, Walk walk) {
    return caches.bulwark.get(walk.next(caches.keys), L1HitBenchmark::load);
  }

  @Benchmark
  @Threads(2)
  public @Nullable String bulwark2(Caches caches, Walk walk) {
    return caches.bulwark.get(walk.next(caches.keys), L1HitBenchmark::load);
  }

  @Benchmark
  @Threads(1)
  public String caffeine1(Caches caches, Walk walk) {
    return caches.caffeine.get(walk.next(caches.keys), L1HitBenchmark::load);
  }

  @Benchmark
  @Threads(2)
  public String caffeine2(Caches caches, Walk walk) {
    return caches.caffeine.get(walk.next(caches.keys), L1HitBenchmark::load);
  }

  @Benchmark
  @Threads(1)
  public String synchronizedLru1(Caches caches, Walk walk) {
    return caches.lru.computeIfAbsent(walk.next(caches.keys), L1HitBenchmark::load);
  }

  @Benchmark
  @Threads(2)
  public String synchronizedLru2(Caches caches, Walk walk) {
    return caches.lru.computeIfAbsent(walk.next(caches.keys), L1HitBenchmark::load);
  }
}

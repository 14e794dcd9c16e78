package dev.bulwark.benchmarks.cache;

import dev.bulwark.cache.BoundedCache;
import dev.bulwark.cache.Codecs;
import dev.bulwark.pool.Pools;
import dev.bulwark.testing.TestRedis;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import java.time.Duration;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
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
import org.openjdk.jmh.annotations.Warmup;

/**
 * What an L1 miss answered by Redis costs: {@code get} on a {@link BoundedCache} whose first tier
 * holds one entry, walking 1,024 keys that Redis holds, so that nearly every read misses L1 and
 * hits L2; against one synchronous Lettuce {@code GET} of the same bytes on a connection of the
 * same client, the floor of any Redis read. At the end of each fork, the Redis commands the cache's
 * reads sent are counted from {@code INFO commandstats} and printed, per read.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@State(Scope.Benchmark)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(2)
public class L2HitBenchmark {
  private static final int KEYS = 1 << 10;

  private TestRedis redis;
  private RedisClient client;
  private StatefulRedisConnection<String, String> raw;
  private BoundedCache<String, String> cache;
  private final String[] keys = new String[KEYS];
  private int next;
  private long reads;
  private Map<String, Long> before;

  /** Starts Redis, fills it through one cache instance, and builds the one that reads. */
  @Setup(Level.Trial)
  public void start() {
    redis = TestRedis.get();
    redis.flushAll();
    client = Pools.redis(redis.url()).build();
    raw = client.connect();
    try (BoundedCache<String, String> writer = cache("l2")) {
      for (int i = 0; i < KEYS; i++) {
        keys[i] = "key-" + i;
        writer.put(keys[i], "value-" + i);
        raw.sync().set("raw:" + keys[i], "value-" + i);
      }
    }
    cache = cache("l2");
    before = commandCalls();
  }

  private BoundedCache<String, String> cache(String name) {
    return BoundedCache.<String, String>builder(name)
        .maximumSize(1)
        .expireAfterWrite(Duration.ofHours(1))
        .redis(client, Codecs.utf8(), Codecs.utf8())
        .heartbeat(Duration.ofMinutes(1))
        .build();
  }

  /** Prints the Redis commands per cache read, then closes everything. */
  @TearDown(Level.Trial)
  public void stop() {
    if (reads == 0) { // this fork ran the Lettuce floor only
      close();
      return;
    }
    Map<String, Long> after = commandCalls();
    StringBuilder out = new StringBuilder("\nRedis commands per cache read over " + reads + ":");
    for (Map.Entry<String, Long> e : after.entrySet()) {
      long delta = e.getValue() - before.getOrDefault(e.getKey(), 0L);
      if (delta > 0 && !e.getKey().equals("get") && !e.getKey().equals("info")) {
        out.append(' ')
            .append(e.getKey())
            .append('=')
            .append(String.format("%.4f", (double) delta / reads));
      }
    }
    System.out.println(out);
    close();
  }

  private void close() {
    cache.close();
    raw.close();
    client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
  }

  private Map<String, Long> commandCalls() {
    Map<String, Long> calls = new TreeMap<>();
    for (String line : redis.info("commandstats").split("\r?\n")) {
      if (line.startsWith("cmdstat_")) {
        String command = line.substring("cmdstat_".length(), line.indexOf(':'));
        int at = line.indexOf("calls=") + "calls=".length();
        calls.put(command, Long.parseLong(line.substring(at, line.indexOf(',', at))));
      }
    }
    return calls;
  }

  /** An L1 miss, an L2 hit: one {@code MGET} of the value and its generation. */
  @Benchmark
  public @Nullable String bulwarkL2Hit() {
    reads++;
    return cache.get(keys[next++ & (KEYS - 1)], k -> "loaded");
  }

  /** The floor: one synchronous {@code GET}. */
  @Benchmark
  public @Nullable String lettuceGet() {
    return raw.sync().get("raw:" + keys[next++ & (KEYS - 1)]);
  }
}

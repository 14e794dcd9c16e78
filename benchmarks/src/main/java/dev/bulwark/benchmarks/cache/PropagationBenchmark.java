package dev.bulwark.benchmarks.cache;

import dev.bulwark.cache.BoundedCache;
import dev.bulwark.cache.Codecs;
import dev.bulwark.pool.Pools;
import dev.bulwark.testing.TestRedis;
import io.lettuce.core.RedisClient;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
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
 * How long an invalidation takes to reach another instance: instance B holds a key in its first
 * tier; one operation is {@code a.invalidate(key)} on instance A (its script and its message), then
 * spinning until B no longer holds the key. Each instance has its own client, on loopback. Sampled,
 * for the percentiles; the set-up of each operation (B reading the key back in) is not timed.
 */
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@State(Scope.Benchmark)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(2)
public class PropagationBenchmark {
  private static final long GIVE_UP_NANOS = TimeUnit.SECONDS.toNanos(5);

  private RedisClient clientA;
  private RedisClient clientB;
  private BoundedCache<String, String> a;
  private BoundedCache<String, String> b;

  /** Two instances of one cache, on two clients. */
  @Setup(Level.Trial)
  public void start() {
    TestRedis redis = TestRedis.get();
    clientA = Pools.redis(redis.url()).build();
    clientB = Pools.redis(redis.url()).build();
    a = cache(clientA);
    b = cache(clientB);
  }

  private static BoundedCache<String, String> cache(RedisClient client) {
    return BoundedCache.<String, String>builder("propagation")
        .maximumSize(1_000)
        .expireAfterWrite(Duration.ofHours(1))
        .redis(client, Codecs.utf8(), Codecs.utf8())
        .build();
  }

  /** B reads the key into its first tier. */
  @Setup(Level.Invocation)
  public void fill() {
    b.get("key", k -> "value");
  }

  /** Closes both instances and clients. */
  @TearDown(Level.Trial)
  public void stop() {
    a.close();
    b.close();
    clientA.shutdown(Duration.ZERO, Duration.ofSeconds(2));
    clientB.shutdown(Duration.ZERO, Duration.ofSeconds(2));
  }

  /** From A's call to B dropping its copy. */
  @Benchmark
  public boolean invalidateUntilTheOtherDrops() {
    a.invalidate("key");
    long deadline = System.nanoTime() + GIVE_UP_NANOS;
    while (b.getIfPresent("key") != null) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("the invalidation did not reach B within 5 s");
      }
      Thread.onSpinWait();
    }
    return true;
  }
}

package dev.bulwark.benchmarks.ratelimit;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.bulwark.ratelimit.Decision;
import dev.bulwark.ratelimit.Limit;
import dev.bulwark.ratelimit.RateLimiter;
import io.github.bucket4j.Bandwidth;
import io.github.bucket4j.Bucket;
import io.github.bucket4j.ConsumptionProbe;
import io.github.resilience4j.ratelimiter.RateLimiterConfig;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Decisions per microsecond of a local limiter, at 1 and 2 threads, in two regimes: {@code allow},
 * a limit so large that nothing is denied (10^9 per second: Bucket4j's highest refill rate, one
 * permit per nanosecond, which bulwark's local limiter inherits; two threads make about 10^7
 * decisions per second), and {@code deny}, one permit per hour, so that after a key's first
 * decision every decision is a denial.
 *
 * <ul>
 *   <li>{@code bulwark}: {@code RateLimiter.local()} with that one limit, {@code tryAcquire(key)}:
 *       a Bucket4j lock-free bucket per key (nanosecond clock, greedy refill, burst = permits) in a
 *       Caffeine map bounded to the default 100,000 keys, an unused bucket expiring once it would
 *       be full again, a count of each outcome, and an answer that carries the permits left, the
 *       time until the bucket is full and the retry-after ({@link Decision}).
 *   <li>{@code caffeineBuckets}: the hand-written equivalent, {@code cache.get(key, k ->
 *       newBucket()).tryConsume(1)} on a {@code Caffeine<String, Bucket>} with the same bound and
 *       expiry and the same buckets. It answers a boolean only, counts nothing, and checks no key.
 *   <li>{@code caffeineProbes}: the same map, with {@code tryConsumeAndReturnRemaining(1)} instead
 *       of {@code tryConsume(1)}: what Bucket4j offers for a response's rate-limit headers (the
 *       permits left and the time until the bucket is full), and what a hand-written filter that
 *       sets them calls. It counts nothing and checks no key.
 *   <li>{@code bucket4j}: one raw Bucket4j bucket of the same limit, {@code tryConsume(1)}. No
 *       keys: the cost of the bucket alone, the floor of the two above.
 *   <li>{@code resilience4j}: Resilience4j's {@code AtomicRateLimiter}, {@code acquirePermission()}
 *       with a zero timeout, so that it never waits. No keys, and other semantics: a fixed window
 *       ({@code limitForPeriod} permits per {@code limitRefreshPeriod}, here 10^6 per millisecond
 *       or 1 per hour), not a bucket that refills continuously.
 *   <li>{@code guava}: Guava's {@code RateLimiter.create(rate)}, {@code tryAcquire()}. No keys, one
 *       lock for every decision, and other semantics: a smooth rate whose burst is one second of
 *       permits, that admits a request even when it has to pay for it later.
 * </ul>
 *
 * <p>{@code bulwark}, {@code caffeineBuckets} and {@code caffeineProbes} run on one key (every
 * thread on the same bucket) and on 10,000 keys (a random walk, each thread from its own start);
 * the keys are built before the run. The three others have no keys, so they run once per regime.
 * Every peer is built once per trial and shared by the threads, as a service shares its limiter.
 *
 * <p>Throughput in decisions per microsecond; run with {@code -bm sample -tu ns} for the
 * percentiles under contention.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(2)
public class LocalLimiterBenchmark {

  /** The limit of {@code allow}: never reached by two threads. */
  static final long ALLOW_PER_SECOND = 1_000_000_000L;

  /** The limiters that take keys, filled before the run with a bucket for every key. */
  @State(Scope.Benchmark)
  public static class Keyed {
    /** {@code allow}: 10^9 per second; {@code deny}: 1 per hour. */
    @Param({"allow", "deny"})
    public String regime;

    /** How many keys the decisions walk over. */
    @Param({"1", "10000"})
    public int keys;

    String[] names;
    int[] walk;
    RateLimiter bulwark;
    Cache<String, Bucket> caffeine;
    Function<String, Bucket> newBucket;

    @Setup(Level.Trial)
    public void setUp() {
      Limit limit = limit(regime);
      names = Keys.named("tenant:", keys);
      walk = Keys.walk(keys);
      bulwark = RateLimiter.local().name("benchmark").limits(List.of(limit)).build();
      caffeine =
          Caffeine.newBuilder().maximumSize(100_000).expireAfterAccess(refillTime(limit)).build();
      newBucket = k -> bucket(limit);
      for (String key : names) {
        var unused = bulwark.tryAcquire(key);
        caffeine.get(key, newBucket).tryConsume(1);
      }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
      bulwark.close();
    }
  }

  /** The limiters without keys. */
  @State(Scope.Benchmark)
  public static class Keyless {
    /** {@code allow}: 10^9 per second; {@code deny}: 1 per hour. */
    @Param({"allow", "deny"})
    public String regime;

    Bucket bucket4j;
    io.github.resilience4j.ratelimiter.RateLimiter resilience4j;
    com.google.common.util.concurrent.RateLimiter guava;

    @Setup(Level.Trial)
    public void setUp() {
      boolean allow = allow(regime);
      bucket4j = bucket(limit(regime));
      resilience4j =
          io.github.resilience4j.ratelimiter.RateLimiter.of(
              "benchmark",
              RateLimiterConfig.custom()
                  .limitForPeriod(allow ? 1_000_000 : 1)
                  .limitRefreshPeriod(allow ? Duration.ofMillis(1) : Duration.ofHours(1))
                  .timeoutDuration(Duration.ZERO)
                  .build());
      guava =
          com.google.common.util.concurrent.RateLimiter.create(
              allow ? (double) ALLOW_PER_SECOND : 1.0 / 3600);
      bucket4j.tryConsume(1);
      resilience4j.acquirePermission();
      guava.tryAcquire();
    }
  }

  /** Each thread's place in the walk. */
  @State(Scope.Thread)
  public static class Walk {
    private int next = Keys.start();

    String next(Keyed keyed) {
      return keyed.names[keyed.walk[next++ & (Keys.WALK - 1)]];
    }
  }

  static boolean allow(String regime) {
    switch (regime) {
      case "allow":
        return true;
      case "deny":
        return false;
      default:
        throw new IllegalArgumentException("regime must be allow or deny, but was " + regime);
    }
  }

  static Limit limit(String regime) {
    return allow(regime) ? Limit.perSecond(ALLOW_PER_SECOND) : Limit.perHour(1);
  }

  /** The bucket bulwark builds for {@code limit}: greedy refill, burst = permits, nanoseconds. */
  static Bucket bucket(Limit limit) {
    return Bucket.builder()
        .withNanosecondPrecision()
        .addLimit(
            Bandwidth.builder()
                .capacity(limit.burst())
                .refillGreedy(limit.permits(), limit.period())
                .build())
        .build();
  }

  /** How long an unused bucket takes to be full again: bulwark's expiry of its buckets. */
  static Duration refillTime(Limit limit) {
    double nanos = (double) limit.burst() * limit.period().toNanos() / limit.permits();
    return Duration.ofNanos((long) Math.ceil(nanos));
  }

  @Benchmark
  @Threads(1)
  public Decision bulwark1(Keyed keyed, Walk walk) {
    return keyed.bulwark.tryAcquire(walk.next(keyed));
  }

  @Benchmark
  @Threads(2)
  public Decision bulwark2(Keyed keyed, Walk walk) {
    return keyed.bulwark.tryAcquire(walk.next(keyed));
  }

  @Benchmark
  @Threads(1)
  public boolean caffeineBuckets1(Keyed keyed, Walk walk) {
    return keyed.caffeine.get(walk.next(keyed), keyed.newBucket).tryConsume(1);
  }

  @Benchmark
  @Threads(2)
  public boolean caffeineBuckets2(Keyed keyed, Walk walk) {
    return keyed.caffeine.get(walk.next(keyed), keyed.newBucket).tryConsume(1);
  }

  @Benchmark
  @Threads(1)
  public ConsumptionProbe caffeineProbes1(Keyed keyed, Walk walk) {
    return keyed.caffeine.get(walk.next(keyed), keyed.newBucket).tryConsumeAndReturnRemaining(1);
  }

  @Benchmark
  @Threads(2)
  public ConsumptionProbe caffeineProbes2(Keyed keyed, Walk walk) {
    return keyed.caffeine.get(walk.next(keyed), keyed.newBucket).tryConsumeAndReturnRemaining(1);
  }

  @Benchmark
  @Threads(1)
  public boolean bucket4j1(Keyless keyless) {
    return keyless.bucket4j.tryConsume(1);
  }

  @Benchmark
  @Threads(2)
  public boolean bucket4j2(Keyless keyless) {
    return keyless.bucket4j.tryConsume(1);
  }

  @Benchmark
  @Threads(1)
  public boolean resilience4j1(Keyless keyless) {
    return keyless.resilience4j.acquirePermission();
  }

  @Benchmark
  @Threads(2)
  public boolean resilience4j2(Keyless keyless) {
    return keyless.resilience4j.acquirePermission();
  }

  @Benchmark
  @Threads(1)
  public boolean guava1(Keyless keyless) {
    return keyless.guava.tryAcquire();
  }

  @Benchmark
  @Threads(2)
  public boolean guava2(Keyless keyless) {
    return keyless.guava.tryAcquire();
  }
}

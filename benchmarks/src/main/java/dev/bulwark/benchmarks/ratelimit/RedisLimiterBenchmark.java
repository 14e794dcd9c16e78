package dev.bulwark.benchmarks.ratelimit;

import dev.bulwark.ratelimit.Decision;
import java.util.concurrent.TimeUnit;
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
 * Synchronous decisions of a Redis limiter, against the JVM's embedded Redis 6.2 on loopback:
 * bulwark's script ({@code tryAcquire(key)}, one {@code EVALSHA}) against Bucket4j's Lettuce
 * compare-and-swap buckets ({@code tryConsume(1)}, a {@code GET} and an {@code EVAL}, again on a
 * conflict); {@link RedisLimiters} says how each is set up. On one hot key (every thread on one
 * bucket) and on 10,000 keys (a random walk, each thread from its own start), at 1, 2 and 16 client
 * threads: one {@code @Benchmark} method per thread count, so {@code -t} is not needed.
 *
 * <p>Throughput in decisions per second. For the latency percentiles (p99), run the same methods
 * with {@code -bm sample -tu us}. At the end of each fork, the decisions, their outcomes and the
 * Redis commands per decision (from {@code INFO commandstats}, reset at the start of the fork,
 * warm-up included) are printed; every fork runs one method on a Redis of its own.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@State(Scope.Benchmark)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(2)
public class RedisLimiterBenchmark {

  /** How many keys the decisions walk over: 1 is the hot key. */
  @Param({"1", "10000"})
  public int keys;

  private RedisLimiters limiters;

  /** Each thread's place in the walk. */
  @State(Scope.Thread)
  public static class Walk {
    private int next = Keys.start();

    int next(int[] walk) {
      return walk[next++ & (Keys.WALK - 1)];
    }
  }

  @Setup(Level.Trial)
  public void start() {
    limiters = new RedisLimiters(keys);
  }

  @TearDown(Level.Trial)
  public void stop() {
    limiters.report();
    limiters.close();
  }

  private Decision bulwark(Walk walk) {
    limiters.bulwarkDecisions.increment();
    return limiters.bulwark.tryAcquire(limiters.keys[walk.next(limiters.walk)]);
  }

  private boolean bucket4j(Walk walk) {
    limiters.bucket4jDecisions.increment();
    boolean allowed = limiters.buckets[walk.next(limiters.walk)].tryConsume(1);
    if (!allowed) {
      limiters.bucket4jRefused.increment();
    }
    return allowed;
  }

  @Benchmark
  @Threads(1)
  public Decision bulwark1(Walk walk) {
    return bulwark(walk);
  }

  @Benchmark
  @Threads(2)
  public Decision bulwark2(Walk walk) {
    return bulwark(walk);
  }

  @Benchmark
  @Threads(16)
  public Decision bulwark16(Walk walk) {
    return bulwark(walk);
  }

  @Benchmark
  @Threads(1)
  public boolean bucket4j1(Walk walk) {
    return bucket4j(walk);
  }

  @Benchmark
  @Threads(2)
  public boolean bucket4j2(Walk walk) {
    return bucket4j(walk);
  }

  @Benchmark
  @Threads(16)
  public boolean bucket4j16(Walk walk) {
    return bucket4j(walk);
  }
}

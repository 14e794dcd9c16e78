package dev.bulwark.benchmarks.ratelimit;

import java.util.concurrent.Semaphore;
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
 * Asynchronous decisions of a Redis limiter, {@code inFlight} at a time from one thread: bulwark's
 * {@code tryAcquireAsync(key)} against Bucket4j's {@code asAsync()} buckets ({@code
 * tryConsume(1)}), set up as in {@link RedisLimiters}, on the hot key and on 10,000 keys.
 *
 * <p>One operation starts one decision once fewer than {@code inFlight} are under way, and its
 * completion (on Lettuce's event loop) makes room for the next; so in a steady state the throughput
 * is the rate at which decisions complete. It is a throughput benchmark only: a sample of one
 * operation would time the wait for room, not a decision. At the end of each fork, what {@link
 * RedisLimiterBenchmark} prints is printed too.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@State(Scope.Benchmark)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(2)
@Threads(1)
public class RedisLimiterAsyncBenchmark {

  /** How many keys the decisions walk over: 1 is the hot key. */
  @Param({"1", "10000"})
  public int keys;

  /** How many decisions are under way at once. */
  @Param({"64"})
  public int inFlight;

  private RedisLimiters limiters;
  private Semaphore room;
  private int next;

  @Setup(Level.Trial)
  public void start() {
    limiters = new RedisLimiters(keys);
    room = new Semaphore(inFlight);
  }

  /** Waits for the decisions under way, then prints the counts. */
  @TearDown(Level.Trial)
  public void stop() throws InterruptedException {
    if (!room.tryAcquire(inFlight, 30, TimeUnit.SECONDS)) {
      System.out.println("\n" + (inFlight - room.availablePermits()) + " decisions never ended");
    }
    limiters.report();
    limiters.close();
  }

  private int nextKey() {
    return limiters.walk[next++ & (Keys.WALK - 1)];
  }

  @Benchmark
  public void bulwarkAsync() throws InterruptedException {
    room.acquire();
    limiters.bulwarkDecisions.increment();
    limiters
        .bulwark
        .tryAcquireAsync(limiters.keys[nextKey()])
        .whenComplete((decision, e) -> room.release());
  }

  @Benchmark
  public void bucket4jAsync() throws InterruptedException {
    room.acquire();
    limiters.bucket4jDecisions.increment();
    limiters
        .asyncBuckets[nextKey()]
        .tryConsume(1)
        .whenComplete(
            (allowed, e) -> {
              if (e != null) {
                limiters.bucket4jFailed.increment();
              } else if (!allowed) {
                limiters.bucket4jRefused.increment();
              }
              room.release();
            });
  }
}

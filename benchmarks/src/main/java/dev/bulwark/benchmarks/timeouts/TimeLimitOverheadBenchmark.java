package dev.bulwark.benchmarks.timeouts;

import dev.bulwark.timeouts.Timeouts;
import dev.failsafe.Failsafe;
import dev.failsafe.FailsafeExecutor;
import dev.failsafe.Timeout;
import io.github.resilience4j.timelimiter.TimeLimiterConfig;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * What a 1 s time limit costs around a call that finishes at once: the call alone, {@link
 * Timeouts#within(Duration, dev.bulwark.timeouts.Call)} (the call stays on the caller's thread, a
 * shared watchdog is armed and disarmed), Failsafe's {@code Timeout} with interrupt on a
 * synchronous {@code get} (the same design: the call stays on the caller's thread, a shared
 * scheduler is armed and disarmed), and Resilience4j's {@code TimeLimiter}, which needs the call on
 * another thread: through a {@code Future} from a fixed pool (the path that can cancel the work)
 * and through a {@code CompletionStage} with a scheduler for the timeout.
 *
 * <p>The Failsafe executor is built once, as a user would hold it. The Resilience4j scheduler
 * removes cancelled timeouts from its queue, its best setting: with the JDK default, every call
 * would leave a cancelled task queued for the full second. Failsafe's own scheduler removes them
 * too.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@State(Scope.Benchmark)
public class TimeLimitOverheadBenchmark {

  private static final Duration LIMIT = Duration.ofSeconds(1);

  /** Not final, so the work cannot be folded into a constant. */
  private long seed = 0x5DEECE66DL;

  private ExecutorService executor;
  private ScheduledThreadPoolExecutor scheduler;
  private io.github.resilience4j.timelimiter.TimeLimiter resilience4j;
  private FailsafeExecutor<Long> failsafe;
  private Callable<Long> task;

  @Setup
  public void setUp() {
    executor = Executors.newFixedThreadPool(2);
    scheduler = new ScheduledThreadPoolExecutor(1);
    scheduler.setRemoveOnCancelPolicy(true);
    resilience4j =
        io.github.resilience4j.timelimiter.TimeLimiter.of(
            "benchmark",
            TimeLimiterConfig.custom().timeoutDuration(LIMIT).cancelRunningFuture(true).build());
    failsafe = Failsafe.with(Timeout.<Long>builder(LIMIT).withInterrupt().build());
    task = this::work;
  }

  @TearDown
  public void tearDown() throws InterruptedException {
    executor.shutdownNow();
    scheduler.shutdownNow();
    executor.awaitTermination(10, TimeUnit.SECONDS);
    scheduler.awaitTermination(10, TimeUnit.SECONDS);
  }

  /** The trivial call: a few arithmetic operations and a boxed result, as every variant returns. */
  Long work() {
    long x = seed * 0x9E3779B97F4A7C15L;
    return Long.rotateLeft(x, 17) ^ (x >>> 29);
  }

  @Benchmark
  public Long raw() {
    return work();
  }

  @Benchmark
  public Long bulwarkWithin() {
    return Timeouts.within(LIMIT, () -> work());
  }

  @Benchmark
  public Long failsafeTimeout() {
    return failsafe.get(() -> work());
  }

  @Benchmark
  public Long resilience4jTimeLimiter() throws Exception {
    return resilience4j.executeFutureSupplier(() -> executor.submit(task));
  }

  @Benchmark
  public Long resilience4jCompletionStage() {
    return resilience4j
        .executeCompletionStage(
            scheduler, () -> CompletableFuture.supplyAsync(this::work, executor))
        .toCompletableFuture()
        .join();
  }
}

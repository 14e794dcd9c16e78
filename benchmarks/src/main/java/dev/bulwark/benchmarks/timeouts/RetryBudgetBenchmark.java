package dev.bulwark.benchmarks.timeouts;

import dev.bulwark.timeouts.Retry;
import dev.bulwark.timeouts.RetryBudget;
import io.github.resilience4j.retry.RetryConfig;
import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * A dependency that is fully down: every attempt throws. Counts the attempts that reach it per call
 * made, for bulwark's {@link Retry} with a {@link RetryBudget} (10% of calls, the default) and for
 * Resilience4j's {@code Retry}, which has no budget; both allow 3 attempts and retry the failure.
 *
 * <p>Attempts per call is the {@code attempts} counter divided by the {@code calls} counter. The
 * throughput depends on the waits between attempts as much as on the libraries: bulwark's smallest
 * backoff is 1 ns with full jitter, so a retry waits 0 or 1 ns, and on JDK 17 {@code
 * TimeUnit.NANOSECONDS.sleep(1)} sleeps a whole millisecond ({@code Thread.sleep(0, 1)} rounds up).
 * Resilience4j accepts a zero wait; {@code resilience4jRetryWait1ms} shows it with a 1 ms wait.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@State(Scope.Benchmark)
public class RetryBudgetBenchmark {

  private static final Duration SMALLEST_BACKOFF = Duration.ofNanos(1);

  private Retry bulwark;
  private io.github.resilience4j.retry.Retry resilience4j;
  private io.github.resilience4j.retry.Retry resilience4jWait1ms;

  /** The failure: an {@link IOException} without a stack trace, so building it costs little. */
  static final class DownstreamUnavailable extends IOException {
    private static final long serialVersionUID = 1L;

    DownstreamUnavailable() {
      super("downstream unavailable");
    }

    @Override
    public synchronized Throwable fillInStackTrace() {
      return this;
    }
  }

  /** The failing dependency, and the counters JMH reports per iteration. */
  @State(Scope.Thread)
  @AuxCounters(AuxCounters.Type.EVENTS)
  public static class Downstream {
    /** Attempts that reached the dependency. */
    public long attempts;

    /** Calls made by the caller, each of which may make several attempts. */
    public long calls;

    @Setup(Level.Iteration)
    public void reset() {
      attempts = 0;
      calls = 0;
    }

    Long call() throws DownstreamUnavailable {
      attempts++;
      throw new DownstreamUnavailable();
    }
  }

  @Setup
  public void setUp() {
    RetryBudget budget = RetryBudget.builder("downstream").build();
    bulwark =
        Retry.builder("downstream")
            .maxAttempts(3)
            .backoff(SMALLEST_BACKOFF, SMALLEST_BACKOFF)
            .retryOn(IOException.class)
            .budget(budget)
            .build();
    resilience4j = resilience4jRetry(Duration.ZERO);
    resilience4jWait1ms = resilience4jRetry(Duration.ofMillis(1));
  }

  private static io.github.resilience4j.retry.Retry resilience4jRetry(Duration wait) {
    return io.github.resilience4j.retry.Retry.of(
        "downstream",
        RetryConfig.custom()
            .maxAttempts(3)
            .waitDuration(wait)
            .retryExceptions(IOException.class)
            .build());
  }

  @Benchmark
  public Object bulwarkRetryWithBudget(Downstream downstream) {
    downstream.calls++;
    try {
      return bulwark.call(downstream::call);
    } catch (DownstreamUnavailable e) {
      return e;
    }
  }

  @Benchmark
  public Object resilience4jRetry(Downstream downstream) throws Throwable {
    downstream.calls++;
    try {
      return resilience4j.executeCheckedSupplier(downstream::call);
    } catch (DownstreamUnavailable e) {
      return e;
    }
  }

  @Benchmark
  public Object resilience4jRetryWait1ms(Downstream downstream) throws Throwable {
    downstream.calls++;
    try {
      return resilience4jWait1ms.executeCheckedSupplier(downstream::call);
    } catch (DownstreamUnavailable e) {
      return e;
    }
  }
}

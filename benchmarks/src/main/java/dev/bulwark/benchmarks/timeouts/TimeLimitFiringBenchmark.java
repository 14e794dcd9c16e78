package dev.bulwark.benchmarks.timeouts;

import dev.bulwark.timeouts.TimeoutExceededException;
import dev.bulwark.timeouts.Timeouts;
import dev.failsafe.Failsafe;
import dev.failsafe.FailsafeExecutor;
import dev.failsafe.Timeout;
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
 * What a time limit that fires costs: the time from the limit to the caller's exception, for {@link
 * Timeouts#within(Duration, dev.bulwark.timeouts.Call)} and for Failsafe's {@code Timeout} with
 * interrupt on a synchronous {@code get}. Both run the call on the caller's thread and interrupt it
 * at the limit.
 *
 * <p>Method: the call blocks in {@code Thread.sleep} for 10 s under a 1 ms limit. {@link
 * Mode#SampleTime} times each call from just before it starts to the moment the caller has caught
 * the library's timeout exception. A sample minus the 1 ms limit is the firing cost: the timer
 * thread waking up late, handing the timeout on, interrupting the caller, the caller waking up, and
 * the exception being built and thrown. Arming the limit, which {@link TimeLimitOverheadBenchmark}
 * measures, is inside the sample too. Read p50 and p99.
 *
 * <p>The blocked work is the benchmark thread itself, so nothing piles up between calls. The
 * counters say how each call ended: {@code interrupted} (the interrupt stopped the work), {@code
 * missedInterrupt} (the limit fired but the work slept its full 10 s; that sample is 10 s. Failsafe
 * 3.3.2 does not interrupt a call whose timeout fires before the call is marked interruptible) and
 * {@code notStarted} (the limit had passed before the call started, as when the thread is
 * descheduled for a millisecond, so the library failed it without running it). A call whose
 * interrupt is still set after the library returned fails the run: the next call's sleep would end
 * at once.
 *
 * <p>The paths differ in one hand-off. bulwark's watchdog thread interrupts the caller itself.
 * Failsafe's {@code FailsafeDelayScheduler} thread submits the timeout to {@code
 * ForkJoinPool.commonPool()} (or, where the common pool's parallelism is 1, as on 2 cores, to a
 * {@code ForkJoinPool} of 2 threads of its own), whose worker then interrupts the caller; tasks
 * queued in that pool delay the timeout. Here the pool is otherwise idle.
 */
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@State(Scope.Thread)
public class TimeLimitFiringBenchmark {

  private static final Duration LIMIT = Duration.ofMillis(1);

  /** How long the work would block if nothing stopped it. */
  private static final long BLOCKED_FOR_MILLIS = 10_000;

  private FailsafeExecutor<Long> failsafe;

  /** Set by the work when it starts; cleared before each call. */
  private boolean started;

  /** Set by the work when an interrupt ends its sleep; cleared before each call. */
  private boolean stopped;

  /** How the calls ended, summed per iteration. */
  @State(Scope.Thread)
  @AuxCounters(AuxCounters.Type.EVENTS)
  public static class Outcomes {
    /** Calls whose work the interrupt stopped. */
    public long interrupted;

    /** Calls whose limit fired but whose work was not interrupted and slept its full 10 s. */
    public long missedInterrupt;

    /** Calls failed without running, their limit having passed before they started. */
    public long notStarted;

    @Setup(Level.Iteration)
    public void reset() {
      interrupted = 0;
      missedInterrupt = 0;
      notStarted = 0;
    }
  }

  @Setup
  public void setUp() {
    failsafe = Failsafe.with(Timeout.<Long>builder(LIMIT).withInterrupt().build());
  }

  /** Work that blocks until it is interrupted, and records that it was. */
  Long blockedWork() throws InterruptedException {
    started = true;
    try {
      Thread.sleep(BLOCKED_FOR_MILLIS);
    } catch (InterruptedException e) {
      stopped = true;
      throw e;
    }
    return 0L;
  }

  @Benchmark
  public Object bulwarkWithin(Outcomes outcomes) throws InterruptedException {
    started = false;
    stopped = false;
    try {
      Timeouts.within(LIMIT, this::blockedWork);
    } catch (TimeoutExceededException e) {
      return record(outcomes, e);
    }
    throw new IllegalStateException("the call returned without its limit firing");
  }

  @Benchmark
  public Object failsafeTimeout(Outcomes outcomes) {
    started = false;
    stopped = false;
    try {
      failsafe.get(this::blockedWork);
    } catch (dev.failsafe.TimeoutExceededException e) {
      return record(outcomes, e);
    }
    throw new IllegalStateException("the call returned without its limit firing");
  }

  private Object record(Outcomes outcomes, RuntimeException timeout) {
    if (Thread.interrupted()) {
      throw new IllegalStateException("the limit's interrupt outlived the call", timeout);
    }
    if (!started) {
      outcomes.notStarted++;
    } else if (stopped) {
      outcomes.interrupted++;
    } else {
      outcomes.missedInterrupt++;
    }
    return timeout;
  }
}

package dev.bulwark.benchmarks.jobs;

import dev.bulwark.jobs.BoundedWorker;
import dev.bulwark.jobs.Offer;
import java.time.Duration;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * Items handled per second through a bounded queue and one consumer thread, by a handler that does
 * nothing: {@link BoundedWorker} at batch sizes 1, 100 and 1,000, against a {@link
 * ThreadPoolExecutor} of one thread on an {@link ArrayBlockingQueue} that runs one task per item,
 * the hand-written queue a worker loop usually is.
 *
 * <p>Each operation offers {@value #ITEMS} items from the benchmark's thread and returns once the
 * consumer has handled all of them, so the score (operations per second, times {@value #ITEMS}
 * through {@link OperationsPerInvocation}) counts items handled, not items queued. What makes the
 * two comparable:
 *
 * <ul>
 *   <li>the same capacity ({@value #CAPACITY} items), one producer (the benchmark's thread) and one
 *       consumer thread each;
 *   <li>neither drops an item: the worker waits for room ({@code blockWhenFull}, up to an hour);
 *       the executor's rejection handler puts the task into its queue with a blocking {@code put},
 *       the usual way to give an executor backpressure. Caller-runs would run items on the
 *       producer's thread, a second consumer, so it is not used;
 *   <li>both consumers count what they handled in one volatile field that only they write: the
 *       worker's handler once per batch, the executor's task once per item, since it has no
 *       batches; the producer spins until the count is reached;
 *   <li>the same item and the same task instance every time: neither side allocates per item, but
 *       the worker one array and one list per batch;
 *   <li>the worker runs each batch under its default 30 s time limit (a watchdog task armed and
 *       cancelled per batch, about a microsecond) and counts every offer in its ledger: part of
 *       what it costs. The executor has neither.
 * </ul>
 *
 * <p>{@code flushEvery} is an hour: the operations offer whole batches, so no batch is ever partial
 * and an operation's last items never wait for a flush.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@OperationsPerInvocation(WorkerBenchmark.ITEMS)
public class WorkerBenchmark {
  /** Items per operation: a multiple of every batch size. */
  static final int ITEMS = 100_000;

  /** The queue's capacity, for both. */
  static final int CAPACITY = 10_000;

  private static final Object ITEM = new Object();

  /** The bounded worker, one per batch size. */
  @State(Scope.Benchmark)
  public static class Worker {
    @Param({"1", "100", "1000"})
    int batchSize;

    BoundedWorker<Object> worker;

    /** Items offered so far: the producer's own. */
    long offered;

    /** Items handled so far: the consumer's own. */
    long count;

    /** {@link #count}, published to the producer. */
    volatile long handled;

    @Setup(Level.Trial)
    public void setUp() {
      worker =
          BoundedWorker.builder("benchmark")
              .capacity(CAPACITY)
              .batchSize(batchSize)
              .flushEvery(Duration.ofHours(1))
              .blockWhenFull(Duration.ofHours(1))
              .handler(
                  batch -> {
                    count += batch.size();
                    handled = count;
                  })
              .build();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
      worker.close();
    }
  }

  /** The executor: one thread, a bounded queue, a task per item. */
  @State(Scope.Benchmark)
  public static class Executor {
    ThreadPoolExecutor executor;
    Runnable task;
    long offered;
    long count;
    volatile long handled;

    @Setup(Level.Trial)
    public void setUp() {
      executor =
          new ThreadPoolExecutor(
              1,
              1,
              0,
              TimeUnit.MILLISECONDS,
              new ArrayBlockingQueue<>(CAPACITY),
              runnable -> {
                Thread thread = new Thread(runnable, "benchmark-executor");
                thread.setDaemon(true);
                return thread;
              },
              (rejected, pool) -> {
                try {
                  pool.getQueue().put(rejected);
                } catch (InterruptedException e) {
                  Thread.currentThread().interrupt();
                  throw new RejectedExecutionException(e);
                }
              });
      executor.prestartAllCoreThreads();
      task =
          () -> {
            count++;
            handled = count;
          };
    }

    @TearDown(Level.Trial)
    public void tearDown() throws InterruptedException {
      executor.shutdownNow();
      executor.awaitTermination(10, TimeUnit.SECONDS);
    }
  }

  @Benchmark
  public long bulwarkWorker(Worker state) {
    BoundedWorker<Object> worker = state.worker;
    for (int i = 0; i < ITEMS; i++) {
      if (worker.offer(ITEM) != Offer.ACCEPTED) {
        throw new IllegalStateException("the worker refused an item");
      }
    }
    long target = state.offered += ITEMS;
    while (state.handled < target) {
      Thread.onSpinWait();
    }
    return target;
  }

  @Benchmark
  public long threadPoolExecutor(Executor state) {
    ThreadPoolExecutor executor = state.executor;
    Runnable task = state.task;
    for (int i = 0; i < ITEMS; i++) {
      executor.execute(task);
    }
    long target = state.offered += ITEMS;
    while (state.handled < target) {
      Thread.onSpinWait();
    }
    return target;
  }
}

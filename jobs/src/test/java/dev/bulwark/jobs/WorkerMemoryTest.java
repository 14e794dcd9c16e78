package dev.bulwark.jobs;

import static dev.bulwark.jobs.Ledgers.assertBalanced;
import static dev.bulwark.jobs.Ledgers.awaitProcessed;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.bulwark.testing.Await;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryType;
import java.lang.management.MemoryUsage;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.DoubleSupplier;
import org.junit.jupiter.api.Test;

/** The memory ceiling on a reading the test sets, and once on the JVM's own. */
class WorkerMemoryTest {
  private static final Duration WAIT = Duration.ofSeconds(10);

  /** A heap reading the test sets. */
  private static final class Heap implements DoubleSupplier {
    private final AtomicLong bits = new AtomicLong(Double.doubleToLongBits(0.5));

    void set(double fraction) {
      bits.set(Double.doubleToLongBits(fraction));
    }

    @Override
    public double getAsDouble() {
      return Double.longBitsToDouble(bits.get());
    }
  }

  private final Heap heap = new Heap();

  @Test
  void intakePausesAtTheCeilingAndResumesBelowIt() throws Exception {
    try (BoundedWorker<Integer> worker =
        BoundedWorker.<Integer>builder("memory")
            .capacity(10)
            .memoryCeiling(0.9)
            .handler(batch -> {})
            .memoryReading(heap)
            .build()) {
      assertThat(worker.offer(1)).isEqualTo(Offer.ACCEPTED);

      heap.set(0.9);
      Await.until(WAIT, "intake paused", () -> state(worker) == WorkerState.PAUSED);
      assertThat(worker.offer(2)).isEqualTo(Offer.REJECTED_MEMORY);
      assertThat(worker.offer(3)).isEqualTo(Offer.REJECTED_MEMORY);
      assertThat(Offer.REJECTED_MEMORY.tag()).isEqualTo("memory");

      heap.set(0.89);
      Await.until(WAIT, "intake resumed", () -> state(worker) == WorkerState.RUNNING);
      assertThat(worker.offer(4)).isEqualTo(Offer.ACCEPTED);

      ShutdownReport<Integer> report = worker.shutdown(WAIT);
      assertThat(report.drained()).isTrue();
      assertThat(report.ledger()).isEqualTo(new WorkerLedger(4, 2, 0, 2, 0, 0, 0));
      assertThat(worker.snapshot().offers(Offer.REJECTED_MEMORY)).isEqualTo(2);
    }
  }

  @Test
  void aPauseReleasesAProducerWaitingForRoom() throws Exception {
    Gate<Integer> gate = new Gate<>();
    try (BoundedWorker<Integer> worker =
        BoundedWorker.<Integer>builder("memory")
            .capacity(1)
            .batchSize(1)
            .blockWhenFull(WAIT)
            .memoryCeiling(0.9)
            .handler(gate)
            .memoryReading(heap)
            .build()) {
      worker.offer(0);
      Await.until(WAIT, "the first batch in the handler", () -> gate.entered() == 1);
      worker.offer(1);
      CompletableFuture<Offer> blocked = new CompletableFuture<>();
      Thread producer = new Thread(() -> blocked.complete(worker.offer(2)));
      producer.start();
      Await.until(
          WAIT,
          "the producer waiting for room",
          () -> producer.getState() == Thread.State.TIMED_WAITING);
      // A reading that is polled (this one, or the heap's current usage where the JVM sends no
      // notifications) is read between batches: the next one pauses intake before it takes more.
      heap.set(0.95);
      gate.pass(1);
      assertThat(blocked.get()).isEqualTo(Offer.REJECTED_MEMORY);
      gate.open();
      awaitProcessed(worker, 2);
      assertThat(assertBalanced(worker)).isEqualTo(new WorkerLedger(3, 2, 0, 1, 0, 0, 0));
    }
  }

  @Test
  void theStopActionStopsTheWorkerForItsSupervisor() throws Exception {
    BoundedWorker<Integer> worker =
        BoundedWorker.<Integer>builder("recycle")
            .capacity(10)
            .memoryCeiling(0.9, MemoryAction.STOP)
            .handler(batch -> {})
            .memoryReading(heap)
            .build();
    assertThat(worker.offer(1)).isEqualTo(Offer.ACCEPTED);
    heap.set(0.97);

    ShutdownReport<Integer> report = worker.awaitTermination(WAIT).orElseThrow();

    assertThat(report.reason()).isEqualTo(StopReason.MEMORY_CEILING);
    assertThat(report.drained()).isTrue();
    assertThat(worker.offer(2)).isEqualTo(Offer.REJECTED_CLOSED);
    assertThat(assertBalanced(worker)).isEqualTo(new WorkerLedger(2, 1, 0, 1, 0, 0, 0));
  }

  @Test
  void aWorkerBuiltAboveTheCeilingStartsPaused() throws Exception {
    heap.set(0.99);
    try (BoundedWorker<Integer> worker =
        BoundedWorker.<Integer>builder("memory")
            .capacity(10)
            .memoryCeiling(0.5)
            .handler(batch -> {})
            .memoryReading(heap)
            .build()) {
      assertThat(worker.snapshot().state()).isEqualTo(WorkerState.PAUSED);
      assertThat(worker.offer(1)).isEqualTo(Offer.REJECTED_MEMORY);
    }
  }

  @Test
  void theJvmsOwnReadingWorks() throws Exception {
    try (BoundedWorker<Integer> worker =
        BoundedWorker.<Integer>builder("real-heap")
            .capacity(1_000)
            .memoryCeiling(0.99)
            .handler(batch -> {})
            .build()) {
      for (int i = 0; i < 100; i++) {
        assertThat(worker.offer(i)).isEqualTo(Offer.ACCEPTED);
      }
      System.gc();
      Await.until(WAIT, "every item processed", () -> processed(worker) == 100);
      assertThat(worker.snapshot().state()).isEqualTo(WorkerState.RUNNING);
    }
  }

  @Test
  void theHeapIsReadAfterEachCollection() throws Exception {
    HeapReading reading = HeapReading.start(() -> {});
    try {
      double before = reading.getAsDouble();
      assertThat(before).isGreaterThan(0).isLessThan(1);
      System.gc();
      Await.until(WAIT, "a collection's notification", reading::notified);
      assertThat(reading.getAsDouble()).isGreaterThan(0).isLessThan(1);
    } finally {
      reading.close();
      reading.close();
    }
  }

  @Test
  void aPauseOfAConcurrentCollectorIsNoReading() {
    AtomicLong readings = new AtomicLong();
    HeapReading reading = new HeapReading(readings::incrementAndGet); // no real collection's
    String pool =
        ManagementFactory.getMemoryPoolMXBeans().stream()
            .filter(p -> p.getType() == MemoryType.HEAP)
            .findFirst()
            .orElseThrow()
            .getName();
    MemoryUsage heap = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage();
    long max = heap.getMax() > 0 ? heap.getMax() : heap.getCommitted();
    long high = (long) (max * 0.95);
    reading.collected("ZGC Major Cycles", Map.of(pool, new MemoryUsage(-1, high, high, -1)));
    long counted = readings.get();
    assertThat(reading.getAsDouble()).isCloseTo(0.95, within(0.01));

    // ZGC's and Shenandoah's pause beans report every pool empty, several times per cycle.
    MemoryUsage empty = new MemoryUsage(-1, 0, 0, -1);
    reading.collected("ZGC Major Pauses", Map.of(pool, empty));
    reading.collected("ZGC Pauses", Map.of(pool, empty));
    reading.collected("Shenandoah Pauses", Map.of(pool, empty));
    reading.collected("Some Collector", Map.of(pool, empty));
    reading.collected("Some Collector", Map.of());

    assertThat(reading.getAsDouble()).isCloseTo(0.95, within(0.01));
    assertThat(readings.get()).isEqualTo(counted);

    long lower = (long) (max * 0.5);
    reading.collected("ZGC Major Cycles", Map.of(pool, new MemoryUsage(-1, lower, lower, -1)));
    assertThat(reading.getAsDouble()).isCloseTo(0.5, within(0.01));
    assertThat(readings.get()).isEqualTo(counted + 1);
  }

  private static WorkerState state(BoundedWorker<?> worker) {
    return worker.snapshot().state();
  }

  private static long processed(BoundedWorker<?> worker) {
    return worker.snapshot().ledger().processed();
  }
}

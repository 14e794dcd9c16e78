package dev.bulwark.jobs;

import static org.assertj.core.api.Assertions.assertThat;

import dev.bulwark.testing.Await;
import dev.bulwark.timeouts.Retry;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import org.junit.jupiter.api.Test;

/**
 * A million items from four producers, random handler failures with a retry, and a shutdown at a
 * random moment: every item must end in exactly one place, and the ledger must count each place
 * exactly. The settings and the moment come from a seed, printed with any failure; run again with
 * {@code -Dsoak.seed=<seed>} to replay its choices (the threads' timing still varies).
 */
class WorkerSoakTest {
  private static final int ITEMS = 1_000_000;
  private static final int PRODUCERS = 4;

  /** Where an item ended, one count per place. */
  private static final int PROCESSED = 0;

  private static final int DEAD = 1;
  private static final int REJECTED = 2;
  private static final int DROPPED = 3;
  private static final int RETURNED = 4;

  @Test
  void everyItemIsAccountedForExactlyOnce() throws Exception {
    soak(Long.getLong("soak.seed", System.nanoTime()));
  }

  private static void soak(long seed) throws Exception {
    String as = "seed " + seed + " (replay with -Dsoak.seed=" + seed + ")";
    Random random = new Random(seed);
    int capacity = 100 + random.nextInt(10_000);
    int batchSize = 1 + random.nextInt(Math.min(500, capacity));
    int policy = random.nextInt(3);
    long stopAfter = (long) (random.nextDouble() * ITEMS);
    Duration drain = Duration.ofMillis(random.nextInt(20));
    Random failures = new Random(random.nextLong());

    AtomicIntegerArray endings = new AtomicIntegerArray(ITEMS);
    LongAdder[] places = new LongAdder[5];
    for (int i = 0; i < places.length; i++) {
      places[i] = new LongAdder();
    }
    Retry retry =
        Retry.builder("soak")
            .retryOn(IOException.class)
            .maxAttempts(2)
            .backoff(Duration.ofNanos(1_000), Duration.ofNanos(10_000))
            .build();
    BoundedWorker.Builder<Integer> builder =
        BoundedWorker.<Integer>builder("soak")
            .capacity(capacity)
            .batchSize(batchSize)
            .flushEvery(Duration.ofMillis(1 + random.nextInt(10)))
            .retry(retry)
            .handler(
                batch -> {
                  if (failures.nextInt(20) == 0) {
                    throw new IOException("random failure");
                  }
                  end(batch, PROCESSED, endings, places);
                })
            .deadLetter((batch, failure) -> end(batch, DEAD, endings, places));
    if (policy == 1) {
      builder.blockWhenFull(Duration.ofMillis(10));
    } else if (policy == 2) {
      builder.dropOldestWhenFull().onDrop(item -> end(List.of(item), DROPPED, endings, places));
    }
    BoundedWorker<Integer> worker = builder.build();

    AtomicLong offered = new AtomicLong();
    List<Thread> producers = new ArrayList<>();
    for (int p = 0; p < PRODUCERS; p++) {
      int first = p;
      Thread producer =
          new Thread(
              () -> {
                for (int id = first; id < ITEMS; id += PRODUCERS) {
                  if (!worker.offer(id).accepted()) {
                    end(List.of(id), REJECTED, endings, places);
                  }
                  offered.incrementAndGet();
                }
              },
              "soak-producer-" + p);
      producers.add(producer);
      producer.start();
    }
    Await.until(Duration.ofSeconds(60), "the moment to stop", () -> offered.get() >= stopAfter);
    ShutdownReport<Integer> report = worker.shutdown(drain);
    for (Thread producer : producers) {
      producer.join();
    }
    end(report.undelivered(), RETURNED, endings, places);
    Await.until(
        Duration.ofSeconds(10),
        "nothing in flight",
        () -> worker.snapshot().ledger().inFlight() == 0);

    String settings =
        as
            + ": capacity "
            + capacity
            + ", batchSize "
            + batchSize
            + ", policy "
            + policy
            + ", stop after "
            + stopAfter
            + ", drain "
            + drain;
    assertThat(report.ledger().unaccounted()).as(settings).isZero();
    WorkerLedger ledger = worker.snapshot().ledger();
    assertThat(ledger.unaccounted()).as(settings).isZero();
    assertThat(ledger.submitted()).as(settings).isEqualTo(ITEMS);
    assertThat(ledger.processed()).as(settings).isEqualTo(places[PROCESSED].sum());
    assertThat(ledger.deadLettered()).as(settings).isEqualTo(places[DEAD].sum());
    assertThat(ledger.rejected()).as(settings).isEqualTo(places[REJECTED].sum());
    assertThat(ledger.dropped()).as(settings).isEqualTo(places[DROPPED].sum());
    assertThat(ledger.returned()).as(settings).isEqualTo(places[RETURNED].sum());
    assertThat(ledger.returned()).as(settings).isEqualTo(report.undelivered().size());
    int lost = 0;
    int twice = 0;
    for (int id = 0; id < ITEMS; id++) {
      int endingsOfId = endings.get(id);
      lost += endingsOfId == 0 ? 1 : 0;
      twice += endingsOfId > 1 ? 1 : 0;
    }
    assertThat(lost).as(settings + ": items that ended nowhere").isZero();
    assertThat(twice).as(settings + ": items that ended twice").isZero();
  }

  private static void end(
      List<Integer> items, int place, AtomicIntegerArray endings, LongAdder[] places) {
    for (int id : items) {
      endings.incrementAndGet(id);
    }
    places[place].add(items.size());
  }
}

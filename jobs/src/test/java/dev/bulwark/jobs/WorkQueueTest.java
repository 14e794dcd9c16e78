package dev.bulwark.jobs;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The ring buffer on its own: wrapping, and when a partial batch is due. */
class WorkQueueTest {
  private static final long FLUSH = Duration.ofSeconds(5).toNanos();

  private final FakeTicker ticker = new FakeTicker();

  @Test
  void itemsKeepTheirOrderAcrossTheEndOfTheArray() throws InterruptedException {
    WorkQueue queue = new WorkQueue(4, 3, FLUSH, 0, ticker);
    for (int i = 0; i < 3; i++) {
      queue.offer(i);
    }
    assertThat(queue.take(0)).containsExactly(0, 1, 2);
    queue.settle(3, true);
    for (int i = 3; i < 7; i++) {
      assertThat(WorkQueue.outcome(queue.offer(i))).isEqualTo(Offer.ACCEPTED);
    }
    assertThat(WorkQueue.outcome(queue.offer(7))).isEqualTo(Offer.REJECTED_FULL);
    assertThat(queue.take(0)).containsExactly(3, 4, 5);
    assertThat(queue.offerDroppingOldest(7)).isInstanceOf(WorkQueue.Code.class);
    assertThat(queue.offerDroppingOldest(8)).isInstanceOf(WorkQueue.Code.class);
    assertThat(queue.offerDroppingOldest(9)).isInstanceOf(WorkQueue.Code.class);
    assertThat(queue.offerDroppingOldest(10)).isEqualTo(6);
    WorkQueue.Final end = queue.report();
    assertThat(end.undelivered).containsExactly(7, 8, 9, 10);
    assertThat(end.ledger).isEqualTo(new WorkerLedger(12, 3, 0, 1, 1, 4, 3));
  }

  @Test
  void aPartialBatchIsDueFlushAfterTheFirstItemOfAnEmptyQueue() throws InterruptedException {
    WorkQueue queue = new WorkQueue(10, 3, FLUSH, 0, ticker);
    queue.offer(0);
    ticker.advance(Duration.ofSeconds(1));
    queue.offer(1);
    ticker.advance(Duration.ofMillis(3_999));
    assertThat(queue.take(0)).isNull();
    ticker.advance(Duration.ofMillis(1));
    assertThat(queue.take(0)).containsExactly(0, 1);
  }

  @Test
  void whatAFullBatchLeavesIsDueByTheOlderClockAtMostOnce() throws InterruptedException {
    WorkQueue queue = new WorkQueue(10, 3, FLUSH, 0, ticker);
    for (int i = 0; i < 4; i++) {
      queue.offer(i);
    }
    assertThat(queue.take(0)).containsExactly(0, 1, 2);
    ticker.advance(Duration.ofSeconds(5));
    // 3 came after the first batch's first item: due by that item's clock, never later than its
    // own.
    assertThat(queue.take(0)).containsExactly(3);
    queue.offer(4);
    ticker.advance(Duration.ofMillis(4_999));
    assertThat(queue.take(0)).isNull();
    ticker.advance(Duration.ofMillis(1));
    assertThat(queue.take(0)).containsExactly(4);
  }

  @Test
  void aClosedQueueHandsOverPartialBatchesAtOnce() throws InterruptedException {
    WorkQueue queue = new WorkQueue(10, 3, FLUSH, 0, ticker);
    queue.offer(0);
    queue.closeIntake();
    assertThat(WorkQueue.outcome(queue.offer(1))).isEqualTo(Offer.REJECTED_CLOSED);
    assertThat(queue.finished()).isFalse();
    assertThat(queue.take(0)).containsExactly(0);
    assertThat(queue.finished()).isTrue();
  }

  @Test
  void theAlertCrossesOnTheWayUpOnly() {
    WorkQueue queue = new WorkQueue(10, 10, FLUSH, 2, ticker);
    assertThat(queue.offer(0) & WorkQueue.CROSSED).isZero();
    assertThat(queue.offer(1) & WorkQueue.CROSSED).isNotZero();
    assertThat(queue.offer(2) & WorkQueue.CROSSED).isZero();
    assertThat(queue.counts().alertCrossings).isEqualTo(1);
  }
}

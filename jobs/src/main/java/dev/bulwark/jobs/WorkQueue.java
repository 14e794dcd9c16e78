package dev.bulwark.jobs;

import dev.bulwark.timeouts.Ticker;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.jspecify.annotations.Nullable;

/**
 * A worker's bounded ring buffer and its ledger, under one lock.
 *
 * <p>Every term of the ledger changes under the same lock as the buffer, so any reading of the
 * ledger balances. A producer takes the lock once per item (as {@link
 * java.util.concurrent.ArrayBlockingQueue} does, and without its node allocation or a second
 * counter); the consumer takes it once to take a batch and once to settle it, whatever its size.
 *
 * <p>Producers signal the consumer only when the buffer stops being empty or reaches a batch, the
 * two depths at which a waiting consumer has something new to do; a partial batch is flushed by the
 * consumer's own timed wait.
 *
 * <p>{@code firstArrival} is a lower bound of the arrival of the oldest queued item, on the
 * worker's ticker: it is read when an item arrives in an empty buffer, and kept when a batch leaves
 * items behind (they all arrived after it). A partial batch is due {@code flushNanos} after it, so
 * it is never held longer than that, and at most once sooner.
 *
 * <p>Thread-safe.
 */
// The counts are an array indexed by outcome, as EnumMap keeps them, without boxing on the hot
// path.
@SuppressWarnings("EnumOrdinal")
final class WorkQueue {
  /**
   * Set in an offer's result when that offer raised the depth to the alert threshold; above every
   * outcome.
   */
  static final int CROSSED = 1 << 3;

  private static final int OUTCOME_MASK = CROSSED - 1;
  private static final Offer[] OFFERS = Offer.values();

  private final ReentrantLock lock = new ReentrantLock();
  private final Condition notEmpty = lock.newCondition();
  private final Condition notFull = lock.newCondition();

  /** The ring; a slot is null when it holds no item. */
  private final @Nullable Object[] items;

  private final int batchSize;
  private final int alertAt;
  private final long flushNanos;
  private final Ticker ticker;

  // All below guarded by lock.
  private int takeIndex;
  private int putIndex;
  private int count;
  private long firstArrival;
  private int waitingProducers;
  private boolean closed;
  private boolean paused;
  private boolean abandoned;
  private boolean reported;
  private boolean alertArmed = true;
  private int inHandler;
  private long batches;
  private final long[] offers = new long[OFFERS.length];
  private long processed;
  private long deadLettered;
  private long dropped;
  private long returned;
  private long alertCrossings;
  private final List<Object> givenBack = new ArrayList<>();

  /**
   * @param alertAt the depth that raises the alert, 0 for none
   */
  WorkQueue(int capacity, int batchSize, long flushNanos, int alertAt, Ticker ticker) {
    this.items = new Object[capacity];
    this.batchSize = batchSize;
    this.flushNanos = flushNanos;
    this.alertAt = alertAt;
    this.ticker = ticker;
  }

  /** The outcome of an offer's result. */
  static Offer outcome(int result) {
    return OFFERS[result & OUTCOME_MASK];
  }

  /** Queues the item if there is room; never waits. */
  int offer(Object item) {
    ReentrantLock lock = this.lock;
    lock.lock();
    try {
      if (closed) {
        return count(Offer.REJECTED_CLOSED);
      }
      if (paused) {
        return count(Offer.REJECTED_MEMORY);
      }
      if (count == items.length) {
        return count(Offer.REJECTED_FULL);
      }
      return enqueue(item, Offer.ACCEPTED);
    } finally {
      lock.unlock();
    }
  }

  /**
   * Queues the item, waiting up to {@code waitNanos} for room. An interrupt ends the wait, and the
   * interrupt status is set again; an interrupt with room to spare is not looked at.
   */
  int offer(Object item, long waitNanos) {
    ReentrantLock lock = this.lock;
    lock.lock();
    try {
      long left = waitNanos;
      while (true) {
        if (closed) {
          return count(Offer.REJECTED_CLOSED);
        }
        if (paused) {
          return count(Offer.REJECTED_MEMORY);
        }
        if (count < items.length) {
          return enqueue(item, Offer.ACCEPTED);
        }
        if (left <= 0) {
          return count(Offer.REJECTED_TIMEOUT);
        }
        waitingProducers++;
        try {
          left = notFull.awaitNanos(left);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return count(Offer.REJECTED_INTERRUPTED);
        } finally {
          waitingProducers--;
        }
      }
    } finally {
      lock.unlock();
    }
  }

  /**
   * Queues the item, dropping the oldest one if the buffer is full.
   *
   * @return the dropped item; or, when none was dropped, a {@link Code} holding the result
   */
  Object offerDroppingOldest(Object item) {
    ReentrantLock lock = this.lock;
    lock.lock();
    try {
      if (closed) {
        return Code.of(count(Offer.REJECTED_CLOSED));
      }
      if (paused) {
        return Code.of(count(Offer.REJECTED_MEMORY));
      }
      if (count < items.length) {
        return Code.of(enqueue(item, Offer.ACCEPTED));
      }
      // Full: the oldest leaves and the new one takes its place, the depth unchanged.
      Object oldest = held(takeIndex);
      items[takeIndex] = null;
      if (++takeIndex == items.length) {
        takeIndex = 0;
      }
      dropped++;
      items[putIndex] = item;
      if (++putIndex == items.length) {
        putIndex = 0;
      }
      offers[Offer.ACCEPTED_DROPPED_OLDEST.ordinal()]++;
      return oldest;
    } finally {
      lock.unlock();
    }
  }

  /**
   * An offer's result where an item could stand instead: one instance per result, made once. No
   * item can be one, since only this class makes them.
   */
  static final class Code {
    private static final Code[] ALL = new Code[CROSSED * 2];

    static {
      for (int i = 0; i < ALL.length; i++) {
        ALL[i] = new Code(i);
      }
    }

    final int result;

    private Code(int result) {
      this.result = result;
    }

    static Code of(int result) {
      return ALL[result];
    }
  }

  /** The item in a slot between {@code takeIndex} and {@code putIndex}, which holds one. */
  private Object held(int slot) {
    return Objects.requireNonNull(items[slot], "a queued slot holds an item");
  }

  private int count(Offer outcome) {
    offers[outcome.ordinal()]++;
    return outcome.ordinal();
  }

  private int enqueue(Object item, Offer outcome) {
    items[putIndex] = item;
    if (++putIndex == items.length) {
      putIndex = 0;
    }
    int depth = ++count;
    offers[outcome.ordinal()]++;
    if (depth == 1) {
      firstArrival = ticker.read();
      notEmpty.signal();
    } else if (depth == batchSize) {
      notEmpty.signal();
    }
    if (depth == alertAt && alertArmed) {
      alertArmed = false;
      alertCrossings++;
      return outcome.ordinal() | CROSSED;
    }
    return outcome.ordinal();
  }

  /**
   * Takes the next batch, waiting at most {@code waitNanos} for it to be due: a full batch at once,
   * a partial one when its flush is due or intake is closed.
   *
   * @return the batch, now in the handler; or null when none was due in time, or the queue is
   *     abandoned, or closed and empty
   * @throws InterruptedException if the thread is interrupted while it waits
   */
  Object @Nullable [] take(long waitNanos) throws InterruptedException {
    long end = System.nanoTime() + waitNanos;
    ReentrantLock lock = this.lock;
    lock.lock();
    try {
      while (true) {
        Object[] batch = due();
        if (batch != null || abandoned || (closed && count == 0)) {
          return batch;
        }
        long wait = end - System.nanoTime();
        if (count > 0) {
          wait = Math.min(wait, firstArrival + flushNanos - ticker.read());
        }
        if (wait <= 0) {
          return null;
        }
        notEmpty.awaitNanos(wait);
      }
    } finally {
      lock.unlock();
    }
  }

  private Object @Nullable [] due() {
    if (abandoned || count == 0) {
      return null;
    }
    if (count >= batchSize) {
      return drain(batchSize);
    }
    if (closed || ticker.read() - firstArrival >= flushNanos) {
      return drain(count);
    }
    return null;
  }

  private Object[] drain(int n) {
    Object[] batch = new Object[n];
    int first = Math.min(n, items.length - takeIndex);
    System.arraycopy(items, takeIndex, batch, 0, first);
    Arrays.fill(items, takeIndex, takeIndex + first, null);
    if (first < n) {
      System.arraycopy(items, 0, batch, first, n - first);
      Arrays.fill(items, 0, n - first, null);
    }
    takeIndex = (takeIndex + n) % items.length;
    count -= n;
    inHandler = n;
    batches++;
    if (count < alertAt) {
      alertArmed = true;
    }
    if (waitingProducers > 0) {
      notFull.signalAll();
    }
    return batch;
  }

  /** Settles the batch in the handler: processed, or dead-lettered. */
  void settle(int n, boolean handled) {
    lock.lock();
    try {
      inHandler -= n;
      if (handled) {
        processed += n;
      } else {
        deadLettered += n;
      }
    } finally {
      lock.unlock();
    }
  }

  /**
   * Hands the batch in the handler back for the report.
   *
   * @return false if the report is made already: the batch is still the consumer's to settle
   */
  boolean giveBack(Object[] batch) {
    lock.lock();
    try {
      if (reported) {
        return false;
      }
      givenBack.addAll(Arrays.asList(batch));
      inHandler -= batch.length;
      returned += batch.length;
      return true;
    } finally {
      lock.unlock();
    }
  }

  /** Refuses every later offer, and wakes the consumer and every waiting producer. */
  void closeIntake() {
    lock.lock();
    try {
      closed = true;
      notEmpty.signalAll();
      notFull.signalAll();
    } finally {
      lock.unlock();
    }
  }

  /** Closes intake and lets the consumer take nothing more: the rest goes to the report. */
  void abandon() {
    lock.lock();
    try {
      closed = true;
      abandoned = true;
      notEmpty.signalAll();
      notFull.signalAll();
    } finally {
      lock.unlock();
    }
  }

  /** Pauses or resumes intake; a pause wakes the waiting producers, to be rejected. */
  void pause(boolean pause) {
    lock.lock();
    try {
      paused = pause;
      if (pause) {
        notFull.signalAll();
      }
    } finally {
      lock.unlock();
    }
  }

  /** {@return true when the consumer has nothing more to do: abandoned, or closed and empty} */
  boolean finished() {
    lock.lock();
    try {
      return abandoned || (closed && count == 0);
    } finally {
      lock.unlock();
    }
  }

  /** {@return true once {@link #abandon()} was called} */
  boolean abandoned() {
    lock.lock();
    try {
      return abandoned;
    } finally {
      lock.unlock();
    }
  }

  /**
   * Makes the report's contents, once: what was handed back, then what is still queued, all counted
   * as returned. Afterwards nothing can be queued, taken or handed back.
   *
   * @return the undelivered items, oldest first, and the ledger that counts them
   */
  Final report() {
    lock.lock();
    try {
      reported = true;
      abandoned = true;
      closed = true;
      while (count > 0) {
        givenBack.add(held(takeIndex));
        items[takeIndex] = null;
        if (++takeIndex == items.length) {
          takeIndex = 0;
        }
        count--;
        returned++;
      }
      notEmpty.signalAll();
      notFull.signalAll();
      List<Object> undelivered = new ArrayList<>(givenBack);
      givenBack.clear();
      return new Final(undelivered, ledger());
    } finally {
      lock.unlock();
    }
  }

  /** The report's contents. */
  static final class Final {
    final List<Object> undelivered;
    final WorkerLedger ledger;

    Final(List<Object> undelivered, WorkerLedger ledger) {
      this.undelivered = undelivered;
      this.ledger = ledger;
    }
  }

  /** Reads the counts together. */
  Counts counts() {
    lock.lock();
    try {
      return new Counts(
          ledger(), count, inHandler, offers.clone(), batches, alertCrossings, paused);
    } finally {
      lock.unlock();
    }
  }

  private WorkerLedger ledger() {
    long submitted = 0;
    long rejected = 0;
    for (Offer outcome : OFFERS) {
      submitted += offers[outcome.ordinal()];
      if (!outcome.accepted()) {
        rejected += offers[outcome.ordinal()];
      }
    }
    return new WorkerLedger(
        submitted, processed, deadLettered, rejected, dropped, returned, (long) count + inHandler);
  }

  /** The queue's counts at one moment. */
  static final class Counts {
    final WorkerLedger ledger;
    final int depth;
    final int inHandler;
    final long[] offers;
    final long batches;
    final long alertCrossings;
    final boolean paused;

    Counts(
        WorkerLedger ledger,
        int depth,
        int inHandler,
        long[] offers,
        long batches,
        long alertCrossings,
        boolean paused) {
      this.ledger = ledger;
      this.depth = depth;
      this.inHandler = inHandler;
      this.offers = offers;
      this.batches = batches;
      this.alertCrossings = alertCrossings;
      this.paused = paused;
    }

    long offers(Offer outcome) {
      return offers[outcome.ordinal()];
    }
  }
}

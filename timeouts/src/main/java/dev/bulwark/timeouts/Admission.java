package dev.bulwark.timeouts;

import java.util.concurrent.atomic.AtomicLong;

/**
 * The places of a {@link TimeLimiter}'s pool: how many submitted calls are running and how many are
 * waiting for a thread, kept in one word so that admitting a call and the counts a rejection
 * reports come from one atomic reading.
 *
 * <p>A call takes a place when it is admitted (queued + 1). A thread that starts it moves it from
 * queued to running; it gives the place back when its work returns (running - 1), or, if it never
 * starts, when it leaves the queue (queued - 1). At most {@code capacity} places ({@code
 * asyncThreads + asyncQueueCapacity}) are taken at once, so a call submitted to an idle limiter
 * never finds the queue full because the thread that will run it has not taken it yet.
 *
 * <p>Running is at most the number of threads, since each running call holds one; queued may exceed
 * the queue's capacity for the moment between a thread coming free and it taking the next call.
 * Thread-safe and lock-free.
 */
final class Admission {
  /** What {@link #tryAdmit()} returns when the call was admitted; no count is negative. */
  static final long ADMITTED = -1;

  private static final long ONE_RUNNING = 1L << 32;
  private static final long QUEUED_BITS = 0xFFFF_FFFFL;

  private final int capacity;

  /** Running calls in the high 32 bits, queued calls in the low 32. */
  private final AtomicLong counts = new AtomicLong();

  /**
   * Creates the counter.
   *
   * @param capacity the most places, below {@code 2^31}
   */
  Admission(int capacity) {
    this.capacity = capacity;
  }

  /**
   * Takes a place for a new call, as queued, if one is free.
   *
   * @return {@link #ADMITTED}, or the counts that made it full, for {@link #running(long)} and
   *     {@link #queued(long)}
   */
  long tryAdmit() {
    for (; ; ) {
      long seen = counts.get();
      if ((long) running(seen) + queued(seen) >= capacity) {
        return seen;
      }
      if (counts.compareAndSet(seen, seen + 1)) {
        return ADMITTED;
      }
    }
  }

  /** A thread started a queued call: queued - 1, running + 1. */
  void started() {
    counts.addAndGet(ONE_RUNNING - 1);
  }

  /** A running call's work returned: its place is free. */
  void finished() {
    counts.addAndGet(-ONE_RUNNING);
  }

  /** A queued call left the queue without running: its place is free. */
  void left() {
    counts.decrementAndGet();
  }

  /** {@return the counts now, for {@link #running(long)} and {@link #queued(long)}} */
  long now() {
    return counts.get();
  }

  /** {@return the running calls in a reading of the counts} */
  static int running(long counts) {
    return (int) (counts >>> 32);
  }

  /** {@return the queued calls in a reading of the counts} */
  static int queued(long counts) {
    return (int) (counts & QUEUED_BITS);
  }
}

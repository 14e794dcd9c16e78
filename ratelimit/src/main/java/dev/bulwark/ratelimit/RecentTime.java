package dev.bulwark.ratelimit;

import com.github.benmanes.caffeine.cache.Ticker;
import io.github.bucket4j.TimeMeter;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.function.LongSupplier;

/**
 * The local limiter's time: one reading of its clock, kept for Caffeine (as its {@link Ticker}) and
 * for the buckets (as their {@link TimeMeter}), so that a decision reads the clock once instead of
 * once in the map and once in its bucket. Thread-safe.
 *
 * <p>A decision reads the clock ({@link #advance()}) before it looks its key up, and moves the kept
 * time to that reading when the kept time is {@link #RESOLUTION_NANOS} or more behind it: Caffeine
 * and the bucket then read a time at most that much behind the decision's, and never ahead of the
 * real time, since it only ever holds readings already made. A decision that the bucket refuses on
 * a time behind its own moves the kept time to its reading ({@link #catchUp}) and asks again, so
 * that a refusal, its wait and a retry after that wait are exact on the clock.
 *
 * <p>Moving the time only once it is that far behind keeps its cache line shared: threads that
 * decide at once write it about once per {@link #RESOLUTION_NANOS} each, not once per decision. The
 * kept time only moves forward (compared by difference, so that the clock may wrap).
 */
final class RecentTime implements TimeMeter, Ticker {
  /**
   * How far behind the decision's reading the kept time may be for an admitted decision: 10 µs. The
   * permits left and the time to a full bucket of an admitted decision are taken at most this long
   * before it, and the map keeps an unused bucket this much longer than its refill.
   */
  static final long RESOLUTION_NANOS = 10_000;

  private static final VarHandle KEPT;

  static {
    try {
      KEPT = MethodHandles.lookup().findVarHandle(RecentTime.class, "kept", long.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  private final LongSupplier clock;

  /** The latest reading kept: read by Caffeine and the buckets. */
  private volatile long kept;

  RecentTime(LongSupplier clock) {
    this.clock = clock;
    this.kept = clock.getAsLong();
  }

  /**
   * Reads the clock, and keeps the reading if the kept time is {@link #RESOLUTION_NANOS} or more
   * behind it.
   *
   * @return the reading, in nanoseconds
   */
  long advance() {
    long now = clock.getAsLong();
    if (now - kept >= RESOLUTION_NANOS) {
      catchUp(now);
    }
    return now;
  }

  /** Keeps {@code now} unless the kept time is already there or past it. */
  void catchUp(long now) {
    for (long seen = kept; now - seen > 0; seen = kept) {
      if (KEPT.compareAndSet(this, seen, now)) {
        return;
      }
    }
  }

  /** The kept time, in nanoseconds: what Caffeine and the buckets read next, or later. */
  long kept() {
    return kept;
  }

  /** The kept time, as the buckets read it. */
  @Override
  public long currentTimeNanos() {
    return kept;
  }

  /** The kept time, as Caffeine reads it. */
  @Override
  public long read() {
    return kept;
  }

  @Override
  public boolean isWallClockBased() {
    return false;
  }
}

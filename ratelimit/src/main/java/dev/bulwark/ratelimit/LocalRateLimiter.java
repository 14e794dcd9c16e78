package dev.bulwark.ratelimit;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.RemovalCause;
import io.github.bucket4j.Bandwidth;
import io.github.bucket4j.Bucket;
import io.github.bucket4j.BucketConfiguration;
import io.github.bucket4j.ConsumptionProbe;
import io.github.bucket4j.TimeMeter;
import io.github.bucket4j.VerboseResult;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.StringJoiner;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Function;
import java.util.function.LongSupplier;
import org.jspecify.annotations.Nullable;

/**
 * A limiter on Bucket4j's lock-free local buckets, one per key, in a Caffeine map bounded by {@code
 * maxKeys} and expiring a bucket unused for as long as it takes to refill. Thread-safe.
 */
final class LocalRateLimiter implements RateLimiter {
  private final String name;
  private final List<Limit> limits;
  private final long smallestBurst;
  private final boolean shadow;
  private final long maxKeys;

  /**
   * Each key's {@link Bucket}, or its {@link Held} once it refused: a key never refused costs no
   * holder to reach its bucket through.
   */
  private final Cache<String, Object> buckets;

  private final Map<String, Object> map;
  private final Function<String, Object> newBucket;
  private final LongSupplier clock;
  private final long roundUp;
  private final LongAdder evicted = new LongAdder();
  private final @Nullable LimiterMeters meters;
  private final String description;
  private volatile boolean closed;

  /**
   * @param metered whether this limiter counts its decisions and registers meters; a Redis
   *     limiter's fallback does not, its owner does
   */
  LocalRateLimiter(LimiterSettings settings, List<Limit> limits, boolean metered) {
    this.name = settings.name;
    this.limits = List.copyOf(limits);
    this.smallestBurst = LimiterSettings.smallestBurst(limits);
    this.shadow = settings.shadow;
    this.maxKeys = settings.maxKeys;
    LongSupplier clock = settings.clock();
    this.clock = clock;
    this.roundUp = roundUp(limits);
    TimeMeter time = new Clock(clock);
    BucketConfiguration configuration = configuration(limits);
    this.newBucket =
        key -> {
          // A key is checked when its bucket is made, so a decision on a key the map holds reads
          // no more of the key than its hash: the map holds no key that failed the check.
          LimiterSettings.checkKey(key);
          return build(configuration, time);
        };
    this.buckets =
        Caffeine.newBuilder()
            .maximumSize(maxKeys)
            .expireAfterAccess(refillTime(limits))
            .ticker(clock::getAsLong)
            // Caffeine's maintenance (expiry, eviction) on its default executor, off the caller's
            // thread: inline, it halved the decisions of two threads on one key.
            .evictionListener(
                (@Nullable String key, @Nullable Object bucket, RemovalCause cause) -> {
                  if (cause == RemovalCause.SIZE) {
                    evicted.increment();
                  }
                })
            .build();
    this.map = buckets.asMap();
    StringJoiner out = new StringJoiner(", ", "RateLimiter[", "]");
    out.add("local");
    settings.describe(out);
    this.description = out.toString();
    if (metered) {
      LimiterMeters own = new LimiterMeters(name, settings.registry);
      own.gauge(LimiterMeters.KEYS, this, LocalRateLimiter::keys, "Keys whose buckets are held");
      own.counter(
          LimiterMeters.EVICTED, evicted, "Buckets dropped by the maxKeys bound before refilling");
      this.meters = own;
    } else {
      this.meters = null;
    }
  }

  private static Bucket build(BucketConfiguration configuration, TimeMeter time) {
    var builder = Bucket.builder().withCustomTimePrecision(time);
    for (Bandwidth bandwidth : configuration.getBandwidths()) {
      builder.addLimit(bandwidth);
    }
    return builder.build();
  }

  private static BucketConfiguration configuration(List<Limit> limits) {
    var builder = BucketConfiguration.builder();
    for (Limit limit : limits) {
      builder.addLimit(
          Bandwidth.builder()
              .capacity(limit.burst())
              .refillGreedy(limit.permits(), limit.period())
              .build());
    }
    return builder.build();
  }

  /**
   * 1 if a limit's refill of one permit is not a whole number of nanoseconds, else 0. Bucket4j
   * rounds its wait for a permit down, so for such a limit a request retried after that wait could
   * be refused again (and a refusal could say to wait 0): the wait is then rounded up instead.
   */
  private static long roundUp(List<Limit> limits) {
    for (Limit limit : limits) {
      if (limit.period().toNanos() % limit.permits() != 0) {
        return 1;
      }
    }
    return 0;
  }

  /** The probe's wait for the permits, rounded up to a whole nanosecond. */
  private long waitOf(ConsumptionProbe probe) {
    long wait = Math.max(0, probe.getNanosToWaitForRefill());
    return wait == Long.MAX_VALUE ? wait : wait + roundUp;
  }

  /** How long an unused bucket takes to refill entirely from empty: the longest of its limits'. */
  static Duration refillTime(List<Limit> limits) {
    long longest = 1;
    for (Limit limit : limits) {
      longest = Math.max(longest, refillNanos(limit, limit.burst()));
    }
    return Duration.ofNanos(longest);
  }

  /** The nanoseconds {@code limit} takes to refill {@code permits}, rounded up and saturated. */
  static long refillNanos(Limit limit, long permits) {
    double nanos = (double) permits * limit.period().toNanos() / limit.permits();
    return nanos >= Long.MAX_VALUE ? Long.MAX_VALUE : (long) Math.ceil(nanos);
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public List<Limit> limits() {
    return limits;
  }

  @Override
  public Decision tryAcquire(String key, long permits) {
    if (closed) {
      throw new IllegalStateException("rate limiter " + name + " is closed");
    }
    return decide(key, permits, shadow ? Outcome.SHADOW_DENIED : Outcome.DENIED, meters);
  }

  /** Decides on the buckets, {@link Outcome#ALLOWED} or {@link Outcome#DENIED}; counts nothing. */
  Decision decide(String key, long permits) {
    return decide(key, permits, Outcome.DENIED, null);
  }

  /** Counts a decision's outcome, if {@code meters} is not null. */
  private static void count(@Nullable LimiterMeters meters, Outcome outcome) {
    if (meters != null) {
      meters.record(outcome);
    }
  }

  /**
   * Decides on the buckets: {@link Outcome#ALLOWED}, or {@code denied} for a refusal.
   *
   * <p>The outcome is counted on {@code meters} (unless null) as soon as it is known, before the
   * decision is made: right after the bucket's own atomic update, the count's atomic add has no
   * stores of the new decision to wait for.
   */
  private Decision decide(
      String key, long permits, Outcome denied, @Nullable LimiterMeters meters) {
    Objects.requireNonNull(key, "key");
    LimiterSettings.checkPermits(permits, smallestBurst);
    Object value = buckets.get(key, newBucket); // checks the key if it is new
    if (limits.size() == 1) {
      return decide(key, permits, limits.get(0), value, denied, meters);
    }
    Bucket bucket = (Bucket) value; // only a limiter of one limit holds a key in a Held
    VerboseResult<ConsumptionProbe> result =
        bucket.asVerbose().tryConsumeAndReturnRemaining(permits);
    ConsumptionProbe probe = result.getValue();
    count(meters, probe.isConsumed() ? Outcome.ALLOWED : denied);
    long[] available = result.getDiagnostics().getAvailableTokensPerEachBandwidth();
    List<Quota> quotas = new ArrayList<>(limits.size());
    Limit deniedBy = null;
    long longestWait = -1;
    for (int i = 0; i < limits.size(); i++) {
      Limit limit = limits.get(i);
      long left = Math.max(0, Math.min(limit.burst(), available[i]));
      quotas.add(
          new Quota(limit, left, Duration.ofNanos(refillNanos(limit, limit.burst() - left))));
      if (!probe.isConsumed() && left < permits) {
        long wait = refillNanos(limit, permits - left);
        if (wait > longestWait) {
          longestWait = wait;
          deniedBy = limit;
        }
      }
    }
    return probe.isConsumed()
        ? new Decision(Outcome.ALLOWED, permits, quotas, Duration.ZERO, null)
        : new Decision(denied, permits, quotas, Duration.ofNanos(waitOf(probe)), deniedBy);
  }

  /**
   * {@link #decide(String, long, Outcome, LimiterMeters)} on one limit, with {@code value} the
   * key's {@link Bucket}, or its {@link Held} if it refused before.
   */
  private Decision decide(
      String key,
      long permits,
      Limit limit,
      Object value,
      Outcome denied,
      @Nullable LimiterMeters meters) {
    Bucket bucket;
    Held refused = null;
    long now = 0;
    if (value instanceof Held before) {
      // The clock is read only for a key refused before: an admitted decision on a key never
      // refused costs no read. The denial before the clock, so that a denial recorded meanwhile is
      // not read against an older time; the clock before the bucket reads its own, so that a
      // denial is remembered as ending no later than it does.
      refused = before;
      bucket = before.bucket;
      Denial denial = before.denial;
      now = clock.getAsLong();
      if (permits == 1 && denial.known && now - denial.until < 0) {
        // No request takes less than one permit, so until then the bucket only refills: the
        // answer is the bucket's, without copying and computing its state again.
        count(meters, denied);
        return new Decision(
            denied,
            permits,
            limit,
            0,
            Math.max(0, denial.resetAt - now),
            Duration.ofNanos(denial.until - now),
            limit);
      }
    } else {
      bucket = (Bucket) value;
    }
    ConsumptionProbe probe = bucket.tryConsumeAndReturnRemaining(permits);
    long reset = Math.max(0, probe.getNanosToWaitForReset());
    long left = Math.max(0, Math.min(limit.burst(), probe.getRemainingTokens()));
    if (probe.isConsumed()) {
      count(meters, Outcome.ALLOWED);
      return new Decision(Outcome.ALLOWED, permits, limit, left, reset, Duration.ZERO, null);
    }
    count(meters, denied);
    long wait = waitOf(probe);
    if (refused == null) {
      // The key's first refusal, with no time read: from now on its decisions read the time, and
      // its next refusal is remembered. Lost to a concurrent first refusal or to the key's
      // eviction, the holder is only not kept.
      map.replace(key, bucket, new Held(bucket));
    } else if (permits == 1 && wait < Denial.LONGEST && reset < Denial.LONGEST) {
      refused.denial = new Denial(now + wait, now + reset, true);
    }
    return new Decision(denied, permits, limit, left, reset, Duration.ofNanos(wait), limit);
  }

  long keys() {
    return buckets.estimatedSize();
  }

  /** Runs Caffeine's pending maintenance: expiry and eviction, for tests. */
  void cleanUp() {
    buckets.cleanUp();
  }

  @Override
  public RateLimiterSnapshot snapshot() {
    LimiterMeters own = meters;
    return new RateLimiterSnapshot(
        name,
        false,
        limits,
        own == null ? java.util.Map.of() : own.decisions(),
        keys(),
        maxKeys,
        0,
        0);
  }

  @Override
  public void close() {
    closed = true;
    LimiterMeters own = meters;
    if (own != null) {
      own.close();
    }
    buckets.invalidateAll();
  }

  @Override
  public String toString() {
    return description;
  }

  /**
   * A key's bucket once it refused, in place of the bucket, and the last time it refused one permit
   * (from its second refusal on: the first puts the holder in place, marking the key as one whose
   * decisions read the time): until then it refuses one permit again, since no request takes less
   * (a flood of refused requests on one key then reads the bucket's state once per refill, not once
   * per request). Used for one limit only; a request for more permits always asks the bucket.
   */
  private static final class Held {
    final Bucket bucket;
    volatile Denial denial = Denial.FIRST;

    Held(Bucket bucket) {
      this.bucket = bucket;
    }
  }

  /**
   * When a refused permit can next be taken and when the bucket is whole again, on the limiter's
   * clock in nanoseconds, compared by difference so that the clock may wrap; unless not {@code
   * known}.
   */
  private record Denial(long until, long resetAt, boolean known) {
    /** Longer waits are not remembered: {@code now + wait} could overflow. */
    static final long LONGEST = Long.MAX_VALUE / 4;

    /** The key was refused, with no time read before: nothing is remembered yet. */
    static final Denial FIRST = new Denial(0, 0, false);
  }

  /** The limiter's clock as Bucket4j reads it. */
  private static final class Clock implements TimeMeter {
    private final LongSupplier nanos;

    Clock(LongSupplier nanos) {
      this.nanos = nanos;
    }

    @Override
    public long currentTimeNanos() {
      return nanos.getAsLong();
    }

    @Override
    public boolean isWallClockBased() {
      return false;
    }
  }
}

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
import org.jspecify.annotations.Nullable;

/**
 * A limiter on Bucket4j's lock-free local buckets, one per key, in a Caffeine map bounded by {@code
 * maxKeys} and expiring a bucket unused for as long as it takes to refill. A decision reads the
 * limiter's clock once; the map and the buckets read the time kept from it ({@link RecentTime}).
 * Thread-safe.
 */
final class LocalRateLimiter implements RateLimiter {
  private final String name;
  private final List<Limit> limits;

  /** The limit, if there is one only: its decisions take the path of one limit. */
  private final @Nullable Limit single;

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
  private final RecentTime time;
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
    this.single = limits.size() == 1 ? limits.get(0) : null;
    this.smallestBurst = LimiterSettings.smallestBurst(limits);
    this.shadow = settings.shadow;
    this.maxKeys = settings.maxKeys;
    RecentTime time = new RecentTime(settings.clock());
    this.time = time;
    this.roundUp = roundUp(limits);
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
            // The map's time is the limiter's kept time, up to RecentTime.RESOLUTION_NANOS behind a
            // decision's reading, so an access may be stamped that much early: the margin keeps a
            // bucket until it is full again.
            .expireAfterAccess(keepTime(limits))
            .ticker(time)
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

  /**
   * How long the map keeps an unused bucket: as long as it takes to refill entirely from empty (the
   * longest of its limits'), and {@link RecentTime#RESOLUTION_NANOS} more.
   */
  static Duration keepTime(List<Limit> limits) {
    long longest = 1;
    for (Limit limit : limits) {
      longest = Math.max(longest, refillNanos(limit, limit.burst()));
    }
    return Duration.ofNanos(
        longest > Long.MAX_VALUE - RecentTime.RESOLUTION_NANOS
            ? Long.MAX_VALUE
            : longest + RecentTime.RESOLUTION_NANOS);
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
   *
   * <p>The clock is read once, here, before the lookup ({@link RecentTime}): Caffeine and the
   * bucket read the time kept from it.
   */
  private Decision decide(
      String key, long permits, Outcome denied, @Nullable LimiterMeters meters) {
    Objects.requireNonNull(key, "key");
    LimiterSettings.checkPermits(permits, smallestBurst);
    long now = time.advance();
    Object value = buckets.get(key, newBucket); // checks the key if it is new
    Limit one = single;
    return one != null
        ? decideOne(key, permits, now, one, value, denied, meters)
        : decideAll((Bucket) value, permits, now, denied, meters); // no Held for several limits
  }

  /**
   * Asks {@code bucket} for the permits. If it refuses on a kept time behind {@code now}, the
   * decision's reading, the kept time is moved to {@code now} and the bucket asked again: a refusal
   * is always made on a time no earlier than the decision's.
   */
  private ConsumptionProbe consume(Bucket bucket, long permits, long now) {
    long seen = time.kept(); // the bucket reads this time or a later one
    ConsumptionProbe probe = bucket.tryConsumeAndReturnRemaining(permits);
    if (probe.isConsumed() || now - seen <= 0) {
      return probe;
    }
    time.catchUp(now);
    return bucket.tryConsumeAndReturnRemaining(permits);
  }

  /** {@link #decide(String, long, Outcome, LimiterMeters)} on several limits. */
  private Decision decideAll(
      Bucket bucket, long permits, long now, Outcome denied, @Nullable LimiterMeters meters) {
    long seen = time.kept();
    VerboseResult<ConsumptionProbe> result =
        bucket.asVerbose().tryConsumeAndReturnRemaining(permits);
    if (!result.getValue().isConsumed() && now - seen > 0) {
      time.catchUp(now); // as in consume(): a refusal on a time no earlier than the decision's
      result = bucket.asVerbose().tryConsumeAndReturnRemaining(permits);
    }
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
  private Decision decideOne(
      String key,
      long permits,
      long now,
      Limit limit,
      Object value,
      Outcome denied,
      @Nullable LimiterMeters meters) {
    if (value instanceof Held held) {
      return decideHeld(permits, now, limit, held, denied, meters);
    }
    Bucket bucket = (Bucket) value;
    ConsumptionProbe probe = consume(bucket, permits, now);
    if (!probe.isConsumed()) {
      return refuseFirst(key, permits, now, limit, bucket, probe, denied, meters);
    }
    count(meters, Outcome.ALLOWED);
    return admitted(permits, limit, probe);
  }

  /** The admission {@code probe} answers, on one limit. */
  private static Decision admitted(long permits, Limit limit, ConsumptionProbe probe) {
    return new Decision(
        Outcome.ALLOWED,
        permits,
        limit,
        Math.max(0, Math.min(limit.burst(), probe.getRemainingTokens())),
        Math.max(0, probe.getNanosToWaitForReset()),
        Duration.ZERO,
        null);
  }

  /**
   * The first refusal of a key on one limit: a holder that remembers it takes the bucket's place.
   * Lost to a concurrent first refusal or to the key's eviction, the holder is only not kept.
   */
  private Decision refuseFirst(
      String key,
      long permits,
      long now,
      Limit limit,
      Bucket bucket,
      ConsumptionProbe probe,
      Outcome denied,
      @Nullable LimiterMeters meters) {
    count(meters, denied);
    Held held = new Held(bucket);
    remember(held, permits, now, probe);
    map.replace(key, bucket, held);
    return refusal(permits, limit, probe, denied);
  }

  /**
   * Remembers a refusal of one permit made at {@code now} (on a time the bucket read no earlier),
   * unless its wait is too long to add to {@code now}.
   */
  private void remember(Held held, long permits, long now, ConsumptionProbe probe) {
    long wait = waitOf(probe);
    long reset = Math.max(0, probe.getNanosToWaitForReset());
    if (permits == 1 && wait < Denial.LONGEST && reset < Denial.LONGEST) {
      held.denial = new Denial(now, now + wait, now + reset, true);
    }
  }

  /** The refusal {@code probe} answers, on one limit. */
  private Decision refusal(long permits, Limit limit, ConsumptionProbe probe, Outcome denied) {
    return new Decision(
        denied,
        permits,
        limit,
        Math.max(0, Math.min(limit.burst(), probe.getRemainingTokens())),
        Math.max(0, probe.getNanosToWaitForReset()),
        Duration.ofNanos(waitOf(probe)),
        limit);
  }

  /** A decision on one limit for a key refused before, whose refusal {@code held} remembers. */
  private Decision decideHeld(
      long permits,
      long now,
      Limit limit,
      Held held,
      Outcome denied,
      @Nullable LimiterMeters meters) {
    Denial denial = held.denial;
    if (permits == 1 && denial.known) {
      // The clock was read before the denial: one recorded meanwhile, on a later reading, is read
      // at its own time, which has passed too.
      long at = now - denial.at < 0 ? denial.at : now;
      if (at - denial.until < 0) {
        // No request takes less than one permit, so until then the bucket only refills: the
        // answer is the bucket's, without copying and computing its state again.
        count(meters, denied);
        return new Decision(
            denied,
            permits,
            limit,
            0,
            Math.max(0, denial.resetAt - at),
            Duration.ofNanos(denial.until - at),
            limit);
      }
    }
    // The bucket reads a time no earlier than now (consume()), so that a denial is remembered as
    // ending no later than it does.
    ConsumptionProbe probe = consume(held.bucket, permits, now);
    if (probe.isConsumed()) {
      count(meters, Outcome.ALLOWED);
      return admitted(permits, limit, probe);
    }
    count(meters, denied);
    remember(held, permits, now, probe);
    return refusal(permits, limit, probe, denied);
  }

  long keys() {
    return buckets.estimatedSize();
  }

  /** Runs Caffeine's pending maintenance: expiry and eviction, for tests. */
  void cleanUp() {
    time.advance(); // as a decision would: the map reads the limiter's kept time
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
   * A key's bucket once it refused, in place of the bucket, and until when its last refusal of one
   * permit stands: until then it refuses one permit again, since no request takes less (a flood of
   * refused requests on one key then reads the bucket's state once per refill, not once per
   * request). Used for one limit only; a request for more permits always asks the bucket. A key
   * never refused has no holder: its bucket is reached with no object between.
   */
  private static final class Held {
    final Bucket bucket;
    volatile Denial denial = Denial.FIRST;

    Held(Bucket bucket) {
      this.bucket = bucket;
    }
  }

  /**
   * A refusal of one permit: the decision's reading of the clock ({@code at}), when a refused
   * permit can next be taken and when the bucket is whole again, on the limiter's clock in
   * nanoseconds, compared by difference so that the clock may wrap; unless not {@code known}.
   */
  private record Denial(long at, long until, long resetAt, boolean known) {
    /** Longer waits are not remembered: {@code now + wait} could overflow. */
    static final long LONGEST = Long.MAX_VALUE / 4;

    /** Nothing remembered: a refusal of several permits, or of a wait too long to add. */
    static final Denial FIRST = new Denial(0, 0, 0, false);
  }
}

package dev.bulwark.timeouts;

import dev.bulwark.core.internal.Checks;
import dev.bulwark.core.internal.Meters;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.util.Arrays;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * A cap on retries for one dependency: over a sliding window, retries may be at most {@code ratio}
 * of calls, or {@code minRetriesPerSecond} per second of window, whichever allows more.
 *
 * <p>Without a budget, every caller retrying a dependency that is down multiplies the load on it by
 * the number of attempts, just when it can least take it. With a 10% budget a full outage adds at
 * most 10% to the calls (plus the small floor), while isolated failures are still retried. Share
 * one budget between every {@link Retry} that calls the same dependency.
 *
 * <p>The window is split into ten buckets; a bucket's counts leave the window whole once it is
 * older than the window. Thread-safe: each call takes a short lock.
 *
 * <p>Meters, when a registry is given: counters {@code bulwark.timeouts.retry.budget.calls}, {@code
 * bulwark.timeouts.retry.budget.retries} and {@code bulwark.timeouts.retry.budget.denied}, tagged
 * {@code name}.
 */
public final class RetryBudget {

  /** Default share of calls that may be retries: 0.1 (10%). */
  static final double DEFAULT_RATIO = 0.1;

  /** Default floor: 3 retries per second of window are always allowed. */
  static final int DEFAULT_MIN_RETRIES_PER_SECOND = 3;

  /** Default sliding window: 10 seconds. */
  static final Duration DEFAULT_WINDOW = Duration.ofSeconds(10);

  private static final int BUCKETS = 10;

  private static final String METER_PREFIX = "bulwark.timeouts.retry.budget.";

  private final String name;
  private final double ratio;
  private final long floor;
  private final Ticker ticker;
  private final long bucketNanos;
  private final Object lock = new Object();
  private final long[] epochs = new long[BUCKETS];
  private final long[] calls = new long[BUCKETS];
  private final long[] retries = new long[BUCKETS];
  private final @Nullable Counter callCounter;
  private final @Nullable Counter retryCounter;
  private final @Nullable Counter deniedCounter;

  private RetryBudget(Builder builder) {
    this.name = builder.name;
    this.ratio = Double.isNaN(builder.ratio) ? DEFAULT_RATIO : builder.ratio;
    Duration window = builder.window == null ? DEFAULT_WINDOW : builder.window;
    int perSecond =
        builder.minRetriesPerSecond < 0
            ? DEFAULT_MIN_RETRIES_PER_SECOND
            : builder.minRetriesPerSecond;
    this.floor = (long) Math.ceil(perSecond * (window.toNanos() / 1e9));
    this.ticker = builder.ticker;
    this.bucketNanos = Math.max(1, window.toNanos() / BUCKETS);
    Arrays.fill(epochs, Long.MIN_VALUE);
    MeterRegistry registry = builder.meterRegistry;
    this.callCounter = counter(registry, "calls", "Calls made through the budget");
    this.retryCounter = counter(registry, "retries", "Retries the budget allowed");
    this.deniedCounter = counter(registry, "denied", "Retries the budget refused");
  }

  private @Nullable Counter counter(
      @Nullable MeterRegistry registry, String what, String description) {
    if (registry == null) {
      return null;
    }
    return Counter.builder(METER_PREFIX + what)
        .description(description)
        .tag(Meters.NAME_TAG, name)
        .register(registry);
  }

  /**
   * Returns a builder.
   *
   * @param name the dependency's name, used in metrics; not blank
   * @return a new builder
   * @throws IllegalArgumentException if {@code name} is blank
   */
  public static Builder builder(String name) {
    return new Builder(name);
  }

  /** {@return the name} */
  public String name() {
    return name;
  }

  /**
   * Records a first attempt. {@link Retry} calls this once per call; a hand-written retry loop that
   * shares the budget calls it once per call too, and {@link #tryAcquireRetry()} before each retry.
   */
  public void recordCall() {
    synchronized (lock) {
      calls[bucket(epochNow())]++;
    }
    increment(callCounter);
  }

  /**
   * Takes one retry from the budget if it has room.
   *
   * @return true if the retry may go ahead, false if the budget is spent (the refusal is counted)
   */
  public boolean tryAcquireRetry() {
    boolean allowed;
    synchronized (lock) {
      long epoch = epochNow();
      int current = bucket(epoch);
      allowed = sum(retries, epoch) + 1 <= limit(sum(calls, epoch));
      if (allowed) {
        retries[current]++;
      }
    }
    increment(allowed ? retryCounter : deniedCounter);
    return allowed;
  }

  /**
   * Returns the calls and retries currently in the window.
   *
   * @return a snapshot
   */
  public Snapshot snapshot() {
    synchronized (lock) {
      long epoch = epochNow();
      long windowCalls = sum(calls, epoch);
      return new Snapshot(name, windowCalls, sum(retries, epoch), (long) limit(windowCalls));
    }
  }

  private double limit(long windowCalls) {
    return Math.max(ratio * windowCalls, (double) floor);
  }

  private long epochNow() {
    return Math.floorDiv(ticker.read(), bucketNanos);
  }

  /** {@return the index of the bucket of {@code epoch}, emptied if it held an older epoch} */
  private int bucket(long epoch) {
    int index = (int) Math.floorMod(epoch, (long) BUCKETS);
    if (epochs[index] != epoch) {
      epochs[index] = epoch;
      calls[index] = 0;
      retries[index] = 0;
    }
    return index;
  }

  /** {@return the counts of the buckets still in the window that ends at {@code epoch}} */
  private long sum(long[] counts, long epoch) {
    long sum = 0;
    for (int i = 0; i < BUCKETS; i++) {
      if (epochs[i] > epoch - BUCKETS) {
        sum += counts[i];
      }
    }
    return sum;
  }

  private static void increment(@Nullable Counter counter) {
    if (counter != null) {
      counter.increment();
    }
  }

  @Override
  public String toString() {
    return "RetryBudget[" + name + ", ratio=" + ratio + ", floor=" + floor + "]";
  }

  /**
   * The budget's window at one moment.
   *
   * @param name the budget's name
   * @param calls first attempts in the window
   * @param retries retries allowed in the window
   * @param limit the most retries the window allows now
   */
  public record Snapshot(String name, long calls, long retries, long limit) {}

  /** Configures a {@link RetryBudget}. Each setting may be given once. Not thread-safe. */
  public static final class Builder {
    private final String name;
    private double ratio = Double.NaN;
    private int minRetriesPerSecond = -1;
    private @Nullable Duration window;
    private Ticker ticker = Ticker.system();
    private boolean tickerSet;
    private @Nullable MeterRegistry meterRegistry;

    private Builder(String name) {
      this.name = Checks.notBlank("name", name);
    }

    /**
     * Sets the share of calls that may be retries. Default: 0.1, retries at most 10% of calls.
     *
     * @param ratio in (0, 1]
     * @return this builder
     * @throws IllegalArgumentException if out of range
     * @throws IllegalStateException if already set
     */
    public Builder ratio(double ratio) {
      Checks.requireUnset("ratio", !Double.isNaN(this.ratio), this.ratio);
      if (!(ratio > 0 && ratio <= 1)) {
        throw new IllegalArgumentException(
            Checks.format("ratio must be in (0, 1], but was %s", ratio));
      }
      this.ratio = ratio;
      return this;
    }

    /**
     * Sets the floor: retries per second of window that are always allowed, so a dependency with
     * little traffic still gets its failures retried. Default: 3 retries per second, 30 in the
     * default 10 s window.
     *
     * @param retriesPerSecond between 0 and 100,000
     * @return this builder
     * @throws IllegalArgumentException if out of range
     * @throws IllegalStateException if already set
     */
    public Builder minRetriesPerSecond(int retriesPerSecond) {
      Checks.requireUnset("minRetriesPerSecond", minRetriesPerSecond >= 0, minRetriesPerSecond);
      this.minRetriesPerSecond =
          Checks.between("minRetriesPerSecond", retriesPerSecond, 0, 100_000);
      return this;
    }

    /**
     * Sets the sliding window. Default 10 s.
     *
     * @param window between 1 s and 1 h
     * @return this builder
     * @throws IllegalArgumentException if out of range
     * @throws IllegalStateException if already set
     */
    public Builder window(Duration window) {
      Checks.requireUnset("window", this.window != null, this.window);
      this.window = Checks.between("window", window, Duration.ofSeconds(1), Duration.ofHours(1));
      return this;
    }

    /**
     * Sets the clock. Default {@link Ticker#system()}; tests pass a ticker they advance.
     *
     * @param ticker the clock
     * @return this builder
     * @throws IllegalStateException if already set
     */
    public Builder ticker(Ticker ticker) {
      Checks.requireUnset("ticker", tickerSet, this.ticker);
      this.ticker = Objects.requireNonNull(ticker, "ticker");
      tickerSet = true;
      return this;
    }

    /**
     * Registers the budget's counters in {@code registry}. Default: no meters.
     *
     * @param registry the registry
     * @return this builder
     * @throws IllegalStateException if already set
     */
    public Builder meterRegistry(MeterRegistry registry) {
      Checks.requireUnset("meterRegistry", meterRegistry != null, meterRegistry);
      this.meterRegistry = Objects.requireNonNull(registry, "registry");
      return this;
    }

    /**
     * Builds the budget.
     *
     * @return a new budget
     * @throws IllegalStateException if {@code meterRegistry} already holds the meters of a retry
     *     budget with this name: the two would count into each other's meters
     */
    public RetryBudget build() {
      if (meterRegistry != null) {
        Meters.requireUnused(meterRegistry, METER_PREFIX + "calls", "retry budget", name, "name");
      }
      return new RetryBudget(this);
    }
  }
}

package dev.bulwark.ratelimit;

import dev.bulwark.core.internal.Checks;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.StringJoiner;
import java.util.function.LongSupplier;
import org.jspecify.annotations.Nullable;

/**
 * Builds a {@link RedisRateLimiter}: buckets in Redis, shared by every instance that builds a
 * limiter of the same {@code name} and {@code prefix} on the same server or cluster. Obtain one
 * with {@link RateLimiter#redis(io.lettuce.core.RedisClient)}; {@code limits} is required.
 *
 * <p>Defaults: a command timeout of 100 ms, {@link FailurePolicy#LOCAL_FALLBACK} with one expected
 * instance, a cache of 10,000 denied keys, no batches.
 *
 * <p>Not thread-safe; the limiter it builds is. Each setting may be given once.
 */
public final class RedisLimiterBuilder {
  static final Duration DEFAULT_TIMEOUT = Duration.ofMillis(100);
  static final Duration MAX_TIMEOUT = Duration.ofSeconds(10);
  static final int MAX_INSTANCES = 10_000;
  static final long DEFAULT_DENIED_CACHE = 10_000;
  static final long MAX_DENIED_CACHE = 10_000_000;
  static final Duration MAX_HOLD = Duration.ofMinutes(1);
  static final String DEFAULT_PREFIX = "bulwark";

  final LimiterSettings settings = new LimiterSettings();
  final RedisConnector connector;
  String prefix = DEFAULT_PREFIX;
  private boolean prefixSet;
  Duration commandTimeout = DEFAULT_TIMEOUT;
  private boolean timeoutSet;
  FailurePolicy policy = FailurePolicy.LOCAL_FALLBACK;
  private boolean policySet;
  int expectedInstances = 1;
  private boolean instancesSet;
  long deniedCacheSize = DEFAULT_DENIED_CACHE;
  private boolean deniedCacheSet;
  long batch;
  @Nullable Duration maxHold;
  @Nullable LongSupplier serverMicros;

  RedisLimiterBuilder(RedisConnector connector) {
    this.connector = connector;
  }

  /**
   * The limiter's name: the {@code name} tag of its meters and part of its Redis keys. Instances
   * that share a name share their buckets.
   *
   * @param name 1 to 63 letters, digits, {@code '.'}, {@code '_'} or {@code '-'}; default {@code
   *     "default"}
   * @return this builder
   * @throws IllegalArgumentException if the name is not of that form
   * @throws IllegalStateException if the name was already set
   */
  public RedisLimiterBuilder name(String name) {
    settings.name(name);
    return this;
  }

  /**
   * The limits, as a string: {@code "10/second;1000/hour"} (see {@link Limit#parse(String)}).
   * Required, in this form or as {@link #limits(List)}.
   *
   * @param limits 1 to 8 limits, none repeated, each exact in the script's arithmetic
   * @return this builder
   * @throws IllegalArgumentException if the text does not parse, naming the token and its position
   * @throws IllegalStateException if the limits were already set
   */
  public RedisLimiterBuilder limits(String limits) {
    settings.limits(limits);
    return this;
  }

  /**
   * The limits, as values.
   *
   * @param limits 1 to 8 limits, none repeated, each exact in the script's arithmetic
   * @return this builder
   * @throws IllegalArgumentException if there are none, more than 8, or one is repeated
   * @throws IllegalStateException if the limits were already set
   */
  public RedisLimiterBuilder limits(List<Limit> limits) {
    settings.limits(limits);
    return this;
  }

  /**
   * Registers the limiter's meters there: {@code bulwark.ratelimit.decisions} by {@code outcome},
   * {@code bulwark.ratelimit.redis.errors} by {@code kind} ({@code timeout}: no answer within the
   * command timeout, or within the client's own when that is shorter; {@code error}: any other
   * failure), {@code bulwark.ratelimit.denied.cache.hits}, {@code bulwark.ratelimit.keys}, and with
   * batches {@code bulwark.ratelimit.batch.permits} by {@code state} ({@code leased}, {@code
   * returned}, {@code lost}), all tagged {@code name}. None by default.
   *
   * @param registry the registry
   * @return this builder
   * @throws IllegalStateException if a registry was already set
   */
  public RedisLimiterBuilder meterRegistry(MeterRegistry registry) {
    settings.meterRegistry(registry);
    return this;
  }

  /**
   * Shadow mode: decide and count, but admit every request; a request the limits would deny is
   * {@link Outcome#SHADOW_DENIED} and takes no permit. Off by default.
   *
   * @param shadow whether to run in shadow mode
   * @return this builder
   * @throws IllegalStateException if shadow mode was already set
   */
  public RedisLimiterBuilder shadow(boolean shadow) {
    settings.shadow(shadow);
    return this;
  }

  /**
   * The most keys whose local state (fallback buckets, batches) this instance holds at once.
   *
   * @param maxKeys 1 to 100,000,000; default 100,000
   * @return this builder
   * @throws IllegalArgumentException if outside that range
   * @throws IllegalStateException if it was already set
   */
  public RedisLimiterBuilder maxKeys(long maxKeys) {
    settings.maxKeys(maxKeys);
    return this;
  }

  /**
   * The first part of every Redis key: {@code <prefix>:rl:<name>:{<key>}:<limit>} (with the key's
   * SHA-256 digest in the braces for a key holding a brace).
   *
   * @param prefix 1 to 63 letters, digits, {@code '.'}, {@code '_'} or {@code '-'}; default {@code
   *     "bulwark"}
   * @return this builder
   * @throws IllegalArgumentException if the prefix is not of that form
   * @throws IllegalStateException if the prefix was already set
   */
  public RedisLimiterBuilder prefix(String prefix) {
    Checks.requireUnset("prefix", prefixSet, this.prefix);
    this.prefix = Checks.identifier("prefix", prefix);
    prefixSet = true;
    return this;
  }

  /**
   * How long a decision waits for Redis before it follows the failure policy. Keep it small: it is
   * added to a request's latency whenever Redis is slow.
   *
   * @param timeout 1 ms to 10 s; default 100 ms
   * @return this builder
   * @throws IllegalArgumentException if outside that range
   * @throws IllegalStateException if it was already set
   */
  public RedisLimiterBuilder commandTimeout(Duration timeout) {
    Checks.requireUnset("commandTimeout", timeoutSet, this.commandTimeout);
    this.commandTimeout =
        Checks.between("commandTimeout", timeout, Duration.ofMillis(1), MAX_TIMEOUT);
    timeoutSet = true;
    return this;
  }

  /**
   * What a decision answers when Redis fails or does not answer within the command timeout.
   *
   * @param policy the policy; default {@link FailurePolicy#LOCAL_FALLBACK}
   * @return this builder
   * @throws IllegalStateException if it was already set
   */
  public RedisLimiterBuilder onRedisFailure(FailurePolicy policy) {
    Objects.requireNonNull(policy, "onRedisFailure");
    Checks.requireUnset("onRedisFailure", policySet, this.policy);
    this.policy = policy;
    policySet = true;
    return this;
  }

  /**
   * How many instances share the limits, for {@link FailurePolicy#LOCAL_FALLBACK}: each instance's
   * fallback limits are the limits divided by it, rounded up, so that the instances together admit
   * about the limits while Redis is away.
   *
   * @param instances 1 to 10,000; default 1 (each instance falls back to the whole limits)
   * @return this builder
   * @throws IllegalArgumentException if outside that range
   * @throws IllegalStateException if it was already set
   */
  public RedisLimiterBuilder expectedInstances(int instances) {
    Checks.requireUnset("expectedInstances", instancesSet, this.expectedInstances);
    this.expectedInstances = Checks.between("expectedInstances", instances, 1, MAX_INSTANCES);
    instancesSet = true;
    return this;
  }

  /**
   * The most keys remembered as denied. A key denied until some time is answered here, without a
   * Redis call, until then: a flood from one client does not reach Redis. 0 turns the cache off.
   *
   * @param size 0 to 10,000,000; default 10,000
   * @return this builder
   * @throws IllegalArgumentException if outside that range
   * @throws IllegalStateException if it was already set
   */
  public RedisLimiterBuilder deniedCacheSize(long size) {
    Checks.requireUnset("deniedCacheSize", deniedCacheSet, this.deniedCacheSize);
    this.deniedCacheSize = Checks.between("deniedCacheSize", size, 0, MAX_DENIED_CACHE);
    deniedCacheSet = true;
    return this;
  }

  /**
   * Batch mode, for a key hotter than one Redis shard can decide (some tens of thousands of script
   * calls per second): a decision that finds no batch for its key takes up to {@code permits}
   * permits in its round trip, and the next decisions of the key on this instance spend them
   * without Redis, until they run out or {@code maxHold} passes. The limits are never exceeded,
   * since every permit admitted was taken from Redis; what it costs is that permits held by one
   * instance are not available to the others: at any moment at most {@code instances * permits}
   * permits of a key are held unspent, each for at most {@code maxHold}, after which it is dropped
   * and counted in {@code bulwark.ratelimit.batch.permits{state=unspent}}. Off by default.
   *
   * @param permits 2 to the smallest burst of the limits
   * @param maxHold how long a batch may be spent from, 1 ms to 1 min
   * @return this builder
   * @throws IllegalArgumentException if a value is outside its range
   * @throws IllegalStateException if batches were already set
   */
  public RedisLimiterBuilder batch(long permits, Duration maxHold) {
    Checks.requireUnset("batch", this.maxHold);
    Checks.between("batch", permits, 2, Limit.MAX_PERMITS);
    this.maxHold = Checks.between("maxHold", maxHold, Duration.ofMillis(1), MAX_HOLD);
    this.batch = permits;
    return this;
  }

  /** For tests: the time the script reads instead of the server's, in microseconds. */
  RedisLimiterBuilder serverMicros(LongSupplier micros) {
    this.serverMicros = Objects.requireNonNull(micros, "serverMicros");
    return this;
  }

  /** For tests: the local clock of the denied cache, the batches and the fallback. */
  RedisLimiterBuilder nanoTime(LongSupplier nanoTime) {
    settings.nanoTime(nanoTime);
    return this;
  }

  /**
   * Builds the limiter and opens its connection.
   *
   * @return a new limiter
   * @throws IllegalArgumentException if a limit is not exact in the script's arithmetic (its
   *     numbers reach 2^53: a period that does not divide into the permits, such as 999,999,937 per
   *     day, with a large burst), or the batch exceeds the smallest burst
   * @throws IllegalStateException if the limits are not set, or the registry already holds the
   *     meters of a limiter of this name
   * @throws io.lettuce.core.RedisException if the connection cannot be opened; no meter is then
   *     left in the registry, so the same build may be retried
   */
  public RedisRateLimiter build() {
    List<Limit> limits = settings.requireLimits();
    if (maxHold != null && batch > LimiterSettings.smallestBurst(limits)) {
      throw Checks.invalid(
          "batch must be between 2 and %d (the smallest burst of the limits), but was %d",
          LimiterSettings.smallestBurst(limits), batch);
    }
    return new RedisRateLimiter(this, limits);
  }

  /**
   * The settings given, for logs.
   *
   * @return {@code RedisLimiterBuilder[name=..., limits=..., ...]}
   */
  @Override
  public String toString() {
    StringJoiner out = new StringJoiner(", ", "RedisLimiterBuilder[", "]");
    settings.describe(out);
    describe(out);
    return out.toString();
  }

  void describe(StringJoiner out) {
    Checks.addSetting(out, "prefix", prefixSet ? prefix : null);
    Checks.addSetting(out, "commandTimeout", timeoutSet ? commandTimeout : null);
    Checks.addSetting(out, "onRedisFailure", policySet ? policy : null);
    Checks.addSetting(out, "expectedInstances", instancesSet ? expectedInstances : null);
    Checks.addSetting(out, "deniedCacheSize", deniedCacheSet ? deniedCacheSize : null);
    Checks.addSetting(
        out, "batch", maxHold == null ? null : batch + " per " + Checks.duration(maxHold));
  }
}

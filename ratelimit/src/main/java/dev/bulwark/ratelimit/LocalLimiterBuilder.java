package dev.bulwark.ratelimit;

import io.micrometer.core.instrument.MeterRegistry;
import java.util.List;
import java.util.StringJoiner;
import java.util.function.LongSupplier;

/**
 * Builds a {@link RateLimiter} that keeps one Bucket4j bucket per key in this process, in a bounded
 * map. Obtain one with {@link RateLimiter#local()}; {@code limits} is required.
 *
 * <p>The map holds at most {@code maxKeys} buckets; a bucket unused for as long as its limits take
 * to refill entirely is dropped, since a new bucket is the same as a full one. When more keys than
 * {@code maxKeys} are active, the least used buckets are dropped early, and their keys start again
 * with full buckets: a bound on memory that can admit more than the limits for those keys, counted
 * in {@code bulwark.ratelimit.keys.evicted}.
 *
 * <p>Not thread-safe; the limiter it builds is. Each setting may be given once.
 */
public final class LocalLimiterBuilder {
  final LimiterSettings settings = new LimiterSettings();

  LocalLimiterBuilder() {}

  /**
   * The limiter's name, the {@code name} tag of its meters.
   *
   * @param name 1 to 63 letters, digits, {@code '.'}, {@code '_'} or {@code '-'}; default {@code
   *     "default"}
   * @return this builder
   * @throws IllegalArgumentException if the name is not of that form
   * @throws IllegalStateException if the name was already set
   */
  public LocalLimiterBuilder name(String name) {
    settings.name(name);
    return this;
  }

  /**
   * The limits, as a string: {@code "10/second;1000/hour"} (see {@link Limit#parse(String)}).
   * Required, in this form or as {@link #limits(List)}.
   *
   * @param limits 1 to 8 limits, none repeated
   * @return this builder
   * @throws IllegalArgumentException if the text does not parse, naming the token and its position
   * @throws IllegalStateException if the limits were already set
   */
  public LocalLimiterBuilder limits(String limits) {
    settings.limits(limits);
    return this;
  }

  /**
   * The limits, as values.
   *
   * @param limits 1 to 8 limits, none repeated
   * @return this builder
   * @throws IllegalArgumentException if there are none, more than 8, or one is repeated
   * @throws IllegalStateException if the limits were already set
   */
  public LocalLimiterBuilder limits(List<Limit> limits) {
    settings.limits(limits);
    return this;
  }

  /**
   * Registers the limiter's meters there: {@code bulwark.ratelimit.decisions} by {@code outcome},
   * {@code bulwark.ratelimit.keys} and {@code bulwark.ratelimit.keys.evicted}, tagged {@code name}.
   * None by default.
   *
   * @param registry the registry
   * @return this builder
   * @throws IllegalStateException if a registry was already set
   */
  public LocalLimiterBuilder meterRegistry(MeterRegistry registry) {
    settings.meterRegistry(registry);
    return this;
  }

  /**
   * Shadow mode: decide and count, but admit every request; a request the limits would deny is
   * {@link Outcome#SHADOW_DENIED}. For trying limits out on live traffic. Off by default.
   *
   * @param shadow whether to run in shadow mode
   * @return this builder
   * @throws IllegalStateException if shadow mode was already set
   */
  public LocalLimiterBuilder shadow(boolean shadow) {
    settings.shadow(shadow);
    return this;
  }

  /**
   * The most keys whose buckets are held at once.
   *
   * @param maxKeys 1 to 100,000,000; default 100,000
   * @return this builder
   * @throws IllegalArgumentException if outside that range
   * @throws IllegalStateException if it was already set
   */
  public LocalLimiterBuilder maxKeys(long maxKeys) {
    settings.maxKeys(maxKeys);
    return this;
  }

  /** For tests: the clock the buckets refill on, in nanoseconds. */
  LocalLimiterBuilder nanoTime(LongSupplier nanoTime) {
    settings.nanoTime(nanoTime);
    return this;
  }

  /**
   * Builds the limiter.
   *
   * @return a new limiter
   * @throws IllegalStateException if the limits are not set, or the registry already holds the
   *     meters of a limiter of this name
   */
  public RateLimiter build() {
    return new LocalRateLimiter(settings, settings.requireLimits(), true);
  }

  /**
   * The settings given, for logs.
   *
   * @return {@code LocalLimiterBuilder[name=..., limits=..., ...]}
   */
  @Override
  public String toString() {
    StringJoiner out = new StringJoiner(", ", "LocalLimiterBuilder[", "]");
    settings.describe(out);
    return out.toString();
  }
}

package dev.bulwark.ratelimit;

import dev.bulwark.core.internal.Checks;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.StringJoiner;
import java.util.function.LongSupplier;
import org.jspecify.annotations.Nullable;

/** The settings both kinds of limiter share, checked as they are given. Not thread-safe. */
final class LimiterSettings {
  static final String DEFAULT_NAME = "default";
  static final int MAX_LIMITS = 8;
  static final long DEFAULT_MAX_KEYS = 100_000;
  static final long MAX_MAX_KEYS = 100_000_000;

  String name = DEFAULT_NAME;
  boolean nameSet;
  @Nullable List<Limit> limits;
  @Nullable MeterRegistry registry;
  boolean shadow;
  boolean shadowSet;
  long maxKeys = DEFAULT_MAX_KEYS;
  boolean maxKeysSet;
  @Nullable LongSupplier nanoTime;

  void name(String name) {
    Checks.requireUnset("name", nameSet, this.name);
    this.name = Checks.identifier("name", name);
    nameSet = true;
  }

  void limits(String text) {
    limits(Limit.parse(text));
  }

  void limits(List<Limit> limits) {
    Objects.requireNonNull(limits, "limits");
    List<Limit> current = this.limits;
    Checks.requireUnset("limits", current != null, current == null ? null : format(current));
    if (limits.isEmpty() || limits.size() > MAX_LIMITS) {
      throw Checks.invalid(
          "limits must hold 1 to %d limits, but held %d", MAX_LIMITS, limits.size());
    }
    Set<Limit> seen = new HashSet<>();
    for (Limit limit : limits) {
      Objects.requireNonNull(limit, "limits holds a null");
      if (!seen.add(limit)) {
        throw Checks.invalid("limits must not repeat a limit, but %s is given twice", limit);
      }
    }
    this.limits = List.copyOf(new ArrayList<>(limits));
  }

  void meterRegistry(MeterRegistry registry) {
    Objects.requireNonNull(registry, "meterRegistry");
    Checks.requireUnset("meterRegistry", this.registry);
    this.registry = registry;
  }

  void shadow(boolean shadow) {
    Checks.requireUnset("shadow", shadowSet, this.shadow);
    this.shadow = shadow;
    shadowSet = true;
  }

  void maxKeys(long maxKeys) {
    Checks.requireUnset("maxKeys", maxKeysSet, this.maxKeys);
    this.maxKeys = Checks.between("maxKeys", maxKeys, 1, MAX_MAX_KEYS);
    maxKeysSet = true;
  }

  void nanoTime(LongSupplier nanoTime) {
    this.nanoTime = Objects.requireNonNull(nanoTime, "nanoTime");
  }

  /** The limits, which {@code build()} requires. */
  List<Limit> requireLimits() {
    List<Limit> given = limits;
    if (given == null) {
      throw new IllegalStateException(
          "limits must be set, as a string such as \"100/minute\" or as Limit values");
    }
    return given;
  }

  LongSupplier clock() {
    LongSupplier given = nanoTime;
    return given == null ? System::nanoTime : given;
  }

  void describe(StringJoiner out) {
    out.add("name=" + name);
    Checks.addSetting(out, "limits", limits == null ? null : format(limits));
    Checks.addSetting(out, "shadow", shadowSet ? shadow : null);
    Checks.addSetting(out, "maxKeys", maxKeysSet ? maxKeys : null);
  }

  static String format(List<Limit> limits) {
    StringJoiner out = new StringJoiner(";");
    for (Limit limit : limits) {
      out.add(limit.toString());
    }
    return out.toString();
  }

  /** The smallest burst: the most permits one request may ask for. */
  static long smallestBurst(List<Limit> limits) {
    long least = Long.MAX_VALUE;
    for (Limit limit : limits) {
      least = Math.min(least, limit.burst());
    }
    return least;
  }

  /** Shadow mode: a decision that would deny admits, as {@link Outcome#SHADOW_DENIED}. */
  static Decision shadowed(Decision decision) {
    return decision.allowed() ? decision : decision.withOutcome(Outcome.SHADOW_DENIED);
  }

  static void checkKey(String key) {
    Objects.requireNonNull(key, "key");
    if (key.isEmpty() || key.length() > RateLimiter.MAX_KEY_LENGTH) {
      throw Checks.invalid(
          "key must be 1 to %d characters, but was %d characters",
          RateLimiter.MAX_KEY_LENGTH, key.length());
    }
  }

  static void checkPermits(long permits, long smallestBurst) {
    if (permits < 1 || permits > smallestBurst) {
      throw Checks.invalid(
          "permits must be between 1 and %d (the smallest burst of the limits), but was %d",
          smallestBurst, permits);
    }
  }
}

package dev.bulwark.timeouts;

import java.time.Duration;
import java.util.Locale;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/** Argument checks whose messages name the setting, the rule and the value. */
final class Checks {
  private Checks() {}

  /** Checks a name used in metrics and thread names. */
  static String name(String name) {
    Objects.requireNonNull(name, "name");
    if (name.isBlank()) {
      throw new IllegalArgumentException("name must not be blank, but was \"" + name + "\"");
    }
    return name;
  }

  static Duration positive(String setting, Duration value) {
    Objects.requireNonNull(value, setting);
    if (value.isNegative() || value.isZero()) {
      throw new IllegalArgumentException(
          format("%s must be positive, but was %s", setting, describe(value)));
    }
    return value;
  }

  static Duration notNegative(String setting, Duration value) {
    Objects.requireNonNull(value, setting);
    if (value.isNegative()) {
      throw new IllegalArgumentException(
          format("%s must not be negative, but was %s", setting, describe(value)));
    }
    return value;
  }

  static int between(String setting, int value, int minimum, int maximum) {
    if (value < minimum || value > maximum) {
      throw new IllegalArgumentException(
          format("%s must be between %d and %d, but was %d", setting, minimum, maximum, value));
    }
    return value;
  }

  static void requireUnset(String setting, boolean isSet, @Nullable Object current) {
    if (isSet) {
      Object shown = current instanceof Duration ? describe((Duration) current) : current;
      throw new IllegalStateException(format("%s was already set to %s", setting, shown));
    }
  }

  static String describe(Duration value) {
    long nanos = saturatedNanos(value);
    if (nanos % 1_000_000 != 0) {
      return nanos + " ns";
    }
    return (nanos / 1_000_000) + " ms";
  }

  static long saturatedNanos(Duration value) {
    try {
      return value.toNanos();
    } catch (ArithmeticException e) {
      return value.isNegative() ? Long.MIN_VALUE : Long.MAX_VALUE;
    }
  }

  static String format(String pattern, @Nullable Object... args) {
    return String.format(Locale.ROOT, pattern, args);
  }
}

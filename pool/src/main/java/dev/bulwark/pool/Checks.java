package dev.bulwark.pool;

import java.math.BigDecimal;
import java.time.Duration;
import java.util.Locale;
import java.util.StringJoiner;
import org.jspecify.annotations.Nullable;

/**
 * Argument checks and the message texts they produce. Every message has the form {@code "<setting>
 * must be <rule>, but was <value> <unit>"}; the texts are part of the API and tests assert them.
 */
final class Checks {
  private Checks() {}

  /** Formats a duration in milliseconds, with a fraction only when it has one: "1500 ms". */
  static String millis(Duration value) {
    return decimal(value, 3) + " ms";
  }

  /** Formats a duration in seconds, with a fraction only when it has one: "30 s", "1.5 s". */
  static String seconds(Duration value) {
    return decimal(value, 0) + " s";
  }

  private static String decimal(Duration value, int shift) {
    BigDecimal exact =
        BigDecimal.valueOf(value.getSeconds()).add(BigDecimal.valueOf(value.getNano(), 9));
    BigDecimal shifted = exact.movePointRight(shift).stripTrailingZeros();
    return shifted.scale() < 0 ? shifted.setScale(0).toPlainString() : shifted.toPlainString();
  }

  /** Throws IAE unless {@code min <= value <= max}; the message is in milliseconds. */
  static Duration millisBetween(String setting, Duration value, Duration min, Duration max) {
    if (value.compareTo(min) < 0 || value.compareTo(max) > 0) {
      throw new IllegalArgumentException(
          format(
              "%s must be between %s and %s, but was %s",
              setting, millis(min), millis(max), millis(value)));
    }
    return value;
  }

  /** Throws IAE unless the value is a whole number of seconds with {@code min <= value <= max}. */
  static Duration wholeSecondsBetween(String setting, Duration value, Duration min, Duration max) {
    if (value.toNanosPart() != 0 || value.compareTo(min) < 0 || value.compareTo(max) > 0) {
      throw new IllegalArgumentException(
          format(
              "%s must be a whole number of seconds between %s and %s, but was %s",
              setting, seconds(min), seconds(max), seconds(value)));
    }
    return value;
  }

  /** Throws IAE unless {@code min <= value <= max}. */
  static int intBetween(String setting, int value, int min, int max) {
    if (value < min || value > max) {
      throw new IllegalArgumentException(
          format("%s must be between %d and %d, but was %d", setting, min, max, value));
    }
    return value;
  }

  /** Adds {@code name=value} for a setting that was given, durations in milliseconds. */
  static void addSetting(StringJoiner out, String name, @Nullable Object value) {
    if (value instanceof Duration) {
      out.add(name + "=" + millis((Duration) value));
    } else if (value != null) {
      out.add(name + "=" + value);
    }
  }

  /** Throws ISE if a duration setting was given before, showing it in milliseconds. */
  static void unset(String setting, @Nullable Duration current) {
    if (current != null) {
      throw new IllegalStateException(format("%s was already set to %s", setting, millis(current)));
    }
  }

  /** Throws ISE if a setting was given before: {@code "<setting> was already set to <value>"}. */
  static void unset(String setting, @Nullable Object current, String shown) {
    if (current != null) {
      throw new IllegalStateException(format("%s was already set to %s", setting, shown));
    }
  }

  /** Throws IAE with a message built by {@link #format}. */
  static IllegalArgumentException invalid(String pattern, Object... args) {
    return new IllegalArgumentException(format(pattern, args));
  }

  static String format(String pattern, Object... args) {
    return String.format(Locale.ROOT, pattern, args);
  }

  /**
   * Throws IAE unless the name is 1 to 63 characters of letters, digits, '.', '_' or '-' (63: what
   * PostgreSQL keeps of an {@code application_name}).
   */
  static String name(String setting, String value) {
    if (!value.matches("[A-Za-z0-9._-]{1,63}")) {
      throw invalid(
          "%s must be 1 to 63 letters, digits, '.', '_' or '-', but was \"%s\"", setting, value);
    }
    return value;
  }
}

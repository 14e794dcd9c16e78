package dev.bulwark.core.internal;

import java.math.BigDecimal;
import java.time.Duration;
import java.util.Locale;
import java.util.Objects;
import java.util.StringJoiner;
import org.jspecify.annotations.Nullable;

/**
 * Setting checks and the texts they produce, for every module. A bad value is an {@link
 * IllegalArgumentException} of the form {@code "<setting> must be <rule>, but was <value> <unit>"};
 * a setting given twice is an {@link IllegalStateException} {@code "<setting> was already set to
 * <value>"}. The texts are API: tests assert them, and users match on them.
 *
 * <p>Durations are shown in one format, {@link #duration(Duration)}: milliseconds, exact to the
 * microsecond ({@code "1500 ms"}, {@code "0.5 ms"}), and nanoseconds only for a finer value ({@code
 * "-1 ns"}). A setting that is counted in whole seconds shows {@link #seconds(Duration)} instead.
 * Every text is formatted with {@link Locale#ROOT}.
 *
 * <p>Internal: not part of the API. Stateless and thread-safe.
 */
public final class Checks {
  private static final long NANOS_PER_MICRO = 1_000;

  private Checks() {}

  /**
   * Formats a duration in milliseconds, with a fraction only when it has one, or in nanoseconds
   * when it is not a whole number of microseconds.
   *
   * @param value the duration
   * @return {@code "1500 ms"}, {@code "0.25 ms"} or {@code "1 ns"}
   */
  public static String duration(Duration value) {
    if (value.toNanosPart() % NANOS_PER_MICRO != 0) {
      return decimal(value, 9) + " ns";
    }
    return decimal(value, 3) + " ms";
  }

  /**
   * Formats a duration in seconds, with a fraction only when it has one.
   *
   * @param value the duration
   * @return {@code "30 s"} or {@code "1.5 s"}
   */
  public static String seconds(Duration value) {
    return decimal(value, 0) + " s";
  }

  private static String decimal(Duration value, int shift) {
    BigDecimal exact =
        BigDecimal.valueOf(value.getSeconds()).add(BigDecimal.valueOf(value.toNanosPart(), 9));
    BigDecimal shifted = exact.movePointRight(shift).stripTrailingZeros();
    return shifted.scale() < 0 ? shifted.setScale(0).toPlainString() : shifted.toPlainString();
  }

  /**
   * The duration in nanoseconds, saturated at {@link Long#MIN_VALUE} and {@link Long#MAX_VALUE}
   * (about 292 years) instead of overflowing.
   *
   * @param value the duration
   * @return its length in nanoseconds, saturated
   */
  public static long saturatedNanos(Duration value) {
    try {
      return value.toNanos();
    } catch (ArithmeticException e) {
      return value.isNegative() ? Long.MIN_VALUE : Long.MAX_VALUE;
    }
  }

  /**
   * Checks that a duration is greater than zero.
   *
   * @param setting the setting's name, as the user writes it
   * @param value the value given
   * @return {@code value}
   * @throws NullPointerException if {@code value} is null, naming the setting
   * @throws IllegalArgumentException {@code "<setting> must be positive, but was <value>"}
   */
  public static Duration positive(String setting, Duration value) {
    Objects.requireNonNull(value, setting);
    if (value.isNegative() || value.isZero()) {
      throw invalid("%s must be positive, but was %s", setting, duration(value));
    }
    return value;
  }

  /**
   * Checks that a duration is zero or more.
   *
   * @param setting the setting's name
   * @param value the value given
   * @return {@code value}
   * @throws NullPointerException if {@code value} is null, naming the setting
   * @throws IllegalArgumentException {@code "<setting> must not be negative, but was <value>"}
   */
  public static Duration notNegative(String setting, Duration value) {
    Objects.requireNonNull(value, setting);
    if (value.isNegative()) {
      throw invalid("%s must not be negative, but was %s", setting, duration(value));
    }
    return value;
  }

  /**
   * Checks that {@code min <= value <= max}, both bounds included.
   *
   * @param setting the setting's name
   * @param value the value given
   * @param min the smallest accepted value
   * @param max the largest accepted value
   * @return {@code value}
   * @throws NullPointerException if {@code value} is null, naming the setting
   * @throws IllegalArgumentException {@code "<setting> must be between <min> and <max>, but was
   *     <value>"}, all in {@link #duration(Duration)} form
   */
  public static Duration between(String setting, Duration value, Duration min, Duration max) {
    Objects.requireNonNull(value, setting);
    if (value.compareTo(min) < 0 || value.compareTo(max) > 0) {
      throw invalid(
          "%s must be between %s and %s, but was %s",
          setting, duration(min), duration(max), duration(value));
    }
    return value;
  }

  /**
   * Checks that the value is a whole number of seconds with {@code min <= value <= max}, for
   * settings that a server or socket option counts in seconds.
   *
   * @param setting the setting's name
   * @param value the value given
   * @param min the smallest accepted value, a whole number of seconds
   * @param max the largest accepted value, a whole number of seconds
   * @return {@code value}
   * @throws NullPointerException if {@code value} is null, naming the setting
   * @throws IllegalArgumentException {@code "<setting> must be a whole number of seconds between
   *     <min> and <max>, but was <value>"}, in {@link #seconds(Duration)} form
   */
  public static Duration wholeSecondsBetween(
      String setting, Duration value, Duration min, Duration max) {
    Objects.requireNonNull(value, setting);
    if (value.toNanosPart() != 0 || value.compareTo(min) < 0 || value.compareTo(max) > 0) {
      throw invalid(
          "%s must be a whole number of seconds between %s and %s, but was %s",
          setting, seconds(min), seconds(max), seconds(value));
    }
    return value;
  }

  /**
   * Checks that {@code min <= value <= max}, both bounds included.
   *
   * @param setting the setting's name
   * @param value the value given
   * @param min the smallest accepted value
   * @param max the largest accepted value
   * @return {@code value}
   * @throws IllegalArgumentException {@code "<setting> must be between <min> and <max>, but was
   *     <value>"}
   */
  public static int between(String setting, int value, int min, int max) {
    if (value < min || value > max) {
      throw invalid("%s must be between %d and %d, but was %d", setting, min, max, value);
    }
    return value;
  }

  /**
   * Checks that {@code min <= value <= max}, both bounds included.
   *
   * @param setting the setting's name
   * @param value the value given
   * @param min the smallest accepted value
   * @param max the largest accepted value
   * @return {@code value}
   * @throws IllegalArgumentException {@code "<setting> must be between <min> and <max>, but was
   *     <value>"}
   */
  public static long between(String setting, long value, long min, long max) {
    if (value < min || value > max) {
      throw invalid("%s must be between %d and %d, but was %d", setting, min, max, value);
    }
    return value;
  }

  /**
   * Checks that a name is not blank.
   *
   * @param setting the setting's name, usually {@code "name"}
   * @param value the name given
   * @return {@code value}
   * @throws NullPointerException if {@code value} is null, naming the setting
   * @throws IllegalArgumentException {@code "<setting> must not be blank, but was "<value>""}
   */
  public static String notBlank(String setting, String value) {
    Objects.requireNonNull(value, setting);
    if (value.isBlank()) {
      throw invalid("%s must not be blank, but was \"%s\"", setting, value);
    }
    return value;
  }

  /**
   * Checks that a name is 1 to 63 letters, digits, {@code '.'}, {@code '_'} or {@code '-'}: safe in
   * a thread name, a meter tag and a PostgreSQL {@code application_name} (which keeps 63 bytes).
   *
   * @param setting the setting's name
   * @param value the name given
   * @return {@code value}
   * @throws NullPointerException if {@code value} is null, naming the setting
   * @throws IllegalArgumentException {@code "<setting> must be 1 to 63 letters, digits, '.', '_' or
   *     '-', but was "<value>""}
   */
  public static String identifier(String setting, String value) {
    Objects.requireNonNull(value, setting);
    if (!value.matches("[A-Za-z0-9._-]{1,63}")) {
      throw invalid(
          "%s must be 1 to 63 letters, digits, '.', '_' or '-', but was \"%s\"", setting, value);
    }
    return value;
  }

  /**
   * Throws unless a setting is still unset, so that a setting given twice is caught instead of the
   * second value silently winning.
   *
   * @param setting the setting's name
   * @param isSet whether it was given before
   * @param current its current value, shown in the message ({@link #duration(Duration)} form for a
   *     duration)
   * @throws IllegalStateException {@code "<setting> was already set to <current>"}
   */
  public static void requireUnset(String setting, boolean isSet, @Nullable Object current) {
    if (isSet) {
      throw new IllegalStateException(
          format("%s was already set to %s", setting, describe(current)));
    }
  }

  /**
   * Throws unless a setting whose unset value is {@code null} is still unset.
   *
   * @param setting the setting's name
   * @param current its current value, {@code null} when unset
   * @throws IllegalStateException {@code "<setting> was already set to <current>"}
   */
  public static void requireUnset(String setting, @Nullable Object current) {
    requireUnset(setting, current != null, current);
  }

  /**
   * Adds {@code name=value} to a builder's {@code toString} for a setting that was given; an unset
   * ({@code null}) setting adds nothing, so the text shows only what the user set.
   *
   * @param out the text being built
   * @param name the setting's name
   * @param value its value, or {@code null} when unset; a duration in {@link #duration(Duration)}
   *     form
   */
  public static void addSetting(StringJoiner out, String name, @Nullable Object value) {
    if (value != null) {
      out.add(name + "=" + describe(value));
    }
  }

  private static String describe(@Nullable Object value) {
    return value instanceof Duration ? duration((Duration) value) : String.valueOf(value);
  }

  /**
   * An {@link IllegalArgumentException} with a message from {@link #format}.
   *
   * @param pattern a {@link String#format} pattern
   * @param args its arguments
   * @return the exception, to be thrown by the caller
   */
  public static IllegalArgumentException invalid(String pattern, @Nullable Object... args) {
    return new IllegalArgumentException(format(pattern, args));
  }

  /**
   * {@link String#format} with {@link Locale#ROOT}, so that messages read the same everywhere.
   *
   * @param pattern the pattern
   * @param args its arguments
   * @return the text
   */
  public static String format(String pattern, @Nullable Object... args) {
    return String.format(Locale.ROOT, pattern, args);
  }
}

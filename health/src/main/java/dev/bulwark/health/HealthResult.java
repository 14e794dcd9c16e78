package dev.bulwark.health;

import dev.bulwark.core.internal.Checks;
import java.time.Duration;
import java.time.Instant;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * What one health check found: a status, the measured value and its unit, a text for a non-pass
 * status, details, and when and how long the check ran. The fields map onto the IETF health-check
 * draft's check object ({@code status}, {@code observedValue}, {@code observedUnit}, {@code
 * componentType}, {@code output}, {@code time}) and MicroProfile Health's {@code data}.
 *
 * <pre>{@code
 * HealthResult.pass().withObserved(42, "ms").withComponentType("datastore")
 * HealthResult.warn("queue is 91% full").withObserved(91.0, "%").withDetail("depth", 9100)
 * }</pre>
 *
 * <p>Values (the observed value and every detail) are numbers, strings or booleans: the JSON
 * outputs write them as such. Immutable; the {@code with} methods return a copy. A number that can
 * change, such as an {@code AtomicLong} or a {@code LongAdder}, is read once, when the result is
 * made.
 *
 * @param status the status
 * @param observedValue the measured value: a {@link Number}, {@link String} or {@link Boolean}, or
 *     null when the check measures nothing
 * @param observedUnit the unit of {@code observedValue} ({@code "ms"}, {@code "%"}, {@code "MiB"},
 *     ...), or null
 * @param componentType the draft's {@code componentType}: {@code "component"}, {@code "datastore"},
 *     {@code "system"} or a name of the service's own; null for none
 * @param output a text saying what is wrong, for a non-pass status; null for none. The registry
 *     masks secrets in it before it is stored.
 * @param details further values by name, in insertion order; not named as a field above or {@code
 *     durationMs}, since MicroProfile Health's {@code data} holds them side by side
 * @param time when the check finished; the registry sets it
 * @param duration how long the check ran; the registry sets it
 */
public record HealthResult(
    Status status,
    @Nullable Object observedValue,
    @Nullable String observedUnit,
    @Nullable String componentType,
    @Nullable String output,
    Map<String, Object> details,
    Instant time,
    Duration duration) {

  /** The names the outputs give the result's own fields, which a detail may not take. */
  static final java.util.List<String> RESERVED =
      java.util.List.of(
          "status",
          "componentType",
          "observedValue",
          "observedUnit",
          "output",
          "time",
          "durationMs");

  /**
   * Checks and copies the values.
   *
   * @param status the status
   * @param observedValue a number, string or boolean, or null
   * @param observedUnit the unit, or null
   * @param componentType the component type, or null
   * @param output the output, or null
   * @param details the details
   * @param time when the check finished
   * @param duration how long it ran, not negative
   * @throws NullPointerException if {@code status}, {@code details}, {@code time}, {@code duration}
   *     or a detail's name or value is null
   * @throws IllegalArgumentException if a detail takes a field's name, or a value is not a number,
   *     string or boolean, or is a NaN or an infinite number, or {@code duration} is negative
   */
  public HealthResult {
    Objects.requireNonNull(status, "status");
    Objects.requireNonNull(time, "time");
    Checks.notNegative("duration", duration);
    if (observedValue != null) {
      observedValue = requireScalar("observedValue", observedValue);
    }
    LinkedHashMap<String, Object> copy = new LinkedHashMap<>();
    for (Map.Entry<String, Object> detail : details.entrySet()) {
      String key = Objects.requireNonNull(detail.getKey(), "detail name");
      if (RESERVED.contains(key)) {
        throw Checks.invalid(
            "a detail's name must not be one of the result's own fields %s, but was \"%s\"",
            RESERVED, key);
      }
      copy.put(key, requireScalar(key, Objects.requireNonNull(detail.getValue(), key)));
    }
    details = Collections.unmodifiableMap(copy);
  }

  /** {@return a passing result, measuring nothing yet} */
  public static HealthResult pass() {
    return of(Status.PASS, null);
  }

  /**
   * Returns a warning.
   *
   * @param output what needs a look
   * @return the result
   */
  public static HealthResult warn(String output) {
    return of(Status.WARN, Objects.requireNonNull(output, "output"));
  }

  /**
   * Returns a failure.
   *
   * @param output what is wrong
   * @return the result
   */
  public static HealthResult fail(String output) {
    return of(Status.FAIL, Objects.requireNonNull(output, "output"));
  }

  /**
   * Returns a result of any status.
   *
   * @param status the status
   * @param output what is wrong, or null
   * @return the result
   */
  public static HealthResult of(Status status, @Nullable String output) {
    return new HealthResult(
        status, null, null, null, output, Map.of(), Instant.now(), Duration.ZERO);
  }

  /**
   * Returns a copy with a measured value.
   *
   * @param value a number, string or boolean
   * @param unit its unit, or null for a value without one
   * @return the copy
   * @throws IllegalArgumentException if {@code value} is not a number, string or boolean
   */
  public HealthResult withObserved(Object value, @Nullable String unit) {
    return new HealthResult(
        status,
        Objects.requireNonNull(value, "value"),
        unit,
        componentType,
        output,
        details,
        time,
        duration);
  }

  /**
   * Returns a copy with a component type.
   *
   * @param type {@code "component"}, {@code "datastore"}, {@code "system"} or a name of the
   *     service's own
   * @return the copy
   */
  public HealthResult withComponentType(String type) {
    return new HealthResult(
        status,
        observedValue,
        observedUnit,
        Objects.requireNonNull(type, "type"),
        output,
        details,
        time,
        duration);
  }

  /**
   * Returns a copy with another status and output.
   *
   * @param status the status
   * @param output the output, or null
   * @return the copy
   */
  public HealthResult withStatus(Status status, @Nullable String output) {
    return new HealthResult(
        status, observedValue, observedUnit, componentType, output, details, time, duration);
  }

  /**
   * Returns a copy with one more detail, or a detail replaced.
   *
   * @param name the detail's name
   * @param value a number, string or boolean
   * @return the copy
   * @throws IllegalArgumentException if {@code value} is not a number, string or boolean
   */
  public HealthResult withDetail(String name, Object value) {
    LinkedHashMap<String, Object> more = new LinkedHashMap<>(details);
    more.put(Objects.requireNonNull(name, "name"), Objects.requireNonNull(value, name));
    return new HealthResult(
        status, observedValue, observedUnit, componentType, output, more, time, duration);
  }

  /** A copy with the registry's measurement of when and how long. */
  HealthResult timed(Instant time, Duration duration) {
    return new HealthResult(
        status, observedValue, observedUnit, componentType, output, details, time, duration);
  }

  /** A copy with the output replaced, unchecked: the registry's masking. */
  HealthResult withOutputText(@Nullable String text) {
    return new HealthResult(
        status, observedValue, observedUnit, componentType, text, details, time, duration);
  }

  private static Object requireScalar(String name, Object value) {
    if (!(value instanceof Number || value instanceof String || value instanceof Boolean)) {
      throw Checks.invalid(
          "%s must be a number, string or boolean, but was a %s", name, value.getClass().getName());
    }
    if (!(value instanceof Number)) {
      return value;
    }
    Number number = snapshot((Number) value);
    // Only a floating-point number can be a NaN or infinite once it cannot change.
    if ((number instanceof Double || number instanceof Float)
        && !Double.isFinite(number.doubleValue())) {
      throw Checks.invalid("%s must be a finite number, but was %s", name, number);
    }
    return number;
  }

  /**
   * A number whose value cannot change, so that the result stays what the check saw: a counter such
   * as an {@code AtomicLong} or a {@code LongAdder} is read now, into a {@code Long} (or a {@code
   * Double} for other numbers of its kind); the JDK's immutable numbers are kept as they are.
   */
  private static Number snapshot(Number value) {
    if (value instanceof Integer
        || value instanceof Long
        || value instanceof Double
        || value instanceof Float
        || value instanceof Short
        || value instanceof Byte
        || value instanceof java.math.BigInteger
        || value instanceof java.math.BigDecimal) {
      return value;
    }
    if (value instanceof java.util.concurrent.atomic.AtomicInteger
        || value instanceof java.util.concurrent.atomic.AtomicLong
        || value instanceof java.util.concurrent.atomic.LongAdder
        || value instanceof java.util.concurrent.atomic.LongAccumulator) {
      return value.longValue();
    }
    return value.doubleValue();
  }
}

package dev.bulwark.ratelimit;

import dev.bulwark.core.internal.Checks;
import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * One rate limit: {@code permits} per {@code period}, with at most {@code burst} permits taken at
 * once. It is a token bucket of {@code burst} permits that refills at {@code permits / period},
 * continuously: {@code "100/minute"} refills one permit every 600 ms and, by default, lets a client
 * that was idle for a minute take 100 at once.
 *
 * <p>Write limits as strings ({@link #parse(String)}, Python {@code limits}' syntax) or with {@link
 * #of(long, Duration)}: {@code Limit.parse("10/second;1000/hour")} and {@code
 * List.of(Limit.perSecond(10), Limit.perHour(1000))} are equal.
 *
 * <p>Immutable and thread-safe.
 *
 * @param permits the permits refilled per {@code period}, 1 to {@value #MAX_PERMITS}, and at most
 *     one per nanosecond of the period (the finest rate Bucket4j refills at)
 * @param period the period, 1 ms to {@value #MAX_PERIOD_DAYS} days, a whole number of milliseconds
 * @param burst the most permits the bucket holds (and so the most taken at once), 1 to {@value
 *     #MAX_PERMITS}; {@code permits} unless set with {@link #withBurst(long)}
 */
public record Limit(long permits, Duration period, long burst) {

  /** The most permits, and the largest burst, a limit accepts: 10^12. */
  public static final long MAX_PERMITS = 1_000_000_000_000L;

  /** The longest period a limit accepts, in days: 3650 (ten years of 365 days). */
  public static final long MAX_PERIOD_DAYS = 3650;

  private static final Duration MAX_PERIOD = Duration.ofDays(MAX_PERIOD_DAYS);

  /**
   * Checks the values.
   *
   * @param permits the permits per period, 1 to {@value #MAX_PERMITS}, at most one per nanosecond
   * @param period the period, 1 ms to {@value #MAX_PERIOD_DAYS} days, whole milliseconds
   * @param burst the bucket's size, 1 to {@value #MAX_PERMITS}
   * @throws IllegalArgumentException naming the value and the accepted range when one is outside it
   * @throws NullPointerException if {@code period} is null
   */
  public Limit {
    Checks.between("permits", permits, 1, MAX_PERMITS);
    Checks.between("period", period, Duration.ofMillis(1), MAX_PERIOD);
    if (period.toNanosPart() % 1_000_000 != 0) {
      throw Checks.invalid(
          "period must be a whole number of milliseconds, but was %s", Checks.duration(period));
    }
    Checks.between("burst", burst, 1, MAX_PERMITS);
    if (permits > period.toNanos()) {
      throw Checks.invalid(
          "permits must be at most one per nanosecond of the period, %d for %s, but was %d",
          period.toNanos(), Checks.duration(period), permits);
    }
  }

  /**
   * A limit of {@code permits} per {@code period}, whose burst is {@code permits}.
   *
   * @param permits the permits per period, 1 to {@value #MAX_PERMITS}
   * @param period the period, 1 ms to {@value #MAX_PERIOD_DAYS} days, whole milliseconds
   * @return the limit
   * @throws IllegalArgumentException if a value is outside its range
   */
  public static Limit of(long permits, Duration period) {
    return new Limit(permits, period, permits);
  }

  /**
   * {@code permits} per second.
   *
   * @param permits 1 to {@value #MAX_PERMITS}
   * @return the limit
   * @throws IllegalArgumentException if {@code permits} is outside its range
   */
  public static Limit perSecond(long permits) {
    return of(permits, Duration.ofSeconds(1));
  }

  /**
   * {@code permits} per minute.
   *
   * @param permits 1 to {@value #MAX_PERMITS}
   * @return the limit
   * @throws IllegalArgumentException if {@code permits} is outside its range
   */
  public static Limit perMinute(long permits) {
    return of(permits, Duration.ofMinutes(1));
  }

  /**
   * {@code permits} per hour.
   *
   * @param permits 1 to {@value #MAX_PERMITS}
   * @return the limit
   * @throws IllegalArgumentException if {@code permits} is outside its range
   */
  public static Limit perHour(long permits) {
    return of(permits, Duration.ofHours(1));
  }

  /**
   * {@code permits} per day (24 hours).
   *
   * @param permits 1 to {@value #MAX_PERMITS}
   * @return the limit
   * @throws IllegalArgumentException if {@code permits} is outside its range
   */
  public static Limit perDay(long permits) {
    return of(permits, Duration.ofDays(1));
  }

  /**
   * This limit with another burst: the most permits taken at once after an idle time. A burst below
   * {@code permits} smooths a client out; above, it lets a client save up.
   *
   * @param burst 1 to {@value #MAX_PERMITS}
   * @return a new limit
   * @throws IllegalArgumentException if {@code burst} is outside its range
   */
  public Limit withBurst(long burst) {
    return new Limit(permits, period, burst);
  }

  /**
   * Parses limits written as in Python {@code limits}: {@code "100/minute"}, {@code "10 per
   * second"}, {@code "5/2 minutes"}, several separated by {@code ;}, {@code ,} or {@code |} ({@code
   * "10/second;1000/hour"}), each with an optional burst ({@code "10/second burst 20"}). The units
   * are {@code second}, {@code minute}, {@code hour}, {@code day}, {@code month} (30 days) and
   * {@code year} (12 months, 360 days, as in {@code limits}), singular or plural, in any case;
   * {@code millisecond} too, which {@code limits} lacks.
   *
   * @param text the limits
   * @return the limits, in the order written; at least one
   * @throws IllegalArgumentException naming the token that does not parse and its position (from 0)
   *     in {@code text}, or the value outside its range
   * @throws NullPointerException if {@code text} is null
   */
  public static List<Limit> parse(String text) {
    return LimitParser.parse(Objects.requireNonNull(text, "text"));
  }

  /**
   * The limit as {@link #parse(String)} reads it back: {@code "100/minute"}, {@code "5/2 minutes"},
   * {@code "10/second burst 20"}, or {@code "3/1500 milliseconds"} for a period that is not a whole
   * number of seconds.
   *
   * @return the limit's text
   */
  @Override
  public String toString() {
    return LimitParser.format(this);
  }
}

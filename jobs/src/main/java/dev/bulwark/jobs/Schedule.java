package dev.bulwark.jobs;

import dev.bulwark.core.internal.Checks;
import java.time.DayOfWeek;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalTime;
import java.time.ZoneId;
import java.time.ZonedDateTime;
import java.time.temporal.TemporalAdjusters;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * When a job of a {@link LockingScheduler} runs: a fixed rate, a fixed delay, a time of day or a
 * day of the week and a time, in a time zone. Every schedule cuts time into periods, and the
 * scheduler runs a job at most once per period across all its instances; the periods are computed
 * on the database's clock, never the JVM's.
 *
 * <ul>
 *   <li>{@link #fixedRate(Duration)}: periods of the given length, aligned to the Unix epoch (a
 *       5-minute rate starts at :00, :05, :10, ...), so every instance cuts them at the same
 *       instants;
 *   <li>{@link #fixedDelay(Duration)}: a run starts once the delay has passed since the last run
 *       anywhere ended (or, for a run that died unfinished, since it started); the first run starts
 *       at once;
 *   <li>{@link #dailyAt(LocalTime, ZoneId)}: one period a day, from that local time to the same
 *       time the next day. A time in a daylight-saving gap moves forward by the gap's length (02:30
 *       in a gap from 02:00 to 03:00 starts the period at 03:30); a time in an overlap takes the
 *       earlier of its two instants;
 *   <li>{@link #weeklyOn(DayOfWeek, LocalTime, ZoneId)}: one period a week, the same way.
 * </ul>
 *
 * <p>A job runs when its period starts. An instance that starts in the middle of a period waits for
 * the next one (no catch-up at start-up); {@link #fixedDelay} is the exception, by its nature.
 *
 * <p>Cron expressions are not offered: these four forms cover the schedules the audits found, and a
 * cron parser is a dependency every user would carry for a rare need.
 *
 * <p>Immutable and thread-safe.
 */
public final class Schedule {

  /** Shortest fixed rate or fixed delay: 1 second, the precision of a run's record. */
  static final Duration MIN_PERIOD = Duration.ofSeconds(1);

  /** Longest fixed rate or fixed delay: 366 days. */
  static final Duration MAX_PERIOD = Duration.ofDays(366);

  private enum Kind {
    FIXED_RATE,
    FIXED_DELAY,
    DAILY,
    WEEKLY
  }

  private final Kind kind;
  private final Duration period;
  private final LocalTime time;
  private final DayOfWeek day;
  private final ZoneId zone;

  private Schedule(Kind kind, Duration period, LocalTime time, DayOfWeek day, ZoneId zone) {
    this.kind = kind;
    this.period = period;
    this.time = time;
    this.day = day;
    this.zone = zone;
  }

  /**
   * Periods of a fixed length, aligned to the Unix epoch on the database's clock.
   *
   * @param period the length of a period, a whole number of seconds from 1 second to 366 days
   * @return the schedule
   * @throws IllegalArgumentException {@code "period must be a whole number of seconds between 1 s
   *     and 31622400 s, but was <value> s"}
   */
  public static Schedule fixedRate(Duration period) {
    return new Schedule(
        Kind.FIXED_RATE,
        Checks.wholeSecondsBetween("period", period, MIN_PERIOD, MAX_PERIOD),
        LocalTime.MIDNIGHT,
        DayOfWeek.MONDAY,
        ZoneId.of("UTC"));
  }

  /**
   * A run starts once {@code delay} has passed since the last run, on any instance, ended.
   *
   * @param delay the time between the end of one run and the start of the next, a whole number of
   *     seconds from 1 second to 366 days
   * @return the schedule
   * @throws IllegalArgumentException {@code "delay must be a whole number of seconds between 1 s
   *     and 31622400 s, but was <value> s"}
   */
  public static Schedule fixedDelay(Duration delay) {
    return new Schedule(
        Kind.FIXED_DELAY,
        Checks.wholeSecondsBetween("delay", delay, MIN_PERIOD, MAX_PERIOD),
        LocalTime.MIDNIGHT,
        DayOfWeek.MONDAY,
        ZoneId.of("UTC"));
  }

  /**
   * One period a day, starting at a local time in a zone: {@code dailyAt(LocalTime.of(10, 0),
   * ZoneId.of("Europe/Moscow"))}.
   *
   * @param time the local time a period starts at; its seconds and fractions are kept
   * @param zone the zone the time is read in, with its daylight-saving rules
   * @return the schedule
   * @throws NullPointerException if an argument is null
   */
  public static Schedule dailyAt(LocalTime time, ZoneId zone) {
    return new Schedule(
        Kind.DAILY,
        Duration.ofDays(1),
        Objects.requireNonNull(time, "time"),
        DayOfWeek.MONDAY,
        Objects.requireNonNull(zone, "zone"));
  }

  /**
   * One period a week, starting on a day at a local time in a zone.
   *
   * @param day the day of the week a period starts on
   * @param time the local time it starts at
   * @param zone the zone both are read in
   * @return the schedule
   * @throws NullPointerException if an argument is null
   */
  public static Schedule weeklyOn(DayOfWeek day, LocalTime time, ZoneId zone) {
    return new Schedule(
        Kind.WEEKLY,
        Duration.ofDays(7),
        Objects.requireNonNull(time, "time"),
        Objects.requireNonNull(day, "day"),
        Objects.requireNonNull(zone, "zone"));
  }

  /** Whether runs follow the end of the last run rather than fixed instants. */
  boolean isFixedDelay() {
    return kind == Kind.FIXED_DELAY;
  }

  /** The delay of a {@link #fixedDelay} schedule, or the nominal length of a period. */
  Duration period() {
    return period;
  }

  /**
   * The start of the period that holds {@code now}: the latest start at or before it. Not for
   * {@link #fixedDelay}, whose periods come from the runs' records.
   */
  Instant periodStart(Instant now) {
    switch (kind) {
      case FIXED_RATE:
        long length = period.getSeconds();
        return Instant.ofEpochSecond(Math.floorDiv(now.getEpochSecond(), length) * length);
      case DAILY:
        {
          ZonedDateTime local = now.atZone(zone);
          ZonedDateTime start = at(local.toLocalDate());
          return (start.toInstant().isAfter(now) ? at(local.toLocalDate().minusDays(1)) : start)
              .toInstant();
        }
      case WEEKLY:
        {
          LocalDate date =
              now.atZone(zone).toLocalDate().with(TemporalAdjusters.previousOrSame(day));
          ZonedDateTime start = at(date);
          return (start.toInstant().isAfter(now) ? at(date.minusWeeks(1)) : start).toInstant();
        }
      default:
        throw new IllegalStateException("a fixed delay has no fixed periods");
    }
  }

  /** The start of the period after the one that holds {@code now}: always after {@code now}. */
  Instant nextStart(Instant now) {
    Instant start = periodStart(now);
    switch (kind) {
      case FIXED_RATE:
        return start.plus(period);
      case DAILY:
        return at(start.atZone(zone).toLocalDate().plusDays(1)).toInstant();
      case WEEKLY:
        return at(start.atZone(zone).toLocalDate().plusWeeks(1)).toInstant();
      default:
        throw new IllegalStateException("a fixed delay has no fixed periods");
    }
  }

  /**
   * How many periods start strictly between two period starts of this schedule: the periods skipped
   * from {@code earlier} to {@code later}. Not for {@link #fixedDelay}.
   */
  long periodsBetween(Instant earlier, Instant later) {
    if (kind == Kind.FIXED_RATE) {
      long length = period.getSeconds();
      return Math.max(0, (later.getEpochSecond() - earlier.getEpochSecond()) / length - 1);
    }
    long count = 0;
    // Days or weeks: a history of 3650 days at most, so the walk is short.
    for (Instant next = nextStart(earlier); next.isBefore(later) && count < 1_000_000; count++) {
      next = nextStart(next);
    }
    return count;
  }

  /**
   * The period's start on a date: {@code ZonedDateTime.of} moves a time in a gap forward and takes
   * the earlier offset in an overlap.
   */
  private ZonedDateTime at(LocalDate date) {
    return ZonedDateTime.of(date, time, zone);
  }

  /**
   * Returns the schedule as it was written: {@code "fixedRate(60 s)"}, {@code "fixedDelay(5 s)"},
   * {@code "dailyAt(10:00 Europe/Moscow)"}, {@code "weeklyOn(MONDAY 03:30 UTC)"}.
   */
  @Override
  public String toString() {
    switch (kind) {
      case FIXED_RATE:
        return "fixedRate(" + Checks.seconds(period) + ")";
      case FIXED_DELAY:
        return "fixedDelay(" + Checks.seconds(period) + ")";
      case DAILY:
        return "dailyAt(" + time + " " + zone + ")";
      default:
        return "weeklyOn(" + day + " " + time + " " + zone + ")";
    }
  }

  @Override
  public boolean equals(@Nullable Object o) {
    if (!(o instanceof Schedule)) {
      return false;
    }
    Schedule other = (Schedule) o;
    return kind == other.kind
        && period.equals(other.period)
        && time.equals(other.time)
        && day == other.day
        && zone.equals(other.zone);
  }

  @Override
  public int hashCode() {
    return Objects.hash(kind, period, time, day, zone);
  }
}

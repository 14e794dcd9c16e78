package dev.bulwark.jobs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;
import static org.assertj.core.api.Assertions.assertThatIllegalStateException;
import static org.assertj.core.api.Assertions.assertThatNullPointerException;

import java.time.DayOfWeek;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalTime;
import java.time.ZoneId;
import org.junit.jupiter.api.Test;

/**
 * The periods of each kind of schedule, at and around their boundaries, written as UTC instants;
 * the texts of {@code toString} and of every refusal.
 */
class ScheduleTest {
  private static final ZoneId MOSCOW = ZoneId.of("Europe/Moscow");
  private static final ZoneId BERLIN = ZoneId.of("Europe/Berlin");
  private static final ZoneId TOKYO = ZoneId.of("Asia/Tokyo");
  private static final ZoneId UTC = ZoneId.of("UTC");

  private static Instant at(String instant) {
    return Instant.parse(instant);
  }

  @Test
  void aFixedRateCutsPeriodsAlignedToTheEpoch() {
    Schedule second = Schedule.fixedRate(Duration.ofSeconds(1));
    assertThat(second.periodStart(at("2026-03-01T10:00:00.999Z")))
        .isEqualTo(at("2026-03-01T10:00:00Z"));
    assertThat(second.nextStart(at("2026-03-01T10:00:00.999Z")))
        .isEqualTo(at("2026-03-01T10:00:01Z"));
    // A boundary belongs to the period it starts.
    assertThat(second.periodStart(at("2026-03-01T10:00:01Z")))
        .isEqualTo(at("2026-03-01T10:00:01Z"));
    assertThat(second.nextStart(at("2026-03-01T10:00:01Z"))).isEqualTo(at("2026-03-01T10:00:02Z"));

    Schedule fiveMinutes = Schedule.fixedRate(Duration.ofMinutes(5));
    assertThat(fiveMinutes.periodStart(at("2026-03-01T10:04:59.999999999Z")))
        .isEqualTo(at("2026-03-01T10:00:00Z"));
    assertThat(fiveMinutes.nextStart(at("2026-03-01T10:04:59.999999999Z")))
        .isEqualTo(at("2026-03-01T10:05:00Z"));
    assertThat(fiveMinutes.periodStart(at("2026-03-01T10:05:00Z")))
        .isEqualTo(at("2026-03-01T10:05:00Z"));
    assertThat(fiveMinutes.nextStart(at("2026-03-01T10:05:00Z")))
        .isEqualTo(at("2026-03-01T10:10:00Z"));

    // Aligned to the epoch itself, on both sides of it, whatever the length.
    assertThat(fiveMinutes.periodStart(Instant.EPOCH)).isEqualTo(Instant.EPOCH);
    assertThat(fiveMinutes.periodStart(Instant.EPOCH.minusNanos(1)))
        .isEqualTo(Instant.ofEpochSecond(-300));
    Schedule seven = Schedule.fixedRate(Duration.ofSeconds(7));
    assertThat(seven.periodStart(Instant.ofEpochSecond(100))).isEqualTo(Instant.ofEpochSecond(98));
    assertThat(seven.nextStart(Instant.ofEpochSecond(100))).isEqualTo(Instant.ofEpochSecond(105));
  }

  @Test
  void theLongestFixedRateIs366Days() {
    Schedule year = Schedule.fixedRate(Duration.ofDays(366));
    // 2026-02-12T00:00Z is 56 periods of 31622400 s after the epoch.
    assertThat(year.periodStart(at("2026-03-01T00:00:00Z"))).isEqualTo(at("2026-02-12T00:00:00Z"));
    assertThat(year.nextStart(at("2026-03-01T00:00:00Z"))).isEqualTo(at("2027-02-13T00:00:00Z"));
    assertThat(Schedule.fixedDelay(Duration.ofDays(366)).period()).isEqualTo(Duration.ofDays(366));

    assertThatIllegalArgumentException()
        .isThrownBy(() -> Schedule.fixedRate(Duration.ofDays(366).plusSeconds(1)))
        .withMessage(
            "period must be a whole number of seconds between 1 s and 31622400 s, but was"
                + " 31622401 s");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> Schedule.fixedDelay(Duration.ofDays(367)))
        .withMessage(
            "delay must be a whole number of seconds between 1 s and 31622400 s, but was 31708800"
                + " s");
  }

  @Test
  void dailyAtTenInMoscowStartsAtSevenUtc() {
    Schedule daily = Schedule.dailyAt(LocalTime.of(10, 0), MOSCOW);
    // Before 10:00 Moscow time: yesterday's period.
    assertThat(daily.periodStart(at("2026-03-01T06:59:59.999Z")))
        .isEqualTo(at("2026-02-28T07:00:00Z"));
    assertThat(daily.nextStart(at("2026-03-01T06:59:59.999Z")))
        .isEqualTo(at("2026-03-01T07:00:00Z"));
    // At 10:00 exactly: today's.
    assertThat(daily.periodStart(at("2026-03-01T07:00:00Z"))).isEqualTo(at("2026-03-01T07:00:00Z"));
    assertThat(daily.nextStart(at("2026-03-01T07:00:00Z"))).isEqualTo(at("2026-03-02T07:00:00Z"));
    // After it.
    assertThat(daily.periodStart(at("2026-03-01T07:00:01Z"))).isEqualTo(at("2026-03-01T07:00:00Z"));
    assertThat(daily.nextStart(at("2026-03-01T07:00:01Z"))).isEqualTo(at("2026-03-02T07:00:00Z"));
    // 22:30 UTC is 01:30 the next day in Moscow, still before that day's 10:00.
    assertThat(daily.periodStart(at("2026-03-01T22:30:00Z"))).isEqualTo(at("2026-03-01T07:00:00Z"));
    assertThat(daily.nextStart(at("2026-03-01T22:30:00Z"))).isEqualTo(at("2026-03-02T07:00:00Z"));
  }

  @Test
  void aTimeInTheSpringGapMovesForwardByTheGap() {
    // Berlin, 2026-03-29: 02:00 CET jumps to 03:00 CEST at 01:00 UTC, so 02:30 does not exist;
    // ZonedDateTime.of moves it forward by the gap's hour, to 03:30 CEST (01:30 UTC).
    Schedule daily = Schedule.dailyAt(LocalTime.of(2, 30), BERLIN);
    assertThat(daily.periodStart(at("2026-03-29T01:00:00Z")))
        .as("03:00 CEST, before the moved start")
        .isEqualTo(at("2026-03-28T01:30:00Z"));
    assertThat(daily.nextStart(at("2026-03-29T01:00:00Z"))).isEqualTo(at("2026-03-29T01:30:00Z"));
    assertThat(daily.periodStart(at("2026-03-29T01:29:59Z"))).isEqualTo(at("2026-03-28T01:30:00Z"));
    assertThat(daily.periodStart(at("2026-03-29T01:30:00Z"))).isEqualTo(at("2026-03-29T01:30:00Z"));
    // The next day's 02:30 is CEST again: a period of 23 hours.
    assertThat(daily.nextStart(at("2026-03-29T01:30:00Z"))).isEqualTo(at("2026-03-30T00:30:00Z"));
  }

  @Test
  void aTimeInTheAutumnOverlapTakesTheEarlierInstant() {
    // Berlin, 2026-10-25: 03:00 CEST falls back to 02:00 CET at 01:00 UTC, so 02:30 happens twice:
    // 00:30 UTC (CEST) and 01:30 UTC (CET). The period starts at the first; the second starts none.
    Schedule daily = Schedule.dailyAt(LocalTime.of(2, 30), BERLIN);
    assertThat(daily.periodStart(at("2026-10-25T00:29:59Z"))).isEqualTo(at("2026-10-24T00:30:00Z"));
    assertThat(daily.nextStart(at("2026-10-25T00:29:59Z"))).isEqualTo(at("2026-10-25T00:30:00Z"));
    assertThat(daily.periodStart(at("2026-10-25T00:30:00Z"))).isEqualTo(at("2026-10-25T00:30:00Z"));
    assertThat(daily.periodStart(at("2026-10-25T01:30:00Z")))
        .as("the second 02:30")
        .isEqualTo(at("2026-10-25T00:30:00Z"));
    // The next day's 02:30 is CET: a period of 25 hours.
    assertThat(daily.nextStart(at("2026-10-25T01:30:00Z"))).isEqualTo(at("2026-10-26T01:30:00Z"));
    assertThat(daily.nextStart(at("2026-10-25T00:30:00Z"))).isEqualTo(at("2026-10-26T01:30:00Z"));
  }

  @Test
  void weeklyOnMondayAtHalfPastThreeUtc() {
    Schedule weekly = Schedule.weeklyOn(DayOfWeek.MONDAY, LocalTime.of(3, 30), UTC);
    // 2026-03-02 is a Monday.
    assertThat(weekly.periodStart(at("2026-03-02T03:29:59Z")))
        .isEqualTo(at("2026-02-23T03:30:00Z"));
    assertThat(weekly.nextStart(at("2026-03-02T03:29:59Z"))).isEqualTo(at("2026-03-02T03:30:00Z"));
    assertThat(weekly.periodStart(at("2026-03-02T03:30:00Z")))
        .isEqualTo(at("2026-03-02T03:30:00Z"));
    assertThat(weekly.nextStart(at("2026-03-02T03:30:00Z"))).isEqualTo(at("2026-03-09T03:30:00Z"));
    // Sunday, late: still the week that began on Monday.
    assertThat(weekly.periodStart(at("2026-03-08T23:59:59Z")))
        .isEqualTo(at("2026-03-02T03:30:00Z"));
    assertThat(weekly.nextStart(at("2026-03-08T23:59:59Z"))).isEqualTo(at("2026-03-09T03:30:00Z"));
  }

  @Test
  void weeklyOnReadsTheDayInItsZoneNotInUtc() {
    // Monday 01:00 in Tokyo (UTC+9) is Sunday 16:00 UTC.
    Schedule weekly = Schedule.weeklyOn(DayOfWeek.MONDAY, LocalTime.of(1, 0), TOKYO);
    assertThat(weekly.periodStart(at("2026-03-01T16:00:00Z")))
        .as("a Sunday in UTC, Monday 01:00 in Tokyo")
        .isEqualTo(at("2026-03-01T16:00:00Z"));
    assertThat(weekly.nextStart(at("2026-03-01T16:00:00Z"))).isEqualTo(at("2026-03-08T16:00:00Z"));
    assertThat(weekly.periodStart(at("2026-03-01T15:59:59Z")))
        .as("Monday 00:59:59 in Tokyo")
        .isEqualTo(at("2026-02-22T16:00:00Z"));
    assertThat(weekly.nextStart(at("2026-03-01T15:59:59Z"))).isEqualTo(at("2026-03-01T16:00:00Z"));
    assertThat(weekly.periodStart(at("2026-03-02T10:00:00Z")))
        .as("Monday in both")
        .isEqualTo(at("2026-03-01T16:00:00Z"));
  }

  @Test
  void aFixedDelayHasNoFixedPeriods() {
    Schedule delay = Schedule.fixedDelay(Duration.ofSeconds(5));
    assertThat(delay.isFixedDelay()).isTrue();
    assertThat(delay.period()).isEqualTo(Duration.ofSeconds(5));
    assertThat(Schedule.fixedRate(Duration.ofSeconds(5)).isFixedDelay()).isFalse();
    assertThatIllegalStateException()
        .isThrownBy(() -> delay.periodStart(Instant.EPOCH))
        .withMessage("a fixed delay has no fixed periods");
    assertThatIllegalStateException()
        .isThrownBy(() -> delay.nextStart(Instant.EPOCH))
        .withMessage("a fixed delay has no fixed periods");
  }

  @Test
  void toStringShowsTheScheduleAsWritten() {
    assertThat(Schedule.fixedRate(Duration.ofMinutes(1))).hasToString("fixedRate(60 s)");
    assertThat(Schedule.fixedDelay(Duration.ofSeconds(5))).hasToString("fixedDelay(5 s)");
    assertThat(Schedule.dailyAt(LocalTime.of(10, 0), MOSCOW))
        .hasToString("dailyAt(10:00 Europe/Moscow)");
    assertThat(Schedule.dailyAt(LocalTime.of(10, 0, 30), MOSCOW))
        .hasToString("dailyAt(10:00:30 Europe/Moscow)");
    assertThat(Schedule.weeklyOn(DayOfWeek.MONDAY, LocalTime.of(3, 30), UTC))
        .hasToString("weeklyOn(MONDAY 03:30 UTC)");
  }

  @Test
  void equalSchedulesAreThoseWrittenAlike() {
    assertThat(Schedule.fixedRate(Duration.ofMinutes(1)))
        .isEqualTo(Schedule.fixedRate(Duration.ofSeconds(60)))
        .hasSameHashCodeAs(Schedule.fixedRate(Duration.ofSeconds(60)))
        .isNotEqualTo(Schedule.fixedDelay(Duration.ofSeconds(60)))
        .isNotEqualTo(Schedule.fixedRate(Duration.ofSeconds(61)))
        .isNotEqualTo(null)
        .isNotEqualTo("fixedRate(60 s)");
    assertThat(Schedule.dailyAt(LocalTime.of(10, 0), MOSCOW))
        .isEqualTo(Schedule.dailyAt(LocalTime.of(10, 0), ZoneId.of("Europe/Moscow")))
        .hasSameHashCodeAs(Schedule.dailyAt(LocalTime.of(10, 0), ZoneId.of("Europe/Moscow")))
        .isNotEqualTo(Schedule.dailyAt(LocalTime.of(10, 1), MOSCOW))
        .isNotEqualTo(Schedule.dailyAt(LocalTime.of(10, 0), BERLIN))
        .isNotEqualTo(Schedule.weeklyOn(DayOfWeek.MONDAY, LocalTime.of(10, 0), MOSCOW));
    assertThat(Schedule.weeklyOn(DayOfWeek.MONDAY, LocalTime.of(3, 30), UTC))
        .isEqualTo(Schedule.weeklyOn(DayOfWeek.MONDAY, LocalTime.of(3, 30), UTC))
        .hasSameHashCodeAs(Schedule.weeklyOn(DayOfWeek.MONDAY, LocalTime.of(3, 30), UTC))
        .isNotEqualTo(Schedule.weeklyOn(DayOfWeek.TUESDAY, LocalTime.of(3, 30), UTC));
  }

  @Test
  void aRateOrDelayMustBeWholeSecondsFromOneSecondTo366Days() {
    assertThatIllegalArgumentException()
        .isThrownBy(() -> Schedule.fixedRate(Duration.ofMillis(500)))
        .withMessage(
            "period must be a whole number of seconds between 1 s and 31622400 s, but was 0.5 s");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> Schedule.fixedRate(Duration.ZERO))
        .withMessage(
            "period must be a whole number of seconds between 1 s and 31622400 s, but was 0 s");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> Schedule.fixedRate(Duration.ofSeconds(-5)))
        .withMessage(
            "period must be a whole number of seconds between 1 s and 31622400 s, but was -5 s");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> Schedule.fixedRate(Duration.ofMillis(1500)))
        .withMessage(
            "period must be a whole number of seconds between 1 s and 31622400 s, but was 1.5 s");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> Schedule.fixedRate(Duration.ofSeconds(1, 1)))
        .withMessage(
            "period must be a whole number of seconds between 1 s and 31622400 s, but was"
                + " 1.000000001 s");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> Schedule.fixedDelay(Duration.ofMillis(999)))
        .withMessage(
            "delay must be a whole number of seconds between 1 s and 31622400 s, but was 0.999 s");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> Schedule.fixedDelay(Duration.ofMillis(-500)))
        .withMessage(
            "delay must be a whole number of seconds between 1 s and 31622400 s, but was -0.5 s");
    // Both bounds are included.
    assertThat(Schedule.fixedRate(Duration.ofSeconds(1)).period()).isEqualTo(Duration.ofSeconds(1));
    assertThat(Schedule.fixedDelay(Duration.ofSeconds(1)).period())
        .isEqualTo(Duration.ofSeconds(1));
  }

  @Test
  void aNullArgumentIsNamed() {
    assertThatNullPointerException()
        .isThrownBy(() -> Schedule.fixedRate(null))
        .withMessage("period");
    assertThatNullPointerException()
        .isThrownBy(() -> Schedule.fixedDelay(null))
        .withMessage("delay");
    assertThatNullPointerException()
        .isThrownBy(() -> Schedule.dailyAt(null, MOSCOW))
        .withMessage("time");
    assertThatNullPointerException()
        .isThrownBy(() -> Schedule.dailyAt(LocalTime.NOON, null))
        .withMessage("zone");
    assertThatNullPointerException()
        .isThrownBy(() -> Schedule.weeklyOn(null, LocalTime.NOON, UTC))
        .withMessage("day");
    assertThatNullPointerException()
        .isThrownBy(() -> Schedule.weeklyOn(DayOfWeek.MONDAY, null, UTC))
        .withMessage("time");
    assertThatNullPointerException()
        .isThrownBy(() -> Schedule.weeklyOn(DayOfWeek.MONDAY, LocalTime.NOON, null))
        .withMessage("zone");
  }
}

package dev.bulwark.ratelimit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class LimitParserTest {
  private static final String UNITS = "second, minute, hour, day, month, year or millisecond";
  private static final long MAX_PERIOD_MS = Duration.ofDays(Limit.MAX_PERIOD_DAYS).toMillis();

  static Stream<Arguments> acceptedForms() {
    return Stream.of(
        Arguments.of("100/minute", Limit.perMinute(100)),
        Arguments.of("10 per second", Limit.perSecond(10)),
        Arguments.of("5/2 minutes", Limit.of(5, Duration.ofMinutes(2))),
        Arguments.of("1/year", Limit.of(1, Duration.ofDays(360))),
        Arguments.of("20 / hour", Limit.perHour(20)),
        Arguments.of("  20  /  hour  ", Limit.perHour(20)),
        Arguments.of("\t20\n/\r\nhour ", Limit.perHour(20)),
        Arguments.of("10per second", Limit.perSecond(10)),
        Arguments.of("10 persecond", Limit.perSecond(10)),
        Arguments.of("10 PER Second", Limit.perSecond(10)),
        Arguments.of("10 per 2 hours", Limit.of(10, Duration.ofHours(2))),
        Arguments.of("500/7days", Limit.of(500, Duration.ofDays(7))),
        Arguments.of("3/2minutes", Limit.of(3, Duration.ofMinutes(2))),
        Arguments.of("3/ 2 minute", Limit.of(3, Duration.ofMinutes(2))),
        Arguments.of("1/minutes", Limit.perMinute(1)),
        Arguments.of("10/SECONDS", Limit.perSecond(10)),
        Arguments.of("1/Day", Limit.perDay(1)),
        Arguments.of("1/1 day", Limit.perDay(1)),
        Arguments.of("1/month", Limit.of(1, Duration.ofDays(30))),
        Arguments.of("1/12 months", Limit.of(1, Duration.ofDays(360))),
        Arguments.of("1/10 years", Limit.of(1, Duration.ofDays(3600))),
        Arguments.of("1/3650 days", Limit.of(1, Duration.ofDays(3650))),
        Arguments.of("1/millisecond", Limit.of(1, Duration.ofMillis(1))),
        Arguments.of("3/1500 milliseconds", Limit.of(3, Duration.ofMillis(1500))),
        Arguments.of("1/1 MilliSeconds", Limit.of(1, Duration.ofMillis(1))),
        Arguments.of("007/0002 seconds", Limit.of(7, Duration.ofSeconds(2))),
        Arguments.of("1000000000/second", Limit.perSecond(1_000_000_000)),
        Arguments.of(
            "1000000000000/1000 seconds", Limit.of(Limit.MAX_PERMITS, Duration.ofSeconds(1000))),
        Arguments.of("10/second burst 20", Limit.perSecond(10).withBurst(20)),
        Arguments.of("10/second BURST 1", Limit.perSecond(10).withBurst(1)),
        Arguments.of("10/second burst20", Limit.perSecond(10).withBurst(20)),
        Arguments.of("10/second burst 10", Limit.perSecond(10)),
        Arguments.of(
            " 10 / 2 seconds   burst   5  ", Limit.of(10, Duration.ofSeconds(2)).withBurst(5)),
        Arguments.of(
            "1/second burst 1000000000000", Limit.perSecond(1).withBurst(Limit.MAX_PERMITS)));
  }

  @ParameterizedTest(name = "\"{0}\"")
  @MethodSource("acceptedForms")
  void readsEveryAcceptedForm(String text, Limit expected) {
    assertThat(Limit.parse(text)).containsExactly(expected);
  }

  @Test
  void readsSeveralLimitsInTheOrderWritten() {
    List<Limit> both = List.of(Limit.perSecond(10), Limit.perHour(1000));
    assertThat(Limit.parse("10/second;1000/hour")).isEqualTo(both);
    assertThat(Limit.parse("10/second, 1000/hour")).isEqualTo(both);
    assertThat(Limit.parse("10/second|1000/hour")).isEqualTo(both);
    assertThat(Limit.parse(" 10 per second ;\n 1000 per hour ")).isEqualTo(both);
    assertThat(Limit.parse("1000/hour;10/second"))
        .containsExactly(Limit.perHour(1000), Limit.perSecond(10));
    assertThat(Limit.parse("10/hour;100/day;2000 per year"))
        .containsExactly(
            Limit.perHour(10), Limit.perDay(100), Limit.of(2000, Duration.ofDays(360)));
  }

  @Test
  void theSeparatorsCanBeMixed() {
    assertThat(Limit.parse("1/second;2/minute,3/hour|4/day , 5/month | 6/year burst 7"))
        .containsExactly(
            Limit.perSecond(1),
            Limit.perMinute(2),
            Limit.perHour(3),
            Limit.perDay(4),
            Limit.of(5, Duration.ofDays(30)),
            Limit.of(6, Duration.ofDays(360)).withBurst(7));
  }

  @Test
  void theResultIsImmutable() {
    List<Limit> limits = Limit.parse("1/second;2/minute");
    assertThatThrownBy(() -> limits.add(Limit.perHour(1)))
        .isInstanceOf(UnsupportedOperationException.class);
  }

  @Test
  void formatWritesTheShortestWholeUnit() {
    assertThat(Limit.perMinute(100)).hasToString("100/minute");
    assertThat(Limit.of(5, Duration.ofMinutes(2))).hasToString("5/2 minutes");
    assertThat(Limit.perSecond(10).withBurst(20)).hasToString("10/second burst 20");
    assertThat(Limit.of(3, Duration.ofMillis(1500))).hasToString("3/1500 milliseconds");
    assertThat(Limit.of(1, Duration.ofMillis(1))).hasToString("1/1 milliseconds");
    assertThat(Limit.of(1, Duration.ofDays(360))).hasToString("1/year");
    assertThat(Limit.of(1, Duration.ofDays(60))).hasToString("1/2 months");
    assertThat(Limit.of(1, Duration.ofDays(3600))).hasToString("1/10 years");
    assertThat(Limit.of(1, Duration.ofDays(3650))).hasToString("1/3650 days");
    assertThat(Limit.of(2, Duration.ofHours(36))).hasToString("2/36 hours");
  }

  @Test
  void readsBackEveryGeneratedLimitThatFormatWrites() {
    SplittableRandom random = new SplittableRandom(20_261_201);
    List<Limit> all = new ArrayList<>();
    StringBuilder joined = new StringBuilder();
    String[] separators = {";", ",", "|", " ; ", ", ", " | "};
    for (int i = 0; i < 20_000; i++) {
      Limit limit = generated(random);
      assertThat(Limit.parse(limit.toString())).as(limit.toString()).containsExactly(limit);
      all.add(limit);
      if (i > 0) {
        joined.append(separators[random.nextInt(separators.length)]);
      }
      joined.append(limit);
    }
    assertThat(Limit.parse(joined.toString())).isEqualTo(all);
  }

  @Test
  void readsBackTheLimitsAtTheEdgesOfTheRanges() {
    long[] counts = {1, 2, 999, Limit.MAX_PERMITS - 1, Limit.MAX_PERMITS};
    long[] periods = {
      1,
      999,
      1000,
      1001,
      59_999,
      60_000,
      3_600_000,
      86_400_000,
      86_400_001,
      30L * 86_400_000,
      360L * 86_400_000,
      3600L * 86_400_000,
      MAX_PERIOD_MS - 1,
      MAX_PERIOD_MS
    };
    for (long permits : counts) {
      for (long millis : periods) {
        for (long burst : counts) {
          if (permits > millis * 1_000_000) {
            continue; // faster than one permit per nanosecond: refused by Limit
          }
          Limit limit = new Limit(permits, Duration.ofMillis(millis), burst);
          assertThat(Limit.parse(limit.toString())).as(limit.toString()).containsExactly(limit);
        }
      }
    }
  }

  private static Limit generated(SplittableRandom random) {
    long permits =
        random.nextBoolean()
            ? random.nextLong(1, 1_001)
            : random.nextLong(1, Limit.MAX_PERMITS + 1);
    long[] units = {1, 1_000, 60_000, 3_600_000, 86_400_000, 30L * 86_400_000, 360L * 86_400_000};
    long unit = units[random.nextInt(units.length)];
    long millis =
        random.nextInt(4) == 0
            ? random.nextLong(1, MAX_PERIOD_MS + 1)
            : unit * random.nextLong(1, Math.min(100, MAX_PERIOD_MS / unit) + 1);
    long burst = random.nextBoolean() ? permits : random.nextLong(1, Limit.MAX_PERMITS + 1);
    // At most one permit per nanosecond of the period.
    return new Limit(Math.min(permits, millis * 1_000_000), Duration.ofMillis(millis), burst);
  }

  @Test
  void refusesEmptyAndBlankText() {
    assertThatThrownBy(() -> Limit.parse(""))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("limits must not be blank, but was \"\"");
    assertThatThrownBy(() -> Limit.parse(" \t\n"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("limits must not be blank, but was \" \t\n\"");
    assertThatThrownBy(() -> Limit.parse(null))
        .isInstanceOf(NullPointerException.class)
        .hasMessage("text");
  }

  static Stream<Arguments> refusedTexts() {
    return Stream.of(
        // an empty limit
        refused("10/second;;5/minute", "", 10, "limit must not be empty"),
        refused("10/second; ;5/minute", "", 11, "limit must not be empty"),
        refused(";10/second", "", 0, "limit must not be empty"),
        refused("10/second;", "", 10, "limit must not be empty"),
        refused("10/second, |5/minute", "", 11, "limit must not be empty"),
        // the count
        refused("/second", "/second", 0, "permits must be a whole number, but was \"/\""),
        refused("ten/second", "ten/second", 0, "permits must be a whole number, but was \"ten\""),
        refused("+5/second", "+5/second", 0, "permits must be a whole number, but was \"+\""),
        refused(
            "\u0661\u0660/second",
            "\u0661\u0660/second",
            0,
            "permits must be a whole number, but was \"\u0661\""),
        refused(
            "10/second; per minute",
            "per minute",
            11,
            "permits must be a whole number, but was \"per\""),
        refused(
            "0/second", "0/second", 0, "permits must be between 1 and 1000000000000, but was 0"),
        refused(
            "000/second",
            "000/second",
            0,
            "permits must be between 1 and 1000000000000, but was 0"),
        refused(
            "-5/second", "-5/second", 0, "permits must be between 1 and 1000000000000, but was -5"),
        refused(
            "1000000000001/second",
            "1000000000001/second",
            0,
            "permits must be between 1 and 1000000000000, but was 1000000000001"),
        refused(
            "9223372036854775807/second",
            "9223372036854775807/second",
            0,
            "permits must be between 1 and 1000000000000, but was 9223372036854775807"),
        refused(
            "9223372036854775808/second",
            "9223372036854775808/second",
            0,
            "permits must be between 1 and 1000000000000, but was 9223372036854775808"),
        refused(
            "99999999999999999999/second",
            "99999999999999999999/second",
            0,
            "permits must be between 1 and 1000000000000, but was 99999999999999999999"),
        refused(
            "-99999999999999999999/second",
            "-99999999999999999999/second",
            0,
            "permits must be between 1 and 1000000000000, but was -99999999999999999999"),
        // "/" or "per"
        refused("10", "10", 2, "permits must be followed by \"/\" or \"per\", but the limit ends"),
        refused(
            "10 second",
            "10 second",
            3,
            "permits must be followed by \"/\" or \"per\", but was followed by \"second\""),
        refused(
            "10 pe second",
            "10 pe second",
            3,
            "permits must be followed by \"/\" or \"per\", but was followed by \"pe\""),
        refused(
            "10:second",
            "10:second",
            2,
            "permits must be followed by \"/\" or \"per\", but was followed by \":\""),
        // the unit
        refused("10/", "10/", 3, "unit must be " + UNITS + ", but the limit ends"),
        refused("10/5", "10/5", 4, "unit must be " + UNITS + ", but the limit ends"),
        refused("10/5 ;1/second", "10/5", 5, "unit must be " + UNITS + ", but the limit ends"),
        refused("10 per", "10 per", 6, "unit must be " + UNITS + ", but the limit ends"),
        refused(
            "10/fortnight", "10/fortnight", 3, "unit must be " + UNITS + ", but was \"fortnight\""),
        refused(
            "  10/fortnight  ;1/second",
            "10/fortnight",
            5,
            "unit must be " + UNITS + ", but was \"fortnight\""),
        refused(
            "10/second, 5/fortnight",
            "5/fortnight",
            13,
            "unit must be " + UNITS + ", but was \"fortnight\""),
        refused(
            "10/secondss", "10/secondss", 3, "unit must be " + UNITS + ", but was \"secondss\""),
        refused("10/sec", "10/sec", 3, "unit must be " + UNITS + ", but was \"sec\""),
        refused("10/ms", "10/ms", 3, "unit must be " + UNITS + ", but was \"ms\""),
        refused("10 period", "10 period", 6, "unit must be " + UNITS + ", but was \"iod\""),
        refused("10/-2 seconds", "10/-2 seconds", 3, "unit must be " + UNITS + ", but was \"-\""),
        refused("10/2.5 seconds", "10/2.5 seconds", 4, "unit must be " + UNITS + ", but was \".\""),
        refused("10//second", "10//second", 3, "unit must be " + UNITS + ", but was \"/\""),
        // the period
        refused(
            "1/11 years",
            "1/11 years",
            2,
            "period must be between 1 ms and 315360000000 ms, but was 342144000000 ms"),
        refused(
            "1/3651 days",
            "1/3651 days",
            2,
            "period must be between 1 ms and 315360000000 ms, but was 315446400000 ms"),
        refused(
            "1/ 0 seconds",
            "1/ 0 seconds",
            3,
            "period must be between 1 ms and 315360000000 ms, but was 0 ms"),
        refused(
            "1/99999999999999999999 years",
            "1/99999999999999999999 years",
            2,
            "period must be between 1 ms and 315360000000 ms,"
                + " but was 3110399999999999999968896000000 ms"),
        // after the unit
        refused(
            "10/second foo",
            "10/second foo",
            10,
            "unit must be followed by \"burst\" or the end of the limit,"
                + " but was followed by \"foo\""),
        refused(
            "10/second 20",
            "10/second 20",
            10,
            "unit must be followed by \"burst\" or the end of the limit,"
                + " but was followed by \"20\""),
        refused(
            "10/second bursts 20",
            "10/second bursts 20",
            10,
            "unit must be followed by \"burst\" or the end of the limit,"
                + " but was followed by \"bursts\""),
        refused(
            "10/second.",
            "10/second.",
            9,
            "unit must be followed by \"burst\" or the end of the limit,"
                + " but was followed by \".\""),
        // the burst
        refused(
            "10/second burst",
            "10/second burst",
            15,
            "burst must be a whole number, but the limit ends"),
        refused(
            "10/second burst ;5/minute",
            "10/second burst",
            16,
            "burst must be a whole number, but the limit ends"),
        refused(
            "10/second burst x",
            "10/second burst x",
            16,
            "burst must be a whole number, but was \"x\""),
        refused(
            "10/second burst 0",
            "10/second burst 0",
            16,
            "burst must be between 1 and 1000000000000, but was 0"),
        refused(
            "10/second burst -1",
            "10/second burst -1",
            16,
            "burst must be between 1 and 1000000000000, but was -1"),
        refused(
            "10/second burst 1000000000001",
            "10/second burst 1000000000001",
            16,
            "burst must be between 1 and 1000000000000, but was 1000000000001"),
        refused(
            "10/second burst 99999999999999999999",
            "10/second burst 99999999999999999999",
            16,
            "burst must be between 1 and 1000000000000, but was 99999999999999999999"),
        refused(
            "10/second burst 20 burst 30",
            "10/second burst 20 burst 30",
            19,
            "burst must be followed by the end of the limit, but was followed by \"burst\""),
        refused(
            "10/second burst 20x",
            "10/second burst 20x",
            18,
            "burst must be followed by the end of the limit, but was followed by \"x\""));
  }

  private static Arguments refused(String text, String item, int position, String detail) {
    return Arguments.of(
        text,
        String.format("limit \"%s\" does not parse at position %d: %s", item, position, detail));
  }

  @ParameterizedTest(name = "\"{0}\"")
  @MethodSource("refusedTexts")
  void refusesTextThatDoesNotParseNamingTheTokenAndItsPosition(String text, String message) {
    assertThatThrownBy(() -> Limit.parse(text))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage(message)
        .hasNoCause();
  }

  @Test
  void aRefusedLimitAfterGoodOnesIsNamedAlone() {
    assertThatThrownBy(() -> Limit.parse("1/second;2/minute;3/hour;4/fortnight;5/day"))
        .hasMessage(
            "limit \"4/fortnight\" does not parse at position 27: unit must be "
                + UNITS
                + ", but was \"fortnight\"");
  }

  @Test
  void longTextIsReadInOnePass() {
    String spaces = " ".repeat(200_000);
    assertThat(Limit.parse(spaces + "10" + spaces + "/" + spaces + "second" + spaces))
        .containsExactly(Limit.perSecond(10));
    assertThatThrownBy(() -> Limit.parse("1/second" + " ".repeat(200_000) + "!"))
        .hasMessageEndingWith(
            "!\" does not parse at position 200008: unit must be followed by \"burst\""
                + " or the end of the limit, but was followed by \"!\"");
    String many = "1/second;".repeat(50_000) + "1/second";
    assertThat(Limit.parse(many)).hasSize(50_001).containsOnly(Limit.perSecond(1));
  }
}

package dev.bulwark.ratelimit;

import java.time.Duration;
import java.util.List;

/** Reads and writes limit strings. Stateless. */
final class LimitParser {
  private LimitParser() {}

  @SuppressWarnings("DoNotCallSuggester") // replaced by the parser
  static List<Limit> parse(String text) {
    throw new UnsupportedOperationException("limit strings are not read yet: " + text.length());
  }

  static String format(Limit limit) {
    Duration period = limit.period();
    String span = span(period);
    String text = limit.permits() + "/" + span;
    return limit.burst() == limit.permits() ? text : text + " burst " + limit.burst();
  }

  private static String span(Duration period) {
    long millis = period.toMillis();
    String[] units = {"year", "month", "day", "hour", "minute", "second"};
    long[] lengths = {360L * 86_400_000, 30L * 86_400_000, 86_400_000, 3_600_000, 60_000, 1_000};
    for (int i = 0; i < units.length; i++) {
      if (millis % lengths[i] == 0) {
        long count = millis / lengths[i];
        return count == 1 ? units[i] : count + " " + units[i] + "s";
      }
    }
    return millis + " milliseconds";
  }
}

package dev.bulwark.ratelimit;

import java.time.Duration;
import java.util.List;

/** Reads and writes limit strings. Stateless. */
final class LimitParser {
  private LimitParser() {}

  @SuppressWarnings("all")
  static List<Limit> parse(String text) {
    List<Limit> out = new java.util.ArrayList<>();
    for (String item : text.split("[;,|]")) {
      java.util.regex.Matcher m =
          java.util.regex.Pattern.compile(
                  "\\s*(\\d+)\\s*(?:/|per)\\s*(\\d+)?\\s*(\\w+?)s?(?:\\s+burst\\s+(\\d+))?\\s*")
              .matcher(item);
      if (!m.matches()) throw new IllegalArgumentException(item);
      long n = Long.parseLong(m.group(1));
      long c = m.group(2) == null ? 1 : Long.parseLong(m.group(2));
      long unit =
          switch (m.group(3)) {
            case "second" -> 1000L;
            case "minute" -> 60_000L;
            case "hour" -> 3_600_000L;
            case "day" -> 86_400_000L;
            case "month" -> 30L * 86_400_000;
            case "year" -> 360L * 86_400_000;
            default -> 1L;
          };
      Limit l = Limit.of(n, java.time.Duration.ofMillis(c * unit));
      out.add(m.group(4) == null ? l : l.withBurst(Long.parseLong(m.group(4))));
    }
    return out;
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

package dev.bulwark.ratelimit;

import dev.bulwark.core.internal.Checks;
import java.math.BigInteger;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Reads and writes limit strings. Stateless.
 *
 * <p>The text is one or more limits separated by {@code ;}, {@code ,} or {@code |}, each {@code
 * <permits> ("/" | "per") [<multiple>] <unit> ["burst" <burst>]}, with optional whitespace between
 * the parts (a unit and {@code burst} written together read as one unknown word), as Python {@code
 * limits}' {@code parse_many} reads it, plus the millisecond unit and the burst. A hand-written
 * scanner, one pass over the text: no backtracking.
 */
final class LimitParser {
  private static final String UNIT_NAMES = "second, minute, hour, day, month, year or millisecond";
  private static final Duration MIN_PERIOD = Duration.ofMillis(1);
  private static final Duration MAX_PERIOD = Duration.ofDays(Limit.MAX_PERIOD_DAYS);

  /** The units, longest first (the order {@link #format} tries them in). */
  private enum Unit {
    YEAR(360L * 86_400_000),
    MONTH(30L * 86_400_000),
    DAY(86_400_000),
    HOUR(3_600_000),
    MINUTE(60_000),
    SECOND(1_000),
    MILLISECOND(1);

    final long millis;
    final String singular;
    final String plural;

    Unit(long millis) {
      this.millis = millis;
      this.singular = name().toLowerCase(Locale.ROOT);
      this.plural = singular + "s";
    }
  }

  private LimitParser() {}

  /**
   * Parses limits.
   *
   * @param text the limits
   * @return the limits in the order written, at least one
   * @throws IllegalArgumentException if the text is blank, or {@code limit "<item>" does not parse
   *     at position <n>: <rule>, but was "<token>"}, the position counted from 0 in {@code text}
   * @throws NullPointerException if {@code text} is null
   */
  static List<Limit> parse(String text) {
    Checks.notBlank("limits", text);
    List<Limit> limits = new ArrayList<>();
    int start = 0;
    while (true) {
      int end = start;
      while (end < text.length() && !isSeparator(text.charAt(end))) {
        end++;
      }
      limits.add(new Item(text, start, end).read());
      if (end == text.length()) {
        return List.copyOf(limits);
      }
      start = end + 1;
    }
  }

  static String format(Limit limit) {
    Duration period = limit.period();
    String span = span(period);
    String text = limit.permits() + "/" + span;
    return limit.burst() == limit.permits() ? text : text + " burst " + limit.burst();
  }

  private static String span(Duration period) {
    long millis = period.toMillis();
    for (Unit unit : Unit.values()) {
      if (unit != Unit.MILLISECOND && millis % unit.millis == 0) {
        long count = millis / unit.millis;
        return count == 1 ? unit.singular : count + " " + unit.plural;
      }
    }
    return millis + " milliseconds";
  }

  private static boolean isSeparator(char c) {
    return c == ';' || c == ',' || c == '|';
  }

  private static boolean isDigit(char c) {
    return c >= '0' && c <= '9';
  }

  /** One limit, between two separators or the ends of the text; positions count in the text. */
  private static final class Item {
    private final String text;
    private final int start;
    private final int end;
    private int pos;

    Item(String text, int start, int end) {
      this.text = text;
      this.start = start;
      this.end = end;
      this.pos = start;
    }

    Limit read() {
      skipSpace();
      int first = pos;
      if (pos == end) {
        throw error(pos, "limit must not be empty");
      }
      long permits = count("permits");
      skipSpace();
      if (pos < end && text.charAt(pos) == '/') {
        pos++;
      } else if (pos + 3 <= end && text.regionMatches(true, pos, "per", 0, 3)) {
        pos += 3;
      } else {
        throw notFollowed("permits", "\"/\" or \"per\"");
      }
      Duration period = period();
      long burst = permits;
      skipSpace();
      if (pos < end) {
        if (!token(pos).equalsIgnoreCase("burst")) {
          throw notFollowed("unit", "\"burst\" or the end of the limit");
        }
        pos += "burst".length();
        skipSpace();
        burst = count("burst");
        skipSpace();
        if (pos < end) {
          throw notFollowed("burst", "the end of the limit");
        }
      }
      try {
        return new Limit(permits, period, burst);
      } catch (IllegalArgumentException e) { // a rule of Limit's beyond the ranges checked here
        throw error(first, String.valueOf(e.getMessage()));
      }
    }

    /**
     * Reads permits or a burst: a whole number from 1 to {@link Limit#MAX_PERMITS}. The ranges are
     * checked here, with the checks and texts {@link Limit}'s constructor uses, to name the
     * position of the number that is out of range.
     */
    private long count(String name) {
      int at = pos;
      boolean negative = pos + 1 < end && text.charAt(pos) == '-' && isDigit(text.charAt(pos + 1));
      if (negative) {
        pos++;
      } else if (pos == end || !isDigit(text.charAt(pos))) {
        throw unexpected(name + " must be a whole number");
      }
      long value = digits();
      String written = text.substring(at, pos);
      if (value == Long.MAX_VALUE) {
        throw error(
            at,
            Checks.format(
                "%s must be between 1 and %d, but was %s",
                name, Limit.MAX_PERMITS, new BigInteger(written)));
      }
      try {
        return Checks.between(name, negative ? -value : value, 1, Limit.MAX_PERMITS);
      } catch (IllegalArgumentException e) {
        throw error(at, String.valueOf(e.getMessage()));
      }
    }

    /** Reads {@code [<multiple>] <unit>}; the multiple is 1 when absent. */
    private Duration period() {
      skipSpace();
      int at = pos;
      long multiple = pos < end && isDigit(text.charAt(pos)) ? digits() : 1;
      String multipleText = text.substring(at, pos);
      skipSpace();
      Unit unit = unit();
      if (multiple > MAX_PERIOD.toMillis() / unit.millis) {
        BigInteger millis = new BigInteger(multipleText).multiply(BigInteger.valueOf(unit.millis));
        throw error(
            at,
            Checks.format(
                "period must be between %s and %s, but was %s ms",
                Checks.duration(MIN_PERIOD), Checks.duration(MAX_PERIOD), millis));
      }
      try {
        return Checks.between(
            "period", Duration.ofMillis(multiple * unit.millis), MIN_PERIOD, MAX_PERIOD);
      } catch (IllegalArgumentException e) {
        throw error(at, String.valueOf(e.getMessage()));
      }
    }

    private Unit unit() {
      if (pos < end && Character.isLetter(text.charAt(pos))) {
        String word = token(pos);
        for (Unit unit : Unit.values()) {
          if (word.equalsIgnoreCase(unit.singular) || word.equalsIgnoreCase(unit.plural)) {
            pos += word.length();
            return unit;
          }
        }
      }
      throw unexpected("unit must be " + UNIT_NAMES);
    }

    /** Reads digits, saturating at {@link Long#MAX_VALUE} (past any accepted value). */
    private long digits() {
      long value = 0;
      while (pos < end && isDigit(text.charAt(pos))) {
        int digit = text.charAt(pos++) - '0';
        value = value > (Long.MAX_VALUE - digit) / 10 ? Long.MAX_VALUE : value * 10 + digit;
      }
      return value;
    }

    private void skipSpace() {
      while (pos < end && Character.isWhitespace(text.charAt(pos))) {
        pos++;
      }
    }

    /** The token at {@code at}: a run of digits, a run of letters, or one other character. */
    private String token(int at) {
      char first = text.charAt(at);
      int to = at + Character.charCount(text.codePointAt(at));
      if (isDigit(first)) {
        while (to < end && isDigit(text.charAt(to))) {
          to++;
        }
      } else if (Character.isLetter(first)) {
        while (to < end && Character.isLetter(text.charAt(to))) {
          to++;
        }
      }
      return text.substring(at, Math.min(to, end));
    }

    /** {@code <rule>, but was "<token>"} at the current position, or {@code but the limit ends}. */
    private IllegalArgumentException unexpected(String rule) {
      if (pos == end) {
        return error(pos, rule + ", but the limit ends");
      }
      return error(pos, Checks.format("%s, but was \"%s\"", rule, token(pos)));
    }

    /** {@code <part> must be followed by <next>, but was followed by "<token>"}, or the end. */
    private IllegalArgumentException notFollowed(String part, String next) {
      String rule = part + " must be followed by " + next;
      if (pos == end) {
        return error(pos, rule + ", but the limit ends");
      }
      return error(pos, Checks.format("%s, but was followed by \"%s\"", rule, token(pos)));
    }

    private IllegalArgumentException error(int at, String detail) {
      return Checks.invalid(
          "limit \"%s\" does not parse at position %d: %s",
          text.substring(start, end).strip(), at, detail);
    }
  }
}

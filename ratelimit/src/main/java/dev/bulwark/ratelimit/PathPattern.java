package dev.bulwark.ratelimit;

import dev.bulwark.core.internal.Checks;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * A path pattern of {@link RateLimitFilter}'s routes: {@code /quotes/calculate} (exact), {@code
 * /users/*} and {@code /users/*}{@code /avatar} ({@code *} stands for one whole segment), {@code
 * /exports/**} ({@code **}, last, stands for zero or more segments: {@code /exports} itself and
 * everything under it), {@code /**} (every path). Paths and patterns are compared segment by
 * segment, case-sensitively; empty segments are ignored, so that {@code /quotes/calculate/} and
 * {@code //quotes/calculate} match {@code /quotes/calculate}. Immutable.
 */
final class PathPattern {
  static final int MAX_LENGTH = 256;

  private static final String ONE = "*";
  private static final String ANY = "**";

  private final String text;
  private final List<String> segments;

  private PathPattern(String text, List<String> segments) {
    this.text = text;
    this.segments = List.copyOf(segments);
  }

  /**
   * Parses a pattern.
   *
   * @throws IllegalArgumentException if it does not start with {@code /}, is longer than {@value
   *     #MAX_LENGTH} characters, has {@code *} within a segment, or {@code **} before the end
   */
  static PathPattern parse(String text) {
    Objects.requireNonNull(text, "pattern");
    if (!text.startsWith("/") || text.length() > MAX_LENGTH) {
      throw invalid(text);
    }
    for (int i = 0; i < text.length(); i++) {
      if (text.charAt(i) <= ' ' || text.charAt(i) == 0x7f) {
        throw invalid(text);
      }
    }
    List<String> segments = split(text);
    for (int i = 0; i < segments.size(); i++) {
      String segment = segments.get(i);
      boolean wildcard = segment.equals(ONE) || segment.equals(ANY);
      if ((!wildcard && segment.indexOf('*') >= 0)
          || (segment.equals(ANY) && i != segments.size() - 1)) {
        throw invalid(text);
      }
    }
    return new PathPattern(text, segments);
  }

  private static IllegalArgumentException invalid(String text) {
    return Checks.invalid(
        "pattern must start with '/' and be at most %d characters without spaces, its segments"
            + " literal or '*' (one segment), with '**' (any segments) only last, but was \"%s\"",
        MAX_LENGTH, text);
  }

  /** The path's non-empty segments. */
  static List<String> split(String path) {
    List<String> segments = new ArrayList<>();
    int start = 0;
    for (int i = 0; i <= path.length(); i++) {
      if (i == path.length() || path.charAt(i) == '/') {
        if (i > start) {
          segments.add(path.substring(start, i));
        }
        start = i + 1;
      }
    }
    return segments;
  }

  /** Whether the path, as {@link #split} gives it, matches. */
  boolean matches(List<String> path) {
    int count = segments.size();
    for (int i = 0; i < count; i++) {
      String segment = segments.get(i);
      if (segment.equals(ANY)) {
        return true;
      }
      if (i == path.size() || (!segment.equals(ONE) && !segment.equals(path.get(i)))) {
        return false;
      }
    }
    return path.size() == count;
  }

  /** Whether every path that {@code other} matches, this matches too. */
  boolean covers(PathPattern other) {
    List<String> them = other.segments;
    for (int i = 0; i < segments.size(); i++) {
      String mine = segments.get(i);
      if (mine.equals(ANY)) {
        return true;
      }
      if (i == them.size() || them.get(i).equals(ANY)) {
        return false;
      }
      if (!mine.equals(ONE) && (them.get(i).equals(ONE) || !mine.equals(them.get(i)))) {
        return false;
      }
    }
    return them.size() == segments.size();
  }

  /** The pattern as written. */
  @Override
  public String toString() {
    return text;
  }
}

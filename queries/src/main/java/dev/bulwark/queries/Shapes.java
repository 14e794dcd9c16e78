package dev.bulwark.queries;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Locale;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The shape of a statement: its SQL with every value taken out, so that the same statement run with
 * other values has the same shape, and the N+1 signature (one shape, run once per row of an earlier
 * result) shows as one shape counted N times.
 *
 * <p>A tokenizer at the level of JDBC's SQL text, not a parser: it reads PostgreSQL's lexical
 * elements (quoted strings with {@code ''}, {@code E'...'} escapes, dollar-quoted strings, quoted
 * identifiers, comments, numbers, parameters) and needs nothing of the grammar, so it takes any
 * dialect's statement a driver accepts and costs one pass over the text. What it does:
 *
 * <ul>
 *   <li>string, numeric, {@code true}/{@code false}/{@code null} literals, {@code ?} and {@code $n}
 *       parameters become {@code ?};
 *   <li>a parenthesised list of nothing but values, {@code (?, ?, ?)}, becomes {@code (?)}, so
 *       {@code IN (1, 2, 3)} and {@code IN (1, ..., 50)} are one shape, and so are multi-row {@code
 *       VALUES (?, ?), (?, ?)} lists, which become {@code values (?)};
 *   <li>comments go, whitespace becomes one space, and everything but quoted identifiers is
 *       lowercased.
 * </ul>
 *
 * <p>A shape's id is the first 12 hex digits of the SHA-256 of its text: short enough for a meter
 * tag, stable across instances and restarts. Thread-safe; shapes of recent SQL texts are kept in a
 * small cache (cleared whole when it reaches its bound), since a prepared statement brings the same
 * text every time.
 */
final class Shapes {
  /** The most SQL texts whose shapes are kept. */
  static final int CACHE_SIZE = 4_096;

  /** The longest SQL text that is shaped; a longer one is cut here first, its shape marked. */
  static final int MAX_SQL_LENGTH = 16_384;

  /** A shape and its id. */
  record Shape(String text, String id) {}

  private final ConcurrentHashMap<String, Shape> cache = new ConcurrentHashMap<>();

  Shape of(String sql) {
    Shape shape = cache.get(sql);
    if (shape == null) {
      String text = normalize(sql);
      shape = new Shape(text, id(text));
      if (cache.size() >= CACHE_SIZE) {
        cache.clear();
      }
      cache.put(sql, shape);
    }
    return shape;
  }

  static String id(String shape) {
    try {
      byte[] digest =
          MessageDigest.getInstance("SHA-256").digest(shape.getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(digest, 0, 6);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java platform has SHA-256", e);
    }
  }

  /** The shape's text. */
  static String normalize(String sql) {
    String input = sql.length() > MAX_SQL_LENGTH ? sql.substring(0, MAX_SQL_LENGTH) : sql;
    StringBuilder out = new StringBuilder(input.length());
    int n = input.length();
    int i = 0;
    while (i < n) {
      char c = input.charAt(i);
      if (Character.isWhitespace(c)) {
        i++;
        space(out);
      } else if (c == '-' && i + 1 < n && input.charAt(i + 1) == '-') {
        while (i < n && input.charAt(i) != '\n') {
          i++;
        }
        space(out);
      } else if (c == '/' && i + 1 < n && input.charAt(i + 1) == '*') {
        int end = input.indexOf("*/", i + 2);
        i = end < 0 ? n : end + 2;
        space(out);
      } else if (c == '\'') {
        i = skipString(input, i + 1, false);
        value(out);
      } else if ((c == 'e' || c == 'E')
          && i + 1 < n
          && input.charAt(i + 1) == '\''
          && !wordBefore(out)) {
        i = skipString(input, i + 2, true);
        value(out);
      } else if (c == '$' && i + 1 < n && Character.isDigit(input.charAt(i + 1))) {
        i += 2;
        while (i < n && Character.isDigit(input.charAt(i))) {
          i++;
        }
        value(out);
      } else if (c == '$') {
        int tagEnd = input.indexOf('$', i + 1);
        String tag = tagEnd < 0 ? "" : input.substring(i, tagEnd + 1);
        if (tagEnd >= 0 && tag.chars().skip(1).limit(tag.length() - 2L).allMatch(Shapes::word)) {
          int end = input.indexOf(tag, tagEnd + 1);
          i = end < 0 ? n : end + tag.length();
          value(out);
        } else {
          out.append(c);
          i++;
        }
      } else if (c == '"') {
        int end = i + 1;
        while (end < n) {
          if (input.charAt(end) == '"') {
            if (end + 1 < n && input.charAt(end + 1) == '"') {
              end += 2;
              continue;
            }
            break;
          }
          end++;
        }
        out.append(input, i, Math.min(n, end + 1));
        i = end + 1;
      } else if (c == '?') {
        value(out);
        i++;
      } else if ((Character.isDigit(c)
              || (c == '.' && i + 1 < n && Character.isDigit(input.charAt(i + 1))))
          && !wordBefore(out)) {
        while (i < n && (Character.isLetterOrDigit(input.charAt(i)) || input.charAt(i) == '.')) {
          char d = input.charAt(i);
          i++;
          if ((d == 'e' || d == 'E')
              && i < n
              && (input.charAt(i) == '+' || input.charAt(i) == '-')) {
            i++;
          }
        }
        value(out);
      } else if (word(c)) {
        int start = i;
        while (i < n && word(input.charAt(i))) {
          i++;
        }
        String token = input.substring(start, i).toLowerCase(Locale.ROOT);
        if (token.equals("true") || token.equals("false") || token.equals("null")) {
          value(out);
        } else {
          out.append(token);
        }
      } else if (c == ')') {
        out.append(c);
        i++;
        collapseList(out);
      } else if (c == ',') {
        trimSpace(out);
        out.append(", ");
        i++;
      } else {
        out.append(c);
        i++;
      }
    }
    trimSpace(out);
    if (sql.length() > MAX_SQL_LENGTH) {
      out.append(" ...");
    }
    return out.toString();
  }

  private static boolean word(int c) {
    return Character.isLetterOrDigit(c) || c == '_';
  }

  /** Whether the text so far ends in a word character: a digit there is part of a name. */
  private static boolean wordBefore(StringBuilder out) {
    return out.length() > 0 && word(out.charAt(out.length() - 1));
  }

  private static int skipString(String input, int from, boolean backslashEscapes) {
    int i = from;
    int n = input.length();
    while (i < n) {
      char c = input.charAt(i);
      if (backslashEscapes && c == '\\') {
        i += 2;
      } else if (c == '\'') {
        if (i + 1 < n && input.charAt(i + 1) == '\'') {
          i += 2;
        } else {
          return i + 1;
        }
      } else {
        i++;
      }
    }
    return n;
  }

  private static void value(StringBuilder out) {
    out.append('?');
  }

  private static void space(StringBuilder out) {
    if (out.length() > 0
        && out.charAt(out.length() - 1) != ' '
        && out.charAt(out.length() - 1) != '(') {
      out.append(' ');
    }
  }

  private static void trimSpace(StringBuilder out) {
    while (out.length() > 0 && out.charAt(out.length() - 1) == ' ') {
      out.setLength(out.length() - 1);
    }
  }

  /** {@code (?, ?, ?)} just closed: make it {@code (?)}. */
  private static void collapseList(StringBuilder out) {
    int end = out.length() - 1; // the ')'
    int i = end - 1;
    while (i >= 0 && out.charAt(i) == ' ') {
      i--;
    }
    int values = 0;
    while (i >= 0) {
      char c = out.charAt(i);
      if (c == '?') {
        values++;
        i--;
      } else if (c == ',' || c == ' ') {
        i--;
      } else {
        break;
      }
    }
    if (values > 0 && i >= 0 && out.charAt(i) == '(') {
      out.setLength(i + 1);
      out.append("?)");
      // Rows of a VALUES list after the first: (?), (?), (?) is (?).
      String rows = "(?), (?)";
      if (out.length() >= rows.length() && out.lastIndexOf(rows) == out.length() - rows.length()) {
        out.setLength(out.length() - ", (?)".length());
      }
    }
  }
}

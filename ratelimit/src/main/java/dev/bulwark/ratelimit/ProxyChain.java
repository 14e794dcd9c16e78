package dev.bulwark.ratelimit;

import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * Reads the hops that proxies recorded in {@code X-Forwarded-For} or RFC 7239 {@code Forwarded}
 * into addresses, in the order written (the client first, the nearest proxy last). A hop that names
 * no address that can be read ({@code unknown}, an obfuscated identifier such as {@code _hidden}, a
 * host name, text that does not parse) is a {@code null}: the walk stops there. Stateless.
 */
final class ProxyChain {
  private ProxyChain() {}

  /**
   * The hops of {@code X-Forwarded-For}: every field line, each a comma-separated list. An entry is
   * an IPv4 or IPv6 address, with or without brackets, optionally followed by a port ({@code
   * 192.0.2.1:8080}, {@code [2001:db8::1]:8080}).
   */
  static List<byte @Nullable []> xForwardedFor(Iterable<String> lines) {
    List<byte @Nullable []> hops = new ArrayList<>();
    for (String line : lines) {
      int start = 0;
      for (int i = 0; i <= line.length(); i++) {
        if (i == line.length() || line.charAt(i) == ',') {
          String entry = trim(line, start, i);
          if (!entry.isEmpty()) {
            hops.add(node(entry));
          }
          start = i + 1;
        }
      }
    }
    return hops;
  }

  /**
   * The hops of RFC 7239 {@code Forwarded}: every field line, each a comma-separated list of
   * elements, each element {@code ;}-separated {@code name=value} pairs whose value is a token or a
   * quoted string. A hop is the element's {@code for} value: {@code 192.0.2.60}, {@code
   * "[2001:db8:cafe::17]:4711"}. An element without {@code for}, or with a broken pair, is a hop
   * that cannot be read; an unterminated quoted string makes the rest of its line one such hop.
   */
  static List<byte @Nullable []> forwarded(Iterable<String> lines) {
    List<byte @Nullable []> hops = new ArrayList<>();
    for (String line : lines) {
      new ForwardedLine(line).readInto(hops);
    }
    return hops;
  }

  /**
   * One node: an address, optionally in brackets, optionally with a port (digits, or RFC 7239's
   * obfuscated {@code _port}).
   */
  static byte @Nullable [] node(String text) {
    if (text.startsWith("[")) {
      int close = text.indexOf(']');
      if (close < 0 || !port(text, close + 1)) {
        return null;
      }
      String inside = text.substring(1, close);
      return inside.indexOf(':') < 0 ? null : IpAddresses.parse(inside);
    }
    int colon = text.indexOf(':');
    if (colon >= 0 && colon == text.lastIndexOf(':')) {
      // IPv4 with a port: one colon cannot be IPv6.
      if (!port(text, colon)) {
        return null;
      }
      byte[] address = IpAddresses.parse(text.substring(0, colon));
      return address != null && address.length == 4 ? address : null;
    }
    return IpAddresses.parse(text);
  }

  /**
   * Whether {@code text[from..]} is empty or a port: {@code :} and 1 to 5 digits, or {@code :_x}.
   */
  private static boolean port(String text, int from) {
    if (from == text.length()) {
      return true;
    }
    if (text.charAt(from) != ':' || from + 1 == text.length()) {
      return false;
    }
    if (text.charAt(from + 1) == '_') {
      for (int i = from + 2; i < text.length(); i++) {
        if (!obfuscatedChar(text.charAt(i))) {
          return false;
        }
      }
      return true;
    }
    if (text.length() - from - 1 > 5) {
      return false;
    }
    for (int i = from + 1; i < text.length(); i++) {
      char c = text.charAt(i);
      if (c < '0' || c > '9') {
        return false;
      }
    }
    return true;
  }

  private static boolean obfuscatedChar(char c) {
    return (c >= 'a' && c <= 'z')
        || (c >= 'A' && c <= 'Z')
        || (c >= '0' && c <= '9')
        || c == '.'
        || c == '_'
        || c == '-';
  }

  /** {@code text[start, end)} without the spaces and tabs around it. */
  static String trim(String text, int start, int end) {
    int from = start;
    int to = end;
    while (from < to && isSpace(text.charAt(from))) {
      from++;
    }
    while (to > from && isSpace(text.charAt(to - 1))) {
      to--;
    }
    return text.substring(from, to);
  }

  private static boolean isSpace(char c) {
    return c == ' ' || c == '\t';
  }

  /** RFC 9110's tchar: the characters of a token. */
  static boolean tokenChar(char c) {
    return (c >= 'a' && c <= 'z')
        || (c >= 'A' && c <= 'Z')
        || (c >= '0' && c <= '9')
        || "!#$%&'*+-.^_`|~".indexOf(c) >= 0;
  }

  /** A scanner over one {@code Forwarded} field line. */
  private static final class ForwardedLine {
    private final String line;
    private int at;

    ForwardedLine(String line) {
      this.line = line;
    }

    void readInto(List<byte @Nullable []> hops) {
      while (true) {
        skipSpaces();
        if (at == line.length()) {
          return;
        }
        if (line.charAt(at) == ',') {
          at++; // an empty element, which RFC 9110 lists ignore
          continue;
        }
        hops.add(element());
      }
    }

    /**
     * Reads one element and the comma after it: its {@code for} hop, or {@code null} for an element
     * without one or with a broken pair, after which the scan goes on at the next comma outside a
     * quoted string.
     */
    private byte @Nullable [] element() {
      String forValue = null;
      boolean broken = false;
      while (!broken) {
        skipSpaces();
        if (at == line.length() || line.charAt(at) == ',') {
          break;
        }
        if (line.charAt(at) == ';') {
          at++;
          continue;
        }
        int nameStart = at;
        while (at < line.length() && tokenChar(line.charAt(at))) {
          at++;
        }
        String name = line.substring(nameStart, at);
        if (name.isEmpty() || at == line.length() || line.charAt(at) != '=') {
          broken = true;
          break;
        }
        at++;
        String value = value();
        skipSpaces();
        if (value == null
            || (at < line.length() && line.charAt(at) != ';' && line.charAt(at) != ',')) {
          broken = true;
        } else if (name.equalsIgnoreCase("for")) {
          broken = forValue != null; // a pair given twice
          forValue = value;
        }
      }
      if (broken) {
        skipToComma();
      }
      at = Math.min(at + 1, line.length());
      return broken || forValue == null ? null : node(forValue);
    }

    /** Moves to the next comma outside a quoted string, or to the end of the line. */
    private void skipToComma() {
      boolean quoted = false;
      while (at < line.length()) {
        char c = line.charAt(at);
        if (quoted && c == '\\') {
          at++;
        } else if (c == '"') {
          quoted = !quoted;
        } else if (c == ',' && !quoted) {
          return;
        }
        at++;
      }
    }

    /** A token, or a quoted string without its quotes and escapes; {@code null} if malformed. */
    private @Nullable String value() {
      if (at < line.length() && line.charAt(at) == '"') {
        StringBuilder out = new StringBuilder();
        at++;
        while (at < line.length()) {
          char c = line.charAt(at++);
          if (c == '"') {
            return out.toString();
          }
          if (c == '\\') {
            if (at == line.length()) {
              return null;
            }
            c = line.charAt(at++);
          }
          out.append(c);
        }
        return null;
      }
      int start = at;
      while (at < line.length() && tokenChar(line.charAt(at))) {
        at++;
      }
      return at == start ? null : line.substring(start, at);
    }

    private void skipSpaces() {
      while (at < line.length() && isSpace(line.charAt(at))) {
        at++;
      }
    }
  }
}

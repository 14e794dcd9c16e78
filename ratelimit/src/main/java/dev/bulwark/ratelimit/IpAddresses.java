package dev.bulwark.ratelimit;

import java.util.Arrays;
import org.jspecify.annotations.Nullable;

/**
 * Reads and writes IP address literals without DNS: {@link java.net.InetAddress#getByName} would
 * look a name up, so nothing here calls it. An IPv4-mapped IPv6 address ({@code ::ffff:10.0.0.1})
 * is read as the IPv4 address it maps, so that a dual-stack socket's peers are grouped and trusted
 * as IPv4. Stateless.
 */
final class IpAddresses {
  private static final int IPV4_BYTES = 4;
  private static final int IPV6_BYTES = 16;
  private static final int IPV6_GROUPS = 8;

  private IpAddresses() {}

  /**
   * Parses an IPv4 literal ({@code "192.0.2.1"}, four decimal parts without leading zeros) or an
   * IPv6 literal ({@code "2001:db8::1"}, {@code "::ffff:192.0.2.1"}), without brackets, zone or
   * port.
   *
   * @return 4 bytes for IPv4 and IPv4-mapped IPv6, 16 for other IPv6; {@code null} when the text is
   *     not such a literal
   */
  static byte @Nullable [] parse(String text) {
    if (text.isEmpty() || text.length() > 45) {
      return null;
    }
    if (text.indexOf(':') < 0) {
      return ipv4(text);
    }
    byte[] address = ipv6(text);
    return address == null ? null : unmapped(address);
  }

  private static byte @Nullable [] ipv4(String text) {
    byte[] address = new byte[IPV4_BYTES];
    int part = 0;
    int start = 0;
    for (int i = 0; i <= text.length(); i++) {
      if (i == text.length() || text.charAt(i) == '.') {
        if (part == IPV4_BYTES) {
          return null;
        }
        int value = decimal(text, start, i);
        if (value < 0) {
          return null;
        }
        address[part++] = (byte) value;
        start = i + 1;
      }
    }
    return part == IPV4_BYTES ? address : null;
  }

  /** The value of 1 to 3 decimal digits without a leading zero, at most 255; else -1. */
  private static int decimal(String text, int start, int end) {
    int length = end - start;
    if (length < 1 || length > 3 || (length > 1 && text.charAt(start) == '0')) {
      return -1;
    }
    int value = 0;
    for (int i = start; i < end; i++) {
      char c = text.charAt(i);
      if (c < '0' || c > '9') {
        return -1;
      }
      value = value * 10 + (c - '0');
    }
    return value <= 255 ? value : -1;
  }

  private static byte @Nullable [] ipv6(String text) {
    int gap = text.indexOf("::");
    if (gap >= 0 && text.indexOf("::", gap + 1) >= 0) {
      return null;
    }
    int[] head = new int[IPV6_GROUPS];
    int[] tail = new int[IPV6_GROUPS];
    int heads;
    int tails;
    if (gap < 0) {
      heads = groups(text, 0, text.length(), head, true);
      tails = 0;
      if (heads != IPV6_GROUPS) {
        return null;
      }
    } else {
      heads = gap == 0 ? 0 : groups(text, 0, gap, head, false);
      tails = gap + 2 == text.length() ? 0 : groups(text, gap + 2, text.length(), tail, true);
      if (heads < 0 || tails < 0 || heads + tails > IPV6_GROUPS - 1) {
        return null;
      }
    }
    byte[] address = new byte[IPV6_BYTES];
    for (int i = 0; i < heads; i++) {
      address[2 * i] = (byte) (head[i] >>> 8);
      address[2 * i + 1] = (byte) head[i];
    }
    for (int i = 0; i < tails; i++) {
      int group = IPV6_GROUPS - tails + i;
      address[2 * group] = (byte) (tail[i] >>> 8);
      address[2 * group + 1] = (byte) tail[i];
    }
    return address;
  }

  /**
   * Reads the colon-separated groups of {@code text[start, end)} into {@code out}: 1 to 4 hex
   * digits each, and, where {@code last} (the part that ends the address), a dotted IPv4 address as
   * the last two groups.
   *
   * @return the number of groups read, or -1 if the part is malformed
   */
  private static int groups(String text, int start, int end, int[] out, boolean last) {
    int count = 0;
    int from = start;
    for (int i = start; i <= end; i++) {
      if (i == end || text.charAt(i) == ':') {
        if (i == from || count == IPV6_GROUPS) {
          return -1;
        }
        if (i == end && last && text.lastIndexOf('.', end - 1) >= from) {
          if (count > IPV6_GROUPS - 2) {
            return -1;
          }
          byte[] ipv4 = ipv4(text.substring(from, end));
          if (ipv4 == null) {
            return -1;
          }
          out[count++] = ((ipv4[0] & 0xff) << 8) | (ipv4[1] & 0xff);
          out[count++] = ((ipv4[2] & 0xff) << 8) | (ipv4[3] & 0xff);
          return count;
        }
        int value = hex(text, from, i);
        if (value < 0) {
          return -1;
        }
        out[count++] = value;
        from = i + 1;
      }
    }
    return count;
  }

  private static int hex(String text, int start, int end) {
    if (end - start > 4) {
      return -1;
    }
    int value = 0;
    for (int i = start; i < end; i++) {
      char c = text.charAt(i);
      int digit;
      if (c >= '0' && c <= '9') {
        digit = c - '0';
      } else if (c >= 'a' && c <= 'f') {
        digit = c - 'a' + 10;
      } else if (c >= 'A' && c <= 'F') {
        digit = c - 'A' + 10;
      } else {
        return -1;
      }
      value = (value << 4) | digit;
    }
    return value;
  }

  /** An IPv4-mapped IPv6 address ({@code ::ffff:a.b.c.d}) as its IPv4 address; others as given. */
  private static byte[] unmapped(byte[] address) {
    for (int i = 0; i < 10; i++) {
      if (address[i] != 0) {
        return address;
      }
    }
    if (address[10] != (byte) 0xff || address[11] != (byte) 0xff) {
      return address;
    }
    return Arrays.copyOfRange(address, 12, IPV6_BYTES);
  }

  /**
   * The address with every bit past {@code prefixLength} cleared.
   *
   * @param prefixLength 0 to the address's bits
   */
  static byte[] masked(byte[] address, int prefixLength) {
    byte[] masked = address.clone();
    for (int i = 0; i < masked.length; i++) {
      int bits = prefixLength - 8 * i;
      if (bits <= 0) {
        masked[i] = 0;
      } else if (bits < 8) {
        masked[i] &= (byte) (0xff << (8 - bits));
      }
    }
    return masked;
  }

  /**
   * Writes an address: dotted decimal for IPv4, RFC 5952's canonical text for IPv6 (lower case, no
   * leading zeros, the longest run of two or more zero groups as {@code ::}, the first of equal
   * runs).
   */
  static String format(byte[] address) {
    if (address.length == IPV4_BYTES) {
      return (address[0] & 0xff)
          + "."
          + (address[1] & 0xff)
          + "."
          + (address[2] & 0xff)
          + "."
          + (address[3] & 0xff);
    }
    int[] groups = new int[IPV6_GROUPS];
    for (int i = 0; i < IPV6_GROUPS; i++) {
      groups[i] = ((address[2 * i] & 0xff) << 8) | (address[2 * i + 1] & 0xff);
    }
    int bestStart = -1;
    int bestLength = 1;
    for (int i = 0; i < IPV6_GROUPS; ) {
      if (groups[i] != 0) {
        i++;
        continue;
      }
      int run = i;
      while (run < IPV6_GROUPS && groups[run] == 0) {
        run++;
      }
      if (run - i > bestLength) {
        bestStart = i;
        bestLength = run - i;
      }
      i = run;
    }
    StringBuilder out = new StringBuilder(39);
    for (int i = 0; i < IPV6_GROUPS; i++) {
      if (i == bestStart) {
        out.append("::");
        i += bestLength - 1;
        continue;
      }
      if (out.length() > 0 && out.charAt(out.length() - 1) != ':') {
        out.append(':');
      }
      out.append(Integer.toHexString(groups[i]));
    }
    return out.toString();
  }
}

package dev.bulwark.ratelimit;

import dev.bulwark.core.internal.Checks;
import java.util.Objects;

/** A block of IPv4 or IPv6 addresses, {@code 10.0.0.0/8} or {@code ::1/128}. Immutable. */
final class Cidr {
  private final byte[] network;
  private final int prefixLength;
  private final String text;

  private Cidr(byte[] network, int prefixLength) {
    this.network = network;
    this.prefixLength = prefixLength;
    this.text = IpAddresses.format(network) + "/" + prefixLength;
  }

  /**
   * Parses {@code address/prefixLength}, or an address alone for a block of one. The address is a
   * literal (never a host name), the prefix length 0 to 32 for IPv4 and 0 to 128 for IPv6, and no
   * bit past it may be set. An IPv4-mapped IPv6 block ({@code ::ffff:10.0.0.0/104}) is the IPv4
   * block it maps.
   *
   * @param setting the setting's name, for the message
   * @throws IllegalArgumentException naming the setting and the value
   */
  static Cidr parse(String setting, String value) {
    Objects.requireNonNull(value, setting);
    String text = value.trim();
    int slash = text.indexOf('/');
    String literal = slash < 0 ? text : text.substring(0, slash);
    byte[] address = IpAddresses.parse(literal);
    if (address == null) {
      throw Checks.invalid(
          "%s must hold IPv4 or IPv6 addresses or blocks such as \"10.0.0.0/8\" or \"::1/128\","
              + " but held \"%s\"",
          setting, value);
    }
    boolean written6 = literal.indexOf(':') >= 0;
    int writtenBits = written6 ? 128 : 32;
    int prefixLength = writtenBits;
    if (slash >= 0) {
      prefixLength = prefixLength(text.substring(slash + 1), writtenBits);
      if (prefixLength < 0) {
        throw Checks.invalid(
            "%s must hold prefix lengths of 0 to %d for %s, but held \"%s\"",
            setting, writtenBits, written6 ? "IPv6" : "IPv4", value);
      }
    }
    if (written6 && address.length == 4) {
      if (prefixLength < 96) {
        throw Checks.invalid(
            "%s must hold prefix lengths of 96 to 128 for an IPv4-mapped block, but held \"%s\"",
            setting, value);
      }
      prefixLength -= 96;
    }
    byte[] network = IpAddresses.masked(address, prefixLength);
    if (!java.util.Arrays.equals(network, address)) {
      throw Checks.invalid(
          "%s must hold blocks with no address bit set past the prefix, but held \"%s\""
              + " (the block is %s)",
          setting, value, IpAddresses.format(network) + "/" + prefixLength);
    }
    return new Cidr(network, prefixLength);
  }

  /** 1 to 3 decimal digits, 0 to {@code max}; else -1. */
  private static int prefixLength(String digits, int max) {
    if (digits.isEmpty() || digits.length() > 3) {
      return -1;
    }
    int value = 0;
    for (int i = 0; i < digits.length(); i++) {
      char c = digits.charAt(i);
      if (c < '0' || c > '9') {
        return -1;
      }
      value = value * 10 + (c - '0');
    }
    return value <= max ? value : -1;
  }

  /** Whether {@code address} (4 or 16 bytes, as {@link IpAddresses#parse} gives it) is inside. */
  boolean contains(byte[] address) {
    if (address.length != network.length) {
      return false;
    }
    int whole = prefixLength / 8;
    for (int i = 0; i < whole; i++) {
      if (address[i] != network[i]) {
        return false;
      }
    }
    int rest = prefixLength % 8;
    if (rest == 0) {
      return true;
    }
    int mask = 0xff << (8 - rest);
    return (address[whole] & mask) == (network[whole] & mask);
  }

  /** {@code 10.0.0.0/8}, {@code ::1/128}: the block in canonical form. */
  @Override
  public String toString() {
    return text;
  }
}

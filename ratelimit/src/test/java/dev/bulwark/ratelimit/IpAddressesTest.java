package dev.bulwark.ratelimit;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * IP literals are read without DNS and written canonically. The JDK's own parser (given only
 * literals here, so it looks nothing up) is the reference for the bytes.
 */
class IpAddressesTest {

  @ParameterizedTest
  @CsvSource({
    "0.0.0.0, 0.0.0.0",
    "192.0.2.1, 192.0.2.1",
    "255.255.255.255, 255.255.255.255",
    "10.0.0.10, 10.0.0.10",
    "::, ::",
    "::1, ::1",
    "1::, 1::",
    "2001:db8::1, 2001:db8::1",
    "2001:DB8:0:0:0:0:0:1, 2001:db8::1",
    "2001:0db8:0000:0000:0000:0000:0000:0001, 2001:db8::1",
    "2001:db8:0:1:1:1:1:1, 2001:db8:0:1:1:1:1:1",
    "2001:db8:0:0:1:0:0:1, 2001:db8::1:0:0:1",
    "2001:0:0:1:0:0:0:1, 2001:0:0:1::1",
    "0:0:0:0:0:0:0:0, ::",
    "1:0:0:0:0:0:0:0, 1::",
    "0:0:0:0:0:0:0:1, ::1",
    "1:2:3:4:5:6:7:8, 1:2:3:4:5:6:7:8",
    "1:2:3:4:5:6::, 1:2:3:4:5:6::",
    "1::8, 1::8",
    "fe80::1:2:3:4, fe80::1:2:3:4",
    "::ffff:192.0.2.1, 192.0.2.1",
    "::FFFF:c000:0201, 192.0.2.1",
    "0:0:0:0:0:ffff:10.1.2.3, 10.1.2.3",
    "::192.0.2.1, ::c000:201",
    "64:ff9b::192.0.2.33, 64:ff9b::c000:221",
    "2001:db8:1:2:3:4:192.0.2.1, 2001:db8:1:2:3:4:c000:201",
  })
  void literalsAreReadAndWrittenCanonically(String text, String canonical) throws Exception {
    byte[] address = IpAddresses.parse(text);
    assertThat(address).isNotNull();
    assertThat(IpAddresses.format(address)).isEqualTo(canonical);
    byte[] jdk =
        InetAddress.getByName(text.indexOf(':') >= 0 ? "[" + text + "]" : text).getAddress();
    assertThat(address).isEqualTo(jdk);
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "",
        " ",
        "localhost",
        "example.com",
        "1.2.3",
        "1.2.3.4.5",
        "1.2.3.256",
        "1.2.3.-1",
        "01.2.3.4",
        "1.2.3.04",
        "1..3.4",
        ".1.2.3",
        "1.2.3.",
        "1.2.3.4 ",
        " 1.2.3.4",
        "0x7f.0.0.1",
        "2130706433",
        "1.2.3.4/8",
        "1.2.3.4:80",
        "١.٢.٣.٤",
        ":",
        ":::",
        "1:::2",
        "1::2::3",
        ":1::2",
        "1::2:",
        "1:2:3:4:5:6:7",
        "1:2:3:4:5:6:7:8:9",
        "1:2:3:4:5:6:7::8",
        "::1:2:3:4:5:6:7:8",
        "12345::1",
        "g::1",
        "2001:db8::1%eth0",
        "[::1]",
        "::1.2.3",
        "::1.2.3.4:5",
        "1.2.3.4::",
        "1:2:3:4:5:6:7:1.2.3.4",
        "::ffff:1.2.3.256",
        "１.２.３.４",
        "::ｆ",
        "1:2:3:4:5:6:7:8:1.2.3.4",
        "2001:0db8:0000:0000:0000:0000:0000:0000:0001",
      })
  void anythingElseIsNotAnAddress(String text) {
    assertThat(IpAddresses.parse(text)).isNull();
  }

  @ParameterizedTest
  @CsvSource({
    "203.0.113.77, 32, 203.0.113.77",
    "203.0.113.77, 24, 203.0.113.0",
    "203.0.113.77, 20, 203.0.112.0",
    "203.0.113.77, 1, 128.0.0.0",
    "203.0.113.77, 0, 0.0.0.0",
    "2001:db8:1:2:3:4:5:6, 64, 2001:db8:1:2::",
    "2001:db8:1:2:3:4:5:6, 56, 2001:db8:1::",
    "2001:db8:1:2ff:3:4:5:6, 57, 2001:db8:1:280::",
    "2001:db8:1:2:3:4:5:6, 128, 2001:db8:1:2:3:4:5:6",
    "2001:db8:1:2:3:4:5:6, 1, ::",
  })
  void maskingClearsTheBitsPastThePrefix(String text, int bits, String masked) {
    byte[] address = IpAddresses.parse(text);
    assertThat(address).isNotNull();
    assertThat(IpAddresses.format(IpAddresses.masked(address, bits))).isEqualTo(masked);
  }
}

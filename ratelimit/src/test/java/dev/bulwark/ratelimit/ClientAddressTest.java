package dev.bulwark.ratelimit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;
import static org.assertj.core.api.Assertions.assertThatIllegalStateException;
import static org.assertj.core.api.Assertions.assertThatNullPointerException;

import dev.bulwark.ratelimit.ClientAddress.ProxyHeader;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** Who the client is, from the peer's address and the proxies' header, without a container. */
class ClientAddressTest {
  private static final ClientAddress XFF =
      ClientAddress.builder().trustedProxies("10.0.0.0/8", "2001:db8:ffff::/48").build();
  private static final ClientAddress FORWARDED =
      ClientAddress.builder()
          .trustedProxies("10.0.0.0/8", "2001:db8:ffff::/48")
          .proxyHeader(ProxyHeader.FORWARDED)
          .build();

  private static String xff(String remote, String... lines) {
    return XFF.resolve(remote, List.of(lines));
  }

  private static String forwarded(String remote, String... lines) {
    return FORWARDED.resolve(remote, List.of(lines));
  }

  @Test
  void withoutTrustedProxiesThePeerIsTheClientWhateverTheHeaderSays() {
    ClientAddress direct = ClientAddress.direct();
    assertThat(direct.resolve("203.0.113.7", List.of("198.51.100.1"))).isEqualTo("203.0.113.7");
    assertThat(direct.resolve("10.0.0.1", List.of("198.51.100.1"))).isEqualTo("10.0.0.1");
    assertThat(direct.resolve("2001:db8:1:2:3:4:5:6", List.of())).isEqualTo("2001:db8:1:2::/64");
  }

  @Test
  void aPeerThatIsNoTrustedProxyIsTheClient() {
    assertThat(xff("203.0.113.7", "198.51.100.1")).isEqualTo("203.0.113.7");
    assertThat(xff("11.0.0.1", "198.51.100.1")).isEqualTo("11.0.0.1");
    assertThat(forwarded("203.0.113.7", "for=198.51.100.1")).isEqualTo("203.0.113.7");
  }

  @Test
  void theWalkGoesRightToLeftOverTrustedProxiesToTheFirstUntrustedAddress() {
    assertThat(xff("10.0.0.5", "203.0.113.7")).isEqualTo("203.0.113.7");
    assertThat(xff("10.0.0.5", "198.51.100.1, 203.0.113.7")).isEqualTo("203.0.113.7");
    assertThat(xff("10.0.0.5", "198.51.100.1, 203.0.113.7, 10.1.1.1, 10.2.2.2"))
        .isEqualTo("203.0.113.7");
    // Every field line, in order: the proxy that adds a line adds it last.
    assertThat(xff("10.0.0.5", "198.51.100.1, 203.0.113.7", "10.3.3.3")).isEqualTo("203.0.113.7");
    assertThat(xff("10.0.0.5", "198.51.100.1", "203.0.113.7,10.3.3.3")).isEqualTo("203.0.113.7");
    // Only trusted proxies: the leftmost is the client.
    assertThat(xff("10.0.0.5", "10.9.9.9, 10.8.8.8")).isEqualTo("10.9.9.9");
    // No header: the peer.
    assertThat(xff("10.0.0.5")).isEqualTo("10.0.0.5");
    assertThat(xff("10.0.0.5", "")).isEqualTo("10.0.0.5");
    // IPv6 proxies and clients, with tabs and empty entries, which lists ignore.
    assertThat(xff("2001:db8:ffff::1", "2001:db8:1:2::7,\t, 2001:db8:ffff:1::2 ,"))
        .isEqualTo("2001:db8:1:2::/64");
  }

  @Test
  void entriesMayCarryBracketsAndPorts() {
    assertThat(xff("10.0.0.5", "203.0.113.7:4711")).isEqualTo("203.0.113.7");
    assertThat(xff("10.0.0.5", "[2001:db8:1:2::7]:4711")).isEqualTo("2001:db8:1:2::/64");
    assertThat(xff("10.0.0.5", "[2001:db8:1:2::7]")).isEqualTo("2001:db8:1:2::/64");
    assertThat(xff("10.0.0.5", "::ffff:203.0.113.7")).isEqualTo("203.0.113.7");
    assertThat(xff("10.0.0.5", "[::ffff:203.0.113.7]:80")).isEqualTo("203.0.113.7");
  }

  @Test
  void aMalformedEntryStopsTheWalkAtTheLastGoodAddress() {
    for (String bad :
        List.of(
            "unknown",
            "_hidden",
            "example.com",
            "203.0.113.300",
            "203.0.113.7:",
            "203.0.113.7:123456",
            "203.0.113.7:http",
            "[203.0.113.7]",
            "[2001:db8::1",
            "[2001:db8::1]x",
            "[2001:db8::1]:",
            "fe80::1%eth0",
            "\"203.0.113.7\"",
            "203.0.113.7 198.51.100.1")) {
      // The proxy at 10.0.0.5 appended the bad entry: the walk stops at it, on the proxy.
      assertThat(xff("10.0.0.5", "198.51.100.1, " + bad)).as(bad).isEqualTo("10.0.0.5");
      // A trusted hop before it: the walk stops on that hop.
      assertThat(xff("10.0.0.5", "198.51.100.1, " + bad + ", 10.7.7.7"))
          .as(bad)
          .isEqualTo("10.7.7.7");
      // Left of the client, it is never read.
      assertThat(xff("10.0.0.5", bad + ", 203.0.113.7")).as(bad).isEqualTo("203.0.113.7");
    }
  }

  @Test
  void forwardedElementsAreReadByTheirForParameter() {
    assertThat(forwarded("10.0.0.5", "for=203.0.113.7")).isEqualTo("203.0.113.7");
    assertThat(forwarded("10.0.0.5", "For=\"203.0.113.7\";proto=https;by=10.0.0.5"))
        .isEqualTo("203.0.113.7");
    assertThat(forwarded("10.0.0.5", "proto=https;for=203.0.113.7")).isEqualTo("203.0.113.7");
    assertThat(forwarded("10.0.0.5", "for=\"203.0.113.7:4711\"")).isEqualTo("203.0.113.7");
    assertThat(forwarded("10.0.0.5", "for=\"[2001:db8:cafe::17]:4711\""))
        .isEqualTo("2001:db8:cafe::/64");
    assertThat(forwarded("10.0.0.5", "for=\"[2001:db8:cafe::17]\""))
        .isEqualTo("2001:db8:cafe::/64");
    assertThat(forwarded("10.0.0.5", "for=\"[2001:db8:cafe::17]:_port\""))
        .isEqualTo("2001:db8:cafe::/64");
    assertThat(forwarded("10.0.0.5", "for=198.51.100.1, for=203.0.113.7;by=\"[::1]\""))
        .isEqualTo("203.0.113.7");
    assertThat(forwarded("10.0.0.5", "for=198.51.100.1", "for=203.0.113.7, for=10.4.4.4"))
        .isEqualTo("203.0.113.7");
    assertThat(forwarded("10.0.0.5", "for=203.0.113.7 ; proto=http , for=10.4.4.4"))
        .isEqualTo("203.0.113.7");
    // A quoted comma does not split elements; escapes are read.
    assertThat(forwarded("10.0.0.5", "for=198.51.100.1;x=\"a,b\\\"c\", for=203.0.113.7"))
        .isEqualTo("203.0.113.7");
    assertThat(forwarded("10.0.0.5", "for=\"\\203.0.113.7\"")).isEqualTo("203.0.113.7");
    // Empty elements are ignored.
    assertThat(forwarded("10.0.0.5", ", for=203.0.113.7 ,, ")).isEqualTo("203.0.113.7");
    // X-Forwarded-For is not read when Forwarded is the proxies' header.
    assertThat(forwarded("10.0.0.5")).isEqualTo("10.0.0.5");
  }

  @Test
  void unknownAndObfuscatedNodesAndBrokenElementsStopTheForwardedWalk() {
    for (String bad :
        List.of(
            "for=unknown",
            "for=\"unknown\"",
            "for=_hidden",
            "for=\"_SEVKISEK\"",
            "for=\"[2001:db8:cafe::17]:bad\"",
            "for=2001:db8::1",
            "for=[2001:db8::1]",
            "for=\"[203.0.113.7]\"",
            "proto=https",
            "for",
            "for=",
            "=203.0.113.7",
            "for=203.0.113.7;for=198.51.100.2",
            "for=203.0.113.7 x",
            "for=example.com")) {
      assertThat(forwarded("10.0.0.5", "for=198.51.100.1, " + bad)).as(bad).isEqualTo("10.0.0.5");
      assertThat(forwarded("10.0.0.5", "for=198.51.100.1, " + bad + ", for=10.6.6.6"))
          .as(bad)
          .isEqualTo("10.6.6.6");
      // A broken element left of the client is never reached, and does not hide the client.
      assertThat(forwarded("10.0.0.5", bad + ", for=203.0.113.7")).as(bad).isEqualTo("203.0.113.7");
    }
    // An unterminated quoted string takes the rest of its line: the walk stops at the proxy.
    assertThat(forwarded("10.0.0.5", "for=\"198.51.100.1, for=203.0.113.7")).isEqualTo("10.0.0.5");
    assertThat(forwarded("10.0.0.5", "for=\"198.51.100.1", "for=203.0.113.7"))
        .isEqualTo("203.0.113.7");
    assertThat(forwarded("10.0.0.5", "for=\"203.0.113.7\\")).isEqualTo("10.0.0.5");
  }

  @Test
  void thePeersAddressIsReadAsContainersWriteIt() {
    assertThat(xff("[2001:db8:ffff::1]", "203.0.113.7")).isEqualTo("203.0.113.7");
    assertThat(xff("fe80::1%eth0")).isEqualTo("fe80::/64");
    assertThat(xff("0:0:0:0:0:ffff:a00:5", "203.0.113.7")).isEqualTo("203.0.113.7");
    // Not an IP literal (a Unix socket): used as it is, never trusted.
    assertThat(xff("/run/app.sock", "203.0.113.7")).isEqualTo("/run/app.sock");
    assertThat(xff("", "203.0.113.7")).isEqualTo("unknown");
    assertThat(XFF.resolve(null, List.of("203.0.113.7"))).isEqualTo("unknown");
  }

  @Test
  void clientsAreGroupedByTheConfiguredPrefixLengths() {
    ClientAddress wide = ClientAddress.builder().ipv4PrefixLength(24).ipv6PrefixLength(48).build();
    assertThat(wide.resolve("203.0.113.77", List.of())).isEqualTo("203.0.113.0/24");
    assertThat(wide.resolve("2001:db8:1:2::1", List.of())).isEqualTo("2001:db8:1::/48");
    ClientAddress exact = ClientAddress.builder().ipv6PrefixLength(128).build();
    assertThat(exact.resolve("2001:DB8:0:0:0:0:0:1", List.of())).isEqualTo("2001:db8::1");
    assertThat(exact.resolve("203.0.113.77", List.of())).isEqualTo("203.0.113.77");
    ClientAddress narrow = ClientAddress.builder().ipv4PrefixLength(1).ipv6PrefixLength(1).build();
    assertThat(narrow.resolve("203.0.113.77", List.of())).isEqualTo("128.0.0.0/1");
    assertThat(narrow.resolve("2001:db8::1", List.of())).isEqualTo("::/1");
  }

  @ParameterizedTest
  @CsvSource({
    "10.0.0.0/8, 10.255.255.255, true",
    "10.0.0.0/8, 11.0.0.0, false",
    "10.0.0.0/8, ::ffff:10.1.1.1, true",
    "192.0.2.128/25, 192.0.2.128, true",
    "192.0.2.128/25, 192.0.2.127, false",
    "192.0.2.7, 192.0.2.7, true",
    "192.0.2.7, 192.0.2.8, false",
    "0.0.0.0/0, 203.0.113.7, true",
    "0.0.0.0/0, 2001:db8::1, false",
    "::1/128, ::1, true",
    "::1, ::1, true",
    "::1/128, ::2, false",
    "fd00::/8, fdff:ffff::1, true",
    "fd00::/8, fe00::1, false",
    "2001:db8:80::/41, 2001:db8:ff::1, true",
    "2001:db8:80::/41, 2001:db8:7f::1, false",
    "::ffff:10.0.0.0/104, 10.20.30.40, true",
    "::/0, 2001:db8::1, true",
    "::/0, 203.0.113.7, false",
  })
  void blocksHoldTheAddressesOfTheirPrefix(String block, String address, boolean inside) {
    byte[] parsed = IpAddresses.parse(address);
    assertThat(parsed).isNotNull();
    assertThat(Cidr.parse("trustedProxies", block).contains(parsed)).isEqualTo(inside);
  }

  @Test
  void blocksAreWrittenCanonically() {
    assertThat(Cidr.parse("trustedProxies", " 2001:DB8:0::/32 ")).hasToString("2001:db8::/32");
    assertThat(Cidr.parse("trustedProxies", "::ffff:10.0.0.0/104")).hasToString("10.0.0.0/8");
    assertThat(Cidr.parse("trustedProxies", "192.0.2.7")).hasToString("192.0.2.7/32");
    assertThat(ClientAddress.builder().trustedProxies("10.0.0.0/8", "::1").build())
        .hasToString(
            "ClientAddress[trustedProxies=[10.0.0.0/8, ::1/128], proxyHeader=X_FORWARDED_FOR,"
                + " ipv4PrefixLength=32, ipv6PrefixLength=64]");
    assertThat(ClientAddress.direct())
        .hasToString("ClientAddress[trustedProxies=[], ipv4PrefixLength=32, ipv6PrefixLength=64]");
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "",
        "localhost",
        "proxy.internal/24",
        "10.0.0",
        "10.0.0.256/8",
        "010.0.0.0/8",
        "10.0.0.0 /8",
        "[::1]/128",
        "::1%lo/128",
      })
  void aValueThatIsNoLiteralOrBlockIsRefusedByName(String value) {
    assertThatIllegalArgumentException()
        .isThrownBy(() -> ClientAddress.builder().trustedProxies("10.0.0.0/8", value))
        .withMessage(
            "trustedProxies must hold IPv4 or IPv6 addresses or blocks such as \"10.0.0.0/8\" or"
                + " \"::1/128\", but held \""
                + value
                + "\"");
  }

  @Test
  void prefixLengthsAndHostBitsAreChecked() {
    assertThatIllegalArgumentException()
        .isThrownBy(() -> ClientAddress.builder().trustedProxies("10.0.0.0/33"))
        .withMessage(
            "trustedProxies must hold prefix lengths of 0 to 32 for IPv4, but held \"10.0.0.0/33\"");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> ClientAddress.builder().trustedProxies("10.0.0.0/"))
        .withMessage(
            "trustedProxies must hold prefix lengths of 0 to 32 for IPv4, but held \"10.0.0.0/\"");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> ClientAddress.builder().trustedProxies("10.0.0.0/-8"))
        .withMessage(
            "trustedProxies must hold prefix lengths of 0 to 32 for IPv4, but held \"10.0.0.0/-8\"");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> ClientAddress.builder().trustedProxies("10.0.0.0/8/8"))
        .withMessage(
            "trustedProxies must hold prefix lengths of 0 to 32 for IPv4, but held \"10.0.0.0/8/8\"");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> ClientAddress.builder().trustedProxies("::1/129"))
        .withMessage(
            "trustedProxies must hold prefix lengths of 0 to 128 for IPv6, but held \"::1/129\"");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> ClientAddress.builder().trustedProxies("fd00::/x"))
        .withMessage(
            "trustedProxies must hold prefix lengths of 0 to 128 for IPv6, but held \"fd00::/x\"");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> ClientAddress.builder().trustedProxies("::ffff:10.0.0.0/8"))
        .withMessage(
            "trustedProxies must hold prefix lengths of 96 to 128 for an IPv4-mapped block, but"
                + " held \"::ffff:10.0.0.0/8\"");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> ClientAddress.builder().trustedProxies("10.0.0.1/8"))
        .withMessage(
            "trustedProxies must hold blocks with no address bit set past the prefix, but held"
                + " \"10.0.0.1/8\" (the block is 10.0.0.0/8)");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> ClientAddress.builder().trustedProxies(List.of("2001:db8::1/32")))
        .withMessage(
            "trustedProxies must hold blocks with no address bit set past the prefix, but held"
                + " \"2001:db8::1/32\" (the block is 2001:db8::/32)");
  }

  @Test
  void theBuilderRefusesRepeatsConflictsAndBadLengths() {
    assertThatIllegalStateException()
        .isThrownBy(() -> ClientAddress.builder().trustedProxies("10.0.0.0/8").trustedProxies())
        .withMessage("trustedProxies was already set to [10.0.0.0/8]");
    assertThatIllegalStateException()
        .isThrownBy(() -> ClientAddress.builder().proxyHeader(ProxyHeader.FORWARDED).build())
        .withMessage(
            "proxyHeader requires trustedProxies: the header is read only from trusted proxies");
    assertThatIllegalStateException()
        .isThrownBy(
            () ->
                ClientAddress.builder()
                    .proxyHeader(ProxyHeader.FORWARDED)
                    .proxyHeader(ProxyHeader.X_FORWARDED_FOR))
        .withMessage("proxyHeader was already set to FORWARDED");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> ClientAddress.builder().ipv6PrefixLength(0))
        .withMessage("ipv6PrefixLength must be between 1 and 128, but was 0");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> ClientAddress.builder().ipv6PrefixLength(129))
        .withMessage("ipv6PrefixLength must be between 1 and 128, but was 129");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> ClientAddress.builder().ipv4PrefixLength(33))
        .withMessage("ipv4PrefixLength must be between 1 and 32, but was 33");
    assertThatIllegalStateException()
        .isThrownBy(() -> ClientAddress.builder().ipv4PrefixLength(24).ipv4PrefixLength(16))
        .withMessage("ipv4PrefixLength was already set to 24");
    assertThatIllegalStateException()
        .isThrownBy(() -> ClientAddress.builder().ipv6PrefixLength(56).ipv6PrefixLength(48))
        .withMessage("ipv6PrefixLength was already set to 56");
    assertThatNullPointerException()
        .isThrownBy(() -> ClientAddress.builder().trustedProxies("10.0.0.0/8", null))
        .withMessage("trustedProxies");
    assertThat(
            ClientAddress.builder()
                .trustedProxies("10.0.0.0/8")
                .proxyHeader(ProxyHeader.FORWARDED)
                .ipv6PrefixLength(56))
        .hasToString(
            "ClientAddress.Builder[trustedProxies=[10.0.0.0/8], proxyHeader=FORWARDED,"
                + " ipv6PrefixLength=56]");
    assertThat(ProxyHeader.FORWARDED.fieldName()).isEqualTo("Forwarded");
    assertThat(ProxyHeader.X_FORWARDED_FOR.fieldName()).isEqualTo("X-Forwarded-For");
  }
}

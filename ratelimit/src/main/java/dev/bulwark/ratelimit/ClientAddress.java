package dev.bulwark.ratelimit;

import dev.bulwark.core.internal.Checks;
import jakarta.servlet.http.HttpServletRequest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import java.util.StringJoiner;
import org.jspecify.annotations.Nullable;

/**
 * Finds the address of the client that sent a request, in a way the client cannot spoof, and groups
 * it: the key a per-client limit counts under.
 *
 * <pre>{@code
 * ClientAddress behindLoadBalancer = ClientAddress.builder()
 *     .trustedProxies("10.0.0.0/8", "::1/128")
 *     .build();
 * String client = behindLoadBalancer.resolve(request); // "203.0.113.7" or "2001:db8:1:2::/64"
 * }</pre>
 *
 * <p>The peer of the connection ({@link HttpServletRequest#getRemoteAddr()}) is the client, unless
 * it is one of the trusted proxies. Then the proxies' header is read ({@code X-Forwarded-For} by
 * default, or RFC 7239 {@code Forwarded}): every field line, right to left, that is from the
 * nearest proxy back towards the client. Each address that is a trusted proxy is stepped over; the
 * first one that is not is the client. Entries to its left were written by the client or by proxies
 * nobody vouches for, and are never read, so a client cannot choose its own address by sending the
 * header itself. When every entry is a trusted proxy, the leftmost is the client.
 *
 * <p>An entry that names no address stops the walk, and the last address read (a trusted proxy) is
 * the client: an entry that does not parse, a host name, RFC 7239's {@code unknown} and obfuscated
 * identifiers ({@code _hidden}), a {@code Forwarded} element without {@code for}. Requests that
 * hide their origin so are therefore all counted under that proxy's address, together, rather than
 * each under a name the client could vary. Empty list entries are ignored, as RFC 9110 asks. A peer
 * address that is not an IP literal (a Unix socket) is used as it is.
 *
 * <p>Addresses are grouped before they are used as keys: an IPv6 client under its /64 by default,
 * since one subscriber usually holds a whole /64 and can pick any address in it; an IPv4 client
 * under its own /32. IPv4-mapped IPv6 addresses ({@code ::ffff:192.0.2.1}) are IPv4.
 *
 * <p>Addresses and blocks are IP literals, read without any DNS lookup. Immutable and thread-safe.
 */
public final class ClientAddress {

  /** Which header the trusted proxies write the chain of addresses into. */
  public enum ProxyHeader {
    /**
     * {@code X-Forwarded-For: 203.0.113.7, 10.0.0.5}: comma-separated addresses, each optionally
     * with a port ({@code 203.0.113.7:4711}, {@code [2001:db8::1]:4711}).
     */
    X_FORWARDED_FOR("X-Forwarded-For"),
    /**
     * RFC 7239 {@code Forwarded: for=203.0.113.7, for="[2001:db8::1]:4711"}: the {@code for}
     * parameter of each element.
     */
    FORWARDED("Forwarded");

    private final String fieldName;

    ProxyHeader(String fieldName) {
      this.fieldName = fieldName;
    }

    /**
     * The header's field name.
     *
     * @return {@code "X-Forwarded-For"} or {@code "Forwarded"}
     */
    public String fieldName() {
      return fieldName;
    }
  }

  private static final ClientAddress DIRECT = new Builder().build();

  private final List<Cidr> trustedProxies;
  private final ProxyHeader proxyHeader;
  private final int ipv4PrefixLength;
  private final int ipv6PrefixLength;
  private final String description;

  private ClientAddress(Builder builder, String description) {
    this.trustedProxies = List.copyOf(builder.trustedProxies);
    ProxyHeader header = builder.proxyHeader;
    this.proxyHeader = header == null ? ProxyHeader.X_FORWARDED_FOR : header;
    this.ipv4PrefixLength = builder.ipv4PrefixLength;
    this.ipv6PrefixLength = builder.ipv6PrefixLength;
    this.description = description;
  }

  /**
   * Starts a builder. Built with no setting, it trusts no proxy: the peer is the client.
   *
   * @return a new builder
   */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * For a server that clients reach directly, with no proxy or load balancer in front: the peer of
   * the connection is the client, and no header is read. IPv6 clients are grouped by /64.
   *
   * @return the shared instance
   */
  public static ClientAddress direct() {
    return DIRECT;
  }

  /**
   * The client's address, grouped: {@code "203.0.113.7"} for IPv4 (or {@code "203.0.113.0/24"} with
   * a shorter IPv4 prefix), {@code "2001:db8:1:2::/64"} for IPv6 (or the whole canonical address
   * with a prefix of 128), IPv6 in RFC 5952's canonical text.
   *
   * @param request the request
   * @return the client's group, never empty
   */
  public String resolve(HttpServletRequest request) {
    String remote = request.getRemoteAddr();
    if (trustedProxies.isEmpty()) {
      return resolve(remote, List.of());
    }
    return resolve(remote, Collections.list(request.getHeaders(proxyHeader.fieldName())));
  }

  /** {@link #resolve(HttpServletRequest)} from the peer's address and the header's field lines. */
  String resolve(@Nullable String remote, List<String> headerLines) {
    String peer = remote == null ? "" : remote;
    byte[] address = peerAddress(peer);
    if (address == null) {
      return peer.isEmpty() ? "unknown" : peer;
    }
    if (isTrusted(address)) {
      List<byte @Nullable []> hops =
          proxyHeader == ProxyHeader.FORWARDED
              ? ProxyChain.forwarded(headerLines)
              : ProxyChain.xForwardedFor(headerLines);
      for (int i = hops.size() - 1; i >= 0; i--) {
        byte[] hop = hops.get(i);
        if (hop == null) {
          break;
        }
        address = hop;
        if (!isTrusted(hop)) {
          break;
        }
      }
    }
    return group(address);
  }

  /** The peer's address as containers write it: maybe in brackets, maybe with a zone. */
  private static byte @Nullable [] peerAddress(String remote) {
    String text = remote;
    if (text.startsWith("[") && text.endsWith("]")) {
      text = text.substring(1, text.length() - 1);
    }
    int zone = text.indexOf('%');
    if (zone >= 0 && text.indexOf(':') >= 0) {
      text = text.substring(0, zone);
    }
    return IpAddresses.parse(text);
  }

  private boolean isTrusted(byte[] address) {
    for (Cidr block : trustedProxies) {
      if (block.contains(address)) {
        return true;
      }
    }
    return false;
  }

  private String group(byte[] address) {
    int prefixLength = address.length == 4 ? ipv4PrefixLength : ipv6PrefixLength;
    String text = IpAddresses.format(IpAddresses.masked(address, prefixLength));
    return prefixLength == address.length * 8 ? text : text + "/" + prefixLength;
  }

  /**
   * The settings, for logs.
   *
   * @return {@code ClientAddress[trustedProxies=[10.0.0.0/8], proxyHeader=X_FORWARDED_FOR, ...]}
   */
  @Override
  public String toString() {
    return description;
  }

  /**
   * Builds a {@link ClientAddress}. Obtain one with {@link ClientAddress#builder()}. Not
   * thread-safe; each setting may be given once.
   */
  public static final class Builder {
    private final List<Cidr> trustedProxies = new ArrayList<>();
    private boolean trustedProxiesSet;
    private @Nullable ProxyHeader proxyHeader;
    private int ipv4PrefixLength = 32;
    private boolean ipv4PrefixLengthSet;
    private int ipv6PrefixLength = 64;
    private boolean ipv6PrefixLengthSet;

    private Builder() {}

    /**
     * The proxies and load balancers in front of the server, whose header is believed: IPv4 or IPv6
     * addresses ({@code "10.0.0.5"}, a block of one) or blocks ({@code "10.0.0.0/8"}, {@code
     * "fd00::/8"}, {@code "::1/128"}). A block must have no bit set past its prefix ({@code
     * "10.0.0.1/8"} is refused). List only what only your proxies can connect from: a block that
     * also holds clients lets those clients choose their address. None by default.
     *
     * @param blocks the addresses and blocks, IP literals (host names are refused, not looked up)
     * @return this builder
     * @throws IllegalArgumentException naming the value that is not such a literal or block
     * @throws IllegalStateException if the trusted proxies were already set
     */
    public Builder trustedProxies(String... blocks) {
      return trustedProxies(Arrays.asList(Objects.requireNonNull(blocks, "trustedProxies")));
    }

    /**
     * The trusted proxies, as a list: see {@link #trustedProxies(String...)}.
     *
     * @param blocks the addresses and blocks
     * @return this builder
     * @throws IllegalArgumentException naming the value that is not such a literal or block
     * @throws IllegalStateException if the trusted proxies were already set
     */
    public Builder trustedProxies(List<String> blocks) {
      Objects.requireNonNull(blocks, "trustedProxies");
      Checks.requireUnset("trustedProxies", trustedProxiesSet, trustedProxies);
      List<Cidr> parsed = new ArrayList<>(blocks.size());
      for (String block : blocks) {
        parsed.add(Cidr.parse("trustedProxies", Objects.requireNonNull(block, "trustedProxies")));
      }
      trustedProxies.addAll(parsed);
      trustedProxiesSet = true;
      return this;
    }

    /**
     * The header the trusted proxies write: {@code X-Forwarded-For} by default, or RFC 7239 {@code
     * Forwarded}. Only this one header is read; the other one may come from the client, so set the
     * one your proxies write and make them drop or overwrite any the client sent. Requires {@link
     * #trustedProxies}.
     *
     * @param header the header
     * @return this builder
     * @throws IllegalStateException if the header was already set
     */
    public Builder proxyHeader(ProxyHeader header) {
      Objects.requireNonNull(header, "proxyHeader");
      Checks.requireUnset("proxyHeader", proxyHeader);
      this.proxyHeader = header;
      return this;
    }

    /**
     * The prefix length under which IPv4 clients share a key: 32 (each address alone) by default;
     * 24 counts a /24 as one client.
     *
     * @param bits 1 to 32
     * @return this builder
     * @throws IllegalArgumentException if outside that range
     * @throws IllegalStateException if it was already set
     */
    public Builder ipv4PrefixLength(int bits) {
      Checks.requireUnset("ipv4PrefixLength", ipv4PrefixLengthSet, ipv4PrefixLength);
      this.ipv4PrefixLength = Checks.between("ipv4PrefixLength", bits, 1, 32);
      ipv4PrefixLengthSet = true;
      return this;
    }

    /**
     * The prefix length under which IPv6 clients share a key: 64 by default, the block one
     * subscriber usually gets; 128 keys each address alone, which a client holding a /64 can evade
     * by changing address.
     *
     * @param bits 1 to 128
     * @return this builder
     * @throws IllegalArgumentException if outside that range
     * @throws IllegalStateException if it was already set
     */
    public Builder ipv6PrefixLength(int bits) {
      Checks.requireUnset("ipv6PrefixLength", ipv6PrefixLengthSet, ipv6PrefixLength);
      this.ipv6PrefixLength = Checks.between("ipv6PrefixLength", bits, 1, 128);
      ipv6PrefixLengthSet = true;
      return this;
    }

    /**
     * Builds the resolver.
     *
     * @return a new resolver
     * @throws IllegalStateException if a proxy header is set but no trusted proxy is
     */
    public ClientAddress build() {
      if (proxyHeader != null && trustedProxies.isEmpty()) {
        throw new IllegalStateException(
            "proxyHeader requires trustedProxies: the header is read only from trusted proxies");
      }
      return new ClientAddress(this, "ClientAddress[" + describe() + "]");
    }

    private String describe() {
      StringJoiner out = new StringJoiner(", ");
      out.add("trustedProxies=" + trustedProxies);
      if (!trustedProxies.isEmpty()) {
        out.add("proxyHeader=" + (proxyHeader == null ? ProxyHeader.X_FORWARDED_FOR : proxyHeader));
      }
      out.add("ipv4PrefixLength=" + ipv4PrefixLength);
      out.add("ipv6PrefixLength=" + ipv6PrefixLength);
      return out.toString();
    }

    /**
     * The settings given, for logs.
     *
     * @return {@code ClientAddress.Builder[trustedProxies=[...], ...]}
     */
    @Override
    public String toString() {
      StringJoiner out = new StringJoiner(", ", "ClientAddress.Builder[", "]");
      Checks.addSetting(out, "trustedProxies", trustedProxiesSet ? trustedProxies : null);
      Checks.addSetting(out, "proxyHeader", proxyHeader);
      Checks.addSetting(out, "ipv4PrefixLength", ipv4PrefixLengthSet ? ipv4PrefixLength : null);
      Checks.addSetting(out, "ipv6PrefixLength", ipv6PrefixLengthSet ? ipv6PrefixLength : null);
      return out.toString();
    }
  }
}

package dev.bulwark.pool;

import dev.bulwark.core.Secrets;
import dev.bulwark.core.internal.Checks;
import io.lettuce.core.RedisURI;
import java.net.URI;
import java.net.URISyntaxException;
import java.util.Arrays;
import java.util.Locale;
import java.util.Objects;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.jspecify.annotations.Nullable;

/**
 * Reads, checks, copies and shows the Redis URIs a client connects to. Lettuce accepts some URLs it
 * then cannot connect to, or connects elsewhere: {@code redis://host:notaport} becomes the host
 * {@code "host:notaport"}, port 0 becomes 6379, {@code ?database=abc} or {@code ?database=-1}
 * becomes database 0. These are refused here instead. No message shows a password: a URL is masked
 * with {@link Secrets#maskUrl(String)}, a {@link RedisURI} is shown without its credentials,
 * Lettuce's own message (which may quote the URL) is left out and no cause is chained. Stateless.
 */
final class RedisUris {
  static final int MAX_PORT = 65_535;

  /** A host name or IPv4 address, or an IPv6 address in brackets. */
  private static final Pattern HOST =
      Pattern.compile("[A-Za-z0-9._-]+|\\[[0-9A-Fa-f:.]+(%25[A-Za-z0-9._~-]+)?\\]");

  private static final Pattern DATABASE = Pattern.compile("[0-9]{1,10}");

  private RedisUris() {}

  /**
   * Parses a URL, refusing anything but the given schemes, and checks it: every host a name or an
   * address, every port from 1 to 65535, a database index of 0 or more, and for Sentinel the name
   * of the primary.
   *
   * @throws IllegalArgumentException naming the setting, with the URL masked
   */
  static RedisURI parse(String setting, String url, String... schemes) {
    Objects.requireNonNull(url, setting);
    String shown = Secrets.maskUrl(url);
    int colon = url.indexOf("://");
    String scheme = colon < 0 ? "" : url.substring(0, colon).toLowerCase(Locale.ROOT);
    if (!Arrays.asList(schemes).contains(scheme)) {
      throw Checks.invalid(
          "%s must start with %s, but was %s",
          setting, String.join("://, ", schemes) + "://", shown);
    }
    RedisURI uri;
    try {
      uri = RedisURI.create(url);
    } catch (RuntimeException e) {
      // Neither e's message nor e itself: both may carry the URL, password included.
      if (rawPort(url) > MAX_PORT) {
        throw badPort(setting, shown);
      }
      throw Checks.invalid("%s must be a valid Redis URL, but was %s", setting, shown);
    }
    if (rawPort(url) == 0) {
      throw badPort(setting, shown);
    }
    checkDatabaseParameters(setting, url, shown);
    return check(setting, uri, shown);
  }

  /**
   * Checks a URI: a host (not a Unix socket) or Sentinels, every host a name or an address, every
   * port from 1 to 65535, a database index of 0 or more, and with Sentinels the name of the
   * primary.
   *
   * @param shown the URI as messages show it, masked
   * @return {@code uri}
   * @throws IllegalArgumentException naming the setting
   */
  static RedisURI check(String setting, RedisURI uri, String shown) {
    if (uri.getSocket() != null) {
      throw Checks.invalid(
          "%s must name a host, not a Unix domain socket, but was %s", setting, shown);
    }
    if (uri.getSentinels().isEmpty()) {
      checkEndpoint(setting, uri.getHost(), uri.getPort(), shown);
    } else {
      for (RedisURI sentinel : uri.getSentinels()) {
        checkEndpoint(setting, sentinel.getHost(), sentinel.getPort(), shown);
      }
      String primary = uri.getSentinelMasterId();
      if (primary == null || primary.isEmpty()) {
        throw Checks.invalid(
            "%s must name the primary its Sentinels watch, but was %s", setting, shown);
      }
    }
    if (uri.getDatabase() < 0) {
      throw badDatabase(setting, shown);
    }
    return uri;
  }

  private static void checkEndpoint(String setting, @Nullable String host, int port, String shown) {
    if (host == null || !HOST.matcher(host).matches()) {
      // Where java.net.URI cannot read the host and port (a port that is not a number, a host
      // name with '_'), Lettuce keeps both as the host: "cache:notaport", "cache_1:6379".
      int colon = host == null || host.startsWith("[") ? -1 : host.lastIndexOf(':');
      if (host != null && colon > 0 && HOST.matcher(host.substring(0, colon)).matches()) {
        if (isPort(host.substring(colon + 1))) {
          throw Checks.invalid(
              "%s must have a host of letters, digits, '-' and '.' to give a port"
                  + " (java.net.URI reads no other host with one), but was %s",
              setting, shown);
        }
        throw badPort(setting, shown);
      }
      throw Checks.invalid("%s must have a valid host, but was %s", setting, shown);
    }
    if (port < 1 || port > MAX_PORT) {
      throw badPort(setting, shown);
    }
  }

  private static boolean isPort(String text) {
    return text.matches("[0-9]{1,5}")
        && Integer.parseInt(text) >= 1
        && Integer.parseInt(text) <= MAX_PORT;
  }

  /** The port as written, when the URL has one host: -1 when there is none or several. */
  private static int rawPort(String url) {
    try {
      return new URI(url).getPort();
    } catch (URISyntaxException e) {
      return -1;
    }
  }

  /**
   * Lettuce reads {@code ?database=} and {@code ?db=}, and silently ignores a value not a number.
   */
  private static void checkDatabaseParameters(String setting, String url, String shown) {
    String query;
    try {
      query = new URI(url).getRawQuery();
    } catch (URISyntaxException e) {
      return; // Lettuce parsed it with java.net.URI; not reached.
    }
    if (query == null) {
      return;
    }
    for (String parameter : query.split("&", -1)) {
      int equals = parameter.indexOf('=');
      String name = equals < 0 ? parameter : parameter.substring(0, equals);
      if (name.equalsIgnoreCase("database") || name.equalsIgnoreCase("db")) {
        String value = equals < 0 ? "" : parameter.substring(equals + 1);
        if (!DATABASE.matcher(value).matches() || Long.parseLong(value) > Integer.MAX_VALUE) {
          throw badDatabase(setting, shown);
        }
      }
    }
  }

  private static IllegalArgumentException badPort(String setting, String shown) {
    return Checks.invalid(
        "%s must have a port between 1 and %d, but was %s", setting, MAX_PORT, shown);
  }

  private static IllegalArgumentException badDatabase(String setting, String shown) {
    return Checks.invalid("%s must have a database index of 0 or more, but was %s", setting, shown);
  }

  /**
   * Shows a URI as a URL without credentials, for messages and {@code toString}: {@code
   * rediss://cache:6380/2}, {@code redis-sentinel://s1:26379,s2:26379/0#primary}. Masked as well,
   * in case a host holds an {@code @}.
   */
  static String show(RedisURI uri) {
    if (uri.getSocket() != null) {
      return Secrets.maskUrl("redis-socket://" + uri.getSocket());
    }
    boolean sentinel = !uri.getSentinels().isEmpty();
    StringBuilder s = new StringBuilder("redis");
    s.append(uri.isSsl() ? "s" : "").append(sentinel ? "-sentinel" : "").append("://");
    if (sentinel) {
      s.append(
          uri.getSentinels().stream()
              .map(node -> node.getHost() + ":" + node.getPort())
              .collect(Collectors.joining(",")));
    } else {
      s.append(uri.getHost()).append(':').append(uri.getPort());
    }
    s.append('/').append(uri.getDatabase());
    if (sentinel && uri.getSentinelMasterId() != null) {
      s.append('#').append(uri.getSentinelMasterId());
    }
    return Secrets.maskUrl(s.toString());
  }

  /**
   * A deep copy, Sentinels included: a {@link RedisURI} is mutable, and {@code
   * RedisURI.builder(uri)} drops the Sentinels and the primary's name. The credentials provider is
   * shared, not copied.
   */
  static RedisURI copy(RedisURI source) {
    RedisURI copy = new RedisURI();
    copy.setHost(source.getHost());
    copy.setPort(source.getPort());
    copy.setSocket(source.getSocket());
    copy.setSentinelMasterId(source.getSentinelMasterId());
    copy.setDatabase(source.getDatabase());
    copy.setClientName(source.getClientName());
    copy.setDriverInfo(source.getDriverInfo());
    copy.setLibraryVersion(source.getLibraryVersion());
    copy.setCredentialsProvider(source.getCredentialsProvider());
    copy.applySsl(source);
    copy.setTimeout(source.getTimeout());
    for (RedisURI sentinel : source.getSentinels()) {
      copy.getSentinels().add(copy(sentinel));
    }
    return copy;
  }
}

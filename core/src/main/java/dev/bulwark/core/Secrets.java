package dev.bulwark.core;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * Masks the secrets a connection URL or a driver's message can carry, before the text reaches a log
 * line, an exception message or a {@code toString}. Every bulwark message that can show a URL goes
 * through {@link #maskUrl(String)}; use it for your own start-up log lines too:
 *
 * <pre>{@code
 * log.info("database: {}", Secrets.maskUrl(System.getenv("DATABASE_URL")));
 * // postgres://***@db.internal:5432/shop
 * }</pre>
 *
 * <p>What is masked, each replaced with {@code ***}:
 *
 * <ul>
 *   <li>the user-info of any URL ({@code jdbc:postgresql://}, {@code postgres://}, {@code
 *       redis://}, {@code rediss://}, {@code redis-sentinel://}, ...): everything after {@code ://}
 *       up to the last {@code @}. A password may itself hold {@code /}, {@code @}, {@code ?} or
 *       {@code #} when it was not percent-encoded, so the last {@code @} is the only safe end; when
 *       an {@code @} sits in the path or query instead, more is masked, never less;
 *   <li>the value of every query parameter whose name holds {@code password}, {@code passwd},
 *       {@code pwd}, {@code secret}, {@code token} or {@code credential}, or is {@code pass},
 *       {@code auth}, {@code apikey} or {@code api_key}, in any case, separated by {@code &} or
 *       {@code ;}.
 * </ul>
 *
 * <p>Host, port, path, database and the other parameters stay, so the text still says where a
 * connection went. Stateless and thread-safe.
 */
public final class Secrets {
  /** What a secret is replaced with. */
  public static final String MASK = "***";

  private static final String[] SECRET_PARTS = {
    "password", "passwd", "pwd", "secret", "token", "credential"
  };
  private static final String[] SECRET_NAMES = {"pass", "auth", "apikey", "api_key"};

  private Secrets() {}

  /**
   * Returns the URL with its user-info and its secret query parameters masked.
   *
   * @param url a URL, well-formed or not; {@code null} gives {@code "null"}
   * @return the URL, masked; the same text when it holds no secret
   */
  public static String maskUrl(@Nullable String url) {
    if (url == null) {
      return "null";
    }
    int scheme = url.indexOf("://");
    int start = scheme < 0 ? 0 : scheme + 3;
    int at = url.lastIndexOf('@');
    String masked = url;
    int rest = start;
    if (at >= start) {
      masked = url.substring(0, start) + MASK + url.substring(at);
      rest = start + MASK.length();
    }
    int query = masked.indexOf('?', rest);
    if (query < 0) {
      return masked;
    }
    return masked.substring(0, query + 1) + maskParameters(masked.substring(query + 1));
  }

  private static String maskParameters(String query) {
    StringBuilder out = new StringBuilder(query.length());
    int i = 0;
    while (i <= query.length()) {
      int end = i;
      while (end < query.length() && "&;#".indexOf(query.charAt(end)) < 0) {
        end++;
      }
      String parameter = query.substring(i, end);
      int equals = parameter.indexOf('=');
      if (equals > 0 && isSecretName(parameter.substring(0, equals))) {
        out.append(parameter, 0, equals + 1).append(MASK);
      } else {
        out.append(parameter);
      }
      if (end == query.length()) {
        break;
      }
      out.append(query.charAt(end));
      if (query.charAt(end) == '#') {
        out.append(query, end + 1, query.length());
        break;
      }
      i = end + 1;
    }
    return out.toString();
  }

  private static boolean isSecretName(String name) {
    String lower = name.trim().toLowerCase(Locale.ROOT);
    for (String part : SECRET_PARTS) {
      if (lower.contains(part)) {
        return true;
      }
    }
    for (String exact : SECRET_NAMES) {
      if (lower.equals(exact)) {
        return true;
      }
    }
    return false;
  }

  /**
   * Returns the text with every occurrence of a secret, as given and percent-encoded, replaced by
   * {@link #MASK}: for a driver's message that quotes a password it was handed.
   *
   * @param text the text, a message or a {@code toString}; {@code null} gives {@code "null"}
   * @param secret the secret; {@code null} or empty masks nothing
   * @return the text, masked
   */
  public static String redact(@Nullable String text, @Nullable String secret) {
    if (text == null) {
      return "null";
    }
    if (secret == null || secret.isEmpty()) {
      return text;
    }
    String out = text.replace(secret, MASK);
    String encoded = URLEncoder.encode(secret, StandardCharsets.UTF_8);
    if (!encoded.equals(secret)) {
      out = out.replace(encoded, MASK).replace(encoded.replace("+", "%20"), MASK);
    }
    return out;
  }

  /**
   * Whether the URL carries a user-info part: an {@code @} after {@code ://} and before the query.
   * An {@code @} inside the query ({@code ?user=app@tenant}) is not user-info.
   *
   * @param url the URL
   * @return true if it has user-info
   */
  public static boolean hasUserInfo(String url) {
    Objects.requireNonNull(url, "url");
    int scheme = url.indexOf("://");
    if (scheme < 0) {
      return false;
    }
    int query = url.indexOf('?', scheme + 3);
    int at = url.indexOf('@', scheme + 3);
    return at >= 0 && (query < 0 || at < query);
  }
}

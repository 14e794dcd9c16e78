package dev.bulwark.core;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import org.jspecify.annotations.Nullable;

/**
 * Masks the secrets a connection URL or a driver's message can carry, before the text reaches a log
 * line, an exception message or a {@code toString}. Every bulwark message that can show a URL goes
 * through {@link #maskUrl(String)}, every free text that can quote one through {@link
 * #maskText(String)}; use them for your own start-up log lines too:
 *
 * <pre>{@code
 * log.info("database: {}", Secrets.maskUrl(System.getenv("DATABASE_URL")));
 * // postgres://***@db.internal:5432/shop
 * }</pre>
 *
 * <p>What is masked, each replaced with {@code ***}:
 *
 * <ul>
 *   <li>the value of every parameter whose name holds {@code password}, {@code passwd}, {@code
 *       pwd}, {@code secret}, {@code token} or {@code credential}, or is {@code pass}, {@code
 *       auth}, {@code apikey} or {@code api_key}, in any case, after a {@code ?}, {@code &} or
 *       {@code ;}. The value ends at the next {@code &} or at the end of the text, as pgjdbc reads
 *       it, so a value that holds {@code ;} or {@code #} is masked whole;
 *   <li>then the user-info of any URL ({@code jdbc:postgresql://}, {@code postgres://}, {@code
 *       redis://}, {@code rediss://}, {@code redis-sentinel://}, ...): everything after {@code ://}
 *       up to the last {@code @}. A password may itself hold {@code /}, {@code @}, {@code ?} or
 *       {@code #} when it was not percent-encoded, so the last {@code @} is the only safe end; when
 *       an {@code @} sits in the path or query instead ({@code ?user=app@tenant}), more is masked,
 *       never less;
 *   <li>in a URL without {@code @}, a "port" that is not a number ({@code redis://:s3cr3t}, {@code
 *       redis://default:s3cr3t}, a user-info whose {@code @} was forgotten): everything from its
 *       {@code :} to the end, since the password may hold a {@code /}.
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
    String masked = maskParameters(url, start);
    int at = masked.lastIndexOf('@');
    if (at >= start) {
      return masked.substring(0, start) + MASK + masked.substring(at);
    }
    return scheme < 0 ? masked : maskBadPort(masked, start);
  }

  /**
   * Returns free text, an exception's message or a log line, with the secrets of the URLs and
   * settings in it masked. {@link #maskUrl} reads its whole argument as one URL: given a sentence,
   * it would mask everything up to an {@code @} that is no URL's ({@code LogEntry@5e2de80c}), and
   * miss a {@code password=} that follows a space. This reads the text as words, split at
   * whitespace, which it keeps as it is, and masks each word on its own:
   *
   * <ul>
   *   <li>a word with {@code ://}, or a {@code user:password@host} without a scheme, as {@link
   *       #maskUrl} does;
   *   <li>a {@code name=value} word whose name is a secret's, as {@link #maskUrl} names them
   *       ({@code password}, {@code token}, {@code apikey}, ...), leading punctuation such as
   *       {@code (} or {@code "} aside: its value, to the end of the word, becomes {@code ***};
   *   <li>in any word, the secret parameters after a {@code ?}, {@code &} or {@code ;}.
   * </ul>
   *
   * <p>A secret written with a space ({@code password: hunter2}) is not recognised: use {@link
   * #redact} for a secret you know.
   *
   * @param text the text; {@code null} gives {@code "null"}
   * @return the text, masked; the same text when it holds no secret
   */
  public static String maskText(@Nullable String text) {
    if (text == null) {
      return "null";
    }
    StringBuilder out = new StringBuilder(text.length());
    int i = 0;
    while (i < text.length()) {
      int start = i;
      while (i < text.length() && Character.isWhitespace(text.charAt(i))) {
        i++;
      }
      out.append(text, start, i);
      start = i;
      while (i < text.length() && !Character.isWhitespace(text.charAt(i))) {
        i++;
      }
      if (start < i) {
        out.append(maskWord(text.substring(start, i)));
      }
    }
    return out.toString();
  }

  private static String maskWord(String word) {
    int at = word.lastIndexOf('@');
    if (word.contains("://") || (at > 0 && word.lastIndexOf(':', at) >= 0)) {
      return maskUrl(word);
    }
    String masked = maskParameters(word, 0);
    int equals = masked.indexOf('=');
    int name = 0;
    while (name < equals && !Character.isLetterOrDigit(masked.charAt(name))) {
      name++;
    }
    if (name < equals && isSecretName(masked.substring(name, equals))) {
      return masked.substring(0, equals + 1) + MASK;
    }
    return masked;
  }

  /** Masks the value of every secret parameter after {@code from}, up to the next {@code &}. */
  private static String maskParameters(String text, int from) {
    StringBuilder out = new StringBuilder(text.length());
    out.append(text, 0, from);
    int i = from;
    while (i < text.length()) {
      char c = text.charAt(i);
      out.append(c);
      i++;
      if (c != '?' && c != '&' && c != ';') {
        continue;
      }
      int equals = i;
      while (equals < text.length() && "=&;?#/@".indexOf(text.charAt(equals)) < 0) {
        equals++;
      }
      if (equals < text.length()
          && text.charAt(equals) == '='
          && isSecretName(text.substring(i, equals))) {
        int end = text.indexOf('&', equals);
        end = end < 0 ? text.length() : end;
        out.append(text, i, equals + 1).append(MASK);
        i = end;
      }
    }
    return out.toString();
  }

  /** In a host list without user-info, masks all from a ':' whose "port" is not a number. */
  private static String maskBadPort(String url, int start) {
    int end = start;
    while (end < url.length() && "/?#".indexOf(url.charAt(end)) < 0) {
      end++;
    }
    int hostStart = start;
    for (String host : url.substring(start, end).split(",", -1)) {
      int close = host.startsWith("[") ? host.indexOf(']') : -1;
      int colon = host.indexOf(':', Math.max(0, close));
      if (colon >= 0 && !host.substring(colon + 1).matches("[0-9]{0,5}")) {
        return url.substring(0, hostStart + colon + 1) + MASK;
      }
      hostStart += host.length() + 1;
    }
    return url;
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
}

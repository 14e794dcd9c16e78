package dev.bulwark.health;

import dev.bulwark.core.Secrets;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * What a report may say of a failure: secrets masked always ({@link Secrets#maskText}: URL
 * credentials, {@code password=...} words, secret query parameters), and host names and addresses
 * masked too unless the registry allows them. A host name is a dotted name ending in letters
 * ({@code db.prod.internal}; a Java class name looks the same and is masked with it), an IPv4 or
 * bracketed IPv6 address, {@code localhost}, or any name followed by a port ({@code redis:6379}).
 * Stateless and thread-safe.
 */
final class Sanitizer {
  /** The longest output a report keeps; the rest is cut, with a mark. */
  static final int MAX_OUTPUT = 512;

  private static final Pattern HOSTS =
      Pattern.compile(
          "\\[[0-9A-Fa-f:.]+\\]"
              + "|\\b\\d{1,3}(?:\\.\\d{1,3}){3}\\b"
              + "|\\b(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.)+[A-Za-z][A-Za-z0-9-]*[A-Za-z0-9]\\b"
              + "|\\blocalhost\\b"
              + "|\\b[A-Za-z][A-Za-z0-9-]*(?=:\\d{1,5}\\b)");

  private final boolean hostnames;

  Sanitizer(boolean hostnames) {
    this.hostnames = hostnames;
  }

  /** The text with secrets (and host names, unless allowed) masked, and cut to a bound. */
  @Nullable String clean(@Nullable String text) {
    if (text == null) {
      return null;
    }
    String masked = Secrets.maskText(text);
    if (!hostnames) {
      masked = HOSTS.matcher(masked).replaceAll(Secrets.MASK);
    }
    return masked.length() <= MAX_OUTPUT ? masked : masked.substring(0, MAX_OUTPUT - 3) + "...";
  }

  /** {@code "Type: message"}, cleaned, for a check that threw. */
  String describe(Throwable failure) {
    String message = failure.getMessage();
    String type = failure.getClass().getSimpleName();
    String text = message == null ? type : type + ": " + message;
    String cleaned = clean(text);
    return cleaned == null ? type : cleaned;
  }
}

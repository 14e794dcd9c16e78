package dev.bulwark.health;

import dev.bulwark.core.Secrets;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * What a report may say of a failure: secrets masked always ({@link Secrets#maskText}: URL
 * credentials, {@code password=...} words, secret query parameters), and host names and addresses
 * masked too unless the registry allows them. A host name is a dotted name ending in letters
 * ({@code db.prod.internal}; a Java class name looks the same and is masked with it), an IPv4 or
 * IPv6 address, {@code localhost}, any name followed by a port ({@code redis:6379}), or by a slash
 * and an address ({@code redis-master/<unresolved>}, {@code pg-primary/10.0.0.5}); the message of
 * an {@link java.net.UnknownHostException}, which is a host name. Stateless and thread-safe.
 */
final class Sanitizer {
  /** The longest output a report keeps; the rest is cut, with a mark. */
  static final int MAX_OUTPUT = 512;

  private static final Pattern HOSTS =
      Pattern.compile(
          "\\[[0-9A-Fa-f:.]+\\]"
              + "|\\b\\d{1,3}(?:\\.\\d{1,3}){3}\\b"
              + "|(?<![\\w:])(?=[0-9A-Fa-f:]*::)[0-9A-Fa-f:]{2,39}(?![\\w:])"
              + "|\\b(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}\\b"
              + "|\\b(?:[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\\.)+[A-Za-z][A-Za-z0-9_-]*[A-Za-z0-9]\\b"
              + "|\\blocalhost\\b"
              + "|\\b[A-Za-z][A-Za-z0-9_-]*(?=:\\d{1,5}\\b)"
              + "|\\b[A-Za-z][A-Za-z0-9_-]*(?=/(?:<unresolved>|\\d{1,3}\\.|\\*\\*\\*|\\[))");

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
      // Cut first: the pattern's dotted-name branch recurses per label, and a text of thousands of
      // them would overflow the stack. What is cut is not shown anyway.
      if (masked.length() > MAX_OUTPUT + 64) {
        masked = masked.substring(0, MAX_OUTPUT + 64);
      }
      masked = HOSTS.matcher(masked).replaceAll(Secrets.MASK);
    }
    return masked.length() <= MAX_OUTPUT ? masked : masked.substring(0, MAX_OUTPUT - 3) + "...";
  }

  /** {@code "Type: message"}, cleaned, for a check that threw. */
  String describe(Throwable failure) {
    // An unknown host's message is the host's name and nothing else.
    String message =
        failure instanceof java.net.UnknownHostException && !hostnames
            ? Secrets.MASK
            : failure.getMessage();
    String type = failure.getClass().getSimpleName();
    String text = message == null ? type : type + ": " + message;
    String cleaned = clean(text);
    return cleaned == null ? type : cleaned;
  }
}

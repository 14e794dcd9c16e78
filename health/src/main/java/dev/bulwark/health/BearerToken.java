package dev.bulwark.health;

import dev.bulwark.core.internal.Checks;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Locale;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * The token that lets a caller see details, kept as its SHA-256 digest only, and compared in
 * constant time. Never shown: {@link #toString()} says {@code ***}. Thread-safe.
 */
final class BearerToken {
  static final int MIN_LENGTH = 16;
  static final int MAX_LENGTH = 4096;
  private static final String SCHEME = "bearer ";

  private final byte[] digest;

  private BearerToken(byte[] digest) {
    this.digest = digest;
  }

  /**
   * @param token 16 to 4096 visible ASCII characters
   * @throws IllegalArgumentException if not such a token; the message gives its length, never the
   *     token
   */
  static BearerToken of(String setting, String token) {
    Objects.requireNonNull(token, setting);
    if (token.length() < MIN_LENGTH || token.length() > MAX_LENGTH) {
      throw Checks.invalid(
          "%s must be %d to %d characters, but was %d characters",
          setting, MIN_LENGTH, MAX_LENGTH, token.length());
    }
    for (int i = 0; i < token.length(); i++) {
      char c = token.charAt(i);
      if (c <= ' ' || c > '~') {
        throw Checks.invalid(
            "%s must be visible ASCII characters, but has another at index %d", setting, i);
      }
    }
    return new BearerToken(sha256(token));
  }

  /**
   * Whether an {@code Authorization} header's value carries this token.
   *
   * @param header the header's value, or null when absent
   */
  boolean matches(@Nullable String header) {
    if (header == null || header.length() <= SCHEME.length()) {
      return false;
    }
    if (!header.substring(0, SCHEME.length()).toLowerCase(Locale.ROOT).equals(SCHEME)) {
      return false;
    }
    return MessageDigest.isEqual(digest, sha256(header.substring(SCHEME.length()).trim()));
  }

  private static byte[] sha256(String text) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException e) { // every JDK has SHA-256
      throw new IllegalStateException(e);
    }
  }

  @Override
  public String toString() {
    return "***";
  }
}

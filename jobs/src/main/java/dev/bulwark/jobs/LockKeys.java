package dev.bulwark.jobs;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * The 64-bit advisory-lock keys: the first 8 bytes, big-endian, of the SHA-256 of {@code
 * "<namespace>\n<job>"} in UTF-8, as a signed {@code bigint}. The newline cannot appear in a
 * scheduler's or a job's name, so two different pairs never hash the same text. Stateless.
 */
final class LockKeys {
  private LockKeys() {}

  /** The key of a job in a namespace (the scheduler's name). */
  static long of(String namespace, String job) {
    return hash(namespace + "\n" + job);
  }

  /** The key that serializes the creation of a table across instances. */
  static long migration(String table) {
    return hash("bulwark.jobs.migration\n" + table);
  }

  private static long hash(String text) {
    try {
      byte[] digest =
          MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8));
      return ByteBuffer.wrap(digest).getLong();
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java platform has SHA-256", e);
    }
  }
}

package dev.bulwark.cache;

/**
 * Turns values (or keys) into the bytes a cache keeps in Redis, and back. {@link Codecs} has the
 * usual ones: UTF-8 strings, raw bytes, text forms such as {@code Long::valueOf}, and Jackson JSON.
 * bulwark never uses Java serialization.
 *
 * <p>A key codec must be injective and stable: two different keys give different bytes, and the
 * same key gives the same bytes on every instance and after every deploy, since the bytes name the
 * entry in Redis and travel in invalidation messages. A value codec should read what an older
 * deploy wrote, or fail: a value that does not decode is treated as absent, counted, and replaced
 * by the next load.
 *
 * <p>Implementations must be thread-safe; they are called concurrently, on the calling threads and
 * on the Redis client's event loop.
 *
 * @param <T> the type encoded
 */
public interface Codec<T> {

  /**
   * Encodes a value.
   *
   * @param value the value, never {@code null}
   * @return its bytes, never {@code null}
   * @throws RuntimeException if the value cannot be encoded; the write that needed it fails
   */
  byte[] encode(T value);

  /**
   * Decodes bytes this codec (or a compatible one) encoded.
   *
   * @param bytes the bytes, never {@code null}
   * @return the value, never {@code null}
   * @throws RuntimeException if the bytes cannot be decoded; the entry is then treated as absent
   */
  T decode(byte[] bytes);
}

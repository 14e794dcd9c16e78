package dev.bulwark.cache;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Objects;
import java.util.function.Function;

/**
 * The codecs of a cache's Redis tier. None uses Java serialization. Every codec here is immutable
 * and thread-safe.
 */
public final class Codecs {
  private static final Codec<String> UTF8 = new Utf8();
  private static final Codec<byte[]> BYTES = new Bytes();

  private Codecs() {}

  /** {@return strings as their UTF-8 bytes: the key codec of a cache keyed by strings} */
  public static Codec<String> utf8() {
    return UTF8;
  }

  /** {@return byte arrays as they are, neither copied nor changed} */
  public static Codec<byte[]> bytes() {
    return BYTES;
  }

  /**
   * Values as the UTF-8 bytes of their text form: {@code toString()} to encode, {@code parse} to
   * decode. For keys such as {@code Long}, {@code Integer} or {@code UUID}: {@code
   * Codecs.text(Long::valueOf)}. The text form must be injective ({@code parse(v.toString())}
   * equals {@code v}).
   *
   * @param parse the inverse of {@code toString()}; it must not return {@code null}
   * @param <T> the type
   * @return the codec
   */
  public static <T> Codec<T> text(Function<String, ? extends T> parse) {
    Objects.requireNonNull(parse, "parse");
    return new Text<>(parse);
  }

  /**
   * Values as JSON, with a plain {@link ObjectMapper}. Needs {@code jackson-databind} on the class
   * path (bulwark-cache declares it optional). A value that no longer reads as {@code type} (a
   * field renamed by a deploy) fails to decode and is reloaded.
   *
   * @param type the value's class: a record, a bean, or anything Jackson can bind
   * @param <T> the type
   * @return the codec
   */
  public static <T> Codec<T> json(Class<T> type) {
    return json(type, new ObjectMapper());
  }

  /**
   * Values as JSON, with the caller's {@link ObjectMapper} (its modules, its naming). The mapper
   * must not be reconfigured once the codec is in use.
   *
   * @param type the value's class
   * @param mapper the mapper
   * @param <T> the type
   * @return the codec
   */
  public static <T> Codec<T> json(Class<T> type, ObjectMapper mapper) {
    Objects.requireNonNull(type, "type");
    Objects.requireNonNull(mapper, "mapper");
    return new Json<>(type, mapper);
  }

  private static final class Utf8 implements Codec<String> {
    @Override
    public byte[] encode(String value) {
      return value.getBytes(StandardCharsets.UTF_8);
    }

    @Override
    public String decode(byte[] bytes) {
      return new String(bytes, StandardCharsets.UTF_8);
    }

    @Override
    public String toString() {
      return "Codecs.utf8()";
    }
  }

  private static final class Bytes implements Codec<byte[]> {
    @Override
    public byte[] encode(byte[] value) {
      return value;
    }

    @Override
    public byte[] decode(byte[] bytes) {
      return bytes;
    }

    @Override
    public String toString() {
      return "Codecs.bytes()";
    }
  }

  private static final class Text<T> implements Codec<T> {
    private final Function<String, ? extends T> parse;

    Text(Function<String, ? extends T> parse) {
      this.parse = parse;
    }

    @Override
    public byte[] encode(T value) {
      return value.toString().getBytes(StandardCharsets.UTF_8);
    }

    @Override
    public T decode(byte[] bytes) {
      return Objects.requireNonNull(
          parse.apply(new String(bytes, StandardCharsets.UTF_8)), "parse returned null");
    }

    @Override
    public String toString() {
      return "Codecs.text(...)";
    }
  }

  private static final class Json<T> implements Codec<T> {
    private final Class<T> type;
    private final ObjectMapper mapper;

    Json(Class<T> type, ObjectMapper mapper) {
      this.type = type;
      this.mapper = mapper;
    }

    @Override
    public byte[] encode(T value) {
      try {
        return mapper.writeValueAsBytes(value);
      } catch (IOException e) {
        throw new UncheckedIOException("cannot write a " + type.getSimpleName() + " as JSON", e);
      }
    }

    @Override
    public T decode(byte[] bytes) {
      try {
        return Objects.requireNonNull(mapper.readValue(bytes, type), "the JSON was null");
      } catch (IOException e) {
        throw new UncheckedIOException("cannot read a " + type.getSimpleName() + " from JSON", e);
      }
    }

    @Override
    public String toString() {
      return "Codecs.json(" + type.getSimpleName() + ")";
    }
  }
}

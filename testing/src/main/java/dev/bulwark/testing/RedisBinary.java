package dev.bulwark.testing;

import java.nio.file.Files;
import java.nio.file.Path;
import org.jspecify.annotations.Nullable;

/**
 * The {@code redis-server} binary to run instead of the one in the embedded-redis artifact, for
 * tests against another Redis version: the system property {@value #PROPERTY} or, if it is not set,
 * the environment variable {@value #VARIABLE}.
 */
final class RedisBinary {

  /** Environment variable naming a {@code redis-server} binary to start instead. */
  static final String VARIABLE = "BULWARK_TEST_REDIS_BINARY";

  /**
   * System property naming a {@code redis-server} binary to start instead; wins over the variable.
   */
  static final String PROPERTY = "bulwark.test.redis.binary";

  private RedisBinary() {}

  /**
   * {@return the configured binary, or null to use the embedded one}
   *
   * @throws IllegalStateException if the setting names no executable file
   */
  static @Nullable Path configured() {
    return resolve(System.getProperty(PROPERTY), System.getenv(VARIABLE));
  }

  static @Nullable Path resolve(@Nullable String property, @Nullable String variable) {
    String name;
    String value;
    if (property != null && !property.isBlank()) {
      name = PROPERTY;
      value = property.strip();
    } else if (variable != null && !variable.isBlank()) {
      name = VARIABLE;
      value = variable.strip();
    } else {
      return null;
    }
    Path binary = Path.of(value);
    if (!Files.isRegularFile(binary) || !Files.isExecutable(binary)) {
      throw new IllegalStateException(
          name + " must name an executable redis-server file, but was " + value);
    }
    return binary.toAbsolutePath();
  }
}

package dev.bulwark.cache;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** Defaults and limits are stated in the javadoc and docs as text, not published as constants. */
class PublicConstantsTest {

  @Test
  void thePublicTypesAreTheCacheItsBuilderAndItsSnapshotWithoutPublicFields() throws Exception {
    List<Class<?>> types = new ArrayList<>();
    try (Stream<Path> files = Files.list(Path.of("target/classes/dev/bulwark/cache"))) {
      for (Path file : (Iterable<Path>) files::iterator) {
        String name = file.getFileName().toString();
        if (name.endsWith(".class") && !name.equals("package-info.class")) {
          Class<?> type =
              Class.forName(
                  "dev.bulwark.cache." + name.substring(0, name.length() - ".class".length()));
          if (Modifier.isPublic(type.getModifiers())) {
            types.add(type);
          }
        }
      }
    }
    assertThat(types)
        .containsExactlyInAnyOrder(
            BoundedCache.class,
            BoundedCache.Builder.class,
            CacheSnapshot.class,
            RedisTierSnapshot.class,
            Codec.class,
            Codecs.class,
            CachePropagationException.class);

    assertThat(
            types.stream()
                .flatMap(type -> Arrays.stream(type.getDeclaredFields()))
                .filter(field -> Modifier.isPublic(field.getModifiers()))
                .map(Field::toString))
        .isEmpty();
  }
}

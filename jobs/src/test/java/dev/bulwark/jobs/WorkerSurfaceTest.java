package dev.bulwark.jobs;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The worker's public types are the ones a user names; defaults are text, not public fields. */
class WorkerSurfaceTest {
  private static final List<Class<?>> PUBLIC =
      List.of(
          BoundedWorker.class,
          BoundedWorker.Builder.class,
          BatchHandler.class,
          DeadLetterHandler.class,
          Offer.class,
          MemoryAction.class,
          StopReason.class,
          WorkerState.class,
          WorkerSnapshot.class,
          WorkerLedger.class,
          ShutdownReport.class);

  private static final List<Class<?>> INTERNAL =
      List.of(
          WorkQueue.class,
          BatchList.class,
          HeapReading.class,
          LogThrottle.class,
          WorkerMeters.class,
          BoundedWorker.WhenFull.class);

  @Test
  void onlyTheTypesAUserNamesArePublic() {
    assertThat(PUBLIC).allMatch(type -> Modifier.isPublic(type.getModifiers()));
    assertThat(INTERNAL).noneMatch(type -> Modifier.isPublic(type.getModifiers()));
    assertThat(BoundedWorker.class.getDeclaredConstructors())
        .allMatch(constructor -> Modifier.isPrivate(constructor.getModifiers()));
  }

  @Test
  void noPublicTypeHasAPublicField() {
    assertThat(
            PUBLIC.stream()
                .flatMap(type -> Arrays.stream(type.getDeclaredFields()))
                .filter(field -> Modifier.isPublic(field.getModifiers()))
                .filter(field -> !field.isEnumConstant())
                .map(Field::toString))
        .isEmpty();
  }
}

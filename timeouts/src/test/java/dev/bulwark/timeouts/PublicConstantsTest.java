package dev.bulwark.timeouts;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Defaults and limits are stated in the javadoc and docs as text, not published as constants. */
class PublicConstantsTest {

  @Test
  void noDefaultOrLimitIsAPublicConstant() {
    List<Class<?>> types =
        List.of(
            Retry.class,
            RetryBudget.class,
            TimeLimiter.class,
            CircuitBreakers.class,
            Bulkheads.class,
            Policies.class);

    assertThat(
            types.stream()
                .flatMap(type -> Arrays.stream(type.getDeclaredFields()))
                .filter(field -> Modifier.isPublic(field.getModifiers()))
                .map(Field::toString))
        .isEmpty();
  }
}

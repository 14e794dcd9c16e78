package dev.bulwark.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class AwaitTest {

  @Test
  void returnsOnceTheConditionHolds() throws Exception {
    AtomicInteger checks = new AtomicInteger();
    Await.until(Duration.ofSeconds(10), "third check", () -> checks.incrementAndGet() == 3);
    assertThat(checks).hasValue(3);
  }

  @Test
  void failsWithWhatWasAwaitedOnceTheTimeoutPasses() {
    assertThatThrownBy(() -> Await.until(Duration.ofMillis(20), "reconnect", () -> false))
        .isInstanceOf(AssertionError.class)
        .hasMessage("no reconnect within 20 ms");
  }

  @Test
  void whatTheConditionThrowsEndsTheWait() {
    IOException broken = new IOException("broken");
    assertThatThrownBy(
            () ->
                Await.until(
                    Duration.ofSeconds(10),
                    "anything",
                    () -> {
                      throw broken;
                    }))
        .isSameAs(broken);
  }

  @Test
  void refusesATimeoutThatIsNotPositive() {
    assertThatThrownBy(() -> Await.until(Duration.ZERO, "anything", () -> true))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("timeout must be positive, but was 0 ms");
  }
}

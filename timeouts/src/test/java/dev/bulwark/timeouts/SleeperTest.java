package dev.bulwark.timeouts;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class SleeperTest {

  @Test
  void theSystemSleeperWaitsAtLeastAsLongAsAsked() throws InterruptedException {
    long start = System.nanoTime();

    Sleeper.system().sleep(TimeUnit.MILLISECONDS.toNanos(2));

    assertThat(System.nanoTime() - start).isGreaterThanOrEqualTo(TimeUnit.MILLISECONDS.toNanos(2));
  }

  @Test
  void zeroReturnsAtOnce() throws InterruptedException {
    Sleeper.system().sleep(0);
    Sleeper.system().sleep(-1);
    assertThat(Thread.currentThread().isInterrupted()).isFalse();
  }

  @Test
  void anInterruptedThreadIsWokenAndItsStatusCleared() {
    Thread.currentThread().interrupt();
    try {
      assertThatThrownBy(() -> Sleeper.system().sleep(TimeUnit.HOURS.toNanos(1)))
          .isInstanceOf(InterruptedException.class);
      assertThat(Thread.currentThread().isInterrupted()).isFalse();
    } finally {
      Thread.interrupted();
    }
  }
}

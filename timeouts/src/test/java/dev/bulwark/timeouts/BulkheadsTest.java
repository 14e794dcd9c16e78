package dev.bulwark.timeouts;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.resilience4j.bulkhead.Bulkhead;
import io.github.resilience4j.bulkhead.BulkheadFullException;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class BulkheadsTest {

  @Test
  void defaultsAreTwentyFiveCallsAndNoWait() {
    Bulkhead bulkhead = Bulkheads.builder("db").build();

    assertThat(bulkhead.getName()).isEqualTo("db");
    assertThat(bulkhead.getBulkheadConfig().getMaxConcurrentCalls()).isEqualTo(25);
    assertThat(bulkhead.getBulkheadConfig().getMaxWaitDuration()).isEqualTo(Duration.ZERO);
    assertThat(bulkhead.getMetrics().getAvailableConcurrentCalls()).isEqualTo(25);
  }

  @Test
  void aFullBulkheadRejectsAtOnceAndAcceptsAgainAfterARelease() throws Exception {
    Bulkhead bulkhead = Bulkheads.builder("db").maxConcurrentCalls(2).build();
    CountDownLatch entered = new CountDownLatch(2);
    CountDownLatch release = new CountDownLatch(1);
    ExecutorService pool = Executors.newFixedThreadPool(2);
    try {
      List<Future<String>> held = new ArrayList<>();
      for (int i = 0; i < 2; i++) {
        held.add(
            pool.submit(
                () ->
                    bulkhead.executeCallable(
                        () -> {
                          entered.countDown();
                          assertThat(release.await(10, TimeUnit.SECONDS)).isTrue();
                          return "held";
                        })));
      }
      assertThat(entered.await(10, TimeUnit.SECONDS)).isTrue();
      assertThat(bulkhead.getMetrics().getAvailableConcurrentCalls()).isZero();

      AtomicInteger ran = new AtomicInteger();
      long start = System.nanoTime();
      assertThatThrownBy(bulkhead::acquirePermission).isInstanceOf(BulkheadFullException.class);
      assertThatThrownBy(() -> bulkhead.executeCallable(ran::incrementAndGet))
          .isInstanceOf(BulkheadFullException.class)
          .hasMessageContaining("'db'");
      assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));
      assertThat(ran).hasValue(0);

      release.countDown();
      for (Future<String> f : held) {
        assertThat(f.get(10, TimeUnit.SECONDS)).isEqualTo("held");
      }
      assertThat(bulkhead.getMetrics().getAvailableConcurrentCalls()).isEqualTo(2);
      assertThat(bulkhead.executeCallable(() -> "free again")).isEqualTo("free again");
    } finally {
      release.countDown();
      pool.shutdownNow();
    }
  }

  @Test
  void aCallOverTheCapWaitsUpToMaxWaitForASlot() throws Exception {
    Bulkhead bulkhead =
        Bulkheads.builder("wait").maxConcurrentCalls(1).maxWait(Duration.ofSeconds(30)).build();
    bulkhead.acquirePermission(); // the only slot
    ExecutorService pool = Executors.newSingleThreadExecutor();
    try {
      AtomicInteger waiterState = new AtomicInteger();
      Thread[] waiter = new Thread[1];
      Future<String> over =
          pool.submit(
              () -> {
                waiter[0] = Thread.currentThread();
                waiterState.set(1);
                return bulkhead.executeCallable(() -> "got a slot");
              });
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (waiterState.get() == 0
          || (waiter[0].getState() != Thread.State.TIMED_WAITING
              && waiter[0].getState() != Thread.State.WAITING)) {
        assertThat(System.nanoTime()).as("the waiter blocks on the bulkhead").isLessThan(deadline);
        Thread.onSpinWait();
      }
      assertThat(over).isNotDone();

      bulkhead.onComplete();

      assertThat(over.get(10, TimeUnit.SECONDS)).isEqualTo("got a slot");
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void maxWaitIsBetweenZeroAndOneMinute() {
    assertThatThrownBy(() -> Bulkheads.builder("b").maxWait(Duration.ofMillis(60_001)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("maxWait must be between 0 ms and 60000 ms, but was 60001 ms");
    assertThatThrownBy(() -> Bulkheads.builder("b").maxWait(Duration.ofMinutes(2)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("maxWait must be between 0 ms and 60000 ms, but was 120000 ms");
    assertThatThrownBy(() -> Bulkheads.builder("b").maxWait(Duration.ofMillis(-1)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("maxWait must be between 0 ms and 60000 ms, but was -1 ms");
    assertThat(
            Bulkheads.builder("b")
                .maxWait(Duration.ofMinutes(1))
                .build()
                .getBulkheadConfig()
                .getMaxWaitDuration())
        .isEqualTo(Duration.ofMinutes(1));
  }

  @Test
  void maxConcurrentCallsIsBounded() {
    assertThatThrownBy(() -> Bulkheads.builder("b").maxConcurrentCalls(0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("maxConcurrentCalls must be between 1 and 100000, but was 0");
    assertThatThrownBy(() -> Bulkheads.builder("b").maxConcurrentCalls(100_001))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("maxConcurrentCalls must be between 1 and 100000, but was 100001");
    assertThatThrownBy(() -> Bulkheads.builder("b").maxConcurrentCalls(2).maxConcurrentCalls(3))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("maxConcurrentCalls was already set to 2");
  }

  @Test
  void bindsResilience4jMetersTaggedWithTheName() {
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    Bulkhead bulkhead =
        Bulkheads.builder("db").maxConcurrentCalls(3).meterRegistry(registry).build();

    List<Meter> meters = registry.getMeters();
    assertThat(meters).isNotEmpty();
    assertThat(meters)
        .allSatisfy(
            m -> {
              assertThat(m.getId().getName()).startsWith("resilience4j.bulkhead.");
              assertThat(m.getId().getTag("name")).isEqualTo("db");
            });

    bulkhead.acquirePermission();
    assertThat(
            registry
                .get("resilience4j.bulkhead.available.concurrent.calls")
                .tag("name", "db")
                .gauge()
                .value())
        .isEqualTo(2.0);
    assertThat(
            registry
                .get("resilience4j.bulkhead.max.allowed.concurrent.calls")
                .tag("name", "db")
                .gauge()
                .value())
        .isEqualTo(3.0);
    bulkhead.onComplete();
  }

  @Test
  void aBlankNameIsRejected() {
    assertThatThrownBy(() -> Bulkheads.builder(" "))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("name must not be blank, but was \" \"");
  }
}

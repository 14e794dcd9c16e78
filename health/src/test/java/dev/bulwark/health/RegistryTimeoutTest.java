package dev.bulwark.health;

import static org.assertj.core.api.Assertions.assertThat;

import dev.bulwark.health.HealthRegistry.CheckOptions;
import dev.bulwark.testing.Await;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class RegistryTimeoutTest {
  private static final Duration TIMEOUT = Duration.ofMillis(200);
  private static final Duration WAIT = Duration.ofSeconds(5);

  private final CountDownLatch release = new CountDownLatch(1);

  @AfterEach
  void releaseHungChecks() {
    release.countDown();
  }

  @Test
  void aHungCheckFailsAtItsTimeoutWhileTheOthersPass() throws Exception {
    CountDownLatch interrupted = new CountDownLatch(1);
    HealthCheck hung =
        () -> {
          try {
            release.await();
          } catch (InterruptedException e) {
            interrupted.countDown();
            throw e;
          }
          return HealthResult.pass();
        };
    try (HealthRegistry health =
        HealthRegistry.builder()
            .timeout(TIMEOUT)
            .readiness("db", hung)
            .readiness("cache", () -> HealthResult.pass().withObserved(3, "ms"))
            .liveness("jvm", HealthResult::pass)
            .build()) {
      long start = System.nanoTime();
      HealthReport report = health.report(Role.READINESS);
      Duration took = Duration.ofNanos(System.nanoTime() - start);

      // The bound: the check's timeout plus a margin, whatever the hung check does.
      assertThat(took).isLessThan(Duration.ofSeconds(1));
      assertThat(report.status()).isEqualTo(Status.FAIL);
      assertThat(report.results().keySet()).containsExactly("db", "cache");
      HealthResult db = report.results().get("db");
      assertThat(db.status()).isEqualTo(Status.FAIL);
      assertThat(db.output()).isEqualTo("timed out after 200 ms");
      assertThat(db.observedUnit()).isEqualTo("ms");
      assertThat(db.observedValue()).isInstanceOf(Double.class);
      assertThat((Double) db.observedValue()).isBetween(200.0, 1000.0);
      assertThat(report.results().get("cache").status()).isEqualTo(Status.PASS);
      assertThat(interrupted.await(WAIT.toMillis(), TimeUnit.MILLISECONDS))
          .as("the hung check is interrupted at its timeout")
          .isTrue();
      assertThat(health.report(Role.LIVENESS).status()).isEqualTo(Status.PASS);
    }
  }

  @Test
  void aTimeoutReportsWarnWhenConfigured() {
    HealthCheck hung =
        () -> {
          release.await();
          return HealthResult.pass();
        };
    try (HealthRegistry health =
        HealthRegistry.builder()
            .timeout(TIMEOUT)
            .onTimeout(Status.WARN)
            .readiness("db", hung)
            .readiness("cache", HealthResult::pass)
            .build()) {
      long start = System.nanoTime();
      HealthReport report = health.report(Role.READINESS);
      assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(1));
      assertThat(report.status()).isEqualTo(Status.WARN);
      HealthResult db = report.results().get("db");
      assertThat(db.status()).isEqualTo(Status.WARN);
      assertThat(db.output()).isEqualTo("timed out after 200 ms");
      assertThat((Double) db.observedValue()).isGreaterThanOrEqualTo(200.0);
      assertThat(health.respond(Role.READINESS, false).status()).isEqualTo(200);
    }
  }

  @Test
  void aCheckThatIgnoresItsInterruptIsNotCalledAgainUntilItReturns() throws Exception {
    FakeTicker ticker = new FakeTicker();
    Duration ttl = Duration.ofSeconds(1);
    AtomicInteger interrupts = new AtomicInteger();
    HealthCheck stubborn =
        () -> {
          while (true) {
            try {
              release.await();
              return HealthResult.pass();
            } catch (InterruptedException e) {
              interrupts.incrementAndGet();
            }
          }
        };
    try (HealthRegistry health =
        HealthRegistry.builder()
            .timeout(TIMEOUT)
            .ttl(ttl)
            .threads(2)
            .readiness("stuck", stubborn)
            .readiness("cache", HealthResult::pass)
            .ticker(ticker)
            .build()) {
      HealthResult first = health.report(Role.READINESS).results().get("stuck");
      assertThat(first.status()).isEqualTo(Status.FAIL);
      assertThat(first.output()).isEqualTo("timed out after 200 ms");
      Await.until(WAIT, "the interrupt", () -> interrupts.get() >= 1);

      ticker.advance(ttl);
      // The stale result is served while its refresh finds the check still running.
      assertThat(health.report(Role.READINESS).results().get("stuck").output())
          .isEqualTo("timed out after 200 ms");
      HealthReport running = health.report(Role.READINESS);
      assertThat(running.results().get("stuck").status()).isEqualTo(Status.FAIL);
      assertThat(running.results().get("stuck").output())
          .isEqualTo(
              "still running after 1000 ms (timeout 200 ms): not called again until it returns");
      assertThat(running.results().get("stuck").observedValue()).isEqualTo(1000.0);
      assertThat(running.results().get("cache").status()).isEqualTo(Status.PASS);

      ticker.advance(ttl);
      health.report(Role.READINESS);
      assertThat(health.report(Role.READINESS).results().get("stuck").output())
          .isEqualTo(
              "still running after 2000 ms (timeout 200 ms): not called again until it returns");
      assertThat(health.calls("stuck")).isEqualTo(1);

      release.countDown();
      Await.until(
          WAIT,
          "a second call once the first returned",
          () -> {
            if (health.calls("stuck") == 1) { // until the call is entered: no third one
              ticker.advance(ttl);
              health.report(Role.READINESS);
            }
            return health.calls("stuck") == 2;
          });
      Await.until(
          WAIT,
          "a passing result",
          () -> health.report(Role.READINESS).results().get("stuck").status() == Status.PASS);
      assertThat(health.calls("stuck")).isEqualTo(2);
    }
  }

  @Test
  void theChecksOfOneReportRunInParallel() {
    CyclicBarrier barrier = new CyclicBarrier(3);
    HealthCheck meet =
        () -> {
          barrier.await(WAIT.toMillis(), TimeUnit.MILLISECONDS);
          return HealthResult.pass();
        };
    CheckOptions ready = CheckOptions.roles(Role.READINESS).timeout(WAIT.plusSeconds(1));
    try (HealthRegistry health =
        HealthRegistry.builder()
            .check("a", meet, ready)
            .check("b", meet, ready)
            .check("c", meet, ready)
            .build()) {
      HealthReport report = health.report(Role.READINESS);
      assertThat(report.results().values())
          .allSatisfy(result -> assertThat(result.status()).isEqualTo(Status.PASS));
      assertThat(report.status()).isEqualTo(Status.PASS);
    }
  }
}

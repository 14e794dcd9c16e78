package dev.bulwark.health;

import static org.assertj.core.api.Assertions.assertThat;

import dev.bulwark.health.HealthRegistry.CheckOptions;
import dev.bulwark.testing.Await;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.DoubleAdder;
import java.util.concurrent.atomic.LongAdder;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class RegistryCacheTest {
  private static final Duration TTL = Duration.ofSeconds(10);
  private static final Duration WAIT = Duration.ofSeconds(5);

  private final FakeTicker ticker = new FakeTicker();
  private final CountDownLatch gate = new CountDownLatch(1);

  @AfterEach
  void openGate() {
    gate.countDown();
  }

  /**
   * A check whose result tells which call made it; from the second call on it waits for the gate.
   */
  private static final class Counting implements HealthCheck {
    final AtomicInteger calls = new AtomicInteger();
    final CountDownLatch refreshing = new CountDownLatch(1);
    private final CountDownLatch gate;

    Counting(CountDownLatch gate) {
      this.gate = gate;
    }

    @Override
    public HealthResult check() throws InterruptedException {
      int call = calls.incrementAndGet();
      if (call >= 2) {
        refreshing.countDown();
        gate.await();
      }
      return HealthResult.pass().withDetail("call", call);
    }
  }

  private static Object call(HealthReport report, String check) {
    return report.results().get(check).details().get("call");
  }

  @Test
  void aFreshResultIsServedWithoutCallingTheCheck() {
    Counting check = new Counting(gate);
    try (HealthRegistry health =
        HealthRegistry.builder().ttl(TTL).readiness("db", check).ticker(ticker).build()) {
      HealthReport first = health.report(Role.READINESS);
      assertThat(call(first, "db")).isEqualTo(1);
      ticker.advance(TTL.minusNanos(1));
      for (int i = 0; i < 100; i++) {
        assertThat(health.report(Role.READINESS).results().get("db"))
            .isEqualTo(first.results().get("db"));
      }
      assertThat(health.respond(Role.READINESS, true).status()).isEqualTo(200);
      assertThat(health.report(Role.DETAIL).results().get("db"))
          .isEqualTo(first.results().get("db"));
      assertThat(health.calls("db")).isEqualTo(1);
      assertThat(check.calls).hasValue(1);
    }
  }

  @Test
  void aStaleResultIsServedAtOnceWhileOneRefreshRuns() throws Exception {
    Counting check = new Counting(gate);
    try (HealthRegistry health =
        HealthRegistry.builder()
            .ttl(TTL)
            .timeout(Duration.ofSeconds(30))
            .readiness("db", check)
            .ticker(ticker)
            .build()) {
      assertThat(call(health.report(Role.READINESS), "db")).isEqualTo(1);
      ticker.advance(TTL);

      // The refresh blocks on the gate: the report must not wait for it.
      assertThat(call(health.report(Role.READINESS), "db")).isEqualTo(1);
      assertThat(check.refreshing.await(WAIT.toMillis(), TimeUnit.MILLISECONDS)).isTrue();

      ExecutorService requests = Executors.newFixedThreadPool(8);
      try {
        List<Future<Object>> answers = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
          answers.add(requests.submit(() -> call(health.report(Role.READINESS), "db")));
        }
        for (Future<Object> answer : answers) {
          assertThat(answer.get(WAIT.toMillis(), TimeUnit.MILLISECONDS)).isEqualTo(1);
        }
      } finally {
        requests.shutdownNow();
      }
      assertThat(health.calls("db")).isEqualTo(2);

      gate.countDown();
      Await.until(
          WAIT, "the refreshed result", () -> call(health.report(Role.READINESS), "db").equals(2));
      assertThat(health.calls("db")).isEqualTo(2);
      // Fresh again for a whole ttl from the refresh's end.
      ticker.advance(TTL.minusNanos(1));
      assertThat(call(health.report(Role.READINESS), "db")).isEqualTo(2);
      assertThat(health.calls("db")).isEqualTo(2);
    }
  }

  @Test
  void aCheckWithoutAResultIsWaitedForOnceByConcurrentReports() throws Exception {
    CountDownLatch entered = new CountDownLatch(1);
    AtomicInteger calls = new AtomicInteger();
    HealthCheck slow =
        () -> {
          calls.incrementAndGet();
          entered.countDown();
          gate.await();
          return HealthResult.pass();
        };
    try (HealthRegistry health =
        HealthRegistry.builder()
            .timeout(Duration.ofSeconds(30))
            .readiness("db", slow)
            .ticker(ticker)
            .build()) {
      ExecutorService requests = Executors.newFixedThreadPool(4);
      try {
        List<Future<HealthReport>> reports = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
          reports.add(requests.submit(() -> health.report(Role.READINESS)));
        }
        assertThat(entered.await(WAIT.toMillis(), TimeUnit.MILLISECONDS)).isTrue();
        gate.countDown();
        for (Future<HealthReport> report : reports) {
          assertThat(report.get(WAIT.toMillis(), TimeUnit.MILLISECONDS).status())
              .isEqualTo(Status.PASS);
        }
      } finally {
        requests.shutdownNow();
      }
      assertThat(calls).hasValue(1);
      assertThat(health.calls("db")).isEqualTo(1);
    }
  }

  @Test
  void aChecksOwnTtlTimeoutAndTimeoutStatusOverrideTheRegistrys() throws Exception {
    AtomicInteger quickCalls = new AtomicInteger();
    AtomicInteger slowCalls = new AtomicInteger();
    HealthCheck hung =
        () -> {
          gate.await();
          return HealthResult.pass();
        };
    try (HealthRegistry health =
        HealthRegistry.builder()
            .ttl(TTL)
            .timeout(Duration.ofSeconds(30))
            .check(
                "quick",
                () -> HealthResult.pass().withDetail("call", quickCalls.incrementAndGet()),
                CheckOptions.roles(Role.READINESS).ttl(Duration.ofSeconds(1)))
            .readiness(
                "slow", () -> HealthResult.pass().withDetail("call", slowCalls.incrementAndGet()))
            .check(
                "hung",
                hung,
                CheckOptions.roles(Role.DETAIL)
                    .timeout(Duration.ofMillis(100))
                    .onTimeout(Status.WARN))
            .ticker(ticker)
            .build()) {
      health.report(Role.READINESS);
      ticker.advance(Duration.ofSeconds(1));
      health.report(Role.READINESS);
      Await.until(WAIT, "the quick check's refresh", () -> quickCalls.get() == 2);
      assertThat(slowCalls).hasValue(1);
      assertThat(health.respond(Role.READINESS, false).headers())
          .containsEntry("Cache-Control", "max-age=1");

      long start = System.nanoTime();
      HealthResult timedOut = health.report(Role.DETAIL).results().get("hung");
      assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(5));
      assertThat(timedOut.status()).isEqualTo(Status.WARN);
      assertThat(timedOut.output()).isEqualTo("timed out after 100 ms");
    }
  }

  @Test
  void aResponseIsMadeOnceForTheSameResultsAndAnewWhenOneChanges() throws Exception {
    Counting check = new Counting(gate);
    try (HealthRegistry health =
        HealthRegistry.builder()
            .ttl(TTL)
            .timeout(Duration.ofSeconds(30))
            .readiness("db", check)
            // Never stale in this test: only db's result changes.
            .check(
                "disk",
                () -> HealthResult.pass(),
                CheckOptions.roles(Role.READINESS).ttl(Duration.ofDays(1)))
            .ticker(ticker)
            .build()) {
      HealthResponse first = health.respond(Role.READINESS, true);
      assertThat(first.body()).contains("\"call\":1");
      ticker.advance(TTL.minusNanos(1));
      for (int i = 0; i < 10; i++) {
        assertThat(health.respond(Role.READINESS, true)).isSameAs(first);
      }
      // Each kind of response is its own: not authorized, the other format, the other role.
      HealthResponse statusOnly = health.respond(Role.READINESS, false);
      assertThat(statusOnly.body()).doesNotContain("call");
      assertThat(statusOnly.headers()).containsEntry("Cache-Control", "max-age=10");
      assertThat(health.respond(Role.READINESS, false)).isSameAs(statusOnly);
      HealthResponse microProfile = health.respond(Role.READINESS, true, HealthFormat.MICROPROFILE);
      assertThat(microProfile.body()).isNotEqualTo(first.body()).contains("\"checks\"");
      assertThat(health.respond(Role.DETAIL, true)).isNotSameAs(first);
      assertThat(health.respond(Role.READINESS, true)).isSameAs(first);
      assertThat(health.rendered(Role.READINESS, true, HealthFormat.IETF).body())
          .isEqualTo(first.bodyBytes());

      // Stale: the stale result is served, so the same response, until the refresh is in.
      ticker.advance(Duration.ofNanos(1));
      assertThat(health.respond(Role.READINESS, true)).isSameAs(first);
      gate.countDown();
      Await.until(
          WAIT,
          "a response made from the refreshed result",
          () -> health.respond(Role.READINESS, true).body().contains("\"call\":2"));
      HealthResponse second = health.respond(Role.READINESS, true);
      assertThat(second).isNotSameAs(first);
      assertThat(health.respond(Role.READINESS, true)).isSameAs(second);
    }
  }

  @Test
  void aClosedRegistryAnswersFailNotItsLastResponse() {
    try (HealthRegistry health =
        HealthRegistry.builder().readiness("disk", () -> HealthResult.pass()).build()) {
      assertThat(health.respond(Role.READINESS, false).status()).isEqualTo(200);
      health.close();
      HealthResponse closed = health.respond(Role.READINESS, true);
      assertThat(closed.status()).isEqualTo(503);
      assertThat(closed.body()).contains("the health registry is closed");
      assertThat(health.respond(Role.READINESS, false).status()).isEqualTo(503);
    }
  }

  @Test
  void aResultKeepsTheValueItsCounterHadWhenItWasMade() {
    AtomicLong counter = new AtomicLong(7);
    LongAdder adder = new LongAdder();
    adder.add(3);
    HealthResult result =
        HealthResult.pass().withObserved(counter, "jobs").withDetail("queued", adder);
    counter.set(8);
    adder.add(1);
    assertThat(result.observedValue()).isEqualTo(7L);
    assertThat(result.details()).containsEntry("queued", 3L);
    assertThat(HealthResult.pass().withObserved(1.5, "s").observedValue()).isEqualTo(1.5);
    assertThat(HealthResult.pass().withDetail("n", new DoubleAdder()).details())
        .containsEntry("n", 0.0);
  }

  @Test
  void checkOptionsSayWhatTheySet() {
    assertThat(CheckOptions.roles(Role.READINESS, Role.LIVENESS).ttl(Duration.ofSeconds(2)))
        .hasToString("CheckOptions[roles=[LIVENESS, READINESS], ttl=2000 ms]");
  }
}

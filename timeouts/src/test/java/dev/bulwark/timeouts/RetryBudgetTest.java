package dev.bulwark.timeouts;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

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

class RetryBudgetTest {
  private final FakeTicker ticker = new FakeTicker();

  private static int acquireAll(RetryBudget budget, int tries) {
    int allowed = 0;
    for (int i = 0; i < tries; i++) {
      if (budget.tryAcquireRetry()) {
        allowed++;
      }
    }
    return allowed;
  }

  private static void recordCalls(RetryBudget budget, int calls) {
    for (int i = 0; i < calls; i++) {
      budget.recordCall();
    }
  }

  @Test
  void theFloorAllowsMinRetriesPerSecondTimesTheWindowWithNoCalls() {
    RetryBudget budget =
        RetryBudget.builder("floor")
            .minRetriesPerSecond(2)
            .window(Duration.ofSeconds(5))
            .ticker(ticker)
            .build();

    for (int i = 0; i < 10; i++) {
      assertThat(budget.tryAcquireRetry()).as("retry %d", i + 1).isTrue();
    }
    assertThat(budget.tryAcquireRetry()).isFalse();
    assertThat(budget.snapshot()).isEqualTo(new RetryBudget.Snapshot("floor", 0, 10, 10));
  }

  @Test
  void theDefaultsAllowThirtyRetriesInTenSecondsWithNoCalls() {
    RetryBudget budget = RetryBudget.builder("defaults").ticker(ticker).build();

    assertThat(acquireAll(budget, 100)).isEqualTo(30);
    assertThat(budget.snapshot().limit()).isEqualTo(30);

    recordCalls(budget, 1_000);
    // 10% of 1,000 calls is 100 retries, 30 of them already taken.
    assertThat(acquireAll(budget, 1_000)).isEqualTo(70);
  }

  @Test
  void theRatioLimitsRetriesToAShareOfCalls() {
    RetryBudget budget =
        RetryBudget.builder("ratio").ratio(0.2).minRetriesPerSecond(0).ticker(ticker).build();

    assertThat(budget.tryAcquireRetry()).isFalse();
    recordCalls(budget, 50);
    assertThat(acquireAll(budget, 100)).isEqualTo(10);
    assertThat(budget.snapshot()).isEqualTo(new RetryBudget.Snapshot("ratio", 50, 10, 10));

    recordCalls(budget, 5);
    assertThat(budget.tryAcquireRetry()).isTrue();
    assertThat(budget.tryAcquireRetry()).isFalse();
  }

  @Test
  void afterAWholeWindowTheCountsResetAndRetriesAreAllowedAgain() {
    RetryBudget budget =
        RetryBudget.builder("slide")
            .ratio(0.5)
            .minRetriesPerSecond(1)
            .window(Duration.ofSeconds(10))
            .ticker(ticker)
            .build();
    recordCalls(budget, 40);
    assertThat(acquireAll(budget, 100)).isEqualTo(20);

    ticker.advance(Duration.ofSeconds(10));

    assertThat(budget.snapshot()).isEqualTo(new RetryBudget.Snapshot("slide", 0, 0, 10));
    assertThat(acquireAll(budget, 100)).isEqualTo(10);

    ticker.advance(Duration.ofHours(5));
    assertThat(budget.snapshot()).isEqualTo(new RetryBudget.Snapshot("slide", 0, 0, 10));
    assertThat(acquireAll(budget, 100)).isEqualTo(10);
  }

  @Test
  void aPartialSlideDropsOnlyTheBucketsOlderThanTheWindow() {
    RetryBudget budget =
        RetryBudget.builder("partial")
            .ratio(1)
            .minRetriesPerSecond(0)
            .window(Duration.ofSeconds(10))
            .ticker(ticker)
            .build();
    recordCalls(budget, 10);
    assertThat(acquireAll(budget, 2)).isEqualTo(2);
    ticker.advance(Duration.ofSeconds(5));
    recordCalls(budget, 20);
    assertThat(acquireAll(budget, 3)).isEqualTo(3);
    assertThat(budget.snapshot()).isEqualTo(new RetryBudget.Snapshot("partial", 30, 5, 30));

    ticker.advance(Duration.ofMillis(4_999)); // t = 9.999 s: both buckets are still in
    assertThat(budget.snapshot()).isEqualTo(new RetryBudget.Snapshot("partial", 30, 5, 30));

    ticker.advance(Duration.ofMillis(1)); // t = 10 s: the first second's bucket leaves
    assertThat(budget.snapshot()).isEqualTo(new RetryBudget.Snapshot("partial", 20, 3, 20));

    ticker.advance(Duration.ofMillis(4_999)); // t = 14.999 s
    assertThat(budget.snapshot()).isEqualTo(new RetryBudget.Snapshot("partial", 20, 3, 20));

    ticker.advance(Duration.ofMillis(1)); // t = 15 s: the second bucket leaves too
    assertThat(budget.snapshot()).isEqualTo(new RetryBudget.Snapshot("partial", 0, 0, 0));
  }

  @Test
  void slidesOnATickerThatReadsNegative() {
    FakeTicker negative = new FakeTicker(-25_500_000_000L);
    RetryBudget budget =
        RetryBudget.builder("negative")
            .ratio(1)
            .minRetriesPerSecond(0)
            .window(Duration.ofSeconds(10))
            .ticker(negative)
            .build();
    recordCalls(budget, 4);
    assertThat(acquireAll(budget, 10)).isEqualTo(4);

    negative.advance(Duration.ofSeconds(11));

    assertThat(budget.snapshot()).isEqualTo(new RetryBudget.Snapshot("negative", 0, 0, 0));
    recordCalls(budget, 1);
    assertThat(budget.tryAcquireRetry()).isTrue();
  }

  @Test
  void countsCallsRetriesAndDenialsInTheRegistry() {
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    RetryBudget budget =
        RetryBudget.builder("db")
            .ratio(0.5)
            .minRetriesPerSecond(0)
            .ticker(ticker)
            .meterRegistry(registry)
            .build();

    recordCalls(budget, 4);
    assertThat(acquireAll(budget, 5)).isEqualTo(2);

    assertThat(registry.get("bulwark.timeouts.retry.budget.calls").tag("name", "db").counter())
        .satisfies(c -> assertThat(c.count()).isEqualTo(4.0));
    assertThat(registry.get("bulwark.timeouts.retry.budget.retries").tag("name", "db").counter())
        .satisfies(c -> assertThat(c.count()).isEqualTo(2.0));
    assertThat(registry.get("bulwark.timeouts.retry.budget.denied").tag("name", "db").counter())
        .satisfies(c -> assertThat(c.count()).isEqualTo(3.0));
  }

  @Test
  void concurrentRetriesNeverExceedTheRatioOfCalls() throws Exception {
    RetryBudget budget =
        RetryBudget.builder("concurrent").ratio(0.1).minRetriesPerSecond(0).ticker(ticker).build();
    int threads = 8;
    int callsPerThread = 5_000;
    AtomicInteger allowed = new AtomicInteger();
    CountDownLatch start = new CountDownLatch(1);
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      List<Future<?>> futures = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        futures.add(
            pool.submit(
                () -> {
                  start.await(10, TimeUnit.SECONDS);
                  for (int i = 0; i < callsPerThread; i++) {
                    budget.recordCall();
                    for (int retry = 0; retry < 2; retry++) {
                      if (budget.tryAcquireRetry()) {
                        allowed.incrementAndGet();
                      }
                    }
                  }
                  return null;
                }));
      }
      start.countDown();
      for (Future<?> f : futures) {
        f.get(30, TimeUnit.SECONDS);
      }
    } finally {
      pool.shutdownNow();
    }

    int calls = threads * callsPerThread;
    assertThat(allowed.get()).isLessThanOrEqualTo(calls / 10).isGreaterThan(calls / 20);
    assertThat(budget.snapshot())
        .isEqualTo(new RetryBudget.Snapshot("concurrent", calls, allowed.get(), calls / 10));
  }

  @Test
  void aRatioOutsideZeroToOneIsRejected() {
    assertThatThrownBy(() -> RetryBudget.builder("b").ratio(0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("ratio must be in (0, 1], but was 0.0");
    assertThatThrownBy(() -> RetryBudget.builder("b").ratio(1.5))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("ratio must be in (0, 1], but was 1.5");
    assertThatThrownBy(() -> RetryBudget.builder("b").ratio(Double.NaN))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("ratio must be in (0, 1], but was NaN");
    assertThatThrownBy(() -> RetryBudget.builder("b").ratio(-0.1))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("ratio must be in (0, 1], but was -0.1");
    assertThat(RetryBudget.builder("b").ratio(1).build()).isNotNull();
  }

  @Test
  void aWindowOutsideOneSecondToOneHourIsRejected() {
    assertThatThrownBy(() -> RetryBudget.builder("b").window(Duration.ofMillis(500)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("window must be between 1000 ms and 3600000 ms, but was 500 ms");
    assertThatThrownBy(() -> RetryBudget.builder("b").window(Duration.ofHours(2)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("window must be between 1000 ms and 3600000 ms, but was 7200000 ms");
    assertThat(RetryBudget.builder("b").window(Duration.ofSeconds(1)).build()).isNotNull();
    assertThat(RetryBudget.builder("b").window(Duration.ofHours(1)).build()).isNotNull();
  }

  @Test
  void aNegativeFloorIsRejected() {
    assertThatThrownBy(() -> RetryBudget.builder("b").minRetriesPerSecond(-1))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("minRetriesPerSecond must be between 0 and 100000, but was -1");
  }

  @Test
  void aSettingGivenTwiceIsAnIllegalState() {
    assertThatThrownBy(() -> RetryBudget.builder("b").ratio(0.5).ratio(0.2))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("ratio was already set to 0.5");
    assertThatThrownBy(() -> RetryBudget.builder("b").minRetriesPerSecond(5).minRetriesPerSecond(1))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("minRetriesPerSecond was already set to 5");
  }

  @Test
  void aBlankNameIsRejected() {
    assertThatThrownBy(() -> RetryBudget.builder("  "))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("name must not be blank, but was \"  \"");
  }

  @Test
  void aSecondBudgetOfTheSameNameInOneRegistryIsRefused() {
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    RetryBudget.builder("payments-db").meterRegistry(registry).build();

    assertThatThrownBy(() -> RetryBudget.builder("payments-db").meterRegistry(registry).build())
        .isInstanceOf(IllegalStateException.class)
        .hasMessage(
            "meterRegistry already holds the meters of a retry budget named \"payments-db\":"
                + " give each retry budget its own name");
    RetryBudget.builder("orders-db").meterRegistry(registry).build();
    RetryBudget.builder("payments-db").meterRegistry(new SimpleMeterRegistry()).build();
    RetryBudget.builder("payments-db").build();
  }
}

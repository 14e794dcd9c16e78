package dev.bulwark.ratelimit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.LongSupplier;
import org.junit.jupiter.api.Test;

/** The local limiter on its own clock. */
class LocalRateLimiterTest {
  private final AtomicLong nanos = new AtomicLong(1_000_000_000L);

  private LocalLimiterBuilder builder(String limits) {
    return RateLimiter.local().limits(limits).nanoTime(nanos::get);
  }

  private void advance(Duration by) {
    nanos.addAndGet(by.toNanos());
  }

  @Test
  void aRefusedPermitIsRefusedAgainWithTheBucketsOwnFiguresUntilItRefills() {
    RateLimiter limiter = builder("10/minute").build();
    for (int i = 0; i < 10; i++) {
      assertThat(limiter.tryAcquire("k").allowed()).isTrue();
    }
    assertThat(limiter.tryAcquire("k").retryAfter()).isEqualTo(Duration.ofSeconds(6));
    advance(Duration.ofSeconds(1));
    Decision again = limiter.tryAcquire("k"); // remembered, not read from the bucket
    assertThat(again.outcome()).isEqualTo(Outcome.DENIED);
    assertThat(again.deniedBy()).isEqualTo(Limit.perMinute(10));
    assertThat(again.retryAfter()).isEqualTo(Duration.ofSeconds(5));
    assertThat(again.quotas())
        .containsExactly(new Quota(Limit.perMinute(10), 0, Duration.ofSeconds(59)));
    assertThat(again.remaining()).isZero();
    advance(Duration.ofSeconds(5).minusNanos(1));
    assertThat(limiter.tryAcquire("k").retryAfter()).isEqualTo(Duration.ofNanos(1));
    advance(Duration.ofNanos(1));
    Decision refilled = limiter.tryAcquire("k");
    assertThat(refilled.allowed()).isTrue();
    assertThat(refilled.remaining()).isZero();
    Decision next = limiter.tryAcquire("k");
    assertThat(next.allowed()).isFalse();
    assertThat(next.retryAfter()).isEqualTo(Duration.ofSeconds(6));
  }

  @Test
  void everyDecisionReadsTheClockOnce() {
    // The reads of the clock on this thread: Caffeine and the buckets read the time the limiter
    // keeps from the decision's own reading.
    Thread test = Thread.currentThread();
    AtomicLong reads = new AtomicLong();
    LongSupplier counted =
        () -> {
          if (Thread.currentThread() == test) {
            reads.incrementAndGet();
          }
          return nanos.get();
        };
    RateLimiter one = RateLimiter.local().limits("2/minute").nanoTime(counted).build();
    RateLimiter two = RateLimiter.local().limits("2/second;3/minute").nanoTime(counted).build();
    for (RateLimiter limiter : List.of(one, two)) {
      List<Decision> decisions = new ArrayList<>();
      long before = reads.get();
      decisions.add(limiter.tryAcquire("k")); // makes the bucket
      decisions.add(limiter.tryAcquire("k"));
      decisions.add(limiter.tryAcquire("k")); // the first refusal
      decisions.add(limiter.tryAcquire("k")); // remembered, on one limit
      decisions.add(limiter.tryAcquire("k", 2)); // asks the bucket
      advance(Duration.ofNanos(1)); // the kept time is now behind: a refusal asks again
      decisions.add(limiter.tryAcquire("k"));
      assertThat(decisions)
          .extracting(Decision::allowed)
          .containsExactly(true, true, false, false, false, false);
      assertThat(reads.get() - before).as(limiter.toString()).isEqualTo(decisions.size());
    }
  }

  @Test
  void aRefusalOnAKeptTimeBehindTheDecisionsIsMadeAgainOnItsOwn() {
    // The kept time moves to a decision's reading when it is 10 µs or more behind it; a refusal
    // on a kept time less far behind asks the bucket again on the decision's reading, so that a
    // permit is admitted at the very nanosecond it refills.
    long behind = RecentTime.RESOLUTION_NANOS / 2;
    for (String limits : List.of("1/second", "1/second;100/minute")) {
      RateLimiter limiter = builder(limits).build();
      assertThat(limiter.tryAcquire("k").allowed()).isTrue();
      advance(Duration.ofSeconds(1).minusNanos(behind));
      Decision early = limiter.tryAcquire("k"); // the kept time moves here
      assertThat(early.allowed()).as(limits).isFalse();
      assertThat(early.retryAfter()).as(limits).isEqualTo(Duration.ofNanos(behind));
      advance(Duration.ofNanos(behind)); // less than the resolution: the kept time stays
      Decision refilled = limiter.tryAcquire("k");
      assertThat(refilled.allowed()).as(limits).isTrue();
      assertThat(refilled.remaining()).as(limits).isZero();
      Decision next = limiter.tryAcquire("k");
      assertThat(next.allowed()).as(limits).isFalse();
      assertThat(next.retryAfter()).as(limits).isEqualTo(Duration.ofSeconds(1));
    }
  }

  @Test
  void anAdmittedDecisionsFiguresAreTakenAtMostTheResolutionBeforeIt() {
    RateLimiter limiter = builder("10/second").build();
    assertThat(limiter.tryAcquire("k").quotas().get(0).reset()).isEqualTo(Duration.ofMillis(100));
    advance(Duration.ofNanos(RecentTime.RESOLUTION_NANOS - 1));
    // Read on the kept time, 1 ns short of the resolution behind: as if made with the first.
    Quota lagging = limiter.tryAcquire("k").quotas().get(0);
    assertThat(lagging.remaining()).isEqualTo(8);
    assertThat(lagging.reset()).isEqualTo(Duration.ofMillis(200));
    advance(Duration.ofNanos(1)); // the resolution behind: the kept time moves
    Quota moved = limiter.tryAcquire("k").quotas().get(0);
    assertThat(moved.reset())
        .isEqualTo(Duration.ofMillis(300).minusNanos(RecentTime.RESOLUTION_NANOS));
  }

  @Test
  void aRefusalRecordedOnALaterReadingIsReadAtItsOwnTime() {
    // A decision reads the clock before it finds the key's remembered refusal: one recorded in
    // between, by a decision that read the clock later, is read at that later time, which has
    // passed too, and not as if it had to be waited for from the earlier reading.
    AtomicReference<RateLimiter> limiter = new AtomicReference<>();
    AtomicBoolean interleave = new AtomicBoolean();
    LongSupplier clock =
        () -> {
          long reading = nanos.get();
          if (interleave.compareAndSet(true, false)) {
            advance(Duration.ofSeconds(1));
            assertThat(limiter.get().tryAcquire("k").allowed()).isTrue(); // a permit refilled
            assertThat(limiter.get().tryAcquire("k").retryAfter()) // recorded, a second later
                .isEqualTo(Duration.ofSeconds(60));
          }
          return reading;
        };
    limiter.set(RateLimiter.local().limits("1/minute").nanoTime(clock).build());
    assertThat(limiter.get().tryAcquire("k").allowed()).isTrue();
    assertThat(limiter.get().tryAcquire("k").retryAfter()).isEqualTo(Duration.ofMinutes(1));
    advance(Duration.ofMinutes(1));
    interleave.set(true);
    Decision earlier = limiter.get().tryAcquire("k"); // read the clock a second before the others
    assertThat(earlier.allowed()).isFalse();
    assertThat(earlier.retryAfter()).isEqualTo(Duration.ofSeconds(60));
    assertThat(earlier.quotas().get(0).reset()).isEqualTo(Duration.ofSeconds(60));
  }

  @Test
  void aRefusalAlwaysSaysToWaitAndWaitingThatLongIsEnough() {
    for (String limits :
        List.of("7/minute", "3/second", "13/hour", "999/day", "10/second;7/minute")) {
      RateLimiter limiter = builder(limits).build();
      long refused = 0;
      for (int step = 0; step < 2_000; step++) {
        Decision d = limiter.tryAcquire("k");
        if (!d.allowed()) {
          refused++;
          assertThat(d.retryAfter()).as("%s, step %d", limits, step).isPositive();
          assertThat(d.retryAfterSeconds()).isPositive();
          advance(d.retryAfter());
          assertThat(limiter.tryAcquire("k").allowed()).as("%s, step %d", limits, step).isTrue();
        }
        advance(Duration.ofNanos(1 + step % 7 * 1_000_003L));
      }
      assertThat(refused).as(limits).isPositive();
    }
  }

  @Test
  void aRefusalOfSeveralPermitsDoesNotRefuseFewer() {
    RateLimiter limiter = builder("10/minute").build();
    assertThat(limiter.tryAcquire("k", 9).allowed()).isTrue();
    Decision two = limiter.tryAcquire("k", 2);
    assertThat(two.allowed()).isFalse();
    assertThat(two.remaining()).isEqualTo(1);
    assertThat(limiter.tryAcquire("k", 1).allowed()).isTrue();
    assertThat(limiter.tryAcquire("k", 1).allowed()).isFalse();
  }

  @Test
  void aBurstIsAdmittedThenDeniedUntilAPermitRefills() {
    RateLimiter limiter = builder("10/minute").build();
    for (int i = 0; i < 10; i++) {
      Decision d = limiter.tryAcquire("k");
      assertThat(d.outcome()).isEqualTo(Outcome.ALLOWED);
      assertThat(d.remaining()).isEqualTo(9 - i);
    }
    Decision denied = limiter.tryAcquire("k");
    assertThat(denied.outcome()).isEqualTo(Outcome.DENIED);
    assertThat(denied.deniedBy()).isEqualTo(Limit.perMinute(10));
    assertThat(denied.retryAfter()).isEqualTo(Duration.ofSeconds(6));
    assertThat(denied.retryAfterSeconds()).isEqualTo(6);
    assertThat(denied.quotas())
        .containsExactly(new Quota(Limit.perMinute(10), 0, Duration.ofMinutes(1)));

    // One limit's quotas are made when read: a list equal to any other of the same quota,
    // immutable.
    Quota only = new Quota(Limit.perMinute(10), 0, Duration.ofMinutes(1));
    assertThat(denied.quotas()).isEqualTo(List.of(only)).hasSameHashCodeAs(List.of(only));
    Decision listed =
        new Decision(Outcome.DENIED, 1, List.of(only), Duration.ofSeconds(6), Limit.perMinute(10));
    assertThat(denied).isEqualTo(listed).hasSameHashCodeAs(listed).hasToString(listed.toString());
    assertThat(listed).isEqualTo(denied);
    assertThat(denied)
        .isNotEqualTo(
            new Decision(
                Outcome.SHADOW_DENIED,
                1,
                List.of(only),
                Duration.ofSeconds(6),
                Limit.perMinute(10)))
        .isNotEqualTo(
            new Decision(
                Outcome.DENIED,
                1,
                List.of(new Quota(Limit.perMinute(10), 1, Duration.ofMinutes(1))),
                Duration.ofSeconds(6),
                Limit.perMinute(10)));
    assertThat(denied.withOutcome(Outcome.SHADOW_DENIED))
        .isEqualTo(
            new Decision(
                Outcome.SHADOW_DENIED,
                1,
                List.of(only),
                Duration.ofSeconds(6),
                Limit.perMinute(10)));
    assertThatThrownBy(() -> denied.quotas().get(1)).isInstanceOf(IndexOutOfBoundsException.class);
    assertThatThrownBy(() -> denied.quotas().add(only))
        .isInstanceOf(UnsupportedOperationException.class);
    assertThatThrownBy(() -> denied.quotas().clear())
        .isInstanceOf(UnsupportedOperationException.class);
    assertThat(denied.toString()).contains("Quota[limit=10/minute, remaining=0, reset=PT1M]");

    advance(Duration.ofSeconds(6).minusNanos(1));
    assertThat(limiter.tryAcquire("k").allowed()).isFalse();
    advance(Duration.ofNanos(1));
    assertThat(limiter.tryAcquire("k").allowed()).isTrue();
    assertThat(limiter.tryAcquire("other").allowed()).isTrue();
  }

  @Test
  void everyLimitIsCheckedAndTheOneThatRefillsLastIsNamed() {
    RateLimiter limiter = builder("2/second;3/minute").build();
    assertThat(limiter.tryAcquire("k", 2).allowed()).isTrue();
    Decision denied = limiter.tryAcquire("k");
    assertThat(denied.deniedBy()).isEqualTo(Limit.perSecond(2));
    assertThat(denied.quotas()).extracting(Quota::remaining).containsExactly(0L, 1L);
    advance(Duration.ofSeconds(1));
    assertThat(limiter.tryAcquire("k").allowed()).isTrue();
    Decision minute = limiter.tryAcquire("k");
    assertThat(minute.allowed()).isFalse();
    assertThat(minute.deniedBy()).isEqualTo(Limit.perMinute(3));
    // One permit per 20 s, and the second that passed refilled a twentieth of one.
    assertThat(minute.retryAfter()).isEqualTo(Duration.ofSeconds(19));
    // The second's limit was not taken by the denied request.
    assertThat(minute.quotas().get(0).remaining()).isEqualTo(1);
  }

  @Test
  void aBurstAboveThePermitsLetsAnIdleClientSaveUp() {
    RateLimiter limiter =
        RateLimiter.local()
            .limits(List.of(Limit.perSecond(1).withBurst(5)))
            .nanoTime(nanos::get)
            .build();
    assertThat(limiter.tryAcquire("k", 5).allowed()).isTrue();
    assertThat(limiter.tryAcquire("k").allowed()).isFalse();
    advance(Duration.ofSeconds(10));
    assertThat(limiter.tryAcquire("k", 5).allowed()).isTrue();
    assertThat(limiter.tryAcquire("k").allowed()).isFalse();
  }

  @Test
  void sixteenThreadsOnOneKeyAdmitExactlyTheLimit() throws Exception {
    RateLimiter limiter = builder("1000/minute").build();
    assertThat(admitted(limiter, 16, 200)).isEqualTo(1000);
  }

  @Test
  void aKeysFirstRefusalsRacingOnManyThreadsKeepItsOneBucket() throws Exception {
    // A key's first refusal puts a holder of its bucket in the bucket's place: sixteen threads
    // racing to do it must leave one bucket, with its state, under the key.
    RateLimiter limiter = builder("2/minute").build();
    assertThat(admitted(limiter, 16, 1)).isEqualTo(2);
    assertThat(limiter.snapshot().keys()).isEqualTo(1);
    advance(Duration.ofSeconds(30)); // one permit refills, not a new bucket's two
    assertThat(admitted(limiter, 16, 1)).isEqualTo(1);
    advance(Duration.ofSeconds(30));
    Decision refilled = limiter.tryAcquire("hot");
    assertThat(refilled.allowed()).isTrue();
    assertThat(refilled.remaining()).isZero();
    assertThat(limiter.tryAcquire("hot").retryAfter()).isEqualTo(Duration.ofSeconds(30));
    assertThat(limiter.snapshot().keys()).isEqualTo(1);
    assertThat(limiter.snapshot().decisions())
        .containsEntry(Outcome.ALLOWED, 4L)
        .containsEntry(Outcome.DENIED, 30L);
  }

  /**
   * {@return how many permits of key "hot" were admitted} {@code threads} threads start at once,
   * each asking {@code each} times for one.
   */
  private static int admitted(RateLimiter limiter, int threads, int each) throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      CountDownLatch start = new CountDownLatch(1);
      List<Future<Integer>> results = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        results.add(
            pool.submit(
                () -> {
                  start.await();
                  int admitted = 0;
                  for (int i = 0; i < each; i++) {
                    if (limiter.tryAcquire("hot").allowed()) {
                      admitted++;
                    }
                  }
                  return admitted;
                }));
      }
      start.countDown();
      int admitted = 0;
      for (Future<Integer> result : results) {
        admitted += result.get(30, TimeUnit.SECONDS);
      }
      return admitted;
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void theMapIsBoundedAndAnIdleBucketGoesWhenFull() {
    MeterRegistry registry = new SimpleMeterRegistry();
    RateLimiter limiter = builder("1/second").maxKeys(100).meterRegistry(registry).build();
    for (int i = 0; i < 1_000; i++) {
      limiter.tryAcquire("k" + i);
    }
    // Caffeine evicts in its maintenance, on its executor: run it now.
    ((LocalRateLimiter) limiter).cleanUp();
    assertThat(limiter.snapshot().keys()).isLessThanOrEqualTo(100);
    assertThat(limiter.snapshot().maxKeys()).isEqualTo(100);
    assertThat(counter(registry, LimiterMeters.EVICTED, null)).isGreaterThanOrEqualTo(900);

    RateLimiter idle = builder("2/second").name("idle").build();
    idle.tryAcquire("k");
    assertThat(idle.snapshot().keys()).isEqualTo(1);
    advance(Duration.ofSeconds(1)); // two permits refill in one second: the bucket is full
    idle.tryAcquire("other");
    ((LocalRateLimiter) idle).cleanUp();
    // Kept for the resolution of the limiter's time more: the map's time may be that much behind.
    assertThat(idle.snapshot().keys()).isEqualTo(2);
    advance(Duration.ofNanos(RecentTime.RESOLUTION_NANOS));
    ((LocalRateLimiter) idle).cleanUp();
    assertThat(idle.snapshot().keys()).isEqualTo(1);
  }

  @Test
  void shadowModeAdmitsWhatItWouldDeny() {
    RateLimiter limiter = builder("1/minute").shadow(true).build();
    assertThat(limiter.tryAcquire("k").outcome()).isEqualTo(Outcome.ALLOWED);
    Decision shadow = limiter.tryAcquire("k");
    assertThat(shadow.allowed()).isTrue();
    assertThat(shadow.outcome()).isEqualTo(Outcome.SHADOW_DENIED);
    assertThat(shadow.retryAfter()).isEqualTo(Duration.ofMinutes(1));
    assertThat(limiter.snapshot().decisions(Outcome.SHADOW_DENIED)).isEqualTo(1);
  }

  @Test
  void decisionsAreCountedByOutcomeAndTheMetersGoAtClose() {
    MeterRegistry registry = new SimpleMeterRegistry();
    RateLimiter limiter = builder("2/minute").name("api").meterRegistry(registry).build();
    for (int i = 0; i < 5; i++) {
      limiter.tryAcquire("k");
    }
    assertThat(counter(registry, LimiterMeters.DECISIONS, "allowed")).isEqualTo(2);
    assertThat(counter(registry, LimiterMeters.DECISIONS, "denied")).isEqualTo(3);
    assertThat(registry.get(LimiterMeters.KEYS).tag("name", "api").gauge().value()).isEqualTo(1);
    RateLimiterSnapshot snapshot = limiter.snapshot();
    assertThat(snapshot.name()).isEqualTo("api");
    assertThat(snapshot.distributed()).isFalse();
    assertThat(snapshot.decisions(Outcome.ALLOWED)).isEqualTo(2);
    assertThat(snapshot.decisions(Outcome.DENIED)).isEqualTo(3);
    assertThat(snapshot.fallbacks()).isZero();

    assertThatThrownBy(() -> builder("1/second").name("api").meterRegistry(registry).build())
        .isInstanceOf(IllegalStateException.class)
        .hasMessage(
            "meterRegistry already holds the meters of a rate limiter named \"api\": give each rate"
                + " limiter its own name");

    limiter.close();
    limiter.close();
    assertThat(registry.getMeters()).isEmpty();
    assertThatThrownBy(() -> limiter.tryAcquire("k"))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("rate limiter api is closed");
  }

  @Test
  void aRequestNoLimitCouldAdmitAndABadKeyAreRefused() {
    RateLimiter limiter = builder("10/second;5/minute").build();
    assertThatThrownBy(() -> limiter.tryAcquire("k", 6))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage(
            "permits must be between 1 and 5 (the smallest burst of the limits), but was 6");
    assertThatThrownBy(() -> limiter.tryAcquire("k", 0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage(
            "permits must be between 1 and 5 (the smallest burst of the limits), but was 0");
    assertThatThrownBy(() -> limiter.tryAcquire(""))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("key must be 1 to 512 characters, but was 0 characters");
    assertThatThrownBy(() -> limiter.tryAcquire("x".repeat(513)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("key must be 1 to 512 characters, but was 513 characters");
    assertThat(limiter.tryAcquire("x".repeat(512), 5).allowed()).isTrue();
    assertThat(limiter.snapshot().keys()).isEqualTo(1); // a refused key gets no bucket
    assertThatThrownBy(() -> limiter.tryAcquire("x".repeat(513)))
        .hasMessage("key must be 1 to 512 characters, but was 513 characters");
    RateLimiter one = builder("10/second").build();
    assertThatThrownBy(() -> one.tryAcquire(""))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("key must be 1 to 512 characters, but was 0 characters");
    assertThatThrownBy(() -> one.tryAcquire(null))
        .isInstanceOf(NullPointerException.class)
        .hasMessage("key");
    assertThat(one.snapshot().keys()).isZero();
    assertThat(one.snapshot().decisions().values()).containsOnly(0L);
  }

  @Test
  void theLimiterDescribesItself() {
    RateLimiter limiter = builder("10/second;1000/hour").name("api").shadow(true).build();
    assertThat(limiter.name()).isEqualTo("api");
    assertThat(limiter.limits()).containsExactly(Limit.perSecond(10), Limit.perHour(1000));
    assertThat(limiter)
        .hasToString("RateLimiter[local, name=api, limits=10/second;1000/hour, shadow=true]");
  }

  private static double counter(MeterRegistry registry, String name, String outcome) {
    var search = registry.find(name);
    if (outcome != null) {
      search = search.tag("outcome", outcome);
    }
    FunctionCounter counter = search.functionCounter();
    assertThat(counter).as(name).isNotNull();
    return counter.count();
  }
}

package dev.bulwark.ratelimit;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The time a local limiter keeps for Caffeine and its buckets. */
class RecentTimeTest {
  private static final long RESOLUTION = RecentTime.RESOLUTION_NANOS;

  @Test
  void theKeptTimeMovesToAReadingOnlyOnceItIsTheResolutionBehind() {
    AtomicLong clock = new AtomicLong(5_000);
    RecentTime time = new RecentTime(clock::get);
    assertThat(time.kept()).isEqualTo(5_000);
    assertThat(time.read()).isEqualTo(5_000);
    assertThat(time.currentTimeNanos()).isEqualTo(5_000);

    clock.addAndGet(RESOLUTION - 1);
    assertThat(time.advance()).isEqualTo(5_000 + RESOLUTION - 1);
    assertThat(time.kept()).isEqualTo(5_000);

    clock.addAndGet(1);
    assertThat(time.advance()).isEqualTo(5_000 + RESOLUTION);
    assertThat(time.kept()).isEqualTo(5_000 + RESOLUTION);
    assertThat(time.isWallClockBased()).isFalse();
  }

  @Test
  void theKeptTimeNeverMovesBack() {
    AtomicLong clock = new AtomicLong(1_000_000);
    RecentTime time = new RecentTime(clock::get);
    time.catchUp(2_000_000);
    assertThat(time.kept()).isEqualTo(2_000_000);
    time.catchUp(1_500_000); // a reading made before, kept late
    assertThat(time.kept()).isEqualTo(2_000_000);
    clock.set(1_000_000); // a clock that went back
    assertThat(time.advance()).isEqualTo(1_000_000);
    assertThat(time.kept()).isEqualTo(2_000_000);
    time.catchUp(2_000_001);
    assertThat(time.kept()).isEqualTo(2_000_001);
  }

  @Test
  void readingsAreComparedByDifferenceSoThatTheClockMayWrap() {
    AtomicLong clock = new AtomicLong(Long.MAX_VALUE - RESOLUTION / 2);
    RecentTime time = new RecentTime(clock::get);
    clock.addAndGet(RESOLUTION); // past Long.MAX_VALUE: negative
    long wrapped = time.advance();
    assertThat(wrapped).isNegative();
    assertThat(time.kept()).isEqualTo(wrapped);
    time.catchUp(Long.MAX_VALUE); // behind the wrapped reading
    assertThat(time.kept()).isEqualTo(wrapped);
  }

  @Test
  void threadsRacingToMoveTheTimeLeaveTheLatestReading() throws Exception {
    AtomicLong clock = new AtomicLong();
    RecentTime time = new RecentTime(clock::get);
    int threads = 8;
    int each = 20_000;
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      CountDownLatch start = new CountDownLatch(1);
      List<Future<Long>> lowest = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        lowest.add(
            pool.submit(
                () -> {
                  start.await();
                  long behind = 0;
                  for (int i = 0; i < each; i++) {
                    long now = clock.addAndGet(1_000);
                    long reading = time.advance();
                    behind = Math.max(behind, reading - time.kept());
                    time.catchUp(now);
                    assertThat(time.kept() - now).isNotNegative();
                  }
                  return behind;
                }));
      }
      start.countDown();
      for (Future<Long> result : lowest) {
        // The kept time is never further behind a reading than the resolution allows, since the
        // reading moves it once it is that far behind.
        assertThat(result.get(30, TimeUnit.SECONDS)).isLessThan(RESOLUTION);
      }
    } finally {
      pool.shutdownNow();
    }
    assertThat(time.kept()).isEqualTo(clock.get());
  }
}

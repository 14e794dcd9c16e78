package dev.bulwark.health;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The figure: a burst of requests calls a slow check at most once per ttl. */
class RegistryBurstTest {
  private static final Duration TTL = Duration.ofMillis(100);
  private static final int REQUESTS = 1_000;
  private static final int THREADS = 16;

  @Test
  void aBurstCallsASlowCheckAtMostOncePerTtl() throws Exception {
    HealthCheck slow =
        () -> {
          Thread.sleep(50); // the check's own work, not a wait of the test
          return HealthResult.pass();
        };
    try (HealthRegistry health =
        HealthRegistry.builder()
            .ttl(TTL)
            .timeout(Duration.ofSeconds(2))
            .readiness("slow", slow)
            .build()) {
      AtomicInteger sent = new AtomicInteger();
      AtomicInteger failed = new AtomicInteger();
      CyclicBarrier start = new CyclicBarrier(THREADS + 1);
      ExecutorService clients = Executors.newFixedThreadPool(THREADS);
      long began;
      long ended;
      try {
        List<Future<?>> done = new ArrayList<>();
        for (int t = 0; t < THREADS; t++) {
          done.add(
              clients.submit(
                  () -> {
                    start.await(10, TimeUnit.SECONDS);
                    // 1,000 requests, and on until the check was refreshed a few times, so
                    // that the burst spans several ttls.
                    while (sent.getAndIncrement() < REQUESTS || health.calls("slow") < 3) {
                      if (health.respond(Role.READINESS, false).status() != 200) {
                        failed.incrementAndGet();
                      }
                    }
                    return null;
                  }));
        }
        start.await(10, TimeUnit.SECONDS);
        began = System.nanoTime();
        for (Future<?> client : done) {
          client.get(20, TimeUnit.SECONDS);
        }
        ended = System.nanoTime();
      } finally {
        clients.shutdownNow();
      }
      long calls = health.calls("slow");
      double periods = (double) (ended - began) / TTL.toNanos();
      assertThat(sent.get()).isGreaterThanOrEqualTo(REQUESTS);
      assertThat(failed).hasValue(0);
      assertThat(calls)
          .as("calls in a burst of %d requests over %.1f ttls", sent.get(), periods)
          .isBetween(3L, (long) Math.ceil(periods) + 1);
    }
  }
}

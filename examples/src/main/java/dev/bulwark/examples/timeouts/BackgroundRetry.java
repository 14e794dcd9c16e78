package dev.bulwark.examples.timeouts;

import dev.bulwark.timeouts.Retry;
import dev.bulwark.timeouts.RetryBudget;
import dev.bulwark.timeouts.RetryOn;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;

/** Recipe "retry a background task 3 times on DB/connection errors with backoff and jitter". */
public final class BackgroundRetry {
  private BackgroundRetry() {}

  /**
   * Builds the retry: 3 retries after the first attempt, only on what PostgreSQL reports as
   * transient ({@link RetryOn#postgresTransient()}: a lost or refused connection, a server
   * restarting or failing over, a pool that timed out, a deadlock, a serialization failure), delays
   * capped at 5, 10 and 20 minutes with full jitter, and a budget shared by every task that writes
   * to the same database. Constraint violations, syntax errors and statement timeouts fail at once.
   * Each attempt must run the whole task, from taking a connection to the commit.
   *
   * @param budget the database's retry budget, with a window longer than the longest backoff:
   *     {@code RetryBudget.builder("export-db").window(Duration.ofHours(1)).build()}
   * @param registry where the retry's meters go
   * @return the retry
   */
  public static Retry forDatabaseTasks(RetryBudget budget, MeterRegistry registry) {
    return Retry.builder("nightly-export")
        .maxAttempts(4)
        .backoff(Duration.ofMinutes(5), Duration.ofMinutes(20))
        .retryIf(RetryOn.postgresTransient())
        .budget(budget)
        .meterRegistry(registry)
        .build();
  }
}

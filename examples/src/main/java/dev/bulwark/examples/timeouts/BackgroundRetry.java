package dev.bulwark.examples.timeouts;

import dev.bulwark.timeouts.Retry;
import dev.bulwark.timeouts.RetryBudget;
import io.micrometer.core.instrument.MeterRegistry;
import java.sql.SQLException;
import java.sql.SQLRecoverableException;
import java.sql.SQLTransientException;
import java.time.Duration;

/** Recipe "retry a background task 3 times on DB/connection errors with backoff and jitter". */
public final class BackgroundRetry {
  private BackgroundRetry() {}

  /**
   * Builds the retry: 3 retries after the first attempt, on transient and connection errors only
   * (SQLState class 08 is "connection exception"), delays capped at 5, 10 and 20 minutes with full
   * jitter, and a budget shared by every task that writes to the same database.
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
        .retryOn(SQLTransientException.class, SQLRecoverableException.class)
        .retryIf(
            e ->
                e instanceof SQLException
                    && ((SQLException) e).getSQLState() != null
                    && ((SQLException) e).getSQLState().startsWith("08"))
        .budget(budget)
        .meterRegistry(registry)
        .build();
  }
}

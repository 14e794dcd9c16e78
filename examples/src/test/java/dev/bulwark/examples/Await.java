package dev.bulwark.examples;

import java.time.Duration;
import java.util.function.BooleanSupplier;

/** Polling with a deadline, and a deliberate wait, for the recipe tests. */
public final class Await {
  private static final Duration WAIT = Duration.ofSeconds(20);

  private Await() {}

  /** Polls every 5 ms until the condition holds; fails after 20 s. */
  public static void awaitTrue(BooleanSupplier condition) {
    long end = System.nanoTime() + WAIT.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > end) {
        throw new AssertionError("condition not met within " + WAIT);
      }
      sleep(Duration.ofMillis(5));
    }
  }

  /**
   * Waits on purpose, where the recipe is about time passing (a job that comes later than a command
   * timeout), never to guess when something is ready.
   */
  public static void sleep(Duration duration) {
    try {
      Thread.sleep(duration.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted", e);
    }
  }
}

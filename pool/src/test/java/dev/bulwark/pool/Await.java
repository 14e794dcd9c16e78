package dev.bulwark.pool;

import java.time.Duration;

/** Polls a condition until it holds or a deadline passes; never a sleep that guesses. */
final class Await {
  private Await() {}

  interface Condition {
    boolean holds() throws Exception;
  }

  static void until(Duration timeout, String what, Condition condition) throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!condition.holds()) {
      if (System.nanoTime() - deadline > 0) {
        throw new AssertionError("no " + what + " within " + timeout);
      }
      Thread.sleep(10);
    }
  }
}

package dev.bulwark.timeouts;

import java.util.concurrent.locks.LockSupport;

/** How {@link Retry} waits between attempts; tests replace it with one that advances a ticker. */
@FunctionalInterface
interface Sleeper {
  /**
   * Parks for the given time. Unlike {@code Thread.sleep}, which rounds any sub-millisecond wait up
   * to a millisecond or more, a short backoff waits about as long as it says.
   */
  Sleeper SYSTEM =
      nanos -> {
        long end = System.nanoTime() + nanos;
        for (long left = nanos; ; left = end - System.nanoTime()) {
          if (Thread.interrupted()) {
            throw new InterruptedException();
          }
          if (left <= 0) {
            return;
          }
          LockSupport.parkNanos(left);
        }
      };

  void sleep(long nanos) throws InterruptedException;
}

package dev.bulwark.timeouts;

import java.util.concurrent.locks.LockSupport;

/** {@link Sleeper} that parks the thread, on {@link System#nanoTime()}. */
enum SystemSleeper implements Sleeper {
  INSTANCE;

  @Override
  public void sleep(long nanos) throws InterruptedException {
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
  }
}

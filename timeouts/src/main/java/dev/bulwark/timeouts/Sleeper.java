package dev.bulwark.timeouts;

/** How {@link Retry} waits between attempts; tests replace it with one that advances a ticker. */
@FunctionalInterface
interface Sleeper {
  Sleeper SYSTEM = nanos -> java.util.concurrent.TimeUnit.NANOSECONDS.sleep(nanos);

  void sleep(long nanos) throws InterruptedException;
}

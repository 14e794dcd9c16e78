package dev.bulwark.timeouts;

/**
 * How a {@link Retry} waits between attempts. The default, {@link #system()}, parks the thread. A
 * test passes one that records each wait and advances a fake {@link Ticker} instead, so that a
 * retry with backoff, jitter and {@code maxDuration} runs at once and its waits can be checked:
 *
 * <pre>{@code
 * AtomicLong now = new AtomicLong();
 * List<Long> waits = new ArrayList<>();
 * Retry retry = Retry.builder("test")
 *     .ticker(now::get)
 *     .sleeper(nanos -> { waits.add(nanos); now.addAndGet(nanos); })
 *     .build();
 * }</pre>
 *
 * <p>Implementations must be thread-safe: one retry serves many callers at once.
 */
@FunctionalInterface
public interface Sleeper {

  /**
   * Waits for {@code nanos} nanoseconds, or until the thread is interrupted.
   *
   * @param nanos the time to wait, in nanoseconds; zero or more, zero returning at once
   * @throws InterruptedException if the thread is interrupted before or during the wait; its
   *     interrupt status is then cleared, as {@link Thread#sleep(long)} clears it
   */
  void sleep(long nanos) throws InterruptedException;

  /**
   * Returns the sleeper that parks the calling thread. Unlike {@link Thread#sleep(long)}, which
   * rounds a sub-millisecond wait up to a millisecond or more, a short backoff waits about as long
   * as it says.
   *
   * @return the system sleeper
   */
  static Sleeper system() {
    return SystemSleeper.INSTANCE;
  }
}

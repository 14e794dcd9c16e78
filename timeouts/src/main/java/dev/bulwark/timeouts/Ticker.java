package dev.bulwark.timeouts;

/**
 * A monotonic source of nanoseconds, as {@link System#nanoTime()}: only differences between two
 * readings mean anything. Tests inject a ticker they advance by hand.
 *
 * <p>Implementations must be thread-safe.
 */
@FunctionalInterface
public interface Ticker {

  /**
   * Returns the current reading, in nanoseconds since an arbitrary origin.
   *
   * @return nanoseconds
   */
  long read();

  /**
   * Returns the ticker backed by {@link System#nanoTime()}.
   *
   * @return the system ticker
   */
  static Ticker system() {
    return SystemTicker.INSTANCE;
  }
}

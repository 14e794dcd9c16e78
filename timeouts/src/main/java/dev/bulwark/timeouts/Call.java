package dev.bulwark.timeouts;

/**
 * A call that returns a value and may throw {@code X}. Java infers {@code X} from a lambda's body,
 * so a call that throws nothing checked makes {@code X} a {@link RuntimeException} and the caller
 * has nothing to catch.
 *
 * @param <T> the result type
 * @param <X> the checked exception the call may throw
 */
@FunctionalInterface
public interface Call<T, X extends Exception> {

  /**
   * Runs the call.
   *
   * @return the result
   * @throws X if the call fails
   */
  T call() throws X;
}

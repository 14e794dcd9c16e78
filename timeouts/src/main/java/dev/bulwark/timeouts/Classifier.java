package dev.bulwark.timeouts;

import java.sql.SQLException;
import java.util.ArrayDeque;
import java.util.Collections;
import java.util.Deque;
import java.util.IdentityHashMap;
import java.util.Objects;
import java.util.Set;
import java.util.function.Predicate;

/**
 * A named failure test, applied to a failure, its causes and the exceptions chained to a {@link
 * SQLException} with {@link SQLException#getNextException()}: it matches if any of them does.
 *
 * <p>At most {@value #MAX_EXAMINED} throwables are examined per call, each once, so a cyclic or
 * very long chain ends. Immutable and thread-safe.
 */
final class Classifier implements Predicate<Throwable> {

  /** Most throwables one test examines. */
  static final int MAX_EXAMINED = 32;

  private final String name;
  private final Predicate<Throwable> matches;

  /**
   * Creates a classifier.
   *
   * @param name what {@link #toString()} shows, for example {@code RetryOn.postgresTransient()}
   * @param matches the test of one throwable, without its causes
   */
  Classifier(String name, Predicate<Throwable> matches) {
    this.name = name;
    this.matches = matches;
  }

  @Override
  public boolean test(Throwable failure) {
    Objects.requireNonNull(failure, "failure");
    Set<Throwable> examined = Collections.newSetFromMap(new IdentityHashMap<>());
    Deque<Throwable> pending = new ArrayDeque<>();
    pending.push(failure);
    while (!pending.isEmpty() && examined.size() < MAX_EXAMINED) {
      Throwable t = pending.pop();
      if (!examined.add(t)) {
        continue;
      }
      if (matches.test(t)) {
        return true;
      }
      // The cause is examined before the next exception: depth first along the cause chain.
      if (t instanceof SQLException) {
        SQLException next = ((SQLException) t).getNextException();
        if (next != null) {
          pending.push(next);
        }
      }
      Throwable cause = t.getCause();
      if (cause != null) {
        pending.push(cause);
      }
    }
    return false;
  }

  @Override
  public String toString() {
    return name;
  }
}

package dev.bulwark.testing;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.sql.SQLException;
import java.util.ArrayDeque;
import java.util.Collections;
import java.util.Deque;
import java.util.IdentityHashMap;
import java.util.Objects;
import java.util.Set;

/**
 * Asserts that a failure shows no secret anywhere a log line or a caller could read it: for tests
 * that feed a password through a failure path and check that it stays hidden.
 *
 * <pre>{@code
 * Throwable failure = catchThrowable(() -> Pools.postgres(url, "shop", "s3cr3t").build());
 * NoSecrets.assertHidden(failure, "s3cr3t");
 * }</pre>
 *
 * <p>Stateless and thread-safe.
 */
public final class NoSecrets {
  private NoSecrets() {}

  /**
   * Checks the message, localized message and {@code toString} of the throwable and of every cause,
   * suppressed exception and {@linkplain SQLException#getNextException() chained} {@link
   * SQLException} under it (each once, so a cycle ends), and its printed stack trace.
   *
   * @param thrown the failure; must not be null
   * @param secrets the texts that must not appear; none may be empty
   * @throws AssertionError naming where a secret appeared (the secret itself is not repeated)
   */
  public static void assertHidden(Throwable thrown, String... secrets) {
    Objects.requireNonNull(thrown, "thrown");
    for (String secret : secrets) {
      if (secret.isEmpty()) {
        throw new IllegalArgumentException("secrets must not be empty, but one was \"\"");
      }
    }
    Set<Throwable> seen = Collections.newSetFromMap(new IdentityHashMap<>());
    Deque<Throwable> pending = new ArrayDeque<>();
    pending.add(thrown);
    while (!pending.isEmpty()) {
      Throwable t = pending.remove();
      if (!seen.add(t)) {
        continue;
      }
      check(String.valueOf(t.getMessage()), "the message of " + t.getClass().getName(), secrets);
      check(
          String.valueOf(t.getLocalizedMessage()),
          "the localized message of " + t.getClass().getName(),
          secrets);
      check(t.toString(), "the toString of " + t.getClass().getName(), secrets);
      Throwable cause = t.getCause();
      if (cause != null) {
        pending.add(cause);
      }
      Collections.addAll(pending, t.getSuppressed());
      if (t instanceof SQLException) {
        SQLException next = ((SQLException) t).getNextException();
        if (next != null) {
          pending.add(next);
        }
      }
    }
    StringWriter trace = new StringWriter();
    thrown.printStackTrace(new PrintWriter(trace));
    check(trace.toString(), "the printed stack trace", secrets);
  }

  private static void check(String text, String where, String... secrets) {
    for (int i = 0; i < secrets.length; i++) {
      if (text.contains(secrets[i])) {
        throw new AssertionError("secret #" + (i + 1) + " appears in " + where);
      }
    }
  }
}

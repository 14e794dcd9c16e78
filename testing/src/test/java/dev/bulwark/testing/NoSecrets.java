package dev.bulwark.testing;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.sql.SQLException;
import java.util.ArrayDeque;
import java.util.Collections;
import java.util.Deque;
import java.util.IdentityHashMap;
import java.util.Set;

/** Asserts that a failure shows no secret anywhere a log line or a caller could read it. */
final class NoSecrets {
  private NoSecrets() {}

  /**
   * Checks the message, localized message and {@code toString} of the throwable and of every cause,
   * suppressed exception and chained {@link SQLException} under it, and its printed stack trace.
   */
  static void assertHidden(Throwable thrown, String... secrets) {
    assertThat(thrown).isNotNull();
    StringWriter trace = new StringWriter();
    thrown.printStackTrace(new PrintWriter(trace));
    Set<Throwable> seen = Collections.newSetFromMap(new IdentityHashMap<>());
    Deque<Throwable> pending = new ArrayDeque<>();
    pending.add(thrown);
    while (!pending.isEmpty()) {
      Throwable t = pending.remove();
      if (!seen.add(t)) {
        continue;
      }
      for (String secret : secrets) {
        assertThat(String.valueOf(t.getMessage())).doesNotContain(secret);
        assertThat(String.valueOf(t.getLocalizedMessage())).doesNotContain(secret);
        assertThat(t.toString()).doesNotContain(secret);
      }
      if (t.getCause() != null) {
        pending.add(t.getCause());
      }
      Collections.addAll(pending, t.getSuppressed());
      if (t instanceof SQLException && ((SQLException) t).getNextException() != null) {
        pending.add(((SQLException) t).getNextException());
      }
    }
    for (String secret : secrets) {
      assertThat(trace.toString()).doesNotContain(secret);
    }
  }
}

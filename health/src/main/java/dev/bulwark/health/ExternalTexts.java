package dev.bulwark.health;

import dev.bulwark.core.Secrets;
import dev.bulwark.core.internal.Checks;
import dev.bulwark.timeouts.Deadline;
import java.math.BigDecimal;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Optional;
import java.util.Set;

/**
 * The texts of the external checks ({@link PoolCheck}, {@link DataSourceCheck}, {@link
 * RedisPingCheck}, {@link RedisClusterPingCheck}): failures described with their secrets masked,
 * numbers shown without a needless fraction, durations in milliseconds. Stateless and thread-safe.
 */
final class ExternalTexts {
  /** How many exceptions of a cause chain a failure's text shows. */
  static final int MAX_CAUSES = 4;

  /** The longest failure text, in characters, after masking. */
  static final int MAX_LENGTH = 1_000;

  private ExternalTexts() {}

  /** What a check leaves of its caller's deadline, so that its own verdict comes first: 20 ms. */
  static final long MARGIN_NANOS = 20_000_000L;

  /**
   * The time a check may wait: its own timeout, or, under a caller's deadline (the registry's
   * timeout for the check), what that deadline has left less a margin (a tenth of it, at least 20
   * ms), whichever is shorter. So the check's own text (which node, which wait) is reported, not
   * the registry's bare "timed out" that would fire at the same instant.
   */
  static long budgetNanos(Duration timeout) {
    long own = Checks.saturatedNanos(timeout);
    Optional<Deadline> current = Deadline.current();
    if (current.isEmpty()) {
      return Math.max(0, own);
    }
    long remaining = current.get().remainingNanos();
    long margin = Math.max(MARGIN_NANOS, remaining / 10);
    return Math.max(0, Math.min(own, remaining - margin));
  }

  /**
   * Describes a failure and its causes, each as {@code SimpleName: message} (with the SQLState of
   * an {@link SQLException}), joined by {@code "; caused by "}, every message passed through {@link
   * Secrets#maskText}: a driver quotes the URL it was given, password and all. A cause whose
   * message is the one before it is left out; at most {@value #MAX_CAUSES} are shown, and the text
   * is cut at {@value #MAX_LENGTH} characters.
   *
   * @param failure the failure
   * @return the masked text
   */
  static String describe(Throwable failure) {
    StringBuilder out = new StringBuilder();
    Set<Throwable> seen = Collections.newSetFromMap(new IdentityHashMap<>());
    String previous = null;
    int shown = 0;
    for (Throwable t = failure; t != null && seen.add(t) && shown < MAX_CAUSES; t = t.getCause()) {
      String message = t.getMessage();
      if (shown > 0 && message != null && message.equals(previous)) {
        continue;
      }
      if (shown > 0) {
        out.append("; caused by ");
      }
      out.append(
          t.getClass().getSimpleName().isEmpty()
              ? t.getClass().getName()
              : t.getClass().getSimpleName());
      if (t instanceof SQLException && ((SQLException) t).getSQLState() != null) {
        out.append(" (SQLState ").append(((SQLException) t).getSQLState()).append(')');
      }
      if (message != null && !message.isBlank()) {
        out.append(": ").append(Secrets.maskText(message.strip()));
      }
      previous = message;
      shown++;
    }
    return out.length() <= MAX_LENGTH ? out.toString() : out.substring(0, MAX_LENGTH - 3) + "...";
  }

  /**
   * Shows a number as a person writes it: {@code 80}, {@code 83.3}, {@code 0.000001}.
   *
   * @param value a number; one that is not finite shows as {@link Double#toString(double)} does
   * @return its text, without a trailing {@code .0}
   */
  static String plain(double value) {
    if (!Double.isFinite(value)) {
      return Double.toString(value);
    }
    String text = BigDecimal.valueOf(value).stripTrailingZeros().toPlainString();
    return text.equals("-0") ? "0" : text;
  }

  /**
   * Converts nanoseconds to milliseconds, rounded to the microsecond: {@code 0.412}, {@code 12.5}.
   *
   * @param nanos a duration in nanoseconds
   * @return the milliseconds
   */
  static double millis(long nanos) {
    return Math.round(nanos / 1_000.0) / 1_000.0;
  }

  /**
   * Rounds a percentage to one decimal: {@code 83.3}.
   *
   * @param percent the percentage
   * @return it, rounded
   */
  static double percent(double percent) {
    return Math.round(percent * 10.0) / 10.0;
  }

  /**
   * {@return {@code "1 thread"} or {@code "3 threads"}}
   *
   * @param count how many
   * @param noun the singular noun
   */
  static String count(int count, String noun) {
    return count + " " + (count == 1 ? noun : noun + "s");
  }

  /**
   * {@return a duration given in nanoseconds, in milliseconds rounded to the microsecond: {@code
   * "1000 ms"}, {@code "0.412 ms"}}
   *
   * @param nanos the duration
   */
  static String duration(long nanos) {
    return plain(millis(nanos)) + " ms";
  }
}

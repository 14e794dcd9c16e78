package dev.bulwark.health;

import java.util.StringJoiner;
import org.jspecify.annotations.Nullable;

/**
 * What a check found, rule by rule: the worst status so far and the texts of the rules that did not
 * pass, joined with {@code "; "}. Not thread-safe: one per call of a check.
 */
final class Findings {
  private Status status = Status.PASS;
  private final StringJoiner output = new StringJoiner("; ");

  /**
   * Adds one rule's verdict; a pass adds nothing.
   *
   * @param verdict the rule's status
   * @param text what is wrong, used unless {@code verdict} is {@link Status#PASS}
   */
  void add(Status verdict, String text) {
    if (verdict != Status.PASS) {
      status = status.worst(verdict);
      output.add(text);
    }
  }

  Status status() {
    return status;
  }

  /** {@return the texts of the rules that did not pass, or null if all passed} */
  @Nullable String output() {
    return status == Status.PASS ? null : output.toString();
  }
}

package dev.bulwark.queries;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Assertions on what a unit of work ran, for tests; they throw {@link AssertionError} with the
 * recording written out (its statements by shape, most executed first), so a failure says what ran:
 *
 * <pre>{@code
 * try (QueryScope scope = guard.begin("GET /customers/{id}")) {
 *   controller.customer(7);
 *   QueryAssert.assertThat(scope.recording()).hasNoNPlusOne().hasStatementCount(2);
 * }
 * }</pre>
 *
 * <p>Not thread-safe; one per assertion.
 */
public final class QueryAssert {
  private final QueryRecording recording;

  private QueryAssert(QueryRecording recording) {
    this.recording = recording;
  }

  /**
   * Starts assertions on a recording.
   *
   * @param recording what a scope saw ({@link QueryScope#recording()})
   * @return the assertions
   */
  public static QueryAssert assertThat(QueryRecording recording) {
    return new QueryAssert(Objects.requireNonNull(recording, "recording"));
  }

  /**
   * Fails unless the scope ran exactly this many statements.
   *
   * @param expected statements; a JDBC batch counts once
   * @return this
   * @throws AssertionError if the count differs
   */
  public QueryAssert hasStatementCount(long expected) {
    if (recording.statements() != expected) {
      throw failure("expected " + expected + " statements, but " + recording.statements() + " ran");
    }
    return this;
  }

  /**
   * Fails if the scope ran more than this many statements.
   *
   * @param max statements
   * @return this
   * @throws AssertionError if more ran
   */
  public QueryAssert hasStatementCountAtMost(long max) {
    if (recording.statements() > max) {
      throw failure(
          "expected at most " + max + " statements, but " + recording.statements() + " ran");
    }
    return this;
  }

  /**
   * Fails if any shape ran more often than the N+1 threshold.
   *
   * @return this
   * @throws AssertionError naming each N+1: its shape, count and call site
   */
  public QueryAssert hasNoNPlusOne() {
    List<QueryEvent> found = recording.events(QueryEvent.Kind.N_PLUS_ONE);
    if (!found.isEmpty()) {
      StringBuilder text = new StringBuilder("expected no N+1, but found:");
      for (QueryEvent event : found) {
        text.append("\n  ").append(event.describe());
      }
      throw failure(text.toString());
    }
    return this;
  }

  /**
   * Fails unless the scope read at most this many rows.
   *
   * @param max rows
   * @return this
   * @throws AssertionError if more were read
   */
  public QueryAssert hasRowsAtMost(long max) {
    if (recording.rows() > max) {
      throw failure("expected at most " + max + " rows read, but " + recording.rows() + " were");
    }
    return this;
  }

  private AssertionError failure(String what) {
    StringBuilder text = new StringBuilder();
    text.append("scope ").append(recording.scope()).append(": ").append(what);
    text.append("\nstatements by shape:");
    // Most executed first (an N+1 at the top), ties by text: the same text on every run.
    List<Map.Entry<String, Long>> shapes = new ArrayList<>(recording.shapes().entrySet());
    shapes.sort(
        Map.Entry.<String, Long>comparingByValue()
            .reversed()
            .thenComparing(Map.Entry.comparingByKey()));
    for (Map.Entry<String, Long> shape : shapes) {
      text.append("\n  ").append(shape.getValue()).append(" x ").append(shape.getKey());
    }
    return new AssertionError(text.toString());
  }
}

package dev.bulwark.queries;

import java.util.List;
import java.util.Map;

/**
 * What one {@link QueryScope} saw: for assertions in tests ({@link QueryAssert}) and for logs.
 *
 * @param scope the scope's name
 * @param statements statements run; a JDBC batch counts once
 * @param rows rows read
 * @param shapes executions per shape, in no particular order; shapes past the guard's {@code
 *     maxShapes} count under {@code "other"}
 * @param events the limits broken and the slow statements, at most 100
 */
public record QueryRecording(
    String scope, long statements, long rows, Map<String, Long> shapes, List<QueryEvent> events) {

  /**
   * Makes a recording; the collections are copied, so that it does not change.
   *
   * @param scope the scope's name
   * @param statements statements run
   * @param rows rows read
   * @param shapes executions per shape
   * @param events the events
   */
  public QueryRecording {
    shapes = Map.copyOf(shapes);
    events = List.copyOf(events);
  }

  /**
   * The events of one kind.
   *
   * @param kind the kind
   * @return its events, in the order they came
   */
  public List<QueryEvent> events(QueryEvent.Kind kind) {
    return events.stream().filter(e -> e.kind() == kind).toList();
  }
}

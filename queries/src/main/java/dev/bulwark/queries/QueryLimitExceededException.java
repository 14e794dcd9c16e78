package dev.bulwark.queries;

/**
 * Thrown, under {@link QueryPolicy#THROW}, by the statement (or the {@code ResultSet.next()}) that
 * broke a limit of its unit of work; the statement did not run. Its message is {@link
 * QueryEvent#describe()}: the scope, the shape, the count, the limit and the call site.
 */
public final class QueryLimitExceededException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final transient QueryEvent event;

  QueryLimitExceededException(QueryEvent event) {
    super(event.describe());
    this.event = event;
  }

  /** {@return the event: what limit, by how much, where} */
  public QueryEvent event() {
    return event;
  }
}

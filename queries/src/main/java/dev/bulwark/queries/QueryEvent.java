package dev.bulwark.queries;

import java.time.Duration;
import org.jspecify.annotations.Nullable;

/**
 * A limit a unit of work broke, or a slow statement.
 *
 * @param kind what happened
 * @param scope the unit of work's name, or {@code null} for a slow statement run outside one
 * @param shape the statement's shape (its SQL with the values taken out), or {@code null} for the
 *     statement budget and the rows limits, which count every statement
 * @param count how many: executions of the shape, statements, or rows read, as of the end of the
 *     unit of work (or as of the statement that broke the limit, under {@link QueryPolicy#THROW})
 * @param limit the limit it went past, in the same unit; for a slow statement, its threshold in
 *     milliseconds
 * @param callSite the first stack frame outside JDBC, the pool, the ORM and bulwark when the limit
 *     was passed, as {@code com.shop.CustomerService.appointments(CustomerService.java:42)}, or
 *     {@code null} when none was found
 * @param elapsed how long a slow statement took; {@code null} for other kinds
 */
public record QueryEvent(
    Kind kind,
    @Nullable String scope,
    @Nullable String shape,
    long count,
    long limit,
    @Nullable String callSite,
    @Nullable Duration elapsed) {

  /** What a {@link QueryEvent} reports. */
  public enum Kind {
    /** One shape ran more than the N+1 threshold in one unit of work. */
    N_PLUS_ONE,
    /** A unit of work ran more statements than its budget. */
    STATEMENT_BUDGET,
    /** A unit of work read more rows than its warning threshold. */
    ROWS_WARNING,
    /** A unit of work read more rows than its limit. */
    ROWS_LIMIT,
    /** A statement took longer than the slow threshold. */
    SLOW_STATEMENT;

    /** {@return the tag value of {@code bulwark.queries.events}: the name in lower case} */
    public String tag() {
      return name().toLowerCase(java.util.Locale.ROOT);
    }
  }

  /**
   * A one-line description: {@code "N+1 in GET /customers/{id}: 20 executions (threshold 5) of
   * select * from appointments where customer_id = ? at com.shop.Repo.find(Repo.java:42)"}.
   *
   * @return the description
   */
  public String describe() {
    String where = scope == null ? "" : " in " + scope;
    String at = callSite == null ? "" : " at " + callSite;
    switch (kind) {
      case N_PLUS_ONE:
        return "N+1"
            + where
            + ": "
            + count
            + " executions (threshold "
            + limit
            + ") of "
            + shape
            + at;
      case STATEMENT_BUDGET:
        return "statement budget"
            + where
            + ": "
            + count
            + " statements (budget "
            + limit
            + ")"
            + at;
      case ROWS_WARNING:
        return "rows read" + where + ": " + count + " (warning at " + limit + ")" + at;
      case ROWS_LIMIT:
        return "rows read" + where + ": " + count + " (limit " + limit + ")" + at;
      default:
        return "slow statement"
            + where
            + ": "
            + (elapsed == null ? "?" : elapsed.toMillis())
            + " ms (threshold "
            + limit
            + " ms) "
            + shape
            + at;
    }
  }
}

package dev.bulwark.queries;

/**
 * What a {@link QueryGuard} does when a unit of work breaks one of its limits (an N+1, the
 * statement budget, the rows limit). Every event is counted in {@code bulwark.queries.events}
 * whatever the policy.
 */
public enum QueryPolicy {
  /** Count the event only. */
  COUNT,
  /**
   * Count it and log it at WARN, once per shape and unit of work, when the unit of work ends, with
   * the final count and the call site. The default in production.
   */
  LOG,
  /**
   * Count it and throw {@link QueryLimitExceededException} from the statement that broke the limit,
   * before it runs (from {@code ResultSet.next()} for the rows limit): for tests and staging.
   */
  THROW
}

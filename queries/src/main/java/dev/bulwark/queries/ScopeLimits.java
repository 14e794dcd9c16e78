package dev.bulwark.queries;

import dev.bulwark.core.internal.Checks;
import java.util.StringJoiner;

/**
 * The limits of one kind of unit of work, given to {@link QueryGuard.Builder#scope(String,
 * ScopeLimits)} for the scopes of one name: {@code ScopeLimits.none().maxStatements(4)} for "this
 * endpoint does at most 4 queries". What is not set here comes from the guard's own settings.
 * Immutable: each method returns a copy.
 */
public final class ScopeLimits {
  private static final ScopeLimits NONE = new ScopeLimits(-1, -1, -1, -1);

  private final int nPlusOneThreshold;
  private final long maxStatements;
  private final long rowsWarning;
  private final long rowsLimit;

  private ScopeLimits(int nPlusOneThreshold, long maxStatements, long rowsWarning, long rowsLimit) {
    this.nPlusOneThreshold = nPlusOneThreshold;
    this.maxStatements = maxStatements;
    this.rowsWarning = rowsWarning;
    this.rowsLimit = rowsLimit;
  }

  /** {@return limits that set nothing: every one comes from the guard} */
  public static ScopeLimits none() {
    return NONE;
  }

  /**
   * How often one shape may run in a scope before it is an N+1.
   *
   * @param threshold from 1 to 1,000,000 executions
   * @return a copy with the threshold
   * @throws IllegalArgumentException if out of range
   */
  public ScopeLimits nPlusOneThreshold(int threshold) {
    return new ScopeLimits(
        Checks.between("nPlusOneThreshold", threshold, 1, 1_000_000),
        maxStatements,
        rowsWarning,
        rowsLimit);
  }

  /**
   * The statement budget: how many statements a scope may run in all.
   *
   * @param max from 1 to 1,000,000 statements
   * @return a copy with the budget
   * @throws IllegalArgumentException if out of range
   */
  public ScopeLimits maxStatements(long max) {
    return new ScopeLimits(
        nPlusOneThreshold,
        Checks.between("maxStatements", max, 1, 1_000_000),
        rowsWarning,
        rowsLimit);
  }

  /**
   * The rows a scope may read before a warning.
   *
   * @param rows from 1 to 10^12 rows
   * @return a copy with the threshold
   * @throws IllegalArgumentException if out of range
   */
  public ScopeLimits rowsWarning(long rows) {
    return new ScopeLimits(
        nPlusOneThreshold,
        maxStatements,
        Checks.between("rowsWarning", rows, 1, 1_000_000_000_000L),
        rowsLimit);
  }

  /**
   * The rows a scope may read at most; past it, the policy applies.
   *
   * @param rows from 1 to 10^12 rows
   * @return a copy with the limit
   * @throws IllegalArgumentException if out of range
   */
  public ScopeLimits rowsLimit(long rows) {
    return new ScopeLimits(
        nPlusOneThreshold,
        maxStatements,
        rowsWarning,
        Checks.between("rowsLimit", rows, 1, 1_000_000_000_000L));
  }

  /** Whether these limits need rows counted. */
  boolean guardsRows() {
    return rowsWarning >= 0 || rowsLimit >= 0;
  }

  int nPlusOneThresholdOr(int fallback) {
    return nPlusOneThreshold < 0 ? fallback : nPlusOneThreshold;
  }

  long maxStatementsOr(long fallback) {
    return maxStatements < 0 ? fallback : maxStatements;
  }

  long rowsWarningOr(long fallback) {
    return rowsWarning < 0 ? fallback : rowsWarning;
  }

  long rowsLimitOr(long fallback) {
    return rowsLimit < 0 ? fallback : rowsLimit;
  }

  /** {@return the limits that were set, as {@code ScopeLimits{maxStatements=4}}} */
  @Override
  public String toString() {
    StringJoiner out = new StringJoiner(", ", "ScopeLimits{", "}");
    Checks.addSetting(out, "nPlusOneThreshold", nPlusOneThreshold < 0 ? null : nPlusOneThreshold);
    Checks.addSetting(out, "maxStatements", maxStatements < 0 ? null : maxStatements);
    Checks.addSetting(out, "rowsWarning", rowsWarning < 0 ? null : rowsWarning);
    Checks.addSetting(out, "rowsLimit", rowsLimit < 0 ? null : rowsLimit);
    return out.toString();
  }
}

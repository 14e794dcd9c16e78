package dev.bulwark.pool;

/**
 * How a PostgreSQL pool hands its server-side limits ({@code statement_timeout}, {@code
 * idle_in_transaction_session_timeout}, {@code lock_timeout} and, for a read-only pool, {@code
 * default_transaction_read_only}) to the server.
 *
 * <p>HikariCP does not reset session state when a connection is returned: a plain {@code SET
 * statement_timeout} run by one borrower is still in force for the next one. Limits therefore
 * belong to the connection itself, set once when it is opened, never per borrow. Immutable and
 * thread-safe.
 */
public enum ServerSettings {
  /**
   * The default. The limits travel in the pgjdbc {@code options} connection property ({@code -c
   * statement_timeout=30000 ...}), which PostgreSQL applies as the session's defaults before the
   * first statement. They hold for every statement on the connection, and a {@code RESET} or {@code
   * RESET ALL} by application code returns to them instead of to the server's defaults.
   *
   * <p>External poolers may refuse the {@code options} startup parameter: PgBouncer fails the login
   * with "unsupported startup parameter" unless it is configured to accept or ignore it (and
   * ignoring it drops the limits silently). Use {@link #CONNECTION_INIT_SQL} or {@link
   * #SERVER_DEFAULTS} behind such a pooler.
   */
  STARTUP_OPTIONS,

  /**
   * The limits are set with {@code SET ...} statements, run by HikariCP once on each new connection
   * ({@code connectionInitSql}). Works through any pooler that keeps one server connection per
   * client connection (PgBouncer in session mode). A {@code RESET ALL} or {@code DISCARD ALL} by
   * application code drops them back to the server's defaults. Do not use it with PgBouncer in
   * transaction or statement mode: the {@code SET} lands on whichever server connection ran it, not
   * on the client's session; use {@link #SERVER_DEFAULTS} there.
   */
  CONNECTION_INIT_SQL,

  /**
   * The pool sends nothing: the limits are configured on the server, for example {@code ALTER ROLE
   * app SET statement_timeout = '30s'}, which every server connection of that role gets whatever
   * pooler is in between. The builder still uses its {@code statementTimeout} to check {@code
   * socketTimeout}, so set it to the value the server enforces. Setting {@code lockTimeout} or
   * {@code idleInTransactionSessionTimeout} makes {@code build()} throw {@link
   * IllegalStateException}: the pool would never send them.
   */
  SERVER_DEFAULTS
}

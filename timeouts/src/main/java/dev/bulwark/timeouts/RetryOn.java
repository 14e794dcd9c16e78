package dev.bulwark.timeouts;

import dev.bulwark.core.internal.Checks;
import java.sql.SQLException;
import java.sql.SQLTransientConnectionException;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.function.Predicate;
import org.jspecify.annotations.Nullable;

/**
 * Retry classifiers for what PostgreSQL (through pgjdbc and a pool such as HikariCP) and Redis
 * (through Lettuce) really throw when another attempt may succeed, for {@link
 * Retry.Builder#retryIf(Predicate)}:
 *
 * <pre>{@code
 * Retry retry = Retry.builder("nightly-export")
 *     .retryIf(RetryOn.postgresTransient())
 *     .build();
 * Retry both = Retry.builder("checkout")
 *     .retryIf(RetryOn.postgresTransient().or(RetryOn.redisConnectionFailure()))
 *     .build();
 * }</pre>
 *
 * <p>pgjdbc throws a plain {@link SQLException} for every server error and never a {@link
 * java.sql.SQLTransientException}: a failover, a deadlock and a serialization failure all arrive as
 * {@code SQLException} with a SQLState, so {@code retryOn(SQLTransientException.class)} retries
 * none of them. The PostgreSQL classifiers read the SQLState instead.
 *
 * <p>Each classifier tests the failure, its causes and the exceptions chained to a {@code
 * SQLException} by {@link SQLException#getNextException()} (a batch's entries, the connection
 * failure behind a pool's timeout), and matches if any of them does. It examines at most 32
 * throwables per test, each once, so a cyclic chain ends. {@code test(null)} throws {@link
 * NullPointerException}.
 *
 * <p>What "retry" must mean here: the retried call is the whole unit of work, from taking a
 * connection out of the pool to the commit. A statement retried on the connection that failed fails
 * again (the connection is gone, or its transaction is aborted). And a failure that breaks the
 * connection during a commit, or a Redis command that timed out, leaves the outcome unknown: the
 * first attempt may have taken effect. Retry only work that is safe to repeat (idempotent, or
 * guarded by a key the second attempt checks).
 *
 * <h2>PostgreSQL SQLStates</h2>
 *
 * <table class="striped">
 *   <caption>SQLStates retried by the PostgreSQL classifiers</caption>
 *   <thead>
 *     <tr><th>SQLState</th><th>name</th><th>why it is retried</th><th>classifier</th></tr>
 *   </thead>
 *   <tbody>
 *     <tr><td>{@code 40001}</td><td>serialization_failure</td><td>a SERIALIZABLE or REPEATABLE
 *         READ transaction lost a race with a concurrent one, or a hot standby cancelled a query
 *         that conflicted with recovery; PostgreSQL's manual says to retry the transaction</td>
 *         <td>{@link #postgresSerializationFailure()}</td></tr>
 *     <tr><td>{@code 40P01}</td><td>deadlock_detected</td><td>the server broke a lock cycle by
 *         aborting this transaction; the other one goes on, so a second attempt finds the locks
 *         free</td><td>{@link #postgresSerializationFailure()}</td></tr>
 *     <tr><td>{@code 08xxx} but {@code 08004}</td><td>connection_exception</td><td>the connection
 *         could not be opened or broke: server down, restarting or failing over, network cut
 *         (pgjdbc: 08001 refused, 08006 I/O error, 08003 connection already closed); PgBouncer
 *         reports its own refusals (max_client_conn, query_wait_timeout) as 08P01</td>
 *         <td>{@link #postgresConnectionFailure()}</td></tr>
 *     <tr><td>{@code 57P01}</td><td>admin_shutdown</td><td>the backend was terminated: a server
 *         shutdown or restart, a failover, {@code pg_terminate_backend}</td>
 *         <td>{@link #postgresConnectionFailure()}</td></tr>
 *     <tr><td>{@code 57P02}</td><td>crash_shutdown</td><td>another backend crashed and the server
 *         is resetting; it accepts connections again in seconds</td>
 *         <td>{@link #postgresConnectionFailure()}</td></tr>
 *     <tr><td>{@code 57P03}</td><td>cannot_connect_now</td><td>the server is starting up, shutting
 *         down or recovering (after a crash, during a failover)</td>
 *         <td>{@link #postgresConnectionFailure()}</td></tr>
 *     <tr><td>{@code 57P05}</td><td>idle_session_timeout</td><td>the server closed a session that
 *         sat idle longer than {@code idle_session_timeout}; a new connection works</td>
 *         <td>{@link #postgresConnectionFailure()}</td></tr>
 *     <tr><td>{@code 53300}</td><td>too_many_connections</td><td>every connection slot (or the
 *         role's or database's connection limit) is taken; slots free up as other sessions
 *         end</td><td>{@link #postgresConnectionFailure()}</td></tr>
 *     <tr><td>none, on a {@link SQLTransientConnectionException}</td><td>pool acquire
 *         timeout</td><td>HikariCP's "Connection is not available, request timed out after ...":
 *         every connection was busy for {@code connectionTimeout}. When HikariCP could not open
 *         connections, it gives the timeout the SQLState of its last connection failure, and the
 *         timeout is then retried only if that state is in this table: not for a wrong password
 *         ({@code 28P01}) or a missing database ({@code 3D000})</td>
 *         <td>{@link #postgresConnectionFailure()}</td></tr>
 *   </tbody>
 * </table>
 *
 * <p>Not retried, on purpose: {@code 08004} (pgjdbc raises it when client and server cannot agree
 * on authentication or encryption: "The server does not support SSL"); class {@code 28}
 * (authentication failed) and {@code 3D000} (no such database), also when a pool timeout carries
 * them; class {@code 23} (integrity: {@code 23505} unique violation, foreign key, not null, check),
 * class {@code 42} (syntax error, undefined table or column, permission denied), class {@code 22}
 * (bad data) and every other state: the same input fails the same way again. {@code 57014}
 * (query_canceled) is not retried either: it is a statement that ran into {@code statement_timeout}
 * or was cancelled on purpose ({@link Timeouts#within} with {@code ctx.onTimeout(ps::cancel)}, an
 * operator's {@code pg_cancel_backend}). A statement that took too long usually takes too long
 * again, and retrying it blindly multiplies the load of the slowest statements on a database that
 * is probably overloaded already. {@code 55P03} (lock_not_available: {@code NOWAIT}, {@code
 * lock_timeout}) and {@code 25P03} (idle_in_transaction_session_timeout) are choices the
 * application made to fail fast. To retry any of these anyway, add it: {@code
 * RetryOn.postgresTransient().or(RetryOn.sqlStates("57014"))}, and give the retry a deadline.
 *
 * <h2>Redis (Lettuce)</h2>
 *
 * <p>{@link #redisConnectionFailure()} matches what Lettuce (checked against 7.7) throws when the
 * server cannot be reached or the connection drops: {@code RedisConnectionException} (connecting
 * failed), the {@code RedisException}s "Connection disconnected" (a command in flight when the
 * server or the network dropped the connection) and "Connection closed" (in flight when the
 * connection was closed under it, by a pool evicting it or a shutdown; a retry that takes another
 * connection succeeds, one on the same connection stops at "Connection is closed"), "Currently not
 * connected. Commands are rejected." (a command sent while the client reconnects, with {@code
 * DisconnectedBehavior.REJECT_COMMANDS} or without auto-reconnect), a {@code RedisException} caused
 * by an {@link java.io.IOException} (the sync API's wrapping of "Connection reset"), and {@code
 * RedisLoadingException} (the server is loading its data set after a restart). Not a {@code
 * RedisConnectionException} whose handshake the server answered with an error (wrong password,
 * unknown database, protected mode), and not "Connection is closed" (a command on a connection the
 * application closed itself). {@link #redisCommandTimeout()} matches {@code
 * RedisCommandTimeoutException}. The async API completes a future with the bare {@code IOException}
 * that the sync API wraps, and a bare {@code IOException} is not matched: call the sync API inside
 * the retry, or add {@code retryOn(IOException.class)}. The Redis methods need {@code lettuce-core}
 * on the class path; this class itself loads without it.
 *
 * <p>Stateless and thread-safe. Each method but {@link #sqlStates} returns the same predicate on
 * every call; its {@code toString()} is the expression that made it.
 */
public final class RetryOn {
  private RetryOn() {}

  private static final String PGJDBC_CONNECTION_REJECTED = "08004";

  /** Exact SQLStates of {@link #postgresConnectionFailure()}, besides class 08. */
  private static final Set<String> CONNECTION_STATES =
      Set.of("57P01", "57P02", "57P03", "57P05", "53300");

  private static final Set<String> SERIALIZATION_STATES = Set.of("40001", "40P01");

  private static final Classifier POSTGRES_CONNECTION_FAILURE =
      new Classifier("RetryOn.postgresConnectionFailure()", RetryOn::isConnectionFailure);

  private static final Classifier POSTGRES_SERIALIZATION_FAILURE =
      new Classifier("RetryOn.postgresSerializationFailure()", RetryOn::isSerializationFailure);

  private static final Classifier POSTGRES_TRANSIENT =
      new Classifier(
          "RetryOn.postgresTransient()", t -> isSerializationFailure(t) || isConnectionFailure(t));

  private static final boolean LETTUCE_PRESENT = isPresent("io.lettuce.core.RedisException");

  /**
   * Matches every PostgreSQL failure that another attempt of the whole transaction may get past:
   * {@link #postgresSerializationFailure()} or {@link #postgresConnectionFailure()}. The one to use
   * for background work with a backoff.
   *
   * @return the classifier
   */
  public static Predicate<Throwable> postgresTransient() {
    return POSTGRES_TRANSIENT;
  }

  /**
   * Matches PostgreSQL's serialization failure ({@code 40001}) and deadlock ({@code 40P01}): the
   * server rolled this transaction back so that a concurrent one could commit, and running it again
   * from the start usually succeeds. Retry the whole transaction, never the statement that failed:
   * its transaction is aborted and everything it read may be stale.
   *
   * @return the classifier
   */
  public static Predicate<Throwable> postgresSerializationFailure() {
    return POSTGRES_SERIALIZATION_FAILURE;
  }

  /**
   * Matches a connection to PostgreSQL that could not be had or was lost: SQLState class {@code 08}
   * but {@code 08004}, {@code 57P01}, {@code 57P02}, {@code 57P03}, {@code 57P05}, {@code 53300},
   * and a pool's {@link SQLTransientConnectionException} (HikariCP's acquire timeout) without a
   * SQLState or with one of these. See the class description for why each is retried. The retried
   * call must take a new connection from the pool.
   *
   * @return the classifier
   */
  public static Predicate<Throwable> postgresConnectionFailure() {
    return POSTGRES_CONNECTION_FAILURE;
  }

  /**
   * Matches a {@link SQLException} whose SQLState is one of {@code states}: a five-character state
   * matches itself, a two-character class every state of the class. For the states the other
   * classifiers leave out on purpose, for example {@code
   * RetryOn.postgresTransient().or(RetryOn.sqlStates("55P03"))}.
   *
   * @param states SQLStates ({@code "40001"}) or classes ({@code "08"}): digits and upper-case
   *     letters; at least one
   * @return a new classifier
   * @throws IllegalArgumentException if {@code states} is empty or one is not a SQLState or class
   */
  public static Predicate<Throwable> sqlStates(String... states) {
    Objects.requireNonNull(states, "states");
    if (states.length == 0) {
      throw Checks.invalid("sqlStates must name at least one SQLState, but was none");
    }
    List<String> exact = new ArrayList<>();
    List<String> classes = new ArrayList<>();
    for (String state : states) {
      Objects.requireNonNull(state, "state");
      if (!isStateText(state)) {
        throw Checks.invalid(
            "sqlStates must be 5-character SQLStates or 2-character classes of digits and"
                + " upper-case letters, but was \"%s\"",
            state);
      }
      (state.length() == 2 ? classes : exact).add(state);
    }
    Set<String> exactStates = Set.copyOf(exact);
    List<String> stateClasses = List.copyOf(classes);
    return new Classifier(
        "RetryOn.sqlStates(" + String.join(", ", states) + ")",
        t -> {
          String state = sqlState(t);
          return state != null
              && (exactStates.contains(state) || stateClasses.contains(classOf(state)));
        });
  }

  /**
   * Matches {@link #redisConnectionFailure()} or {@link #redisCommandTimeout()}. A command that
   * timed out may have run: use it for commands that are safe to repeat.
   *
   * @return the classifier
   * @throws IllegalStateException if {@code lettuce-core} is not on the class path
   */
  public static Predicate<Throwable> redisTransient() {
    requireLettuce("redisTransient");
    return LettuceFailures.TRANSIENT;
  }

  /**
   * Matches Lettuce's failures to reach Redis or to keep the connection: see the class description
   * for the exact exceptions and messages. A command rejected while disconnected was never sent; a
   * command in flight when the connection dropped may have run.
   *
   * @return the classifier
   * @throws IllegalStateException if {@code lettuce-core} is not on the class path
   */
  public static Predicate<Throwable> redisConnectionFailure() {
    requireLettuce("redisConnectionFailure");
    return LettuceFailures.CONNECTION_FAILURE;
  }

  /**
   * Matches Lettuce's {@code RedisCommandTimeoutException}: no answer within the command timeout (a
   * slow or paused server, a network that drops packets). The command may have run.
   *
   * @return the classifier
   * @throws IllegalStateException if {@code lettuce-core} is not on the class path
   */
  public static Predicate<Throwable> redisCommandTimeout() {
    requireLettuce("redisCommandTimeout");
    return LettuceFailures.COMMAND_TIMEOUT;
  }

  private static boolean isSerializationFailure(Throwable t) {
    String state = sqlState(t);
    return state != null && SERIALIZATION_STATES.contains(state);
  }

  private static boolean isConnectionFailure(Throwable t) {
    if (!(t instanceof SQLException)) {
      return false;
    }
    String state = ((SQLException) t).getSQLState();
    if (state == null) {
      // A pool that timed out waiting for a free connection, with no connection failure behind it.
      return t instanceof SQLTransientConnectionException;
    }
    return (state.startsWith("08") && !state.equals(PGJDBC_CONNECTION_REJECTED))
        || CONNECTION_STATES.contains(state);
  }

  private static @Nullable String sqlState(Throwable t) {
    return t instanceof SQLException ? ((SQLException) t).getSQLState() : null;
  }

  private static String classOf(String state) {
    return state.length() < 2 ? state : state.substring(0, 2);
  }

  private static boolean isStateText(String state) {
    if (state.length() != 2 && state.length() != 5) {
      return false;
    }
    for (int i = 0; i < state.length(); i++) {
      char c = state.charAt(i);
      if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z'))) {
        return false;
      }
    }
    return true;
  }

  private static void requireLettuce(String classifier) {
    if (!LETTUCE_PRESENT) {
      throw new IllegalStateException(
          Checks.format(
              "RetryOn.%s() needs lettuce-core on the class path, but io.lettuce.core.RedisException"
                  + " was not found",
              classifier));
    }
  }

  private static boolean isPresent(String className) {
    try {
      Class.forName(className, false, RetryOn.class.getClassLoader());
      return true;
    } catch (ClassNotFoundException | LinkageError e) {
      return false;
    }
  }
}

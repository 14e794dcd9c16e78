package dev.bulwark.health;

import dev.bulwark.core.internal.Checks;
import dev.bulwark.core.internal.NamedThreads;
import dev.bulwark.timeouts.Deadline;
import java.sql.Connection;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;

/**
 * {@link HealthChecks#dataSource(DataSource, Duration)}: borrows a connection and asks the database
 * whether it is alive ({@link Connection#isValid(int)}), all within a timeout.
 *
 * <p><b>The timeout.</b> A plain {@link DataSource} has no timeout of its own for {@code
 * getConnection()} (pgjdbc's {@code loginTimeout} is unlimited unless set), and neither a socket
 * connect nor a read answers an interrupt. So the borrow and {@code isValid} run on a thread of
 * their own, {@code bulwark-health-datasource-<n>}, and the caller waits for them at most the
 * timeout (or what the caller's {@link Deadline} has left, if less). A borrow still running then is
 * abandoned: its thread is interrupted while it waits for a connection, and closes the connection
 * if one comes. One attempt at a time: while an abandoned one still runs, a new check fails at once
 * instead of starting a second thread, so a hung database costs one thread per check.
 *
 * <p><b>A HikariCP pool.</b> When the data source is, or unwraps to, a {@code HikariDataSource},
 * the check first reads the pool's counts: every connection lent out and threads waiting means a
 * full pool, reported as {@link Status#WARN} without borrowing (borrowing would join the queue it
 * reports). Otherwise it borrows through the pool with half the timeout as the borrow's own timeout
 * (the other half is the answer's), and when that borrow fails while the pool is full, it reports
 * the full pool, not a dead database.
 *
 * <p>Thread-safe.
 */
final class DataSourceCheck implements HealthCheck {
  /** The default timeout: 1 s, the default timeout of a Kubernetes probe. */
  static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(1);

  /** The shortest timeout accepted. */
  static final Duration MIN_TIMEOUT = Duration.ofMillis(10);

  /** The longest timeout accepted: a health check that waits longer tells nobody anything. */
  static final Duration MAX_TIMEOUT = Duration.ofMinutes(1);

  /** The draft's {@code componentType}. */
  static final String COMPONENT_TYPE = "datastore";

  private static final boolean HIKARI_PRESENT = isPresent("com.zaxxer.hikari.HikariDataSource");
  private static final NamedThreads THREADS = NamedThreads.daemon("health", "datasource");
  private static final long NANOS_PER_SECOND = 1_000_000_000L;
  private static final long NANOS_PER_MILLI = 1_000_000L;

  private final DataSource dataSource;
  private final @Nullable HikariSide hikari;
  private final Duration timeout;
  private final AtomicReference<@Nullable Attempt> last = new AtomicReference<>();

  DataSourceCheck(DataSource dataSource, Duration timeout) {
    this.dataSource = Objects.requireNonNull(dataSource, "dataSource");
    this.timeout = Checks.between("timeout", timeout, MIN_TIMEOUT, MAX_TIMEOUT);
    this.hikari = HIKARI_PRESENT ? HikariSide.of(dataSource) : null;
  }

  private static boolean isPresent(String className) {
    try {
      Class.forName(className, false, DataSourceCheck.class.getClassLoader());
      return true;
    } catch (ClassNotFoundException | LinkageError e) {
      return false;
    }
  }

  @Override
  public HealthResult check() throws InterruptedException {
    long budgetNanos = ExternalTexts.budgetNanos(timeout);
    HikariSide pool = hikari;
    if (pool != null) {
      if (pool.isClosed()) {
        return fail("pool " + pool.name() + " is closed");
      }
      HikariSide.Counts counts = pool.counts();
      if (counts != null && counts.full() && counts.pending() > 0) {
        return poolFull(counts, "");
      }
    }
    Attempt previous = last.get();
    if (previous != null && !previous.finished) {
      return fail(
          "the previous check still waits for "
              + (previous.validating ? "the database's answer" : "a connection")
              + ", for "
              + ExternalTexts.duration(System.nanoTime() - previous.startNanos)
              + " so far");
    }
    Attempt attempt = new Attempt(budgetNanos);
    if (!last.compareAndSet(previous, attempt)) {
      return fail("another check of this data source is running");
    }
    Thread thread = THREADS.newThread(attempt);
    attempt.thread = thread;
    try {
      thread.start();
    } catch (OutOfMemoryError | RuntimeException e) { // no native thread: this attempt never runs
      attempt.finished = true;
      last.compareAndSet(attempt, null);
      return fail("cannot start a thread for the check: " + ExternalTexts.describe(e));
    }
    try {
      Measured measured = attempt.outcome.get(budgetNanos, TimeUnit.NANOSECONDS);
      return measured.result();
    } catch (TimeoutException e) {
      attempt.abandon();
      return timedOut(attempt);
    } catch (ExecutionException e) {
      return failed(attempt, Objects.requireNonNull(e.getCause()));
    } catch (InterruptedException e) {
      attempt.abandon();
      throw e;
    }
  }

  private HealthResult timedOut(Attempt attempt) {
    HealthResult full = fullNow(attempt);
    if (full != null) {
      return full;
    }
    return fail(
        attempt.validating
            ? "the database did not answer within " + ExternalTexts.duration(attempt.budgetNanos)
            : "no connection within " + ExternalTexts.duration(attempt.budgetNanos));
  }

  private HealthResult failed(Attempt attempt, Throwable failure) {
    if (!attempt.validating) {
      HealthResult full = fullNow(attempt);
      if (full != null) {
        return full;
      }
      return fail("cannot borrow a connection: " + ExternalTexts.describe(failure));
    }
    return fail("isValid failed: " + ExternalTexts.describe(failure));
  }

  /** A warning if the pool is full now, after a borrow that did not succeed; null otherwise. */
  private @Nullable HealthResult fullNow(Attempt attempt) {
    HikariSide pool = hikari;
    HikariSide.Counts counts = pool == null || attempt.validating ? null : pool.counts();
    if (counts == null || !counts.full()) {
      return null;
    }
    return poolFull(
        counts, "; none free within " + ExternalTexts.duration(attempt.borrowBudgetNanos()));
  }

  private static HealthResult poolFull(HikariSide.Counts counts, String more) {
    return HealthResult.warn(
            PoolCheck.waiting(counts.active(), counts.max(), counts.pending()) + more)
        .withComponentType(COMPONENT_TYPE)
        .withDetail("active", counts.active())
        .withDetail("pending", counts.pending())
        .withDetail("max", counts.max());
  }

  private static HealthResult fail(String output) {
    return HealthResult.fail(output).withComponentType(COMPONENT_TYPE);
  }

  /** What a successful borrow found. */
  private record Measured(boolean valid, int seconds, long borrowNanos, long answerNanos) {
    HealthResult result() {
      HealthResult result =
          valid
              ? HealthResult.pass()
              : HealthResult.fail(
                  Checks.format(
                      "isValid(%d) returned false: the database did not answer within %d s, or the"
                          + " connection is broken",
                      seconds, seconds));
      return result
          .withObserved(ExternalTexts.millis(answerNanos), "ms")
          .withComponentType(COMPONENT_TYPE)
          .withDetail("borrowMs", ExternalTexts.millis(borrowNanos));
    }
  }

  /** One borrow and {@code isValid}, on a thread of its own. */
  private final class Attempt implements Runnable {
    final CompletableFuture<Measured> outcome = new CompletableFuture<>();
    final long budgetNanos;
    final long startNanos = System.nanoTime();
    volatile @Nullable Thread thread;
    volatile boolean validating;
    volatile boolean abandoned;
    volatile boolean finished;

    Attempt(long budgetNanos) {
      this.budgetNanos = budgetNanos;
    }

    /** {@return the borrow's own timeout, for a HikariCP pool: half the budget} */
    long borrowBudgetNanos() {
      return budgetNanos / 2;
    }

    @Override
    public void run() {
      @Nullable Measured measured = null;
      @Nullable Throwable failure = null;
      try {
        HikariSide pool = hikari;
        try (Connection connection =
            pool != null
                ? pool.borrow(Math.max(1, borrowBudgetNanos() / NANOS_PER_MILLI))
                : dataSource.getConnection()) {
          long borrowed = System.nanoTime();
          if (!abandoned) {
            validating = true;
            long left = budgetNanos - (borrowed - startNanos);
            // JDBC counts in whole seconds: rounded up, at least 1, as JdbcTimeouts does.
            int seconds = (int) Math.min(Integer.MAX_VALUE, Math.max(1, ceilDiv(left)));
            boolean valid = connection.isValid(seconds);
            measured =
                new Measured(valid, seconds, borrowed - startNanos, System.nanoTime() - borrowed);
          }
        }
      } catch (Throwable e) {
        failure = e;
      }
      // Finished, and the connection back in its pool (or closed), before the caller hears of it:
      // a check right after this one must not find it still running.
      finished = true;
      if (failure != null) {
        outcome.completeExceptionally(failure);
      } else if (measured != null) {
        outcome.complete(measured);
      }
    }

    /** Gives up on the attempt: a borrow still waiting is interrupted, a connection closed. */
    void abandon() {
      abandoned = true;
      Thread t = thread;
      if (t != null && !validating && !finished) {
        t.interrupt();
      }
    }

    private long ceilDiv(long nanos) {
      return -Math.floorDiv(-nanos, NANOS_PER_SECOND);
    }
  }
}

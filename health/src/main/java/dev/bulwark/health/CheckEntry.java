package dev.bulwark.health;

import dev.bulwark.core.internal.Checks;
import dev.bulwark.timeouts.Deadline;
import dev.bulwark.timeouts.TimeoutExceededException;
import io.micrometer.core.instrument.Timer;
import java.time.Clock;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.jspecify.annotations.Nullable;

/**
 * One registered check, its cached result and the run that refreshes it.
 *
 * <p>A result is fresh for {@code ttl} after the run that made it ended. A request that finds it
 * fresh takes it; one that finds it stale takes it too and starts a refresh in the background,
 * unless one is running (stale-while-revalidate); only a request that finds no result at all waits,
 * at most the check's timeout. So the check is called at most once per {@code ttl} plus its
 * duration, whatever the request rate, and never twice at once.
 *
 * <p>A run is cut off at the check's timeout (its thread interrupted). If the check's code still
 * does not return, it keeps its thread, and the check is not called again until it does: each
 * refresh meanwhile reports it as still running. A hung check holds one thread, never more.
 *
 * <p>Thread-safe.
 */
final class CheckEntry {
  private static final long IDLE = Long.MIN_VALUE;

  /** A result and the ticker reading when it was made. */
  private record Observed(HealthResult result, long atNanos) {}

  final String name;
  final Set<Role> roles;
  final Duration timeout;
  final Duration ttl;

  /** How long a report waits for a first run: the timeout, and a margin for the run's verdict. */
  final long awaitNanos;

  private final HealthCheck check;
  private final long ttlNanos;
  private final Status onTimeout;
  private final HealthRegistry.Shared runtime;

  private volatile @Nullable Observed latest;
  private final AtomicReference<@Nullable CompletableFuture<HealthResult>> refreshing =
      new AtomicReference<>();

  /** The ticker reading when the check's code was entered, {@link #IDLE} once it returned. */
  private volatile long workStart = IDLE;

  private final AtomicLong calls = new AtomicLong();

  CheckEntry(
      String name,
      HealthCheck check,
      Set<Role> roles,
      Duration timeout,
      Duration ttl,
      Status onTimeout,
      HealthRegistry.Shared runtime) {
    this.name = name;
    this.check = check;
    this.roles = Set.copyOf(roles);
    this.timeout = timeout;
    this.ttl = ttl;
    this.ttlNanos = Checks.saturatedNanos(ttl);
    this.awaitNanos =
        Checks.saturatedNanos(timeout) + Checks.saturatedNanos(HealthRegistry.AWAIT_MARGIN);
    this.onTimeout = onTimeout;
    this.runtime = runtime;
  }

  /** How often the check's code was entered. */
  long calls() {
    return calls.get();
  }

  /** The latest result, or null before the first run ended. */
  @Nullable HealthResult latest() {
    Observed seen = latest;
    return seen == null ? null : seen.result;
  }

  /**
   * {@return the cached result if it is fresh at {@code now} on the registry's ticker, else null} A
   * fresh result needs no run and no future: a report takes it as it is.
   */
  @Nullable HealthResult fresh(long now) {
    Observed seen = latest;
    return seen != null && now - seen.atNanos < ttlNanos ? seen.result : null;
  }

  /**
   * The result to report now: the cached one (refreshing it in the background when stale), or, when
   * there is none yet, the future of the run that makes the first one.
   */
  CompletableFuture<HealthResult> result() {
    Observed seen = latest;
    if (seen != null && runtime.ticker.read() - seen.atNanos < ttlNanos) {
      return CompletableFuture.completedFuture(seen.result);
    }
    CompletableFuture<HealthResult> refresh = refresh();
    return seen == null ? refresh : CompletableFuture.completedFuture(seen.result);
  }

  /**
   * Waits for {@code future}, as {@link #result()} returned it, until {@code deadlineNanos} on the
   * registry's ticker; past it, reports the check as timed out. (The run's own future fails at the
   * check's timeout, within the margin, and that timeout is what the cache keeps.)
   */
  HealthResult await(CompletableFuture<HealthResult> future, long deadlineNanos) {
    HealthResult done = future.getNow(null);
    if (done != null) {
      return done;
    }
    long wait = deadlineNanos - runtime.ticker.read();
    try {
      return future.get(Math.max(0, wait), TimeUnit.NANOSECONDS);
    } catch (TimeoutException e) {
      return timedOutAtLimit(timeout);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return timedOut("not awaited: the request's thread was interrupted", Duration.ZERO);
    } catch (ExecutionException e) { // never: the future is only ever completed with a result
      return failed(e.getCause() == null ? e : e.getCause(), Duration.ZERO);
    }
  }

  private CompletableFuture<HealthResult> refresh() {
    CompletableFuture<HealthResult> current = refreshing.get();
    if (current != null) {
      return current;
    }
    CompletableFuture<HealthResult> mine = new CompletableFuture<>();
    if (!refreshing.compareAndSet(null, mine)) {
      CompletableFuture<HealthResult> winner = refreshing.get();
      return winner == null ? result() : winner;
    }
    // A run that ended between our reading of the result and our claim stored its result first.
    Observed seen = latest;
    long submitted = runtime.ticker.read();
    if (seen != null && submitted - seen.atNanos < ttlNanos) {
      refreshing.set(null);
      mine.complete(seen.result);
      return mine;
    }
    long started = workStart;
    if (started != IDLE) {
      Duration running = Duration.ofNanos(submitted - started);
      finish(
          mine,
          timedOut(
              "still running after "
                  + Checks.duration(running)
                  + " (timeout "
                  + Checks.duration(timeout)
                  + "): not called again until it returns",
              running),
          Outcome.TIMEOUT);
      return mine;
    }
    CompletableFuture<HealthResult> run;
    try {
      // The refresh serves every caller: it runs under the check's own timeout, never under the
      // deadline of the request whose thread happens to start it.
      run =
          Deadline.detached(
              () -> Deadline.after(timeout).call(() -> runtime.limiter.submit(context -> call())));
    } catch (Throwable e) { // an Error too (no thread for the pool): `refreshing` must be cleared
      run = CompletableFuture.failedFuture(e);
    }
    // The callback completes `mine`, which the caller holds; its own future carries nothing more.
    var unused =
        run.whenComplete(
            (result, failure) -> {
              try {
                complete(mine, submitted, result, failure);
              } catch (Throwable t) { // never leave `refreshing` claimed, nor `mine` pending
                finish(
                    mine,
                    HealthResult.fail(
                            "the result could not be recorded: " + t.getClass().getSimpleName())
                        .timed(now(), Duration.ofNanos(runtime.ticker.read() - submitted)),
                    Outcome.ERROR);
              }
            });
    return mine;
  }

  private void complete(
      CompletableFuture<HealthResult> mine,
      long submitted,
      @Nullable HealthResult result,
      @Nullable Throwable failure) {
    Duration took = Duration.ofNanos(runtime.ticker.read() - submitted);
    if (failure == null && result != null) {
      finish(mine, cleaned(result, took), outcome(result.status()));
      return;
    }
    Throwable cause = unwrap(failure);
    if (cause instanceof TimeoutExceededException) {
      finish(mine, timedOutAtLimit(took), Outcome.TIMEOUT);
    } else if (cause instanceof RejectedExecutionException) {
      finish(
          mine,
          timedOut(
              runtime.isClosed()
                  ? "not run: the health registry is closed"
                  : "not run: every thread of the health registry is busy",
              took),
          Outcome.TIMEOUT);
    } else {
      finish(
          mine,
          failed(cause == null ? new IllegalStateException("no result") : cause, took),
          Outcome.ERROR);
    }
  }

  private HealthResult call() throws Exception {
    workStart = runtime.ticker.read();
    calls.incrementAndGet();
    try {
      @SuppressWarnings("NullAway") // a lambda may break the contract: reported, not thrown on
      @Nullable HealthResult result = check.check();
      if (result == null) {
        throw new IllegalStateException("the check returned null");
      }
      return result;
    } finally {
      workStart = IDLE;
    }
  }

  private void finish(CompletableFuture<HealthResult> mine, HealthResult result, Outcome outcome) {
    latest = new Observed(result, runtime.ticker.read());
    refreshing.set(null);
    Timer timer = runtime.timer(name, outcome);
    if (timer != null) {
      timer.record(result.duration());
    }
    mine.complete(result);
  }

  private HealthResult cleaned(HealthResult result, Duration took) {
    Sanitizer sanitizer = runtime.sanitizer;
    HealthResult clean = result.withOutputText(sanitizer.clean(result.output()));
    for (var detail : result.details().entrySet()) {
      if (detail.getValue() instanceof String) {
        String text = sanitizer.clean((String) detail.getValue());
        clean = clean.withDetail(detail.getKey(), text == null ? "" : text);
      }
    }
    if (clean.observedValue() instanceof String) {
      String text = sanitizer.clean((String) clean.observedValue());
      clean = clean.withObserved(text == null ? "" : text, clean.observedUnit());
    }
    return clean.timed(now(), took);
  }

  private HealthResult timedOutAtLimit(Duration took) {
    return timedOut("timed out after " + Checks.duration(timeout), took);
  }

  private HealthResult timedOut(String output, Duration took) {
    return HealthResult.of(onTimeout, output)
        .withObserved(took.toNanos() / 1e6, "ms")
        .timed(now(), took);
  }

  private HealthResult failed(Throwable failure, Duration took) {
    return HealthResult.of(Status.FAIL, runtime.sanitizer.describe(failure)).timed(now(), took);
  }

  private java.time.Instant now() {
    Clock clock = runtime.clock;
    return clock.instant();
  }

  private static @Nullable Throwable unwrap(@Nullable Throwable failure) {
    Throwable cause = failure;
    while ((cause instanceof CompletionException || cause instanceof ExecutionException)
        && cause.getCause() != null) {
      cause = cause.getCause();
    }
    return cause;
  }

  private static Outcome outcome(Status status) {
    return switch (status) {
      case PASS -> Outcome.PASS;
      case WARN -> Outcome.WARN;
      case FAIL -> Outcome.FAIL;
    };
  }

  /** How a run ended: a tag value of {@code bulwark.health.checks}. */
  enum Outcome {
    PASS,
    WARN,
    FAIL,
    TIMEOUT,
    ERROR;

    String tag() {
      return name().toLowerCase(java.util.Locale.ROOT);
    }
  }
}

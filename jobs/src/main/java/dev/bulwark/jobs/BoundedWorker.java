package dev.bulwark.jobs;

import dev.bulwark.core.Secrets;
import dev.bulwark.core.internal.Checks;
import dev.bulwark.core.internal.NamedThreads;
import dev.bulwark.timeouts.Deadline;
import dev.bulwark.timeouts.Retry;
import dev.bulwark.timeouts.Ticker;
import dev.bulwark.timeouts.TimeoutExceededException;
import dev.bulwark.timeouts.Timeouts;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.util.EnumMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.StringJoiner;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Consumer;
import java.util.function.DoubleSupplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A bounded queue and the one thread that empties it in batches: for work a request hands off
 * (activity logs, audit entries, notifications) without waiting for it, and without an unbounded
 * queue, a loop that never stops, or an item that disappears unnoticed.
 *
 * <pre>{@code
 * BoundedWorker<LogEntry> worker = BoundedWorker.<LogEntry>builder("activity-log")
 *     .capacity(10_000).batchSize(500).flushEvery(Duration.ofSeconds(5))
 *     .handler(batch -> repository.insertAll(batch))
 *     .build();
 *
 * Offer offer = worker.offer(entry);   // never blocks by default: REJECTED_FULL when full
 * }</pre>
 *
 * <p><b>Intake.</b> {@link #offer(Object)} puts an item in a queue of {@code capacity} items and
 * says what happened ({@link Offer}). When the queue is full it rejects (the default), waits for
 * room up to a time ({@link Builder#blockWhenFull}), or drops the oldest item for the new one
 * ({@link Builder#dropOldestWhenFull()}). Above the {@linkplain Builder#memoryCeiling(double)
 * memory ceiling} it rejects until the heap is below it again, or stops the worker.
 *
 * <p><b>Batches.</b> One thread, {@code bulwark-jobs-<name>-1}, takes up to {@code batchSize} items
 * at a time and calls the {@link BatchHandler} once per batch: a full batch as soon as it is there,
 * a partial one at most {@code flushEvery} after its first item arrived (when the thread is free;
 * it never runs two batches at once). Each handler call runs under {@code batchTimeLimit}, through
 * {@link Timeouts#within(Deadline, dev.bulwark.timeouts.Call)}: the limit is the thread's current
 * {@link Deadline}, which bulwark's JDBC, Redis and HTTP helpers clamp their timeouts to, and the
 * shared watchdog of {@code bulwark-timeouts} interrupts the thread at the limit. A batch that
 * fails is tried again as the {@link Builder#retry(Retry) retry} says, each attempt with a limit of
 * its own; after its last failure it goes to the {@link DeadLetterHandler}.
 *
 * <p><b>Stopping.</b> {@link #shutdown(Duration)} and {@link #close()} stop intake, hand the rest
 * of the queue to the handler until a drain deadline, then interrupt the handler and return a
 * {@link ShutdownReport} of what was not handled: nothing is dropped at shutdown. The worker also
 * stops itself the same way after {@code maxIterations} batches, after {@code maxRuntime}, or at
 * the memory ceiling with {@link MemoryAction#STOP}; {@link #awaitTermination(Duration)} then
 * returns the report.
 *
 * <p><b>Accounting.</b> Every item offered is in exactly one term of the {@link WorkerLedger}:
 * processed, dead-lettered, rejected, dropped, returned in the report, or in flight. The terms are
 * counted under the queue's lock and balance in every {@link #snapshot()}; each one is a meter (see
 * {@link Builder#meterRegistry}).
 *
 * <p>Thread-safe: any thread may offer, snapshot and shut down. The handler and the dead-letter
 * handler run on the worker's thread only, one call at a time. The worker's threads are daemons:
 * call {@link #close()} when the service stops, or what is queued is lost with the JVM.
 *
 * @param <T> the item type
 */
public final class BoundedWorker<T> implements AutoCloseable {

  /** The largest capacity: 1,000,000 items (an array of that many references is made up front). */
  static final int MAX_CAPACITY = 1_000_000;

  /** Default batch size: 100 items, or the capacity when that is smaller. */
  static final int DEFAULT_BATCH_SIZE = 100;

  /** The largest batch: 100,000 items. */
  static final int MAX_BATCH_SIZE = 100_000;

  /** Default longest wait of a partial batch: 1 second. */
  static final Duration DEFAULT_FLUSH_EVERY = Duration.ofSeconds(1);

  /** Longest {@code flushEvery}: 1 hour. */
  static final Duration MAX_FLUSH_EVERY = Duration.ofHours(1);

  /** Default time limit of one handler call: 30 seconds. */
  static final Duration DEFAULT_BATCH_TIME_LIMIT = Duration.ofSeconds(30);

  /** Longest {@code batchTimeLimit}: 24 hours. */
  static final Duration MAX_BATCH_TIME_LIMIT = Duration.ofHours(24);

  /** Longest wait of {@code blockWhenFull}: 1 hour. */
  static final Duration MAX_BLOCK = Duration.ofHours(1);

  /** Default drain of {@link #close()} and of a stop at a limit: 10 seconds. */
  static final Duration DEFAULT_DRAIN_TIMEOUT = Duration.ofSeconds(10);

  /** Longest drain: 1 hour. */
  static final Duration MAX_DRAIN_TIMEOUT = Duration.ofHours(1);

  /** The shortest of the durations above that must be positive: 1 ms. */
  static final Duration MIN_DURATION = Duration.ofMillis(1);

  /** The memory ceiling's bounds, fractions of the heap's maximum: 0.01 to 0.99. */
  static final double MIN_MEMORY_CEILING = 0.01;

  static final double MAX_MEMORY_CEILING = 0.99;

  /**
   * How long a shutdown waits for an interrupted handler to return, after the drain deadline: 1 s.
   * A handler that ignores its interrupt longer keeps its batch, counted as in flight.
   */
  static final Duration STOP_GRACE = Duration.ofSeconds(1);

  /** The longest the consumer waits before it looks at its limits and the memory again: 100 ms. */
  static final long IDLE_TICK_NANOS = TimeUnit.MILLISECONDS.toNanos(100);

  /** At most one log line of a kind per 10 s, with the count of the others. */
  static final long LOG_INTERVAL_NANOS = TimeUnit.SECONDS.toNanos(10);

  private static final Logger LOG = LoggerFactory.getLogger(BoundedWorker.class);

  /** What an offer does when the queue is full. */
  enum WhenFull {
    REJECT,
    BLOCK,
    DROP_OLDEST
  }

  /** A stop: why, and the deadline of its drain. */
  private static final class Stop {
    final StopReason reason;
    final Deadline deadline;

    Stop(StopReason reason, Deadline deadline) {
      this.reason = reason;
      this.deadline = deadline;
    }
  }

  private final String name;
  private final int capacity;
  private final int batchSize;
  private final int alertAt;
  private final WhenFull whenFull;
  private final long blockNanos;
  private final @Nullable Consumer<? super T> onDrop;
  private final BatchHandler<T> handler;
  private final @Nullable DeadLetterHandler<T> deadLetter;
  private final Duration batchTimeLimit;
  private final @Nullable Retry retry;
  private final long maxIterations;
  private final long maxRuntimeNanos;
  private final double memoryCeiling;
  private final MemoryAction memoryAction;
  private final Duration drainTimeout;
  private final Ticker ticker;
  private final @Nullable DoubleSupplier givenReading;
  private final long startNanos;
  private final WorkQueue queue;
  private final WorkerMeters meters;
  private final NamedThreads threads;
  private final Thread consumer;

  private final AtomicReference<@Nullable Stop> stop = new AtomicReference<>();
  private final Object reportLock = new Object();
  private volatile @Nullable ShutdownReport<T> finalReport;
  private final CountDownLatch reported = new CountDownLatch(1);

  private final LongAdder failedAttempts = new LongAdder();
  private final LongAdder timedOutAttempts = new LongAdder();
  private final LongAdder deadLetterFailures = new LongAdder();
  private final LongAdder dropFailures = new LongAdder();
  private volatile @Nullable String lastFailure;

  private final LogThrottle deadLetterLog;
  private final LogThrottle callbackLog;
  private final LogThrottle dropLog;
  private final LogThrottle alertLog;
  private final LogThrottle pauseLog;
  private final LogThrottle resumeLog;

  private final Object memoryLock = new Object();
  private boolean memoryHigh; // guarded by memoryLock
  private volatile @Nullable DoubleSupplier memoryReading;
  private volatile @Nullable HeapReading heapReading;

  /** The batch the consumer holds, for its last words if it fails; the consumer's own. */
  private Object @Nullable [] current;

  /** Whether the handler (or dead-letter handler) returned in its current call; the consumer's. */
  private boolean handlerReturned;

  private BoundedWorker(Builder<T> b) {
    this.name = b.name;
    this.capacity = b.capacity;
    this.batchSize = b.batchSize < 0 ? Math.min(DEFAULT_BATCH_SIZE, capacity) : b.batchSize;
    this.alertAt = Math.max(0, b.alertAt);
    WhenFull policy = b.whenFull;
    this.whenFull = policy == null ? WhenFull.REJECT : policy;
    this.blockNanos = b.blockWait == null ? 0 : Checks.saturatedNanos(b.blockWait);
    this.onDrop = b.onDrop;
    this.handler = Objects.requireNonNull(b.handler, "handler");
    this.deadLetter = b.deadLetter;
    this.batchTimeLimit = b.batchTimeLimit == null ? DEFAULT_BATCH_TIME_LIMIT : b.batchTimeLimit;
    this.retry = b.retry;
    this.maxIterations = b.maxIterations < 0 ? Long.MAX_VALUE : b.maxIterations;
    this.maxRuntimeNanos =
        b.maxRuntime == null ? Long.MAX_VALUE : Checks.saturatedNanos(b.maxRuntime);
    this.memoryCeiling = b.memoryCeiling;
    this.memoryAction = b.memoryAction;
    this.drainTimeout = b.drainTimeout == null ? DEFAULT_DRAIN_TIMEOUT : b.drainTimeout;
    this.ticker = b.ticker;
    this.givenReading = b.memoryReading;
    Duration flush = b.flushEvery == null ? DEFAULT_FLUSH_EVERY : b.flushEvery;
    this.queue = new WorkQueue(capacity, batchSize, Checks.saturatedNanos(flush), alertAt, ticker);
    this.deadLetterLog = new LogThrottle(ticker, LOG_INTERVAL_NANOS);
    this.callbackLog = new LogThrottle(ticker, LOG_INTERVAL_NANOS);
    this.dropLog = new LogThrottle(ticker, LOG_INTERVAL_NANOS);
    this.alertLog = new LogThrottle(ticker, LOG_INTERVAL_NANOS);
    this.pauseLog = new LogThrottle(ticker, LOG_INTERVAL_NANOS);
    this.resumeLog = new LogThrottle(ticker, LOG_INTERVAL_NANOS);
    this.meters = new WorkerMeters(name, b.meterRegistry, queue, deadLetterFailures, dropFailures);
    this.threads = NamedThreads.daemon("jobs", name);
    this.consumer = threads.newThread(this::consume);
    this.startNanos = ticker.read();
  }

  /**
   * Starts a builder.
   *
   * @param name the worker's name: the {@code name} tag of its meters and part of its threads'
   *     names ({@code bulwark-jobs-<name>-1}); 1 to 63 letters, digits, {@code '.'}, {@code '_'} or
   *     {@code '-'}
   * @param <T> the item type
   * @return a new builder
   * @throws IllegalArgumentException if the name is not of that form
   */
  public static <T> Builder<T> builder(String name) {
    return new Builder<>(name);
  }

  private void start() {
    if (!Double.isNaN(memoryCeiling)) {
      DoubleSupplier given = givenReading;
      if (given == null) {
        HeapReading heap = HeapReading.start(this::checkMemory);
        heapReading = heap;
        memoryReading = heap;
      } else {
        memoryReading = given;
      }
      checkMemory();
    }
    consumer.start();
  }

  /** {@return the worker's name} */
  public String name() {
    return name;
  }

  /**
   * Offers an item. With the default policy it never waits: a full queue rejects it. With {@link
   * Builder#blockWhenFull} it waits for room up to that time; with {@link
   * Builder#dropOldestWhenFull()} it drops the oldest queued item instead (and hands that one to
   * the {@linkplain Builder#onDrop drop callback}, on this thread). Every outcome is counted.
   *
   * @param item the item
   * @return what happened to it; a rejected item stays the caller's
   * @throws NullPointerException if {@code item} is null
   */
  public Offer offer(T item) {
    Objects.requireNonNull(item, "item");
    int result;
    if (whenFull == WhenFull.REJECT) {
      result = queue.offer(item);
    } else if (whenFull == WhenFull.BLOCK) {
      result = queue.offer(item, blockNanos);
    } else {
      Object outcome = queue.offerDroppingOldest(item);
      if (!(outcome instanceof WorkQueue.Code)) {
        dropped(outcome);
        return Offer.ACCEPTED_DROPPED_OLDEST;
      }
      result = ((WorkQueue.Code) outcome).result;
    }
    if ((result & WorkQueue.CROSSED) != 0) {
      alertCrossed();
    }
    return WorkQueue.outcome(result);
  }

  private void dropped(Object item) {
    Consumer<? super T> callback = onDrop;
    if (callback == null) {
      long events = dropLog.event();
      if (events > 0) {
        LOG.warn(
            "worker {}: dropped the oldest item of its full queue ({} items) for a newer one{};"
                + " set onDrop to keep dropped items",
            name,
            capacity,
            since(events, "drops"));
      }
      return;
    }
    try {
      callback.accept(cast(item));
    } catch (VirtualMachineError e) {
      throw e;
    } catch (Throwable t) { // the new item is queued: a throw would have the caller offer it twice
      callbackFailed("drop", dropFailures, t);
    }
  }

  // Only items of type T are offered to the queue.
  @SuppressWarnings("unchecked")
  private T cast(Object item) {
    return (T) item;
  }

  private void alertCrossed() {
    long events = alertLog.event();
    if (events > 0) {
      LOG.warn(
          "worker {}: {} items queued, its alert threshold (alertAt), of a capacity of {}{}",
          name,
          alertAt,
          capacity,
          since(events, "crossings"));
    }
  }

  private static String since(long events, String what) {
    return events > 1 ? Checks.format("; %d %s since the last such line", events, what) : "";
  }

  // ---- the consumer ----

  private void consume() {
    Throwable crash = null;
    try {
      loop();
    } catch (Throwable t) { // an Error in the worker's own code: the handler's are caught
      crash = t;
    }
    Object[] held = current;
    current = null;
    if (crash != null) {
      beginStop(StopReason.CONSUMER_FAILED, Duration.ZERO);
      LOG.error(
          "worker {}: its thread failed; what it held is returned in the report", name, crash);
    }
    if (held != null && !queue.giveBack(held)) {
      queue.settle(held.length, false);
      LOG.error("worker {}: {} items of a failed batch lost after the report", name, held.length);
    }
    Thread.interrupted();
    finishReport();
  }

  private void loop() {
    long iterations = 0;
    while (true) {
      // An interrupt is never the signal to stop (the queue's abandoned flag is): clear a late one.
      Thread.interrupted();
      if (memoryReading != null) {
        HeapReading heap = heapReading;
        if (heap == null || !heap.notified()) {
          // A reading to poll: the test's, or the current usage until a collection's notification
          // (after which the notifications check it, as each one arrives).
          checkMemory();
        }
      }
      if (maxRuntimeNanos != Long.MAX_VALUE && ticker.read() - startNanos >= maxRuntimeNanos) {
        selfStop(StopReason.MAX_RUNTIME);
      }
      if (queue.finished()) {
        return;
      }
      long wait = IDLE_TICK_NANOS;
      Stop stopping = stop.get();
      if (stopping != null) {
        long left = stopping.deadline.remainingNanos();
        if (left <= 0) {
          queue.abandon(); // the drain deadline passed: the rest goes to the report
          return;
        }
        wait = Math.min(wait, left);
      }
      Object[] items;
      try {
        items = queue.take(wait);
      } catch (InterruptedException e) {
        continue;
      }
      if (items == null) {
        continue;
      }
      current = items;
      handle(items);
      current = null;
      if (++iterations == maxIterations) {
        selfStop(StopReason.MAX_ITERATIONS);
      }
    }
  }

  private void handle(Object[] items) {
    List<T> batch = new BatchList<>(items);
    Throwable failure = null;
    // The time-outs the retry saw, each to the worker's own, which has the handler's failure.
    IdentityHashMap<Throwable, TimeoutExceededException> timeouts = new IdentityHashMap<>(4);
    try {
      Retry policy = retry;
      if (policy == null) {
        attempt(batch);
      } else {
        policy.call(
            () -> {
              if (stoppedMidBatch()) {
                throw new Stopped(); // no attempt after the drain: the batch goes back
              }
              try {
                attempt(batch);
              } catch (TimeoutExceededException e) {
                // The retry walks causes: the handler's own exception on its interrupt (an
                // IOException) would have a retryOn(IOException) retry a time-out. It sees the
                // time-out alone, so only a retry that names TimeoutExceededException retries it.
                TimeoutExceededException seen = e.withoutCause();
                timeouts.put(seen, e);
                throw seen;
              } finally {
                if (stoppedMidBatch()) {
                  // The stop's interrupt may have been cleared (by a handler that turned it into
                  // an exception, or by the time limit ending at the same moment): set it again,
                  // so that the retry's backoff ends at once instead of outliving the shutdown.
                  Thread.currentThread().interrupt();
                }
              }
              return Boolean.TRUE;
            });
      }
    } catch (Throwable t) { // the handler's Errors too: the batch failed, the worker goes on
      failure = t;
    }
    if (failure == null) {
      queue.settle(items.length, true);
      return;
    }
    if (failure instanceof Stopped) {
      // The retry added the attempts' failures to it: the last one is the batch's failure.
      Throwable[] attempts = failure.getSuppressed();
      if (attempts.length > 0) {
        failure = attempts[attempts.length - 1];
      }
    }
    TimeoutExceededException own = timeouts.get(failure);
    if (own != null) {
      // The handler's time-out, with its cause, and the earlier attempts' failures in it.
      for (Throwable earlier : failure.getSuppressed()) {
        TimeoutExceededException ownEarlier = timeouts.get(earlier);
        own.addSuppressed(ownEarlier == null ? earlier : ownEarlier);
      }
      failure = own;
    }
    lastFailure = describe(failure);
    if (stoppedMidBatch() && queue.giveBack(items)) {
      return; // not confirmed: the report hands it back
    }
    deadLetter(items, batch, failure);
  }

  /**
   * Thrown inside the retry when a stop has ended the batch between two attempts: an {@link Error},
   * so that no retry retries it, and never seen outside the worker.
   */
  private static final class Stopped extends Error {
    private static final long serialVersionUID = 1L;

    Stopped() {
      super("the worker stopped before the batch was handled", null, true, false);
    }
  }

  /** Whether a stop ended this batch: the queue is abandoned, or the drain deadline has passed. */
  private boolean stoppedMidBatch() {
    Stop stopping = stop.get();
    return queue.abandoned() || (stopping != null && stopping.deadline.isExpired());
  }

  private void attempt(List<T> batch) throws Exception {
    Deadline limit = Deadline.after(batchTimeLimit);
    Stop stopping = stop.get();
    if (stopping != null) {
      limit = limit.min(stopping.deadline); // while draining, no attempt outlives the drain
    }
    long start = System.nanoTime();
    handlerReturned = false;
    try {
      Timeouts.within(
          limit,
          () -> {
            handler.handle(batch);
            handlerReturned = true;
            return Boolean.TRUE;
          });
    } catch (TimeoutExceededException e) {
      if (handlerReturned) {
        // The limit fired as the handler returned: it confirmed the batch, which stands.
        meters.attempt(WorkerMeters.Attempt.SUCCESS, System.nanoTime() - start);
        return;
      }
      failedAttempts.increment();
      timedOutAttempts.increment();
      meters.attempt(WorkerMeters.Attempt.TIMEOUT, System.nanoTime() - start);
      throw e;
    } catch (Throwable t) {
      failedAttempts.increment();
      meters.attempt(WorkerMeters.Attempt.FAILURE, System.nanoTime() - start);
      throw t;
    }
    meters.attempt(WorkerMeters.Attempt.SUCCESS, System.nanoTime() - start);
  }

  private void deadLetter(Object[] items, List<T> batch, Throwable failure) {
    Thread.interrupted(); // an interrupt that ended the batch must not end its dead letter too
    // A stop's interrupt may be the one just cleared: the queue says so, since it is abandoned
    // first.
    if (stoppedMidBatch() && queue.giveBack(items)) {
      return;
    }
    DeadLetterHandler<T> callback = deadLetter;
    if (callback == null) {
      long events = deadLetterLog.event();
      if (events > 0) {
        LOG.warn(
            "worker {}: a batch of {} items failed and was dropped: {}{}; set deadLetter to keep"
                + " failed batches",
            name,
            items.length,
            describe(failure),
            since(events, "batches"));
      }
    } else {
      Deadline limit = Deadline.after(batchTimeLimit);
      Stop stopping = stop.get();
      if (stopping != null) {
        limit = limit.min(stopping.deadline); // while draining, no dead letter outlives the drain
      }
      handlerReturned = false;
      try {
        Timeouts.within(
            limit,
            () -> {
              callback.deadLetter(batch, failure);
              handlerReturned = true;
              return Boolean.TRUE;
            });
      } catch (Throwable t) {
        if (!(t instanceof TimeoutExceededException && handlerReturned)) {
          if (stoppedMidBatch() && queue.giveBack(items)) {
            return; // cut short by the stop: not stored, so the report hands the items back
          }
          callbackFailed("dead-letter", deadLetterFailures, t);
        }
      }
    }
    queue.settle(items.length, false);
  }

  private void callbackFailed(String callback, LongAdder count, Throwable failure) {
    count.increment();
    long events = callbackLog.event();
    if (events > 0) {
      LOG.warn(
          "worker {}: the {} callback failed: {}{}",
          name,
          callback,
          describe(failure),
          since(events, "callback failures"));
    }
  }

  /**
   * {@code "Type: message"}, and its cause's, with URL credentials and secrets masked. Never
   * throws: a message or cause that cannot be read (its {@code getMessage()} throws) leaves the
   * type only.
   */
  static String describe(Throwable failure) {
    StringBuilder text = new StringBuilder();
    append(text, failure);
    Throwable cause;
    try {
      cause = failure.getCause();
    } catch (RuntimeException | LinkageError | AssertionError e) {
      cause = null;
    }
    if (cause != null && cause != failure) {
      text.append(" (caused by ");
      append(text, cause);
      text.append(')');
    }
    return Secrets.maskText(text.toString());
  }

  private static void append(StringBuilder text, Throwable failure) {
    text.append(failure.getClass().getSimpleName());
    String message;
    try {
      message = failure.getMessage();
    } catch (RuntimeException | LinkageError | AssertionError e) {
      return; // the type alone: a failure to describe must not fail the worker
    }
    if (message != null) {
      text.append(": ").append(message);
    }
  }

  // ---- memory ----

  private void checkMemory() {
    DoubleSupplier reading = memoryReading;
    if (reading == null) {
      return;
    }
    double used;
    boolean high;
    // Read under the lock: the notification thread and the consumer both read, and a reading
    // applied after a newer one would undo it.
    synchronized (memoryLock) {
      used = reading.getAsDouble();
      high = used >= memoryCeiling;
      if (high == memoryHigh) {
        return;
      }
      memoryHigh = high;
      if (memoryAction == MemoryAction.PAUSE) {
        queue.pause(high);
      }
    }
    String percent = Checks.format("%.0f%%", used * 100);
    String ceiling = Checks.format("%.0f%%", memoryCeiling * 100);
    if (memoryAction == MemoryAction.STOP) {
      if (high) {
        LOG.warn(
            "worker {}: heap at {} of its maximum, at its memory ceiling of {}: stopping",
            name,
            percent,
            ceiling);
        selfStop(StopReason.MEMORY_CEILING);
      }
      return;
    }
    long events = (high ? pauseLog : resumeLog).event();
    if (events == 0) {
      return;
    }
    if (high) {
      LOG.warn(
          "worker {}: heap at {} of its maximum, at its memory ceiling of {}: intake paused,"
              + " offers are rejected until it is below{}",
          name,
          percent,
          ceiling,
          since(events, "pauses"));
    } else {
      LOG.info(
          "worker {}: heap at {}, below its memory ceiling of {}: intake resumed",
          name,
          percent,
          ceiling);
    }
  }

  // ---- stopping ----

  /**
   * Begins a stop unless one has begun: closes intake and sets the drain deadline.
   *
   * @return the new stop, or null if another one began first
   */
  private @Nullable Stop beginStop(StopReason reason, Duration drain) {
    Stop proposed = new Stop(reason, Deadline.after(drain));
    if (!stop.compareAndSet(null, proposed)) {
      return null;
    }
    queue.closeIntake();
    LOG.info(
        "worker {}: stopping ({}): intake closed, draining for at most {}",
        name,
        reason.name().toLowerCase(Locale.ROOT),
        Checks.duration(drain));
    return proposed;
  }

  /** A stop at a limit: as {@link #close()}, with a thread of its own to make the report. */
  private void selfStop(StopReason reason) {
    Stop begun = beginStop(reason, drainTimeout);
    if (begun != null) {
      threads.newThread(() -> awaitStop(begun.deadline)).start();
    }
  }

  /**
   * Waits for the consumer until the deadline, then stops it and makes the report. Any number of
   * threads may wait; the first deadline to pass stops the consumer, and all get the one report.
   */
  private ShutdownReport<T> awaitStop(Deadline deadline) {
    ShutdownReport<T> done = finalReport;
    if (done != null) {
      return done;
    }
    boolean interrupted = false;
    try {
      // The consumer makes the report when it ends; another caller, when its own deadline passed.
      if (!reported.await(Math.max(0, deadline.remainingNanos()), TimeUnit.NANOSECONDS)) {
        abandon();
        reported.await(STOP_GRACE.toNanos(), TimeUnit.NANOSECONDS);
      }
    } catch (InterruptedException e) {
      interrupted = true;
      abandon(); // the caller wants out: stop now, without the grace
    }
    try {
      return finishReport();
    } finally {
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }

  private void abandon() {
    queue.abandon();
    consumer.interrupt();
  }

  private ShutdownReport<T> finishReport() {
    ShutdownReport<T> done;
    synchronized (reportLock) {
      done = finalReport;
      if (done != null) {
        return done;
      }
      WorkQueue.Final contents = queue.report();
      Stop stopped = Objects.requireNonNull(stop.get(), "a stop comes before its report");
      List<T> undelivered = castAll(contents.undelivered);
      done = new ShutdownReport<>(stopped.reason, undelivered, contents.ledger);
      finalReport = done;
    }
    try {
      meters.stopped();
      HeapReading heap = heapReading;
      if (heap != null) {
        heap.close();
      }
      WorkerLedger ledger = done.ledger();
      String reason = done.reason().name().toLowerCase(Locale.ROOT);
      if (done.drained()) {
        LOG.info(
            "worker {}: stopped ({}): {} processed, {} dead-lettered, {} rejected, {} dropped",
            name,
            reason,
            ledger.processed(),
            ledger.deadLettered(),
            ledger.rejected(),
            ledger.dropped());
      } else {
        LOG.warn(
            "worker {}: stopped ({}) before it was drained: {} items returned in the report, {} still"
                + " in a handler that did not stop; {} processed, {} dead-lettered",
            name,
            reason,
            ledger.returned(),
            ledger.inFlight(),
            ledger.processed(),
            ledger.deadLettered());
      }
    } finally {
      reported.countDown();
    }
    return done;
  }

  // Only items of type T are offered to the queue.
  @SuppressWarnings("unchecked")
  private List<T> castAll(List<Object> items) {
    return (List<T>) (List<?>) items;
  }

  /**
   * Stops the worker and returns what it did not handle.
   *
   * <ol>
   *   <li>Intake stops: every later offer is {@link Offer#REJECTED_CLOSED}, and producers waiting
   *       for room get it at once.
   *   <li>The queue drains: its items are handed to the handler in batches (partial ones without
   *       waiting for {@code flushEvery}), retried and dead-lettered as usual, until it is empty or
   *       {@code drainTimeout} has passed. Each attempt that starts meanwhile has the drain
   *       deadline as its limit, if that is earlier than {@code batchTimeLimit}.
   *   <li>At the deadline, the worker's thread is interrupted, and given 1 s to return. A batch it
   *       stopped in the handler (or its retry's backoff) is not confirmed, so its items come back
   *       in {@link ShutdownReport#undelivered()}, with the items still queued; none is dropped. No
   *       attempt starts after the deadline, and the backoff ends there, even when the handler
   *       turned its interrupt into an exception.
   *   <li>A handler that ignores its interrupt keeps its batch: the report counts those items in
   *       {@code inFlight}, and {@link #snapshot()} shows them processed or dead-lettered when it
   *       returns. The call does not wait for it.
   * </ol>
   *
   * <p>So it returns within {@code drainTimeout} plus 1 s, whatever the handler does. The meters
   * stay registered with their final counts, so a scrape after the shutdown reads them; a worker of
   * the same name built later in the same registry replaces them. Calling it again, or {@link
   * #close()}, returns the same report; a call during another stop (another thread's, or the
   * worker's own at a limit) waits for that stop, and ends its drain sooner if its own deadline is
   * earlier. An interrupt of the calling thread ends the drain at once, without the grace, and the
   * interrupt status is kept.
   *
   * @param drainTimeout how long to go on handling what is queued; zero stops at once. At most 1 h
   * @return the report: the stop reason, the items not handled, the final ledger
   * @throws IllegalArgumentException if {@code drainTimeout} is negative or longer than 1 h
   * @throws IllegalStateException if called from the worker's own handler or dead-letter handler,
   *     which it would wait for
   */
  public ShutdownReport<T> shutdown(Duration drainTimeout) {
    Checks.between("drainTimeout", drainTimeout, Duration.ZERO, MAX_DRAIN_TIMEOUT);
    ShutdownReport<T> done = finalReport;
    if (done != null) {
      return done;
    }
    if (Thread.currentThread() == consumer) {
      throw new IllegalStateException(
          Checks.format(
              "worker %s: shutdown and close must not be called from its own handler, which they"
                  + " wait for; call them from another thread",
              name));
    }
    Deadline mine = Deadline.after(drainTimeout);
    beginStop(StopReason.CLOSED, drainTimeout);
    return awaitStop(mine);
  }

  /**
   * Stops the worker as {@link #shutdown(Duration) shutdown(drainTimeout)} does, with the builder's
   * {@code drainTimeout} (10 s unless set). Calling it again does nothing more; {@link
   * #awaitTermination} returns the report.
   *
   * @throws IllegalStateException if called from the worker's own handler or dead-letter handler
   */
  @Override
  public void close() {
    shutdown(drainTimeout);
  }

  /**
   * Waits for the worker to stop, by {@link #close()}, {@link #shutdown} or by itself at a limit,
   * and returns its report.
   *
   * @param timeout how long to wait; zero only looks
   * @return the report, or empty if the worker has not stopped within {@code timeout}
   * @throws InterruptedException if the thread is interrupted while it waits
   * @throws IllegalArgumentException if {@code timeout} is negative
   */
  public Optional<ShutdownReport<T>> awaitTermination(Duration timeout)
      throws InterruptedException {
    Checks.notNegative("timeout", timeout);
    reported.await(Checks.saturatedNanos(timeout), TimeUnit.NANOSECONDS);
    return Optional.ofNullable(finalReport);
  }

  /**
   * Returns what the worker is doing and its counts, for a health check. The ledger, depth, offers
   * and alert crossings are read together and balance; the rest is read just after.
   *
   * @return a new snapshot
   */
  public WorkerSnapshot snapshot() {
    WorkQueue.Counts counts = queue.counts();
    Stop stopping = stop.get();
    WorkerState state;
    if (finalReport != null) {
      state = WorkerState.STOPPED;
    } else if (stopping != null) {
      state = WorkerState.STOPPING;
    } else {
      state = counts.paused ? WorkerState.PAUSED : WorkerState.RUNNING;
    }
    Map<Offer, Long> offers = new EnumMap<>(Offer.class);
    for (Offer outcome : Offer.values()) {
      offers.put(outcome, counts.offers(outcome));
    }
    return new WorkerSnapshot(
        name,
        state,
        stopping == null ? null : stopping.reason,
        capacity,
        counts.depth,
        counts.inHandler,
        counts.ledger,
        offers,
        counts.batches,
        failedAttempts.sum(),
        timedOutAttempts.sum(),
        deadLetterFailures.sum() + dropFailures.sum(),
        alertAt,
        counts.alertCrossings,
        lastFailure);
  }

  /** {@return {@code BoundedWorker[<name>, capacity=<n>, batchSize=<n>]}} */
  @Override
  public String toString() {
    return "BoundedWorker[" + name + ", capacity=" + capacity + ", batchSize=" + batchSize + "]";
  }

  /**
   * Configures a {@link BoundedWorker}. {@code capacity} and {@code handler} are required; every
   * other setting has a default, named with it. Each setting may be given once: a second time is an
   * {@link IllegalStateException}. A bad value is an {@link IllegalArgumentException} at the
   * setter, {@code "<setting> must be <rule>, but was <value>"}; rules between settings are checked
   * in {@link #build()}. Not thread-safe; the worker it builds is.
   *
   * @param <T> the item type
   */
  public static final class Builder<T> {
    private final String name;
    private int capacity = -1;
    private int batchSize = -1;
    private @Nullable Duration flushEvery;
    private @Nullable WhenFull whenFull;
    private @Nullable Duration blockWait;
    private @Nullable Consumer<? super T> onDrop;
    private @Nullable BatchHandler<T> handler;
    private @Nullable DeadLetterHandler<T> deadLetter;
    private @Nullable Duration batchTimeLimit;
    private @Nullable Retry retry;
    private long maxIterations = -1;
    private @Nullable Duration maxRuntime;
    private double memoryCeiling = Double.NaN;
    private MemoryAction memoryAction = MemoryAction.PAUSE;
    private int alertAt = -1;
    private @Nullable Duration drainTimeout;
    private @Nullable MeterRegistry meterRegistry;
    private Ticker ticker = Ticker.system();
    private @Nullable DoubleSupplier memoryReading;

    private Builder(String name) {
      this.name = Checks.identifier("name", name);
    }

    /**
     * Sets the most items the queue holds: the bound on its memory, and the point at which the
     * {@code whenFull} policy applies. Required. The queue's array of that many references is made
     * at once (4 MB for 1,000,000 items with compressed references).
     *
     * @param capacity 1 to 1,000,000 items; the audits' activity log used 10,000
     * @return this builder
     * @throws IllegalArgumentException if out of range
     * @throws IllegalStateException if already set
     */
    public Builder<T> capacity(int capacity) {
      Checks.requireUnset("capacity", this.capacity >= 0, this.capacity);
      this.capacity = Checks.between("capacity", capacity, 1, MAX_CAPACITY);
      return this;
    }

    /**
     * Sets the most items per handler call. A full batch is handed over as soon as it is queued.
     * Default: 100 items, or the capacity when that is smaller.
     *
     * @param batchSize 1 to 100,000 items, and at most {@code capacity} (checked in {@link
     *     #build()})
     * @return this builder
     * @throws IllegalArgumentException if out of range
     * @throws IllegalStateException if already set
     */
    public Builder<T> batchSize(int batchSize) {
      Checks.requireUnset("batchSize", this.batchSize >= 0, this.batchSize);
      this.batchSize = Checks.between("batchSize", batchSize, 1, MAX_BATCH_SIZE);
      return this;
    }

    /**
     * Sets how long a partial batch may wait for more items: it is handed over at most this long
     * after its first item arrived, when the worker's thread is free (sooner, at most once, when a
     * full batch left it behind). Default: 1 s.
     *
     * @param flushEvery 1 ms to 1 h
     * @return this builder
     * @throws IllegalArgumentException if out of range
     * @throws IllegalStateException if already set
     */
    public Builder<T> flushEvery(Duration flushEvery) {
      Checks.requireUnset("flushEvery", this.flushEvery);
      this.flushEvery = Checks.between("flushEvery", flushEvery, MIN_DURATION, MAX_FLUSH_EVERY);
      return this;
    }

    /**
     * When the queue is full, rejects the offer: {@link Offer#REJECTED_FULL}, at once. The default;
     * for callers that must never wait, such as request threads. One of the three {@code whenFull}
     * policies may be chosen.
     *
     * @return this builder
     * @throws IllegalStateException if a {@code whenFull} policy was already chosen
     */
    public Builder<T> rejectWhenFull() {
      whenFull(WhenFull.REJECT, null);
      return this;
    }

    /**
     * When the queue is full, waits for room up to {@code maxWait}: {@link Offer#REJECTED_TIMEOUT}
     * if none comes, {@link Offer#REJECTED_INTERRUPTED} if the caller is interrupted, {@link
     * Offer#REJECTED_CLOSED} if the worker stops meanwhile. For producers that may slow down to the
     * worker's pace: backpressure.
     *
     * @param maxWait 1 ms to 1 h
     * @return this builder
     * @throws IllegalArgumentException if out of range
     * @throws IllegalStateException if a {@code whenFull} policy was already chosen
     */
    public Builder<T> blockWhenFull(Duration maxWait) {
      Checks.between("maxWait", maxWait, MIN_DURATION, MAX_BLOCK);
      whenFull(WhenFull.BLOCK, maxWait);
      return this;
    }

    /**
     * When the queue is full, drops its oldest item to queue the new one: {@link
     * Offer#ACCEPTED_DROPPED_OLDEST}. For data whose newest items matter most (positions, gauges).
     * The dropped item is counted in {@link WorkerLedger#dropped()} and handed to {@link #onDrop},
     * or, without one, logged at WARN at most once per 10 s with the count.
     *
     * @return this builder
     * @throws IllegalStateException if a {@code whenFull} policy was already chosen
     */
    public Builder<T> dropOldestWhenFull() {
      whenFull(WhenFull.DROP_OLDEST, null);
      return this;
    }

    private void whenFull(WhenFull policy, @Nullable Duration wait) {
      Checks.requireUnset("whenFull", whenFull != null, describeWhenFull());
      this.whenFull = policy;
      this.blockWait = wait;
    }

    private @Nullable String describeWhenFull() {
      WhenFull policy = whenFull;
      if (policy == null) {
        return null;
      }
      switch (policy) {
        case BLOCK:
          return "block up to " + Checks.duration(Objects.requireNonNull(blockWait, "blockWait"));
        case DROP_OLDEST:
          return "drop oldest";
        default:
          return "reject";
      }
    }

    /**
     * Sets what receives each item {@link #dropOldestWhenFull()} drops. It runs on the thread of
     * the offer that dropped it, outside the queue's lock; what it throws (an {@link Error} too,
     * but for a {@link VirtualMachineError}) is counted in {@link
     * WorkerSnapshot#callbackFailures()} and logged, and the offer still returns {@link
     * Offer#ACCEPTED_DROPPED_OLDEST}, since the new item is queued. Default: none; drops are logged
     * at WARN, at most once per 10 s.
     *
     * @param onDrop the callback; keep it short, it delays the offer
     * @return this builder
     * @throws IllegalStateException if already set
     */
    public Builder<T> onDrop(Consumer<? super T> onDrop) {
      Checks.requireUnset("onDrop", this.onDrop);
      this.onDrop = Objects.requireNonNull(onDrop, "onDrop");
      return this;
    }

    /**
     * Sets what handles each batch. Required.
     *
     * @param handler called once per batch on the worker's thread; see {@link BatchHandler}
     * @return this builder
     * @throws IllegalStateException if already set
     */
    public Builder<T> handler(BatchHandler<T> handler) {
      Checks.requireUnset("handler", this.handler);
      this.handler = Objects.requireNonNull(handler, "handler");
      return this;
    }

    /**
     * Sets what takes a batch that failed its last attempt. Default: none; the batch's items are
     * counted as dead-lettered and dropped, and a WARN names the failure, at most once per 10 s
     * with the count of batches. Set one to keep them.
     *
     * @param deadLetter called on the worker's thread; see {@link DeadLetterHandler}
     * @return this builder
     * @throws IllegalStateException if already set
     */
    public Builder<T> deadLetter(DeadLetterHandler<T> deadLetter) {
      Checks.requireUnset("deadLetter", this.deadLetter);
      this.deadLetter = Objects.requireNonNull(deadLetter, "deadLetter");
      return this;
    }

    /**
     * Sets the time limit of each handler call, and of each dead-letter call. At the limit the
     * worker's thread is interrupted, the call fails with {@link TimeoutExceededException} (an
     * attempt like any other for the retry), and it is counted in {@link
     * WorkerSnapshot#timedOutAttempts()}. While it runs it is the thread's current {@link
     * Deadline}, which bulwark's JDBC, Redis and HTTP helpers clamp to; a handler that ignores
     * interrupts (pgjdbc does) should clamp its statements so: {@code
     * JdbcTimeouts.applyTo(statement, ...)}. Default: 30 s.
     *
     * @param batchTimeLimit 1 ms to 24 h
     * @return this builder
     * @throws IllegalArgumentException if out of range
     * @throws IllegalStateException if already set
     */
    public Builder<T> batchTimeLimit(Duration batchTimeLimit) {
      Checks.requireUnset("batchTimeLimit", this.batchTimeLimit);
      this.batchTimeLimit =
          Checks.between("batchTimeLimit", batchTimeLimit, MIN_DURATION, MAX_BATCH_TIME_LIMIT);
      return this;
    }

    /**
     * Sets how a failed batch is tried again: the retry's failure types, attempts, backoff with
     * full jitter, {@code maxDuration} and budget apply, each attempt under its own {@code
     * batchTimeLimit}. A time-out is retried only if the retry names {@link
     * TimeoutExceededException}. The backoff waits on the worker's thread, which handles nothing
     * else meanwhile. Default: none, one attempt per batch.
     *
     * @param retry the retry; share none with callers whose counts must stay apart
     * @return this builder
     * @throws IllegalStateException if already set
     */
    public Builder<T> retry(Retry retry) {
      Checks.requireUnset("retry", this.retry);
      this.retry = Objects.requireNonNull(retry, "retry");
      return this;
    }

    /**
     * Sets how many batches the worker handles before it stops by itself, as {@link #close()} does,
     * with {@link StopReason#MAX_ITERATIONS}: intake stops and the queue drains for {@code
     * drainTimeout}, so those last batches come on top. A bound on a loop's life: the audits' was
     * 86,400. Default: none.
     *
     * @param maxIterations at least 1
     * @return this builder
     * @throws IllegalArgumentException if less than 1
     * @throws IllegalStateException if already set
     */
    public Builder<T> maxIterations(long maxIterations) {
      Checks.requireUnset("maxIterations", this.maxIterations >= 0, this.maxIterations);
      if (maxIterations < 1) {
        throw Checks.invalid("maxIterations must be at least 1, but was %d", maxIterations);
      }
      this.maxIterations = maxIterations;
      return this;
    }

    /**
     * Sets how long the worker runs, from {@link #build()}, before it stops by itself as {@link
     * #close()} does, with {@link StopReason#MAX_RUNTIME}. Checked between batches and at least
     * every 100 ms: a batch running at the limit finishes first (within its {@code
     * batchTimeLimit}). The audits' was 24 h. Default: none.
     *
     * @param maxRuntime positive
     * @return this builder
     * @throws IllegalArgumentException if not positive
     * @throws IllegalStateException if already set
     */
    public Builder<T> maxRuntime(Duration maxRuntime) {
      Checks.requireUnset("maxRuntime", this.maxRuntime);
      this.maxRuntime = Checks.positive("maxRuntime", maxRuntime);
      return this;
    }

    /**
     * Pauses intake while the heap is at or above {@code heapFraction} of its maximum: offers are
     * {@link Offer#REJECTED_MEMORY}, and the worker goes on handling what it holds, until the heap
     * is below it again. The same as {@code memoryCeiling(heapFraction, MemoryAction.PAUSE)}.
     *
     * @param heapFraction 0.01 to 0.99 of the heap's maximum ({@code -Xmx}); the audits' was 0.9
     * @return this builder
     * @throws IllegalArgumentException if out of range
     * @throws IllegalStateException if already set
     * @see #memoryCeiling(double, MemoryAction)
     */
    public Builder<T> memoryCeiling(double heapFraction) {
      return memoryCeiling(heapFraction, MemoryAction.PAUSE);
    }

    /**
     * Sets a memory ceiling and what the worker does at it: pause intake ({@link
     * MemoryAction#PAUSE}, the default), or stop as {@link #close()} does ({@link
     * MemoryAction#STOP}, with {@link StopReason#MEMORY_CEILING}), so that a supervisor restarts
     * the process.
     *
     * <p>The heap is read just after each garbage collection, from the collectors' notifications:
     * the heap in use then (live data and what the collector could not free), summed over the
     * heap's pools, as a fraction of the heap's maximum. That leaves out the garbage that fills the
     * young generation between collections, which would cross a high ceiling before most young
     * collections of a busy heap. The notifications of the pauses within a ZGC or Shenandoah cycle,
     * which end no collection and give zero bytes used, are not readings. The worker acts on each
     * reading at once, one at a time. Until the first collection, or on a JVM without the
     * notifications, the heap's current usage is read instead, before each batch and at least every
     * 100 ms, which errs high. The JVM's usage thresholds are not used: they are one setting per
     * memory pool for the whole JVM, which two workers or a monitoring agent would overwrite for
     * each other. Default: no ceiling.
     *
     * @param heapFraction 0.01 to 0.99 of the heap's maximum
     * @param action what to do at the ceiling
     * @return this builder
     * @throws IllegalArgumentException if out of range
     * @throws IllegalStateException if already set
     */
    public Builder<T> memoryCeiling(double heapFraction, MemoryAction action) {
      Checks.requireUnset(
          "memoryCeiling", !Double.isNaN(memoryCeiling), memoryCeiling + " " + memoryAction);
      Objects.requireNonNull(action, "action");
      if (!(heapFraction >= MIN_MEMORY_CEILING && heapFraction <= MAX_MEMORY_CEILING)) {
        throw Checks.invalid(
            "memoryCeiling must be between %s and %s of the heap, but was %s",
            MIN_MEMORY_CEILING, MAX_MEMORY_CEILING, heapFraction);
      }
      this.memoryCeiling = heapFraction;
      this.memoryAction = action;
      return this;
    }

    /**
     * Sets the queue depth that raises an alert: when the depth rises to it, the worker logs a WARN
     * (at most once per 10 s, with the count of crossings meanwhile) and counts a crossing in
     * {@link WorkerSnapshot#alertCrossings()} and {@code bulwark.jobs.worker.alerts}. The next
     * crossing counts once the depth has gone below it again. Watch {@code
     * bulwark.jobs.worker.depth} for the depth itself. The audits' was 5,000 of 10,000. Default:
     * none.
     *
     * @param depth 1 to 1,000,000 items, and at most {@code capacity} (checked in {@link #build()})
     * @return this builder
     * @throws IllegalArgumentException if out of range
     * @throws IllegalStateException if already set
     */
    public Builder<T> alertAt(int depth) {
      Checks.requireUnset("alertAt", alertAt >= 0, alertAt);
      this.alertAt = Checks.between("alertAt", depth, 1, MAX_CAPACITY);
      return this;
    }

    /**
     * Sets how long {@link BoundedWorker#close()}, and a stop at a limit, go on handling what is
     * queued before they interrupt the handler; {@link BoundedWorker#shutdown(Duration)} takes its
     * own. Default: 10 s.
     *
     * @param drainTimeout 0 to 1 h; zero hands everything queued back at once
     * @return this builder
     * @throws IllegalArgumentException if out of range
     * @throws IllegalStateException if already set
     */
    public Builder<T> drainTimeout(Duration drainTimeout) {
      Checks.requireUnset("drainTimeout", this.drainTimeout);
      this.drainTimeout =
          Checks.between("drainTimeout", drainTimeout, Duration.ZERO, MAX_DRAIN_TIMEOUT);
      return this;
    }

    /**
     * Registers the worker's meters there, each tagged {@code name}: counters {@code
     * bulwark.jobs.worker.submitted}, {@code .rejected} (tagged {@code reason}), {@code .dropped},
     * {@code .processed}, {@code .dead.lettered}, {@code .returned}, {@code .alerts} and {@code
     * .callback.failures} (tagged {@code callback}: {@code dead_letter}, {@code drop}); gauges
     * {@code .depth} and {@code .in.flight}; a timer {@code .attempts} tagged {@code outcome}
     * ({@code success}, {@code failure}, {@code timeout}). They stay registered after the worker's
     * report, with its final counts, for a last scrape; a worker of the same name built later in
     * this registry removes them and registers its own. Default: no meters.
     *
     * @param registry the registry
     * @return this builder
     * @throws IllegalStateException if already set
     */
    public Builder<T> meterRegistry(MeterRegistry registry) {
      Objects.requireNonNull(registry, "meterRegistry");
      Checks.requireUnset("meterRegistry", meterRegistry);
      this.meterRegistry = registry;
      return this;
    }

    /**
     * For tests: the clock of {@code flushEvery}, {@code maxRuntime} and the log intervals. Time
     * limits and drains stay on the system's clock, which the shared watchdog fires on.
     */
    Builder<T> ticker(Ticker ticker) {
      this.ticker = Objects.requireNonNull(ticker, "ticker");
      return this;
    }

    /**
     * For tests: the heap reading of the memory ceiling, read before each batch and at least every
     * 100 ms, instead of the JVM's.
     */
    Builder<T> memoryReading(DoubleSupplier reading) {
      this.memoryReading = Objects.requireNonNull(reading, "reading");
      return this;
    }

    /**
     * Builds and starts the worker: its thread starts at once.
     *
     * @return a running worker
     * @throws IllegalStateException if {@code capacity} or {@code handler} is not set, if {@code
     *     onDrop} is set without {@link #dropOldestWhenFull()}, or if {@code meterRegistry} holds
     *     the meters of a running worker of this name already
     * @throws IllegalArgumentException if {@code batchSize} or {@code alertAt} is larger than
     *     {@code capacity}
     */
    public BoundedWorker<T> build() {
      if (capacity < 0) {
        throw new IllegalStateException(
            Checks.format(
                "capacity must be set: the most items the queue holds, 1 to %d", MAX_CAPACITY));
      }
      if (handler == null) {
        throw new IllegalStateException("handler must be set: it takes each batch");
      }
      if (batchSize > capacity) {
        throw Checks.invalid(
            "batchSize must be at most capacity (%d), but was %d", capacity, batchSize);
      }
      if (alertAt > capacity) {
        throw Checks.invalid(
            "alertAt must be at most capacity (%d), but was %d", capacity, alertAt);
      }
      if (onDrop != null && whenFull != WhenFull.DROP_OLDEST) {
        throw new IllegalStateException(
            Checks.format(
                "onDrop needs dropOldestWhenFull(), but whenFull is %s",
                whenFull == null ? "reject (the default)" : describeWhenFull()));
      }
      BoundedWorker<T> worker = new BoundedWorker<>(this);
      worker.start();
      return worker;
    }

    /**
     * The settings given, for logs.
     *
     * @return {@code BoundedWorker.Builder[name=..., capacity=..., ...]}, only what was set
     */
    @Override
    public String toString() {
      StringJoiner out = new StringJoiner(", ", "BoundedWorker.Builder[", "]");
      out.add("name=" + name);
      Checks.addSetting(out, "capacity", capacity >= 0 ? capacity : null);
      Checks.addSetting(out, "batchSize", batchSize >= 0 ? batchSize : null);
      Checks.addSetting(out, "flushEvery", flushEvery);
      Checks.addSetting(out, "whenFull", describeWhenFull());
      Checks.addSetting(out, "onDrop", onDrop == null ? null : "set");
      Checks.addSetting(out, "handler", handler == null ? null : "set");
      Checks.addSetting(out, "deadLetter", deadLetter == null ? null : "set");
      Checks.addSetting(out, "batchTimeLimit", batchTimeLimit);
      Checks.addSetting(out, "retry", retry);
      Checks.addSetting(out, "maxIterations", maxIterations >= 0 ? maxIterations : null);
      Checks.addSetting(out, "maxRuntime", maxRuntime);
      Checks.addSetting(
          out,
          "memoryCeiling",
          Double.isNaN(memoryCeiling) ? null : memoryCeiling + " " + memoryAction);
      Checks.addSetting(out, "alertAt", alertAt >= 0 ? alertAt : null);
      Checks.addSetting(out, "drainTimeout", drainTimeout);
      Checks.addSetting(out, "meterRegistry", meterRegistry == null ? null : "set");
      return out.toString();
    }
  }
}

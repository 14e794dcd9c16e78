package dev.bulwark.jobs;

import dev.bulwark.core.internal.Meters;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.WeakHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.ToDoubleFunction;
import org.jspecify.annotations.Nullable;

/**
 * A worker's meters, each tagged {@code name}. The ledger's meters read the queue under its lock
 * when the registry asks, so counting costs the hot path nothing; the attempts are a timer.
 *
 * <p>They stay registered after the worker's report, so that a scrape after the shutdown reads the
 * final counts ({@code returned} among them). {@link #stopped()} marks them as a stopped worker's:
 * a worker of the same name built later in the same registry removes them and registers its own,
 * while a running worker's meters make such a build fail. Thread-safe.
 */
final class WorkerMeters {
  static final String SUBMITTED = Meters.name("jobs", "worker.submitted");
  static final String REJECTED = Meters.name("jobs", "worker.rejected");
  static final String DROPPED = Meters.name("jobs", "worker.dropped");
  static final String PROCESSED = Meters.name("jobs", "worker.processed");
  static final String DEAD_LETTERED = Meters.name("jobs", "worker.dead.lettered");
  static final String RETURNED = Meters.name("jobs", "worker.returned");
  static final String IN_FLIGHT = Meters.name("jobs", "worker.in.flight");
  static final String DEPTH = Meters.name("jobs", "worker.depth");
  static final String ATTEMPTS = Meters.name("jobs", "worker.attempts");
  static final String CALLBACK_FAILURES = Meters.name("jobs", "worker.callback.failures");
  static final String ALERTS = Meters.name("jobs", "worker.alerts");

  /** How an attempt ended, the {@code outcome} tag of {@code bulwark.jobs.worker.attempts}. */
  enum Attempt {
    SUCCESS("success"),
    FAILURE("failure"),
    TIMEOUT("timeout");

    final String tag;

    Attempt(String tag) {
      this.tag = tag;
    }
  }

  /**
   * The meters of stopped workers, by registry and name, until a worker of the same name replaces
   * them. The registries are weak keys; the values hold no registry.
   */
  private static final Map<MeterRegistry, Map<String, List<Meter>>> STOPPED = new WeakHashMap<>();

  private final String name;
  private final @Nullable MeterRegistry registry;
  private final List<Meter> meters = new ArrayList<>();

  /** Filled in the constructor, read-only afterwards. */
  private final Map<Attempt, Timer> attempts = new EnumMap<>(Attempt.class);

  /**
   * Registers the meters.
   *
   * @throws IllegalStateException if the registry holds a worker of this name already
   */
  WorkerMeters(
      String name,
      @Nullable MeterRegistry registry,
      WorkQueue queue,
      LongAdder deadLetterFailures,
      LongAdder dropFailures) {
    this.name = name;
    this.registry = registry;
    if (registry == null) {
      return;
    }
    removeStopped(registry, name);
    Meters.requireUnused(registry, SUBMITTED, "worker", name, "name");
    counter(SUBMITTED, queue, q -> q.counts().ledger.submitted(), "Items offered, all outcomes");
    for (Offer outcome : Offer.values()) {
      if (!outcome.accepted()) {
        meters.add(
            FunctionCounter.builder(REJECTED, queue, q -> q.counts().offers(outcome))
                .tag(Meters.NAME_TAG, name)
                .tag("reason", outcome.tag())
                .baseUnit("items")
                .description("Items refused at the offer, by reason")
                .register(registry));
      }
    }
    counter(
        DROPPED, queue, q -> q.counts().ledger.dropped(), "Queued items dropped for newer ones");
    counter(PROCESSED, queue, q -> q.counts().ledger.processed(), "Items the handler confirmed");
    counter(
        DEAD_LETTERED,
        queue,
        q -> q.counts().ledger.deadLettered(),
        "Items of batches that failed every attempt");
    counter(
        RETURNED,
        queue,
        q -> q.counts().ledger.returned(),
        "Items handed back unhandled in the shutdown report");
    gauge(IN_FLIGHT, queue, q -> q.counts().ledger.inFlight(), "Items queued or in the handler");
    gauge(DEPTH, queue, q -> q.counts().depth, "Items queued");
    counter(ALERTS, queue, q -> q.counts().alertCrossings, "Times the depth rose to alertAt");
    meters.add(callbackFailures("dead_letter", deadLetterFailures));
    meters.add(callbackFailures("drop", dropFailures));
    for (Attempt attempt : Attempt.values()) {
      Timer timer =
          Timer.builder(ATTEMPTS)
              .tag(Meters.NAME_TAG, name)
              .tag("outcome", attempt.tag)
              .description("Handler calls, by how they ended")
              .register(registry);
      attempts.put(attempt, timer);
      meters.add(timer);
    }
  }

  private FunctionCounter callbackFailures(String callback, LongAdder count) {
    MeterRegistry given = java.util.Objects.requireNonNull(registry, "registry");
    return FunctionCounter.builder(CALLBACK_FAILURES, count, LongAdder::sum)
        .tag(Meters.NAME_TAG, name)
        .tag("callback", callback)
        .description("Dead-letter and drop callbacks that threw or ran out of time")
        .register(given);
  }

  private void counter(
      String meter, WorkQueue queue, ToDoubleFunction<WorkQueue> value, String description) {
    MeterRegistry given = java.util.Objects.requireNonNull(registry, "registry");
    meters.add(
        FunctionCounter.builder(meter, queue, value)
            .tag(Meters.NAME_TAG, name)
            .baseUnit("items")
            .description(description)
            .register(given));
  }

  private void gauge(
      String meter, WorkQueue queue, ToDoubleFunction<WorkQueue> value, String description) {
    MeterRegistry given = java.util.Objects.requireNonNull(registry, "registry");
    meters.add(
        Gauge.builder(meter, queue, value)
            .tag(Meters.NAME_TAG, name)
            .baseUnit("items")
            .description(description)
            .strongReference(true)
            .register(given));
  }

  void attempt(Attempt outcome, long nanos) {
    Timer timer = attempts.get(outcome);
    if (timer != null) {
      timer.record(nanos, TimeUnit.NANOSECONDS);
    }
  }

  /** Removes the meters a stopped worker of this name left in the registry, if any. */
  private static void removeStopped(MeterRegistry registry, String name) {
    List<Meter> left;
    synchronized (STOPPED) {
      Map<String, List<Meter>> byName = STOPPED.get(registry);
      left = byName == null ? null : byName.remove(name);
      if (byName != null && byName.isEmpty()) {
        STOPPED.remove(registry);
      }
    }
    if (left != null) {
      for (Meter meter : left) {
        registry.remove(meter);
      }
    }
  }

  /**
   * Marks the meters as a stopped worker's: they stay registered, with their final counts, until a
   * worker of the same name is built in the registry. Calling it again does nothing more.
   */
  void stopped() {
    MeterRegistry given = registry;
    if (given == null) {
      return;
    }
    synchronized (STOPPED) {
      STOPPED.computeIfAbsent(given, r -> new HashMap<>()).put(name, List.copyOf(meters));
    }
  }
}

package dev.bulwark.jobs;

import java.util.Collections;
import java.util.EnumMap;
import java.util.Map;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * A {@link BoundedWorker} at one moment, for health checks and dashboards. The ledger, depth,
 * offers and alert crossings are read together, under the queue's lock, so they agree with each
 * other; the attempt counts are read just after. Immutable.
 *
 * @param name the worker's name
 * @param state what it is doing
 * @param stopReason why it is stopping or stopped; null while it runs
 * @param capacity the most items its queue holds
 * @param depth the items queued now, not yet in a batch
 * @param inHandler the items of the batch in the handler (or the dead-letter handler) now
 * @param ledger where every item offered is; {@code ledger.inFlight()} is {@code depth + inHandler}
 * @param offers offers by outcome; every outcome is present
 * @param batches batches taken from the queue and handed to the handler, those stopped by a
 *     shutdown included: the iterations {@code maxIterations} counts
 * @param failedAttempts handler calls that threw, time-outs included
 * @param timedOutAttempts handler calls stopped by {@code batchTimeLimit} or the drain deadline
 * @param callbackFailures dead-letter and drop callbacks that threw or ran out of time
 * @param alertAt the depth that raises the alert, 0 when none is set
 * @param alertCrossings how often the depth rose to {@code alertAt}
 * @param lastFailure the last handler failure, as {@code "Type: message"} with URL credentials and
 *     secret parameters masked; null before the first
 */
public record WorkerSnapshot(
    String name,
    WorkerState state,
    @Nullable StopReason stopReason,
    int capacity,
    int depth,
    int inHandler,
    WorkerLedger ledger,
    Map<Offer, Long> offers,
    long batches,
    long failedAttempts,
    long timedOutAttempts,
    long callbackFailures,
    int alertAt,
    long alertCrossings,
    @Nullable String lastFailure) {

  /**
   * Copies the offers, with every outcome present.
   *
   * @param name the worker's name
   * @param state its state
   * @param stopReason why it stops, or null
   * @param capacity its capacity
   * @param depth items queued
   * @param inHandler items in the handler
   * @param ledger the ledger
   * @param offers offers by outcome
   * @param batches batches handed to the handler
   * @param failedAttempts failed handler calls
   * @param timedOutAttempts timed-out handler calls
   * @param callbackFailures failed callbacks
   * @param alertAt the alert threshold, or 0
   * @param alertCrossings alert crossings
   * @param lastFailure the last failure, masked, or null
   * @throws NullPointerException if a reference other than {@code stopReason} and {@code
   *     lastFailure} is null
   */
  public WorkerSnapshot {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(state, "state");
    Objects.requireNonNull(ledger, "ledger");
    EnumMap<Offer, Long> all = new EnumMap<>(Offer.class);
    for (Offer offer : Offer.values()) {
      all.put(offer, offers.getOrDefault(offer, 0L));
    }
    offers = Collections.unmodifiableMap(all);
  }

  /**
   * The offers of one outcome.
   *
   * @param outcome the outcome
   * @return their count
   */
  public long offers(Offer outcome) {
    Long count = offers.get(outcome);
    return count == null ? 0 : count;
  }
}

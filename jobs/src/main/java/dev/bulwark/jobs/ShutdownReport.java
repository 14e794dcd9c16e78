package dev.bulwark.jobs;

import java.util.List;
import java.util.Objects;

/**
 * How a {@link BoundedWorker} ended: why, what it hands back, and its final ledger. Made once per
 * worker; {@link BoundedWorker#shutdown}, {@link BoundedWorker#close()} and {@link
 * BoundedWorker#awaitTermination} all return the same report. Immutable.
 *
 * @param reason why the worker stopped; the first reason wins, so a {@code close()} during a stop
 *     for {@link StopReason#MAX_RUNTIME} reports {@code MAX_RUNTIME}
 * @param undelivered the items the worker took and did not handle, oldest first: a batch that was
 *     stopped in the handler (its handling was not confirmed, so it may have been partly applied),
 *     then the items still queued. Never dropped: it is for the caller to store, re-queue or log.
 *     Its size is {@code ledger.returned()}
 * @param ledger the counts when the report was made; {@code inFlight} is not zero only when a
 *     handler went on past the drain deadline and its interrupt: those items are still in the
 *     handler, and are counted as processed or dead-lettered when it returns ({@link
 *     BoundedWorker#snapshot()} shows it)
 * @param <T> the item type
 */
public record ShutdownReport<T>(StopReason reason, List<T> undelivered, WorkerLedger ledger) {

  /**
   * Copies the list.
   *
   * @param reason why the worker stopped
   * @param undelivered the items handed back
   * @param ledger the final counts
   * @throws NullPointerException if an argument or an item is null
   */
  public ShutdownReport {
    Objects.requireNonNull(reason, "reason");
    undelivered = List.copyOf(undelivered);
    Objects.requireNonNull(ledger, "ledger");
  }

  /**
   * Whether the drain finished in time: every item taken before the stop was handled (processed or
   * dead-lettered), none is handed back and none is still in the handler.
   *
   * @return true when {@code ledger.returned()} and {@code ledger.inFlight()} are both zero
   */
  public boolean drained() {
    return ledger.returned() == 0 && ledger.inFlight() == 0;
  }
}

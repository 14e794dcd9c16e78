package dev.bulwark.jobs;

/**
 * Where every item offered to a {@link BoundedWorker} is, at one moment. Every term is counted on
 * its own, under the queue's lock, so the ledger balances in every snapshot and report:
 *
 * <pre>{@code
 * submitted = processed + deadLettered + rejected + dropped + returned + inFlight
 * }</pre>
 *
 * <p>and {@link #unaccounted()}, the difference, is zero; a health check may alert on anything
 * else. The counts are cumulative since the worker was built. Immutable.
 *
 * @param submitted items offered: every call of {@link BoundedWorker#offer(Object)} with an item,
 *     whatever its outcome
 * @param processed items in batches that the handler returned from normally
 * @param deadLettered items in batches that failed every attempt and were handed to the dead-letter
 *     handler (counted when it returns, whether or not it threw)
 * @param rejected items refused at the offer: every {@link Offer} that is not {@linkplain
 *     Offer#accepted() accepted}
 * @param dropped items that were queued and then dropped to make room for a newer one ({@link
 *     Offer#ACCEPTED_DROPPED_OLDEST})
 * @param returned items handed back, unhandled, in the {@link ShutdownReport}: those still queued
 *     when the worker stopped, and those of a batch stopped in the handler
 * @param inFlight items queued or in the handler (the dead-letter handler included): accepted and
 *     not yet accounted for by any other term
 */
public record WorkerLedger(
    long submitted,
    long processed,
    long deadLettered,
    long rejected,
    long dropped,
    long returned,
    long inFlight) {

  /**
   * The items the other terms do not account for: {@code submitted} minus all the others.
   *
   * @return 0 when the ledger balances, which it does in every ledger a worker makes
   */
  public long unaccounted() {
    return submitted - processed - deadLettered - rejected - dropped - returned - inFlight;
  }
}

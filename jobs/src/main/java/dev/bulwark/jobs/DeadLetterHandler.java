package dev.bulwark.jobs;

import java.util.List;

/**
 * Takes a batch that failed every attempt, so that its items are kept (a table of failed entries, a
 * file, a log) instead of lost.
 *
 * <p>It runs on the worker's consumer thread, under the same {@code batchTimeLimit} as the handler
 * (during a shutdown's drain, under the drain deadline when that is earlier). Its items count as
 * dead-lettered once it returns, whether or not it throws; a failure of its own is counted in
 * {@link WorkerSnapshot#callbackFailures()} and {@code bulwark.jobs.worker.callback.failures},
 * logged at WARN at most once per 10 s, and never stops the worker. One exception: a call that a
 * shutdown cut short (it threw after the drain deadline, or after the shutdown's interrupt) did not
 * keep the batch, so its items come back in {@link ShutdownReport#undelivered()} instead, not
 * counted as a failure.
 *
 * @param <T> the item type
 */
@FunctionalInterface
public interface DeadLetterHandler<T> {

  /**
   * Takes the failed batch.
   *
   * @param batch the batch, as the handler saw it; unmodifiable, and it may be kept
   * @param failure the last attempt's failure, the earlier attempts' failures suppressed in it (as
   *     {@link dev.bulwark.timeouts.Retry} leaves them); a {@link
   *     dev.bulwark.timeouts.TimeoutExceededException} for an attempt stopped at its time limit
   * @throws Exception if it cannot keep them; counted and logged
   */
  void deadLetter(List<T> batch, Throwable failure) throws Exception;
}

package dev.bulwark.jobs;

import java.util.List;

/**
 * Handles one batch of a {@link BoundedWorker}'s items: {@code batch ->
 * repository.insertAll(batch)}.
 *
 * <p>It runs on the worker's one consumer thread, one batch at a time, under the worker's {@code
 * batchTimeLimit}: the limit is the thread's current {@link dev.bulwark.timeouts.Deadline} while it
 * runs, so bulwark's client helpers inside it ({@code JdbcTimeouts}, {@code RedisTimeouts}, {@code
 * HttpTimeouts}) clamp their timeouts to it, and at the limit the thread is interrupted. Returning
 * normally confirms the whole batch; throwing fails it, and the worker's retry decides whether it
 * is tried again, before it goes to the dead-letter handler.
 *
 * @param <T> the item type
 */
@FunctionalInterface
public interface BatchHandler<T> {

  /**
   * Handles the batch.
   *
   * @param batch 1 to {@code batchSize} items, oldest first; unmodifiable, and the handler may keep
   *     it: the worker never reuses it. A retried batch is the same list.
   * @throws Exception if the batch failed; an interrupt means the time limit or a shutdown stopped
   *     it
   */
  void handle(List<T> batch) throws Exception;
}

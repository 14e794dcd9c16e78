package dev.bulwark.jobs;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A handler that holds each batch until the test lets one through, so that a test knows exactly
 * which items are in the handler and which are queued. Thread-safe.
 *
 * @param <T> the item type
 */
final class Gate<T> implements BatchHandler<T> {
  private final Semaphore permits = new Semaphore(0);
  private final AtomicInteger entered = new AtomicInteger();
  final List<List<T>> handled = new CopyOnWriteArrayList<>();

  @Override
  public void handle(List<T> batch) throws InterruptedException {
    entered.incrementAndGet();
    permits.acquire();
    handled.add(batch);
  }

  /** {@return how many batches have entered the handler} */
  int entered() {
    return entered.get();
  }

  /** Lets {@code batches} more batches through. */
  void pass(int batches) {
    permits.release(batches);
  }

  /** Lets every batch through from now on. */
  void open() {
    permits.release(1_000_000_000);
  }
}

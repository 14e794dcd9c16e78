package dev.bulwark.jobs;

/**
 * What a {@link BoundedWorker} does when the heap reaches its {@linkplain
 * BoundedWorker.Builder#memoryCeiling(double, MemoryAction) memory ceiling}.
 */
public enum MemoryAction {
  /**
   * Pause intake: every offer is {@link Offer#REJECTED_MEMORY} until the heap is below the ceiling
   * again, while the worker goes on handling what it holds. The default.
   */
  PAUSE,
  /**
   * Stop the worker, as {@code close()} does, with {@link StopReason#MEMORY_CEILING}: for a process
   * that a supervisor restarts (a recycle), so that memory that grows for any reason is given back
   * by a fresh process.
   */
  STOP
}

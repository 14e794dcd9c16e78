package dev.bulwark.jobs;

/**
 * Why a {@link BoundedWorker} stopped, in its {@link ShutdownReport} and {@link WorkerSnapshot}.
 */
public enum StopReason {
  /** {@link BoundedWorker#close()} or {@link BoundedWorker#shutdown} was called. */
  CLOSED,
  /** It had handled {@linkplain BoundedWorker.Builder#maxIterations maxIterations} batches. */
  MAX_ITERATIONS,
  /** It had run for {@linkplain BoundedWorker.Builder#maxRuntime maxRuntime}. */
  MAX_RUNTIME,
  /**
   * The heap reached the {@linkplain BoundedWorker.Builder#memoryCeiling(double, MemoryAction)
   * memory ceiling} with {@link MemoryAction#STOP}.
   */
  MEMORY_CEILING,
  /**
   * The consumer thread failed outside the handler (an {@link Error} such as {@link
   * OutOfMemoryError} in the worker's own code); logged at ERROR. What it held is returned.
   */
  CONSUMER_FAILED
}

package dev.bulwark.jobs;

/** The life of a {@link BoundedWorker}, in its {@link WorkerSnapshot}. */
public enum WorkerState {
  /** Taking items and handling batches. */
  RUNNING,
  /**
   * Handling batches with intake paused: the heap is above the memory ceiling, and offers are
   * {@link Offer#REJECTED_MEMORY}.
   */
  PAUSED,
  /** Intake is closed and the queue is being drained; see {@link WorkerSnapshot#stopReason()}. */
  STOPPING,
  /** Stopped: the {@link ShutdownReport} is made. */
  STOPPED
}

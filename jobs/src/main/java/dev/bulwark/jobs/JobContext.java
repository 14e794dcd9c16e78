package dev.bulwark.jobs;

import dev.bulwark.timeouts.Deadline;
import java.time.Instant;

/**
 * What a running {@link Job} can ask about its run. Thread-safe: the scheduler updates it from its
 * own thread while the job reads it.
 */
public interface JobContext {

  /** {@return the job's name} */
  String name();

  /**
   * The start of the period this run is for, on the database's clock: for a daily job at 10:00
   * Moscow time, today's 10:00 in Moscow even when the run started a few seconds later.
   *
   * @return the period's start
   */
  Instant periodStart();

  /**
   * Whether the scheduler still holds the job's advisory lock, as of its last check (every {@code
   * lockCheckInterval}). False once the lock's connection died or its backend was terminated:
   * another instance may then run the next period.
   *
   * @return true while the lock is held
   */
  boolean isLockHeld();

  /**
   * Whether the run should stop: its lock was lost, its time limit passed, or the scheduler is
   * closing. The run's thread is interrupted at the same moment.
   *
   * @return true once the run should stop
   */
  boolean isCancelled();

  /**
   * The run's deadline, its time limit from its start. The job runs inside it ({@link
   * Deadline#current()}), so the bulwark timeouts helpers it calls are clamped to it.
   *
   * @return the deadline
   */
  Deadline deadline();
}

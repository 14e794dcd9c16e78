package dev.bulwark.jobs;

/**
 * The work of a scheduled job. It runs on a thread of its {@link LockingScheduler}, while the
 * scheduler holds the job's advisory lock on a connection of its own; the job takes its own
 * connections for its work.
 *
 * <p>A job should check {@link JobContext#isCancelled()} between steps of a long run and stop when
 * it turns true (its lock was lost, its time limit passed, or the scheduler is closing); the
 * scheduler also interrupts the thread then. A thrown exception is the run's failure: counted,
 * logged and kept in the {@link JobSnapshot}, and the period is not run again.
 */
@FunctionalInterface
public interface Job {

  /**
   * Runs the job once, for the period {@link JobContext#periodStart()}.
   *
   * @param context the run's period, lock state, cancellation and deadline
   * @throws Exception if the run fails
   */
  void run(JobContext context) throws Exception;
}

package dev.bulwark.jobs;

import java.time.Duration;
import java.time.Instant;
import org.jspecify.annotations.Nullable;

/**
 * What one job of a {@link LockingScheduler} has done on this instance, for a health check ("last
 * exchange-rate fetch: 10:00:02, 1.4 s, success"). Instants are on this JVM's clock; the period is
 * on the database's. Counts start at zero when the job is scheduled and never decrease.
 *
 * @param name the job's name
 * @param schedule the job's schedule, as {@link Schedule#toString()} writes it
 * @param running whether a run is in progress on this instance
 * @param lastStart when the last run on this instance started, or null before the first
 * @param lastPeriod the period the last run was for, or null before the first
 * @param lastDuration how long the last finished run took, or null before the first
 * @param lastSuccess when the last successful run ended, or null if none did
 * @param lastFailure when the last failed run ended (or the last attempt could not reach the
 *     database), or null if none did
 * @param lastFailureMessage the last failure's class and message, secrets masked, or null
 * @param runs runs started on this instance
 * @param successes runs that returned normally, without losing their lock or passing their time
 *     limit
 * @param failures runs that threw, lost their lock, passed their time limit or were cancelled by
 *     the scheduler's close
 * @param timeouts runs that passed their time limit (also counted in {@code failures})
 * @param lockLosses runs whose lock was lost while they ran (also counted in {@code failures})
 * @param skippedLockHeld attempts skipped because another instance held the lock
 * @param skippedAlreadyRan attempts skipped because the period had already run somewhere
 * @param errors attempts that could not run, and run records that could not be written, because the
 *     database could not be reached or answered with an error
 * @param missed periods that started with no run on any instance, counted by the run that followed
 *     them (every instance was down or late, or the job's previous run held the lock)
 * @param nextRun when this instance tries the job next, on the database's clock (the start of the
 *     next period), or null until the first attempt has read that clock
 */
public record JobSnapshot(
    String name,
    String schedule,
    boolean running,
    @Nullable Instant lastStart,
    @Nullable Instant lastPeriod,
    @Nullable Duration lastDuration,
    @Nullable Instant lastSuccess,
    @Nullable Instant lastFailure,
    @Nullable String lastFailureMessage,
    long runs,
    long successes,
    long failures,
    long timeouts,
    long lockLosses,
    long skippedLockHeld,
    long skippedAlreadyRan,
    long errors,
    long missed,
    @Nullable Instant nextRun) {}

/**
 * Jobs: a scheduler whose jobs run at most once per period across every instance of a service
 * (PostgreSQL advisory locks plus a table of the periods that ran, on the database's clock), and
 * bounded worker loops whose every item is accounted for.
 *
 * <p>Entry points: {@link dev.bulwark.jobs.LockingScheduler} with {@link dev.bulwark.jobs.Schedule}
 * and {@link dev.bulwark.jobs.Job}, whose {@link dev.bulwark.jobs.JobSnapshot} is what a health
 * check reads; and {@link dev.bulwark.jobs.BoundedWorker}, with {@link
 * dev.bulwark.jobs.WorkerSnapshot} and {@link dev.bulwark.jobs.ShutdownReport}.
 */
@NullMarked
package dev.bulwark.jobs;

import org.jspecify.annotations.NullMarked;

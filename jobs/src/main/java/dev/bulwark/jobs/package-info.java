/**
 * Jobs: a scheduler whose jobs run at most once per period across every instance of a service
 * (PostgreSQL advisory locks plus a table of the periods that ran, on the database's clock), and
 * bounded worker loops whose every item is accounted for.
 *
 * <p>Entry points: {@code LockingScheduler} and {@code BoundedWorker}.
 */
@NullMarked
package dev.bulwark.jobs;

import org.jspecify.annotations.NullMarked;

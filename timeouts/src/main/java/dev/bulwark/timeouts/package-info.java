/**
 * Deadlines that travel with a call, time limits that stop the work, retries with backoff, jitter
 * and a budget, and circuit breakers and bulkheads with defaults for low-traffic dependencies.
 *
 * <p>Entry points: {@link dev.bulwark.timeouts.Deadline} (the time a call has left, carried on its
 * thread), {@link dev.bulwark.timeouts.Timeouts} (run a call under a time limit that interrupts
 * it), {@link dev.bulwark.timeouts.TimeLimiter} (the same, named, with metrics and an asynchronous
 * variant), {@link dev.bulwark.timeouts.Retry} and {@link dev.bulwark.timeouts.RetryBudget} (with
 * {@link dev.bulwark.timeouts.RetryOn}, what PostgreSQL and Redis really throw), {@link
 * dev.bulwark.timeouts.CircuitBreakers}, {@link dev.bulwark.timeouts.Bulkheads}, and {@link
 * dev.bulwark.timeouts.Policies}, which composes them in a fixed order. {@link
 * dev.bulwark.timeouts.JdbcTimeouts}, {@link dev.bulwark.timeouts.RedisTimeouts} and {@link
 * dev.bulwark.timeouts.HttpTimeouts} clamp a client's own timeout to the time the current deadline
 * has left.
 */
@NullMarked
package dev.bulwark.timeouts;

import org.jspecify.annotations.NullMarked;

/**
 * JMH benchmarks of {@code bulwark-jobs}: the bounded worker's items per second against a
 * one-thread {@code ThreadPoolExecutor} on an {@code ArrayBlockingQueue} that runs a task per item.
 */
@NullMarked
package dev.bulwark.benchmarks.jobs;

import org.jspecify.annotations.NullMarked;

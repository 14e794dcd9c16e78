/** JMH benchmarks of {@code bulwark-queries}: a guarded data source against the bare pool. */
@NullMarked
package dev.bulwark.benchmarks.queries;

import org.jspecify.annotations.NullMarked;

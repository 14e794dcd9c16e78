/**
 * JMH benchmarks of {@code bulwark-timeouts} against Resilience4j and Failsafe, run side by side.
 */
@NullMarked
package dev.bulwark.benchmarks.timeouts;

import org.jspecify.annotations.NullMarked;

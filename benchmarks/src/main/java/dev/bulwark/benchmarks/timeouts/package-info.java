/** JMH benchmarks of {@code bulwark-timeouts} against Resilience4j, run side by side. */
@NullMarked
package dev.bulwark.benchmarks.timeouts;

import org.jspecify.annotations.NullMarked;

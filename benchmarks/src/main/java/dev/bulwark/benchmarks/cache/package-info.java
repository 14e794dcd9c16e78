/**
 * JMH benchmarks of {@code bulwark-cache} against raw Caffeine and a hand-written synchronized LRU,
 * run side by side.
 */
@NullMarked
package dev.bulwark.benchmarks.cache;

import org.jspecify.annotations.NullMarked;

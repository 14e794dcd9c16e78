/**
 * JMH benchmarks of {@code bulwark-health}: a health endpoint's latency over loopback HTTP at 64
 * concurrent clients, against the hand-written endpoint that runs its checks one after another.
 */
@NullMarked
package dev.bulwark.benchmarks.health;

import org.jspecify.annotations.NullMarked;

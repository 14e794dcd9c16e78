/**
 * JMH benchmarks of {@code bulwark-ratelimit}: the local limiter against raw Bucket4j,
 * Resilience4j, Guava and a hand-written Caffeine map of buckets; the Redis limiter against
 * Bucket4j's Lettuce compare-and-swap buckets, on the embedded Redis of {@code bulwark-testing};
 * and a driver that measures how many of bulwark's script calls that Redis can run at all.
 */
@NullMarked
package dev.bulwark.benchmarks.ratelimit;

import org.jspecify.annotations.NullMarked;

/**
 * Bounded in-process caches on Caffeine: a bound is required, entries expire after write or access,
 * absent keys can be remembered for a shorter time, loads are one per key at a time, and every key
 * of a tag (a tenant, a namespace) is invalidated in constant time; with an optional Redis second
 * tier whose invalidations reach every instance and cannot go silently stale.
 *
 * <p>Entry points: {@link dev.bulwark.cache.BoundedCache} and its {@link
 * dev.bulwark.cache.BoundedCache.Builder}; {@link dev.bulwark.cache.Codecs} for the Redis tier;
 * {@link dev.bulwark.cache.CacheSnapshot} is what a health check reads.
 */
@NullMarked
package dev.bulwark.cache;

import org.jspecify.annotations.NullMarked;

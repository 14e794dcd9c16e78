package dev.bulwark.cache;

/**
 * The state of a cache's Redis tier at one moment, for health checks: part of {@link
 * CacheSnapshot#redis()}. The counts are cumulative since the cache was built. Immutable.
 *
 * @param connected whether the tier's command connection to Redis is up; while it is not, reads go
 *     from the first tier to the loader and writes throw {@link CachePropagationException}
 * @param synced whether the invalidation channel is subscribed, heard within the last three
 *     heartbeats, and the epoch known: while it is not, only {@code expireAfterWrite} bounds how
 *     stale the first tier can be, reads go from the first tier to the loader (not to Redis, whose
 *     values may be those a failover lost the invalidations of), and the first tier is cleared
 *     again when it is
 * @param hits first-tier misses answered by Redis
 * @param misses first-tier misses Redis had no value for, which called the loader
 * @param errors Redis commands that failed or timed out, and reads skipped while not synced
 * @param sent invalidation messages this instance sent
 * @param received invalidation messages from other instances this instance applied
 * @param clears times the tier cleared the first tier: a disconnect, a missed heartbeat, a gap in a
 *     publisher's sequence, a failover, another instance's {@code invalidateAll}
 * @param propagationFailures writes that reached this instance but not the others
 */
public record RedisTierSnapshot(
    boolean connected,
    boolean synced,
    long hits,
    long misses,
    long errors,
    long sent,
    long received,
    long clears,
    long propagationFailures) {}

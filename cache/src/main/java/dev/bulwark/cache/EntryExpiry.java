package dev.bulwark.cache;

import com.github.benmanes.caffeine.cache.Expiry;

/**
 * The one expiry of a cache: a value lives {@code positiveNanos} after it is written (or, with
 * {@code afterAccess}, after it is last read); a remembered absence lives {@code absentNanos} after
 * it is written and is not extended by reads. {@link Long#MAX_VALUE} means no expiry. Immutable.
 */
final class EntryExpiry<K, V> implements Expiry<K, Entry<V>> {
  private final long positiveNanos;
  private final boolean afterAccess;
  private final long absentNanos;

  EntryExpiry(long positiveNanos, boolean afterAccess, long absentNanos) {
    this.positiveNanos = positiveNanos;
    this.afterAccess = afterAccess;
    this.absentNanos = absentNanos;
  }

  @Override
  public long expireAfterCreate(K key, Entry<V> entry, long currentTime) {
    return entry.isAbsent() ? absentNanos : positiveNanos;
  }

  @Override
  public long expireAfterUpdate(K key, Entry<V> entry, long currentTime, long currentDuration) {
    return expireAfterCreate(key, entry, currentTime);
  }

  @Override
  public long expireAfterRead(K key, Entry<V> entry, long currentTime, long currentDuration) {
    return afterAccess && !entry.isAbsent() ? positiveNanos : currentDuration;
  }
}

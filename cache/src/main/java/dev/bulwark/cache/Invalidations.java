package dev.bulwark.cache;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicIntegerFieldUpdater;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.AtomicLongFieldUpdater;
import org.jspecify.annotations.Nullable;

/**
 * The invalidation clock of one cache: every invalidation takes the next reading, and every entry
 * keeps the reading taken before it was loaded. An entry is stale if an invalidation that applies
 * to it has a later reading than the entry.
 *
 * <p>Tags: the reading of each tag's last invalidation, for at most {@link #MAX_REMEMBERED_TAGS}
 * tags. A tag that is forgotten to keep that bound raises the floor, the reading assumed for every
 * tag not remembered, so forgetting can only make entries stale sooner, never later.
 *
 * <p>Keys and {@code invalidateAll}: for bulk fills, which load outside Caffeine's per-key lock,
 * the latest reading of an invalidation per stripe of keys and of the last {@code invalidateAll}. A
 * bulk fill whose key's stripe moved on since the fill began is not kept.
 *
 * <p>Thread-safe.
 */
final class Invalidations {
  /** The most tags whose last invalidation is remembered: 65,536. */
  static final long MAX_REMEMBERED_TAGS = 65_536;

  /** The stripes of keys for bulk fills: 1024. */
  static final int KEY_STRIPES = 1024;

  private final AtomicLong clock = new AtomicLong();
  private final AtomicLongArray keys = new AtomicLongArray(KEY_STRIPES);
  private static final AtomicLongFieldUpdater<Invalidations> ALL =
      AtomicLongFieldUpdater.newUpdater(Invalidations.class, "all");
  private static final AtomicIntegerFieldUpdater<Invalidations> PENDING =
      AtomicIntegerFieldUpdater.newUpdater(Invalidations.class, "pending");

  // Plain volatile fields beside each other: a hit reads both, from one cache line.
  private volatile long all;
  private volatile int pending;

  /** Keys another instance invalidated whose removal has not run yet, with their count. */
  private final Map<Object, Integer> dropping = new ConcurrentHashMap<>();

  private final AtomicLong floor = new AtomicLong();
  private final @Nullable Cache<String, Long> tags;

  Invalidations(boolean tagged, Executor executor) {
    this.tags =
        tagged
            ? Caffeine.newBuilder()
                .maximumSize(MAX_REMEMBERED_TAGS)
                .executor(executor)
                // Runs before the mapping goes: a reader that misses the tag sees the new floor.
                .<String, Long>evictionListener(
                    (tag, reading, cause) -> {
                      if (reading != null) {
                        floor.accumulateAndGet(reading, Math::max);
                      }
                    })
                .build()
            : null;
  }

  /** {@return the clock's reading now, for an entry about to be loaded or put} */
  long stamp() {
    return clock.get();
  }

  void key(Object key) {
    keys.accumulateAndGet(stripe(key), clock.incrementAndGet(), Math::max);
  }

  void all() {
    ALL.accumulateAndGet(this, clock.incrementAndGet(), Math::max);
  }

  void tag(String tag) {
    Cache<String, Long> remembered = tags;
    if (remembered != null) {
      remembered.asMap().merge(tag, clock.incrementAndGet(), Math::max);
    }
  }

  /**
   * {@return whether the whole cache, or a tag of the entry, was invalidated after the entry was
   * stamped}
   */
  boolean isStale(Entry<?> entry) {
    if (all > entry.stamp) {
      return true;
    }
    Cache<String, Long> remembered = tags;
    if (remembered == null || entry.tags.length == 0) {
      return false;
    }
    for (String tag : entry.tags) {
      Long reading = remembered.getIfPresent(tag);
      if ((reading == null ? floor.get() : reading) > entry.stamp) {
        return true;
      }
    }
    return false;
  }

  /**
   * {@return whether the key, or the whole cache, was invalidated after a bulk fill stamped {@code
   * stamp} began}
   */
  boolean invalidatedSince(Object key, long stamp) {
    return keys.get(stripe(key)) > stamp || all > stamp;
  }

  /** Marks a key whose removal is on its way; every read treats its older entries as absent. */
  void dropping(Object key) {
    key(key);
    dropping.merge(key, 1, Integer::sum);
    PENDING.incrementAndGet(this);
  }

  /** Ends one {@link #dropping} of the key, once its removal ran. */
  void dropped(Object key) {
    dropping.computeIfPresent(key, (k, n) -> n == 1 ? null : n - 1);
    PENDING.decrementAndGet(this);
  }

  /**
   * {@return whether a drop is in flight now} A read that looks its entry up without the lock of
   * its key takes this first, and passes it to {@link #unusable(Object, Entry, boolean)}.
   */
  boolean dropsInFlight() {
    return pending != 0;
  }

  /**
   * {@return whether a read that found the entry without the lock of its key must not answer it:
   * stale by a clear or a tag, or, if a drop was in flight when the read began ({@code
   * dropsInFlight}, taken before the lookup), written before the latest invalidation of its key's
   * stripe} The key's own mark cannot be trusted here: a drop whose removal ran between the lookup
   * and this check has taken its mark away, and the entry found is the one it removed. Without a
   * drop in flight, this reads one field. A drop that begins during the read overlaps it, and the
   * read may answer what was held before it.
   */
  boolean unusable(Object key, Entry<?> entry, boolean dropsInFlight) {
    return isStale(entry) || (dropsInFlight && invalidatedSince(key, entry.stamp));
  }

  /**
   * {@return whether an entry read under the lock of its key (in a compute) must not be answered:
   * stale by a clear or a tag, or of a key being dropped and written before the drop} A drop keeps
   * its mark until its removal, which needs that lock, has run; so the mark is exact here.
   */
  boolean unusable(Object key, Entry<?> entry) {
    return isStale(entry)
        || (pending != 0 && dropping.containsKey(key) && invalidatedSince(key, entry.stamp));
  }

  void cleanUp() {
    Cache<String, Long> remembered = tags;
    if (remembered != null) {
      remembered.cleanUp();
    }
  }

  private static int stripe(Object key) {
    int h = key.hashCode();
    h ^= h >>> 16;
    return h & (KEY_STRIPES - 1);
  }
}

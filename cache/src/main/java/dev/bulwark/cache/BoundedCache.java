package dev.bulwark.cache;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.CacheLoader;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Policy;
import com.github.benmanes.caffeine.cache.Ticker;
import com.github.benmanes.caffeine.cache.Weigher;
import com.github.benmanes.caffeine.cache.stats.CacheStats;
import com.github.benmanes.caffeine.cache.stats.ConcurrentStatsCounter;
import com.github.benmanes.caffeine.cache.stats.StatsCounter;
import dev.bulwark.core.internal.Checks;
import dev.bulwark.core.internal.Meters;
import io.lettuce.core.RedisClient;
import io.lettuce.core.cluster.RedisClusterClient;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.binder.cache.CaffeineStatsCounter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.StringJoiner;
import java.util.concurrent.Executor;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;

/**
 * A bounded in-process cache on Caffeine, with one load per key at a time, expiry, remembered
 * absences, and invalidation by key, by tag and of everything.
 *
 * <p>Build one with {@link #builder(String)}; a bound ({@code maximumSize} or {@code
 * maximumWeight}) is required. Eviction is Caffeine's W-TinyLFU, close to LRU for a recency-biased
 * workload and better than it for a frequency-biased one.
 *
 * <p><b>Loads.</b> {@link #get(Object, Function)} calls the loader at most once at a time per key:
 * concurrent callers of a missing key wait for the one load and share its result. A loader that
 * returns {@code null} caches nothing, unless {@code cacheMissingFor} is set: then the absence is
 * remembered for that shorter time, and reads answer {@code null} without calling the loader. A
 * loader that throws a {@link RuntimeException} or an {@link Error} caches nothing; the exception
 * reaches the caller unwrapped (and each waiting caller of the same key gets it too). A loader must
 * not read or write this cache for the same key: Caffeine refuses the recursive update with an
 * {@link IllegalStateException}. Bulk loads ({@link #getAll}, {@link #warm}) are not deduplicated:
 * two concurrent bulk loads of one key both call their loader, as in Caffeine.
 *
 * <p><b>Invalidation.</b> {@link #invalidate(Object)} and {@link #invalidateAll()} remove at once.
 * {@link #invalidateTag(String)} takes constant time whatever the size: it records that the tag
 * moved on, and an entry written before that, under any of its tags, is treated as absent by the
 * next read, which removes it. A load that was running when an invalidation of its key, its tag or
 * the whole cache came in returns its value to its caller but does not keep it in the cache.
 *
 * <p><b>Redis second tier</b> ({@link Builder#redis(RedisClient, Codec, Codec)}): a miss reads
 * Redis (one {@code MGET}), then calls the loader and writes its value to Redis unless the key was
 * written or invalidated meanwhile. {@link #put}, {@link #invalidate} and {@link #invalidateAll}
 * reach Redis and every other instance through a pub/sub channel, or throw {@link
 * CachePropagationException}. An instance clears its first tier when its channel connection drops
 * or is subscribed again, when three heartbeats pass unheard, when a publisher's sequence skips a
 * number, and after a failover; while Redis cannot be reached, reads go on from the first tier and
 * the loader, and {@code expireAfterWrite} bounds staleness.
 *
 * <p><b>Meters</b>, when a registry is given: Micrometer's own Caffeine binding ({@code
 * CaffeineStatsCounter}: {@code cache.gets} by {@code result}, {@code cache.loads} by {@code
 * result}, {@code cache.evictions} by {@code cause}, {@code cache.size}), tagged {@code cache} and
 * {@code name} with the cache's name; and {@code bulwark.cache.invalidations} by {@code scope}
 * ({@code key}, {@code tag}, {@code all}) and {@code bulwark.cache.fills.discarded} (loaded values
 * not kept because an invalidation overlapped their load), tagged {@code name}. A read that finds
 * an entry of an invalidated tag counts as a hit, then a load: Caffeine counts the lookup before
 * the tag is checked.
 *
 * <p><b>Thread-safe.</b> {@link #close()} removes the meters and the entries; every later call but
 * {@link #name()}, {@link #toString()} and {@code close} throws {@link IllegalStateException}.
 *
 * @param <K> the key type; keys are compared with {@code equals}, as in a {@link java.util.HashMap}
 * @param <V> the value type
 */
public final class BoundedCache<K, V> implements AutoCloseable {

  /** The most entries {@code maximumSize} accepts: 1,000,000,000. */
  static final long MAX_SIZE = 1_000_000_000L;

  static final String INVALIDATIONS_METER = Meters.name("cache", "invalidations");
  static final String DISCARDED_METER = Meters.name("cache", "fills.discarded");
  static final String STALE_METER = Meters.name("cache", "stale.served");
  static final Duration MAX_REDIS_TTL = Duration.ofDays(30);
  static final Duration DEFAULT_REDIS_TIMEOUT = Duration.ofMillis(250);
  static final Duration DEFAULT_HEARTBEAT = Duration.ofSeconds(1);

  private final String name;
  private final String settings;
  private final Cache<K, Entry<V>> cache;
  private final Map<K, Entry<V>> map;
  private final StatsCounter stats;
  private final Invalidations invalidations;
  private final @Nullable Function<? super K, ? extends @Nullable V> loader;
  private final @Nullable Function<? super K, ? extends @Nullable Collection<String>> tags;
  private final boolean cacheMissing;
  private final long bound;
  private final boolean weighted;
  private final @Nullable MeterRegistry registry;
  private final List<Meter> meters = new ArrayList<>();
  private final @Nullable Counter keyInvalidations;
  private final @Nullable Counter tagInvalidations;
  private final @Nullable Counter allInvalidations;
  private final @Nullable Counter discarded;
  private final AtomicBoolean metersRemoved = new AtomicBoolean();
  private final @Nullable RedisTier<K, V> tier;
  private final Executor executor;
  private final Ticker ticker;
  private final long freshNanos;
  private final long staleNanos;
  private final LongAdder staleServed = new LongAdder();
  private volatile boolean closed;

  private BoundedCache(Builder<K, V> builder) {
    this.name = builder.name;
    this.settings = builder.settings();
    this.loader = builder.loader;
    this.tags = builder.tags;
    this.cacheMissing = builder.cacheMissingFor != null;
    this.weighted = builder.weigher != null;
    this.bound = weighted ? builder.maximumWeight : builder.maximumSize;
    Executor executor = builder.executor == null ? ForkJoinPool.commonPool() : builder.executor;
    this.executor = executor;
    this.ticker = builder.ticker == null ? Ticker.systemTicker() : builder.ticker;
    Duration stale = builder.serveStaleFor;
    Duration write = builder.expireAfterWrite;
    this.staleNanos = stale == null ? 0 : Checks.saturatedNanos(stale);
    this.freshNanos = write == null ? Long.MAX_VALUE : Checks.saturatedNanos(write);
    this.invalidations = new Invalidations(tags != null, executor);
    MeterRegistry registry = builder.meterRegistry;
    this.registry = registry;
    CaffeineStatsCounter micrometer =
        registry == null
            ? null
            : new CaffeineStatsCounter(registry, name, Tags.of(Meters.NAME_TAG, name));
    this.stats = micrometer == null ? new ConcurrentStatsCounter() : micrometer;

    Caffeine<K, Entry<V>> typed = typed(Caffeine.newBuilder());
    typed.executor(executor).recordStats(() -> stats);
    if (builder.ticker != null) {
      typed.ticker(builder.ticker);
    }
    Weigher<? super K, ? super V> weigher = builder.weigher;
    if (weigher != null) {
      typed =
          typed
              .maximumWeight(builder.maximumWeight)
              .weigher((K key, Entry<V> entry) -> weigh(weigher, key, entry));
    } else {
      typed.maximumSize(builder.maximumSize);
    }
    Duration positive =
        builder.expireAfterWrite != null
            ? builder.expireAfterWrite.plus(stale == null ? Duration.ZERO : stale)
            : builder.expireAfterAccess;
    if (builder.cacheMissingFor == null) {
      // Caffeine's fixed expiry costs less on a read than a variable one.
      if (builder.expireAfterWrite != null && positive != null) {
        typed = typed.expireAfterWrite(positive);
      } else if (builder.expireAfterAccess != null) {
        typed = typed.expireAfterAccess(builder.expireAfterAccess);
      }
    } else {
      long positiveNanos = positive == null ? Long.MAX_VALUE : Checks.saturatedNanos(positive);
      long absentNanos = Checks.saturatedNanos(builder.cacheMissingFor);
      typed =
          typed.expireAfter(
              new EntryExpiry<>(positiveNanos, builder.expireAfterAccess != null, absentNanos));
    }
    if (builder.refreshAfterWrite != null) {
      typed = typed.refreshAfterWrite(builder.refreshAfterWrite);
    }
    Function<? super K, ? extends @Nullable V> configured = loader;
    if (configured != null) {
      this.cache = typed.build(loaderOf(configured));
    } else {
      this.cache = typed.build();
    }
    this.map = cache.asMap();

    if (registry != null && micrometer != null) {
      micrometer.registerSizeMetric(cache);
      this.keyInvalidations = invalidationCounter(registry, "key");
      this.tagInvalidations = invalidationCounter(registry, "tag");
      this.allInvalidations = invalidationCounter(registry, "all");
      this.discarded =
          Counter.builder(DISCARDED_METER)
              .description("Loaded values not kept because an invalidation overlapped their load")
              .tag(Meters.NAME_TAG, name)
              .register(registry);
      meters.add(discarded);
      meters.add(
          FunctionCounter.builder(STALE_METER, staleServed, LongAdder::sum)
              .description("Reads answered with a stale value because its reload failed")
              .tag(Meters.NAME_TAG, name)
              .register(registry));
    } else {
      this.keyInvalidations = null;
      this.tagInvalidations = null;
      this.allInvalidations = null;
      this.discarded = null;
    }
    try {
      this.tier = builder.tier(name, new TierEvents(), registry);
    } catch (RuntimeException | Error e) {
      removeMeters(); // so that the name can be built again once Redis is reachable
      throw e;
    }
  }

  /** What the Redis tier asks of the first tier. */
  private final class TierEvents implements RedisTier.Events<K> {
    /** An entry never in the map: a conditional remove with it removes nothing. */
    private final Entry<V> neverHeld = new Entry<>(null, Long.MAX_VALUE, Entry.noTags(), 0L);

    @Override
    public Runnable drop(K key) {
      // A load of the key running now sees it when it is in, and discards; and no read answers
      // what is held from now on.
      invalidations.dropping(key);
      return () -> {
        try {
          remove(key);
        } finally {
          invalidations.dropped(key); // the mark goes only once no entry from before the drop is in
        }
      };
    }

    /**
     * Removes the key's entries from before the drop, including one a load that began before it
     * puts in later. Such a load holds the lock of the key's bin and its entry is not in the map
     * until it ends; a conditional remove waits for that lock, so the load's entry is in, and
     * checked, before the drop's mark goes. May wait as long as that load runs.
     */
    private void remove(K key) {
      Policy<K, Entry<V>> policy = cache.policy();
      Entry<V> seen = policy.getIfPresentQuietly(key);
      if (seen == null) {
        map.remove(key, neverHeld); // matches nothing: only waits for a load in flight
        seen = policy.getIfPresentQuietly(key);
      }
      // A failed remove waited for a reload that replaced the entry: that one may be older too.
      while (seen != null && keyMovedOn(key, seen) && !map.remove(key, seen)) {
        seen = policy.getIfPresentQuietly(key);
      }
    }

    @Override
    public void clear(RedisTier.Clear cause) {
      invalidations.all(); // every entry held now reads as absent from here on
      // Removed off the event loop; an entry loaded since the clear is not one of them.
      executor.execute(() -> map.values().removeIf(invalidations::isStale));
    }
  }

  private Counter invalidationCounter(MeterRegistry registry, String scope) {
    Counter counter =
        Counter.builder(INVALIDATIONS_METER)
            .description("Invalidations asked for, by scope: one key, one tag, or all")
            .tag(Meters.NAME_TAG, name)
            .tag("scope", scope)
            .register(registry);
    meters.add(counter);
    return counter;
  }

  @SuppressWarnings("unchecked") // Caffeine's builder is typed once the first typed setting is made
  private static <K, V> Caffeine<K, Entry<V>> typed(Caffeine<Object, Object> builder) {
    return (Caffeine<K, Entry<V>>) (Caffeine<?, ?>) builder;
  }

  private static <K, V> int weigh(Weigher<? super K, ? super V> weigher, K key, Entry<V> entry) {
    V value = entry.value;
    return value == null ? 1 : weigher.weigh(key, value);
  }

  /**
   * Returns a builder.
   *
   * @param name the cache's name, used in its meters and messages: 1 to 63 letters, digits, {@code
   *     '.'}, {@code '_'} or {@code '-'}
   * @param <K> the key type
   * @param <V> the value type
   * @return a new builder
   * @throws IllegalArgumentException if {@code name} is not such a name
   */
  public static <K, V> Builder<K, V> builder(String name) {
    return new Builder<>(name);
  }

  /** {@return the cache's name} */
  public String name() {
    return name;
  }

  /**
   * Returns the value for {@code key}, loading it with {@code loader} if the cache holds none.
   * While one thread loads a key, other callers of the same key wait for that load and get its
   * result; callers of other keys do not wait.
   *
   * @param key the key
   * @param loader called with {@code key} when the cache holds no entry for it; may return {@code
   *     null} for "no such value", which is remembered for {@code cacheMissingFor} if that is set
   *     and not cached otherwise
   * @return the value, or {@code null} if the loader returned {@code null} now or, within {@code
   *     cacheMissingFor}, before
   * @throws RuntimeException what the loader threw, unwrapped; nothing is cached
   * @throws IllegalStateException if the cache is closed
   */
  public @Nullable V get(K key, Function<? super K, ? extends @Nullable V> loader) {
    checkOpen();
    Objects.requireNonNull(key, "key");
    Objects.requireNonNull(loader, "loader");
    // The hit path allocates nothing: asMap().get updates recency but not the statistics.
    boolean dropsInFlight = invalidations.dropsInFlight(); // before the lookup: see unusable
    Entry<V> entry = map.get(key);
    if (entry != null && !invalidations.unusable(key, entry, dropsInFlight)) {
      if (staleNanos == 0 || isFresh(entry)) {
        stats.recordHits(1);
        return entry.value;
      }
      return revalidate(key, loader);
    }
    Loading loading = new Loading(loader);
    entry = cache.get(key, loading);
    // Whether this call loaded it or found it, the entry is checked against the key's
    // invalidations themselves: an entry found while another instance's drop of the key was on its
    // way is no longer marked unusable once the drop is done, though it holds the old value.
    if (entry != null && (invalidations.isStale(entry) || keyMovedOn(key, entry))) {
      if (loading.loaded) { // invalidated while this call loaded it: answer it, keep nothing
        discard(key, entry);
        return entry.value;
      }
      entry = reload(key, loader);
      if (entry != null && (invalidations.isStale(entry) || keyMovedOn(key, entry))) {
        discard(key, entry);
      }
    }
    return entry == null ? null : entry.value;
  }

  /**
   * Whether another instance invalidated the key (or one of its stripe) after the entry's load
   * began. Such invalidations do not wait for a running load, so the load checks once it is in.
   */
  private boolean keyMovedOn(K key, Entry<V> entry) {
    return tier != null && invalidations.invalidatedSince(key, entry.stamp);
  }

  private boolean isFresh(Entry<V> entry) {
    return ticker.read() - entry.written < freshNanos;
  }

  /**
   * Reloads a value past {@code expireAfterWrite} but within {@code serveStaleFor}; if the load
   * throws, answers the stale value and keeps it, counted.
   */
  private @Nullable V revalidate(K key, Function<? super K, ? extends @Nullable V> loader) {
    stats.recordMisses(1);
    AtomicReference<@Nullable Entry<V>> served = new AtomicReference<>();
    Entry<V> entry =
        map.compute(
            key,
            (k, current) -> {
              if (current != null && !invalidations.unusable(k, current) && isFresh(current)) {
                return current; // another caller revalidated it meanwhile
              }
              try {
                return load(k, loader);
              } catch (RuntimeException e) {
                if (current != null
                    && !current.isAbsent()
                    && !invalidations.unusable(k, current)
                    && ticker.read() - current.written < freshNanos + staleNanos) {
                  served.set(current);
                  return current;
                }
                throw e;
              }
            });
    Entry<V> stale = served.get();
    if (stale != null) {
      staleServed.increment();
      return stale.value;
    }
    if (entry != null && keyMovedOn(key, entry)) {
      discard(key, entry);
    }
    return entry == null ? null : entry.value;
  }

  private void discard(K key, Entry<V> entry) {
    if (cache.asMap().remove(key, entry)) {
      increment(discarded);
    }
  }

  /** The mapping function of one {@code get}, which tells whether it was the one that loaded. */
  private final class Loading implements Function<K, @Nullable Entry<V>> {
    private final Function<? super K, ? extends @Nullable V> loader;
    boolean loaded;

    Loading(Function<? super K, ? extends @Nullable V> loader) {
      this.loader = loader;
    }

    @Override
    public @Nullable Entry<V> apply(K key) {
      loaded = true; // Caffeine runs the mapping function on the calling thread
      return load(key, loader);
    }
  }

  /**
   * Returns the value for {@code key}, loading it with the builder's {@code loader} if the cache
   * holds none; see {@link #get(Object, Function)}.
   *
   * @param key the key
   * @return the value, or {@code null} for a key the loader has no value for
   * @throws RuntimeException what the loader threw, unwrapped; nothing is cached
   * @throws IllegalStateException if the cache is closed, or was built without a {@code loader}
   */
  public @Nullable V get(K key) {
    checkOpen();
    Function<? super K, ? extends @Nullable V> configured = loader;
    if (configured == null) {
      throw new IllegalStateException(
          "cache " + name + " has no loader: pass one to get(key, loader), or set loader");
    }
    return get(key, configured);
  }

  private @Nullable Entry<V> reload(K key, Function<? super K, ? extends @Nullable V> loader) {
    return cache
        .asMap()
        .compute(
            key,
            (k, current) ->
                current != null && !invalidations.isStale(current) && !keyMovedOn(k, current)
                    ? current // another caller reloaded it meanwhile
                    : load(k, loader));
  }

  // Caffeine's CacheLoader may return null (its V is @Nullable): the key is then absent.
  @SuppressWarnings("NullAway")
  private CacheLoader<K, Entry<V>> loaderOf(Function<? super K, ? extends @Nullable V> configured) {
    return key -> load(key, configured);
  }

  /** Loads one key; the stamp is taken first, so an invalidation during the load makes it stale. */
  private @Nullable Entry<V> load(K key, Function<? super K, ? extends @Nullable V> loader) {
    long stamp = invalidations.stamp();
    RedisTier<K, V> redis = tier;
    V value = redis == null ? loader.apply(key) : redis.load(key, loader);
    if (value == null && !cacheMissing) {
      return null;
    }
    return new Entry<>(value, stamp, tagsOf(key), ticker.read());
  }

  private String[] tagsOf(K key) {
    Function<? super K, ? extends @Nullable Collection<String>> function = tags;
    if (function == null) {
      return Entry.noTags();
    }
    Collection<String> of = function.apply(key);
    if (of == null || of.isEmpty()) {
      return Entry.noTags();
    }
    String[] array = new LinkedHashSet<>(of).toArray(new String[0]);
    for (String tag : array) {
      Objects.requireNonNull(tag, "tags returned a null tag");
    }
    return array;
  }

  /**
   * Returns the value the cache holds for {@code key}, without loading.
   *
   * @param key the key
   * @return the value, or {@code null} if the cache holds none or remembers the key as absent
   * @throws IllegalStateException if the cache is closed
   */
  public @Nullable V getIfPresent(K key) {
    checkOpen();
    Objects.requireNonNull(key, "key");
    boolean dropsInFlight = invalidations.dropsInFlight();
    Entry<V> entry = cache.getIfPresent(key);
    if (entry == null) {
      return null;
    }
    if (invalidations.isStale(entry)) {
      cache.asMap().remove(key, entry);
      return null;
    }
    if (invalidations.unusable(key, entry, dropsInFlight)) {
      return null; // its removal is on its way; removing here could wait for a load
    }
    return entry.value;
  }

  /**
   * Returns the values for {@code keys}, loading those the cache holds none for with one call of
   * {@code loader}; with a Redis tier, the missing keys are read from Redis first, with one {@code
   * MGET}, and only those Redis lacks are loaded (and written to Redis). The loaded values are
   * kept, but those of a key that was invalidated (by key, tag or {@link #invalidateAll()}) while
   * the bulk load ran, which are returned but not kept, and those of keys another thread filled
   * meanwhile, which are returned in place of the cached ones.
   *
   * @param keys the keys; duplicates are looked up once
   * @param loader called once, with the keys missing from the cache (an unmodifiable set), unless
   *     none is missing; it returns the values it found, and a key it leaves out has no value
   *     (remembered as absent when {@code cacheMissingFor} is set). Entries for keys it was not
   *     asked for are ignored
   * @return the values found, in the order of {@code keys}, without the keys that have no value;
   *     unmodifiable
   * @throws RuntimeException what the loader threw, unwrapped; nothing it would have loaded is
   *     cached
   * @throws IllegalStateException if the cache is closed
   */
  public Map<K, V> getAll(
      Collection<? extends K> keys, Function<Set<K>, ? extends Map<K, ? extends V>> loader) {
    checkOpen();
    Objects.requireNonNull(keys, "keys");
    Objects.requireNonNull(loader, "loader");
    Map<K, V> found = new LinkedHashMap<>();
    Set<K> missing = new LinkedHashSet<>();
    for (K key : keys) {
      Objects.requireNonNull(key, "keys holds a null key");
      if (found.containsKey(key) || missing.contains(key)) {
        continue;
      }
      boolean dropsInFlight = invalidations.dropsInFlight();
      Entry<V> entry = cache.getIfPresent(key);
      if (entry == null || invalidations.unusable(key, entry, dropsInFlight)) {
        missing.add(key);
      } else if (entry.value != null) {
        found.put(key, entry.value);
      }
    }
    if (!missing.isEmpty()) {
      Map<K, V> loaded = fill(missing, loader);
      Map<K, V> ordered = new LinkedHashMap<>();
      for (K key : keys) {
        V value = found.containsKey(key) ? found.get(key) : loaded.get(key);
        if (value != null) {
          ordered.put(key, value);
        }
      }
      found = ordered;
    }
    return Collections.unmodifiableMap(found);
  }

  /**
   * Loads the keys the cache holds no entry for with one call of {@code loader} and keeps the
   * values, so that the first requests after a start or a deploy hit. The lookups are not counted
   * as hits or misses. A key invalidated while the load ran is not kept.
   *
   * @param keys the keys to have in the cache
   * @param loader called once, with the keys missing from the cache (an unmodifiable set), unless
   *     none is missing; as for {@link #getAll}
   * @return how many entries this call added
   * @throws RuntimeException what the loader threw, unwrapped; nothing is cached
   * @throws IllegalStateException if the cache is closed
   */
  public int warm(
      Collection<? extends K> keys, Function<Set<K>, ? extends Map<K, ? extends V>> loader) {
    checkOpen();
    Objects.requireNonNull(keys, "keys");
    Objects.requireNonNull(loader, "loader");
    Policy<K, Entry<V>> policy = cache.policy();
    Set<K> missing = new LinkedHashSet<>();
    for (K key : keys) {
      Objects.requireNonNull(key, "keys holds a null key");
      boolean dropsInFlight = invalidations.dropsInFlight();
      Entry<V> entry = policy.getIfPresentQuietly(key);
      if (entry == null || invalidations.unusable(key, entry, dropsInFlight)) {
        missing.add(key);
      }
    }
    if (missing.isEmpty()) {
      return 0;
    }
    int[] added = {0};
    fill(missing, loader, added);
    return added[0];
  }

  private Map<K, ? extends V> bulkLoad(
      Set<K> keys, Function<Set<K>, ? extends Map<K, ? extends V>> loader) {
    long start = System.nanoTime();
    Map<K, ? extends V> loaded;
    try {
      loaded = loader.apply(Collections.unmodifiableSet(keys));
    } catch (RuntimeException | Error e) {
      stats.recordLoadFailure(System.nanoTime() - start);
      throw e;
    }
    if (loaded == null) {
      stats.recordLoadFailure(System.nanoTime() - start);
      throw new NullPointerException("the bulk loader of cache " + name + " returned null");
    }
    stats.recordLoadSuccess(System.nanoTime() - start);
    return loaded;
  }

  private Map<K, V> fill(Set<K> missing, Function<Set<K>, ? extends Map<K, ? extends V>> loader) {
    return fill(missing, loader, new int[1]);
  }

  private Map<K, V> fill(
      Set<K> missing, Function<Set<K>, ? extends Map<K, ? extends V>> loader, int[] added) {
    long stamp = invalidations.stamp();
    RedisTier<K, V> redis = tier;
    RedisTier<K, V>.Bulk bulk = redis == null ? null : redis.readAll(missing);
    Set<K> toLoad = missing;
    if (bulk != null && !bulk.found.isEmpty()) {
      toLoad = new LinkedHashSet<>(missing);
      toLoad.removeAll(bulk.found.keySet());
    }
    Map<K, ? extends V> loaded = toLoad.isEmpty() ? Map.of() : bulkLoad(toLoad, loader);
    if (redis != null && bulk != null && !loaded.isEmpty()) {
      redis.fillAll(bulk, loaded);
    }
    Map<K, V> result = new LinkedHashMap<>();
    for (K key : missing) {
      V value = bulk != null && bulk.found.containsKey(key) ? bulk.found.get(key) : loaded.get(key);
      if (value != null) {
        result.put(key, value);
      } else if (!cacheMissing) {
        continue;
      }
      Entry<V> fresh = new Entry<>(value, stamp, tagsOf(key), ticker.read());
      cache
          .asMap()
          .compute(
              key,
              (k, current) -> {
                if (current != null && !invalidations.unusable(k, current)) {
                  return current; // filled or put meanwhile: that one is at least as new
                }
                if (invalidations.invalidatedSince(k, stamp)) {
                  increment(discarded);
                  return null;
                }
                added[0]++;
                return fresh;
              });
    }
    return result;
  }

  /**
   * Puts a value, replacing the entry the cache held for {@code key}, if any.
   *
   * @param key the key
   * @param value the value
   * @throws IllegalStateException if the cache is closed
   */
  public void put(K key, V value) {
    checkOpen();
    Objects.requireNonNull(key, "key");
    Objects.requireNonNull(value, "value");
    RedisTier<K, V> redis = tier;
    byte[] encoded = redis == null ? null : redis.encode(key, value); // fails before any change
    cache.put(key, new Entry<>(value, invalidations.stamp(), tagsOf(key), ticker.read()));
    if (redis != null && encoded != null) {
      redis.put(key, encoded);
      // A read of this instance may have filled the old value from Redis before the write: drop
      // whatever is held, so that the next read takes the new value from Redis.
      invalidations.key(key);
      cache.invalidate(key);
    }
  }

  /**
   * Removes the entry for {@code key}, if any. A load of the key running meanwhile returns its
   * value to its caller and keeps nothing. Counted as {@code scope=key}.
   *
   * @param key the key
   * @throws IllegalStateException if the cache is closed
   */
  public void invalidate(K key) {
    checkOpen();
    Objects.requireNonNull(key, "key");
    invalidations.key(key);
    cache.invalidate(key);
    increment(keyInvalidations);
    RedisTier<K, V> redis = tier;
    if (redis != null) {
      try {
        redis.invalidate(key);
      } finally {
        // Again: a read of this instance that ran meanwhile may have filled the old value.
        invalidations.key(key);
        cache.invalidate(key);
      }
    }
  }

  /**
   * Removes every entry. Counted as {@code scope=all}.
   *
   * @throws IllegalStateException if the cache is closed
   */
  public void invalidateAll() {
    checkOpen();
    invalidations.all();
    cache.invalidateAll();
    increment(allInvalidations);
    RedisTier<K, V> redis = tier;
    if (redis != null) {
      try {
        redis.invalidateAll();
      } finally {
        invalidations.all();
        cache.invalidateAll();
      }
    }
  }

  /**
   * Invalidates every entry whose key had {@code tag} when it was written, in constant time: no
   * entry is visited. Such entries read as absent from now on and are removed by the read that
   * finds them (or by eviction or expiry); until then they count in {@link CacheSnapshot#size()}.
   * Entries written after this call are not affected. The cache remembers the last invalidation of
   * its 65,536 most used tags; past that, a forgotten tag's invalidation is applied to every tagged
   * entry written before it, which invalidates more than asked, never less. Counted as {@code
   * scope=tag}.
   *
   * @param tag the tag, as the builder's tag function returns it
   * @throws IllegalStateException if the cache is closed, or was built without a tag function
   */
  public void invalidateTag(String tag) {
    checkOpen();
    Objects.requireNonNull(tag, "tag");
    if (tags == null) {
      throw new IllegalStateException(
          "cache " + name + " has no tags: set tags on the builder to invalidate by tag");
    }
    invalidations.tag(tag);
    increment(tagInvalidations);
  }

  private static void increment(@Nullable Counter counter) {
    if (counter != null) {
      counter.increment();
    }
  }

  /**
   * Returns the cache's size, bound and counts now, for health checks.
   *
   * <p>Runs the cache's pending maintenance first (Caffeine applies writes to its size, weight and
   * eviction order in batches), so the snapshot counts every write that completed before the call.
   * This takes the cache's eviction lock briefly; call it from a health check or a metrics scrape,
   * not on a request path.
   *
   * @return a snapshot
   * @throws IllegalStateException if the cache is closed
   */
  public CacheSnapshot snapshot() {
    checkOpen();
    cache.cleanUp();
    long size = cache.estimatedSize();
    long weight =
        weighted
            ? cache.policy().eviction().map(e -> e.weightedSize().orElse(size)).orElse(size)
            : size;
    CacheStats now = stats.snapshot();
    return new CacheSnapshot(
        name,
        size,
        bound,
        weighted,
        weight,
        now.hitRate(),
        now.hitCount(),
        now.missCount(),
        now.evictionCount(),
        now.loadFailureCount(),
        staleServed.sum(),
        tier == null ? null : tier.snapshot());
  }

  /** {@return the Redis tier, or null if the cache has none; for tests} */
  @Nullable RedisTier<K, V> tier() {
    return tier;
  }

  /** Runs Caffeine's pending maintenance now: evictions, expiry, forgotten tags. For tests. */
  void cleanUp() {
    cache.cleanUp();
    invalidations.cleanUp();
  }

  private void checkOpen() {
    if (closed) {
      throw new IllegalStateException("cache " + name + " is closed");
    }
  }

  /**
   * Removes every entry and this cache's meters from the registry, so that a new cache of the same
   * name can be built on it. Every later call but {@link #name()}, {@link #toString()} and this one
   * throws {@link IllegalStateException}. Calling it again does nothing more.
   */
  @Override
  public void close() {
    closed = true;
    RedisTier<K, V> redis = tier;
    if (redis != null) {
      redis.close();
    }
    cache.invalidateAll();
    cache.cleanUp();
    removeMeters();
  }

  private void removeMeters() {
    MeterRegistry current = registry;
    // Once only: Micrometer removes by id, which a new cache of this name may hold by now.
    if (current != null && metersRemoved.compareAndSet(false, true)) {
      for (Meter meter : meters) {
        current.remove(meter);
      }
      for (Meter meter : current.getMeters()) {
        Meter.Id id = meter.getId();
        if (id.getName().startsWith("cache.")
            && name.equals(id.getTag("cache"))
            && name.equals(id.getTag(Meters.NAME_TAG))) {
          current.remove(meter);
        }
      }
    }
  }

  @Override
  public String toString() {
    return "BoundedCache" + settings;
  }

  /**
   * Configures a {@link BoundedCache}. A bound is required: {@link #maximumSize} or {@link
   * #maximumWeight}. Each setting may be given once. Not thread-safe.
   *
   * @param <K> the key type
   * @param <V> the value type
   */
  public static final class Builder<K, V> {
    private final String name;
    private long maximumSize = -1;
    private long maximumWeight = -1;
    private @Nullable Weigher<? super K, ? super V> weigher;
    private @Nullable Duration expireAfterWrite;
    private @Nullable Duration expireAfterAccess;
    private @Nullable Duration refreshAfterWrite;
    private @Nullable Duration cacheMissingFor;
    private @Nullable Function<? super K, ? extends @Nullable V> loader;
    private @Nullable Function<? super K, ? extends @Nullable Collection<String>> tags;
    private @Nullable MeterRegistry meterRegistry;
    private @Nullable Ticker ticker;
    private @Nullable Executor executor;
    private @Nullable Duration serveStaleFor;
    private RedisTier.@Nullable Connector connector;
    private @Nullable String redisKind;
    private @Nullable Codec<K> keyCodec;
    private @Nullable Codec<V> valueCodec;
    private @Nullable String redisPrefix;
    private @Nullable Duration redisTtl;
    private @Nullable Duration redisTimeout;
    private @Nullable Duration heartbeat;
    private @Nullable Duration lease;
    private @Nullable Duration leaseWait;

    private Builder(String name) {
      this.name = Checks.identifier("name", name);
    }

    /**
     * Bounds the cache to {@code entries} entries; past it, Caffeine evicts the entries least
     * likely to be used again. Either this or {@link #maximumWeight} is required. The audits'
     * in-process caches use 100 to 10,000 entries.
     *
     * @param entries between 1 and 1,000,000,000
     * @return this builder
     * @throws IllegalArgumentException if out of range
     * @throws IllegalStateException if already set, or if {@code maximumWeight} is set
     */
    public Builder<K, V> maximumSize(long entries) {
      Checks.requireUnset("maximumSize", maximumSize >= 0, maximumSize);
      requireNoOther("maximumSize", "maximumWeight", maximumWeight >= 0 ? maximumWeight : null);
      this.maximumSize = Checks.between("maximumSize", entries, 1, MAX_SIZE);
      return this;
    }

    /**
     * Bounds the cache to a total weight, for values whose sizes differ widely (a weight in bytes,
     * say). Either this or {@link #maximumSize} is required. A remembered absence weighs 1.
     *
     * @param weight between 1 and {@link Long#MAX_VALUE}, in the weigher's units
     * @param weigher the weight of one entry, 0 or more; called when the entry is written, on the
     *     writing thread; it must not throw
     * @return this builder
     * @throws IllegalArgumentException if {@code weight} is out of range
     * @throws IllegalStateException if already set, or if {@code maximumSize} is set
     */
    public Builder<K, V> maximumWeight(long weight, Weigher<? super K, ? super V> weigher) {
      Checks.requireUnset("maximumWeight", maximumWeight >= 0, maximumWeight);
      requireNoOther("maximumWeight", "maximumSize", maximumSize >= 0 ? maximumSize : null);
      Objects.requireNonNull(weigher, "weigher");
      this.maximumWeight = Checks.between("maximumWeight", weight, 1, Long.MAX_VALUE);
      this.weigher = weigher;
      return this;
    }

    /**
     * Expires a value this long after it was loaded or put, read or not: the bound on how stale a
     * value can be when nothing invalidates it. Default: no expiry, entries stay until evicted.
     *
     * @param duration positive; longer than about 292 years means never
     * @return this builder
     * @throws IllegalArgumentException if not positive
     * @throws IllegalStateException if already set, or if {@code expireAfterAccess} is set
     */
    public Builder<K, V> expireAfterWrite(Duration duration) {
      Checks.requireUnset("expireAfterWrite", expireAfterWrite);
      requireNoOther("expireAfterWrite", "expireAfterAccess", expireAfterAccess);
      this.expireAfterWrite = Checks.positive("expireAfterWrite", duration);
      return this;
    }

    /**
     * Expires a value this long after it was last read, loaded or put: entries in use stay, idle
     * ones go. Unlike {@link #expireAfterWrite}, it does not bound staleness: a value read often
     * never expires. Default: no expiry.
     *
     * @param duration positive; longer than about 292 years means never
     * @return this builder
     * @throws IllegalArgumentException if not positive
     * @throws IllegalStateException if already set, or if {@code expireAfterWrite} is set
     */
    public Builder<K, V> expireAfterAccess(Duration duration) {
      Checks.requireUnset("expireAfterAccess", expireAfterAccess);
      requireNoOther("expireAfterAccess", "expireAfterWrite", expireAfterWrite);
      this.expireAfterAccess = Checks.positive("expireAfterAccess", duration);
      return this;
    }

    /**
     * Reloads a value in the background once it is this old and read again: the read answers the
     * current value at once, and the builder's {@link #loader} runs on Caffeine's executor (the
     * common {@link ForkJoinPool}). If the reload throws, the current value stays and the failure
     * is counted as a failed load. Needs {@link #loader}, and must be shorter than the expiry, so
     * that a value is refreshed before it expires. Default: no refresh.
     *
     * @param duration positive
     * @return this builder
     * @throws IllegalArgumentException if not positive
     * @throws IllegalStateException if already set
     */
    public Builder<K, V> refreshAfterWrite(Duration duration) {
      Checks.requireUnset("refreshAfterWrite", refreshAfterWrite);
      this.refreshAfterWrite = Checks.positive("refreshAfterWrite", duration);
      return this;
    }

    /**
     * Remembers a key the loader returned {@code null} for as absent, for this long after the load:
     * reads answer {@code null} without calling the loader again, which spares the database lookups
     * of keys that do not exist. Must be shorter than the expiry of values, if one is set. Reads do
     * not extend it. Default: absences are not cached.
     *
     * @param duration positive
     * @return this builder
     * @throws IllegalArgumentException if not positive
     * @throws IllegalStateException if already set
     */
    public Builder<K, V> cacheMissingFor(Duration duration) {
      Checks.requireUnset("cacheMissingFor", cacheMissingFor);
      this.cacheMissingFor = Checks.positive("cacheMissingFor", duration);
      return this;
    }

    /**
     * Sets the loader of {@link BoundedCache#get(Object)} and of {@link #refreshAfterWrite}. It may
     * return {@code null} for a key with no value. Default: none; {@link BoundedCache#get(Object,
     * Function)} takes its loader per call.
     *
     * @param loader the loader; called on the reading thread for a miss, on Caffeine's executor for
     *     a refresh
     * @return this builder
     * @throws IllegalStateException if already set
     */
    public Builder<K, V> loader(Function<? super K, ? extends @Nullable V> loader) {
      Checks.requireUnset("loader", this.loader != null, "a function");
      this.loader = Objects.requireNonNull(loader, "loader");
      return this;
    }

    /**
     * Sets the tags of a key, for {@link BoundedCache#invalidateTag}: called with the key each time
     * an entry is written, on the writing thread. Keep tags few per key and bounded in number
     * (tenant ids, namespaces), never one per key. Default: no tags.
     *
     * @param tags the key's tags; {@code null} or empty for none
     * @return this builder
     * @throws IllegalStateException if already set
     */
    public Builder<K, V> tags(Function<? super K, ? extends @Nullable Collection<String>> tags) {
      Checks.requireUnset("tags", this.tags != null, "a function");
      this.tags = Objects.requireNonNull(tags, "tags");
      return this;
    }

    /**
     * Registers the cache's meters in {@code registry}: Micrometer's Caffeine binding and bulwark's
     * own (see {@link BoundedCache}); {@link BoundedCache#close()} removes them. Default: no meters
     * (the statistics of {@link BoundedCache#snapshot()} are kept either way).
     *
     * @param registry the registry
     * @return this builder
     * @throws IllegalStateException if already set
     */
    public Builder<K, V> meterRegistry(MeterRegistry registry) {
      Checks.requireUnset("meterRegistry", meterRegistry);
      this.meterRegistry = Objects.requireNonNull(registry, "registry");
      return this;
    }

    /**
     * Serves a value up to this long past {@code expireAfterWrite} when its reload fails
     * (stale-while-revalidate): a read of a value older than {@code expireAfterWrite} reloads it,
     * and if the loader throws, answers the old value, keeps it, and counts it in {@code
     * bulwark.cache.stale.served}. Once the value is {@code expireAfterWrite + maxAge} old, the
     * loader's exception reaches the caller. Needs {@code expireAfterWrite}. Default: off, a value
     * goes at {@code expireAfterWrite}.
     *
     * @param maxAge how long past {@code expireAfterWrite} a value may be served; positive
     * @return this builder
     * @throws IllegalArgumentException if not positive
     * @throws IllegalStateException if already set
     */
    public Builder<K, V> serveStaleFor(Duration maxAge) {
      Checks.requireUnset("serveStaleFor", serveStaleFor);
      this.serveStaleFor = Checks.positive("serveStaleFor", maxAge);
      return this;
    }

    /**
     * Adds a Redis second tier on {@code client}: a first-tier miss reads Redis, then the loader,
     * whose value is written to Redis for {@code redisTtl}; writes ({@link BoundedCache#put},
     * {@link BoundedCache#invalidate}, {@link BoundedCache#invalidateAll}) reach Redis and every
     * other instance, or throw {@link CachePropagationException}. The cache opens two connections
     * of its own on the client (commands, and the invalidation channel's subscription) and closes
     * them at {@link BoundedCache#close()}; the client stays the caller's. Needs {@code
     * expireAfterWrite}, the bound on staleness while Redis cannot be reached; cannot be combined
     * with {@code tags}. See the module's documentation for the staleness bound.
     *
     * @param client a standalone or Sentinel client, e.g. from {@code Pools.redis}
     * @param keys the key codec: injective and stable across instances and deploys
     * @param values the value codec
     * @return this builder
     * @throws NullPointerException if a codec is missing, naming it
     * @throws IllegalStateException if a Redis tier is already set
     */
    public Builder<K, V> redis(RedisClient client, Codec<K> keys, Codec<V> values) {
      Objects.requireNonNull(client, "client");
      return redis(RedisTier.connector(client), "RedisClient", keys, values);
    }

    /**
     * Adds a Redis second tier on a Redis Cluster client; as {@link #redis(RedisClient, Codec,
     * Codec)}. The keys a script touches share a hash tag, so one slot.
     *
     * @param client a cluster client, e.g. from {@code Pools.redisCluster}
     * @param keys the key codec
     * @param values the value codec
     * @return this builder
     * @throws NullPointerException if a codec is missing, naming it
     * @throws IllegalStateException if a Redis tier is already set
     */
    public Builder<K, V> redis(RedisClusterClient client, Codec<K> keys, Codec<V> values) {
      Objects.requireNonNull(client, "client");
      return redis(RedisTier.connector(client), "RedisClusterClient", keys, values);
    }

    private Builder<K, V> redis(
        RedisTier.Connector connector, String kind, Codec<K> keys, Codec<V> values) {
      Checks.requireUnset("redis", this.connector != null, redisKind);
      Objects.requireNonNull(
          keys,
          "redis needs a key codec: Codecs.utf8() for String keys, Codecs.text(Long::valueOf)");
      Objects.requireNonNull(
          values, "redis needs a value codec: Codecs.json(Price.class), Codecs.utf8(), ...");
      this.connector = connector;
      this.redisKind = kind;
      this.keyCodec = keys;
      this.valueCodec = values;
      return this;
    }

    /**
     * The first part of every Redis key and channel name of this cache: {@code
     * <prefix>:<name>:...}. Default: {@code bulwark}. Needs {@link #redis}.
     *
     * @param prefix 1 to 63 letters, digits, {@code '.'}, {@code '_'} or {@code '-'}
     * @return this builder
     * @throws IllegalArgumentException if not such a name
     * @throws IllegalStateException if already set
     */
    public Builder<K, V> redisPrefix(String prefix) {
      Checks.requireUnset("redisPrefix", redisPrefix);
      this.redisPrefix = Checks.identifier("redisPrefix", prefix);
      return this;
    }

    /**
     * How long a value lives in Redis after it was loaded or put. Default: {@code
     * expireAfterWrite}. Needs {@link #redis}.
     *
     * @param ttl between 1 ms and 30 days
     * @return this builder
     * @throws IllegalArgumentException if out of range
     * @throws IllegalStateException if already set
     */
    public Builder<K, V> redisTtl(Duration ttl) {
      Checks.requireUnset("redisTtl", redisTtl);
      this.redisTtl = Checks.between("redisTtl", ttl, Duration.ofMillis(1), MAX_REDIS_TTL);
      return this;
    }

    /**
     * How long the cache waits for one Redis command, on its own connections, whatever the client's
     * timeout: a read that takes longer goes to the loader, a write that takes longer throws {@link
     * CachePropagationException}. Default: 250 ms. Needs {@link #redis}.
     *
     * @param timeout between 1 ms and 10 s
     * @return this builder
     * @throws IllegalArgumentException if out of range
     * @throws IllegalStateException if already set
     */
    public Builder<K, V> redisTimeout(Duration timeout) {
      Checks.requireUnset("redisTimeout", redisTimeout);
      this.redisTimeout =
          Checks.between("redisTimeout", timeout, Duration.ofMillis(1), Duration.ofSeconds(10));
      return this;
    }

    /**
     * How often each instance sends a heartbeat on the invalidation channel. An instance that hears
     * nothing on it, not even its own heartbeat, for three of them clears its first tier and
     * replaces its subscription: a connection that stays open but went silent is caught within
     * about four heartbeats. Default: 1 s. Needs {@link #redis}.
     *
     * @param interval between 50 ms and 1 min
     * @return this builder
     * @throws IllegalArgumentException if out of range
     * @throws IllegalStateException if already set
     */
    public Builder<K, V> heartbeat(Duration interval) {
      Checks.requireUnset("heartbeat", heartbeat);
      this.heartbeat =
          Checks.between("heartbeat", interval, Duration.ofMillis(50), Duration.ofMinutes(1));
      return this;
    }

    /**
     * Loads a key missing from both tiers once across all instances: the instance that takes a
     * Redis lease ({@code SET NX PX} with a token) calls the loader; the others poll Redis for its
     * value for up to {@code wait}, then load themselves. The lease expires after {@code lease} if
     * its holder dies. Default: off, one load per key per instance. Needs {@link #redis}.
     *
     * @param lease how long a lease holds: longer than a load takes; between 10 ms and 10 min
     * @param wait how long the other instances wait for the holder's value: between 1 ms and 10 min
     * @return this builder
     * @throws IllegalArgumentException if out of range
     * @throws IllegalStateException if already set
     */
    public Builder<K, V> singleFlight(Duration lease, Duration wait) {
      Checks.requireUnset("singleFlight", this.lease);
      this.lease =
          Checks.between(
              "singleFlight lease", lease, Duration.ofMillis(10), Duration.ofMinutes(10));
      this.leaseWait =
          Checks.between("singleFlight wait", wait, Duration.ofMillis(1), Duration.ofMinutes(10));
      return this;
    }

    /** Opens the Redis tier, if one is set; called once by the cache's constructor. */
    @Nullable RedisTier<K, V> tier(
        String cache, RedisTier.Events<K> events, @Nullable MeterRegistry registry) {
      RedisTier.Connector opened = connector;
      Codec<K> k = keyCodec;
      Codec<V> v = valueCodec;
      Duration write = expireAfterWrite;
      if (opened == null || k == null || v == null || write == null) {
        return null;
      }
      return new RedisTier<>(
          cache,
          opened,
          k,
          v,
          new RedisTier.Settings(
              redisPrefix == null ? "bulwark" : redisPrefix,
              redisTtl == null ? write : redisTtl,
              redisTimeout == null ? DEFAULT_REDIS_TIMEOUT : redisTimeout,
              heartbeat == null ? DEFAULT_HEARTBEAT : heartbeat,
              lease,
              leaseWait),
          events,
          registry);
    }

    /** The clock of expiry and refresh, for tests. Default: {@link System#nanoTime()}. */
    Builder<K, V> ticker(Ticker ticker) {
      Checks.requireUnset("ticker", this.ticker);
      this.ticker = Objects.requireNonNull(ticker, "ticker");
      return this;
    }

    /** Where Caffeine runs maintenance and refreshes, for tests. Default: the common pool. */
    Builder<K, V> executor(Executor executor) {
      Checks.requireUnset("executor", this.executor);
      this.executor = Objects.requireNonNull(executor, "executor");
      return this;
    }

    private static void requireNoOther(String setting, String other, @Nullable Object otherValue) {
      if (otherValue != null) {
        throw new IllegalStateException(
            Checks.format(
                "%s cannot be combined with %s, which was already set to %s",
                setting,
                other,
                otherValue instanceof Duration
                    ? Checks.duration((Duration) otherValue)
                    : otherValue));
      }
    }

    /**
     * Builds the cache.
     *
     * @return a new cache
     * @throws IllegalStateException if no bound is set; if {@code refreshAfterWrite} is set without
     *     a {@code loader}, or is not shorter than the expiry; if {@code cacheMissingFor} is not
     *     shorter than the expiry; or if {@code meterRegistry} already holds the meters of a cache
     *     with this name that is not closed: the two would count into each other's meters
     */
    public BoundedCache<K, V> build() {
      if (maximumSize < 0 && maximumWeight < 0) {
        throw new IllegalStateException(
            "cache "
                + name
                + " needs a bound: set maximumSize or maximumWeight, so that it cannot grow"
                + " without limit");
      }
      String expirySetting = expireAfterWrite != null ? "expireAfterWrite" : "expireAfterAccess";
      Duration expiry = expireAfterWrite != null ? expireAfterWrite : expireAfterAccess;
      Duration refresh = refreshAfterWrite;
      if (refresh != null) {
        if (loader == null) {
          throw new IllegalStateException(
              "refreshAfterWrite needs a loader: set loader, which the refresh calls");
        }
        if (expiry != null && refresh.compareTo(expiry) >= 0) {
          throw new IllegalStateException(
              Checks.format(
                  "refreshAfterWrite must be shorter than %s (%s), but was %s: an entry would"
                      + " expire before it is refreshed",
                  expirySetting, Checks.duration(expiry), Checks.duration(refresh)));
        }
      }
      Duration missing = cacheMissingFor;
      if (missing != null && expiry != null && missing.compareTo(expiry) >= 0) {
        throw new IllegalStateException(
            Checks.format(
                "cacheMissingFor must be shorter than %s (%s), but was %s: an absent key would be"
                    + " remembered as long as a value",
                expirySetting, Checks.duration(expiry), Checks.duration(missing)));
      }
      if (serveStaleFor != null && expireAfterWrite == null) {
        throw new IllegalStateException(
            "serveStaleFor needs expireAfterWrite: a value is served stale past that age");
      }
      checkRedis();
      MeterRegistry registry = meterRegistry;
      if (registry != null) {
        Meters.requireUnused(registry, INVALIDATIONS_METER, "cache", name, "name");
      }
      return new BoundedCache<>(this);
    }

    private void checkRedis() {
      if (connector == null) {
        for (Object[] setting :
            new Object[][] {
              {"redisPrefix", redisPrefix},
              {"redisTtl", redisTtl},
              {"redisTimeout", redisTimeout},
              {"heartbeat", heartbeat},
              {"singleFlight", lease}
            }) {
          if (setting[1] != null) {
            throw new IllegalStateException(
                setting[0] + " needs a Redis tier: set redis(client, keyCodec, valueCodec)");
          }
        }
        return;
      }
      if (expireAfterWrite == null) {
        throw new IllegalStateException(
            "cache "
                + name
                + " has a Redis tier and needs expireAfterWrite: it bounds how long an instance"
                + " that cannot hear invalidations serves an old value");
      }
      if (tags != null) {
        throw new IllegalStateException(
            "tags cannot be combined with redis: a tag's invalidation would not reach the values"
                + " in Redis; give each tenant its own cache or key prefix, and invalidate keys");
      }
    }

    /** {@return the name and the settings given, as in {@code [prices, maximumSize=10000]}} */
    String settings() {
      StringJoiner out = new StringJoiner(", ", "[", "]");
      out.add(name);
      Checks.addSetting(out, "maximumSize", maximumSize >= 0 ? maximumSize : null);
      Checks.addSetting(out, "maximumWeight", maximumWeight >= 0 ? maximumWeight : null);
      Checks.addSetting(out, "expireAfterWrite", expireAfterWrite);
      Checks.addSetting(out, "expireAfterAccess", expireAfterAccess);
      Checks.addSetting(out, "refreshAfterWrite", refreshAfterWrite);
      Checks.addSetting(out, "cacheMissingFor", cacheMissingFor);
      Checks.addSetting(out, "serveStaleFor", serveStaleFor);
      Checks.addSetting(out, "redis", redisKind);
      Checks.addSetting(out, "redisPrefix", redisPrefix);
      Checks.addSetting(out, "redisTtl", redisTtl);
      Checks.addSetting(out, "redisTimeout", redisTimeout);
      Checks.addSetting(out, "heartbeat", heartbeat);
      Checks.addSetting(out, "singleFlightLease", lease);
      Checks.addSetting(out, "singleFlightWait", leaseWait);
      if (loader != null) {
        out.add("loader");
      }
      if (tags != null) {
        out.add("tags");
      }
      if (meterRegistry != null) {
        out.add("meters");
      }
      return out.toString();
    }

    @Override
    public String toString() {
      return "BoundedCache.Builder" + settings();
    }
  }
}

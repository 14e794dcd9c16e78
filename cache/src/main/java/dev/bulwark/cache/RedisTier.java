package dev.bulwark.cache;

import com.github.benmanes.caffeine.cache.Caffeine;
import dev.bulwark.core.internal.Checks;
import dev.bulwark.core.internal.Meters;
import dev.bulwark.core.internal.NamedThreads;
import io.lettuce.core.KeyValue;
import io.lettuce.core.RedisChannelHandler;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisCommandTimeoutException;
import io.lettuce.core.RedisConnectionStateListener;
import io.lettuce.core.RedisNoScriptException;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.SetArgs;
import io.lettuce.core.api.StatefulConnection;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.cluster.api.StatefulRedisClusterConnection;
import io.lettuce.core.cluster.api.async.RedisAdvancedClusterAsyncCommands;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import io.lettuce.core.cluster.models.partitions.RedisClusterNode;
import io.lettuce.core.codec.ByteArrayCodec;
import io.lettuce.core.pubsub.RedisPubSubAdapter;
import io.lettuce.core.pubsub.RedisPubSubListener;
import io.lettuce.core.pubsub.StatefulRedisPubSubConnection;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import java.net.SocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.EnumMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Redis second tier of one {@link BoundedCache}: its two connections (commands, and the
 * invalidation channel's subscription), its scripts, and the rules that keep the first tier from
 * going silently stale.
 *
 * <p>Keys in Redis, for a cache {@code c} under the prefix {@code p}, at epoch {@code e}: the value
 * {@code p:c:e:{k}}, its generation {@code p:c:e:{k}:gen} and its lease {@code p:c:e:{k}:lease},
 * where {@code k} is the key codec's bytes (a key holding {@code '}'} is hash-tagged by a digest
 * instead); the epoch {@code {p:c}:epoch} and the set of servers seen {@code {p:c}:servers}; the
 * channel {@code p:c:invalidations}. The keys a script touches share their hash tag, so one slot.
 *
 * <p>Messages on the channel: {@code 1|<origin>|<sequence>|<kind>|<payload>}, kinds {@code k} (drop
 * a key; payload the key's bytes), {@code a} (drop everything; payload the new epoch) and {@code h}
 * (heartbeat). Each instance numbers its messages 1, 2, 3...; a receiver that sees a number skipped
 * clears its first tier.
 *
 * <p>Thread-safe.
 */
final class RedisTier<K, V> implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(RedisTier.class);

  /** How long a key's generation outlives its last write: loads longer than this are not kept. */
  static final Duration GENERATION_TTL = Duration.ofMinutes(1);

  /** Heartbeats missed before the channel counts as silent. */
  static final int MISSED_HEARTBEATS = 3;

  /** The longest wait for a subscription, when {@code redisTimeout} is shorter. */
  static final Duration SETUP_TIMEOUT = Duration.ofSeconds(2);

  /** The most publishers whose sequence numbers an instance follows. */
  static final int MAX_PUBLISHERS = 10_000;

  /** Why the first tier was cleared, the {@code cause} tag of {@code bulwark.cache.l1.clears}. */
  enum Clear {
    /** The invalidation connection was lost. */
    DISCONNECTED("disconnected"),
    /** The channel was subscribed again, after a reconnect or a replaced connection. */
    RESUBSCRIBED("resubscribed"),
    /** No message, not even this instance's own heartbeat, came for three heartbeats. */
    HEARTBEAT("heartbeat"),
    /** A publisher's sequence skipped a number: a message was lost. */
    GAP("gap"),
    /** A message could not be read. */
    UNDECODABLE("undecodable"),
    /** Redis's data is not the data the invalidations were applied to: a failover or a restart. */
    FAILOVER("failover"),
    /** Another instance called {@code invalidateAll}. */
    REMOTE_ALL("invalidate-all");

    final String tag;

    Clear(String tag) {
      this.tag = tag;
    }
  }

  /** What the cache does when the tier says so. */
  interface Events<K> {
    /**
     * Drops one key from the first tier: at once for every read (it must not block: it runs on the
     * event loop), and returns the removal of the entry, which may wait for a load.
     */
    Runnable drop(K key);

    /** Drops every entry of the first tier at once. */
    void clear(Clear cause);
  }

  /** Deletes the value and gives the key a new generation, a token no earlier one can equal. */
  private static final String INVALIDATE =
      "redis.call('DEL', KEYS[1]) redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2]) return 1";

  /** Writes the value and gives the key a new generation. */
  private static final String PUT =
      "redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])"
          + " redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[4]) return 1";

  /** Writes a loaded value unless the key was written or invalidated since it was read. */
  private static final String FILL =
      "local g = redis.call('GET', KEYS[2]) or ''"
          + " local kept = 0"
          + " if g == ARGV[3] then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) kept = 1 end"
          + " if ARGV[4] ~= '' and redis.call('GET', KEYS[3]) == ARGV[4] then"
          + " redis.call('DEL', KEYS[3]) end"
          + " return kept";

  private static final String RELEASE =
      "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end"
          + " return 0";

  /**
   * Returns the epoch and whether it was raised. It is raised when a server's replication id
   * ({@code ARGV[2..]}: the master's, or every cluster master's) is not among those seen before: a
   * promoted replica, or a server restarted, starts a new history and may lack the last deletes of
   * the old one. An epoch below the one this instance knows ({@code ARGV[1]}: the key was evicted,
   * or lost in a failover) is raised to it first, so the epoch never goes back. The ids seen are
   * kept as a set, so that an instance whose view of a cluster lags raises nothing.
   */
  private static final String EPOCH =
      "local stored = tonumber(redis.call('GET', KEYS[2]) or '0')"
          + " local known = tonumber(ARGV[1])"
          + " if stored < known then stored = known end"
          + " local first = redis.call('EXISTS', KEYS[1]) == 0 and stored == 0"
          + " local raised = 0"
          + " for i = 2, #ARGV do"
          + "   if redis.call('SADD', KEYS[1], ARGV[i]) == 1 and not first then raised = 1 end"
          + " end"
          + " if redis.call('SCARD', KEYS[1]) > 1000 then"
          + "   redis.call('DEL', KEYS[1])"
          + "   for i = 2, #ARGV do redis.call('SADD', KEYS[1], ARGV[i]) end"
          + " end"
          + " if raised == 1 then stored = stored + 1 end"
          + " redis.call('SET', KEYS[2], stored)"
          + " return {stored, raised}";

  /** Raises the epoch past both the stored one and the one this instance knows. */
  private static final String NEXT_EPOCH =
      "local stored = tonumber(redis.call('GET', KEYS[1]) or '0')"
          + " local next = math.max(stored, tonumber(ARGV[1])) + 1"
          + " redis.call('SET', KEYS[1], next) return next";

  private final String name;
  private final Codec<K> keys;
  private final Codec<V> values;
  private final Duration timeout;
  private final long ttlMillis;
  private final Duration heartbeat;
  private final @Nullable Duration lease;
  private final @Nullable Duration leaseWait;
  private final Events<K> events;
  private final byte[] prefix; // p:c:
  private final byte[] channel;
  private final byte[] epochKey;
  private final byte[] serverKey;
  private final String origin;
  private final Script invalidate = new Script(INVALIDATE);
  private final Script put = new Script(PUT);
  private final Script fill = new Script(FILL);
  private final Script release = new Script(RELEASE);
  private final Script epochScript = new Script(EPOCH);
  private final Script nextEpoch = new Script(NEXT_EPOCH);
  private final boolean cluster;

  private final StatefulConnection<byte[], byte[]> connection;
  private final RedisClusterAsyncCommands<byte[], byte[]> commands;
  private final ScheduledThreadPoolExecutor scheduler;

  /** Removes dropped entries; a removal may wait for a load, so not on the scheduler. */
  private final ThreadPoolExecutor drops;

  private final Object publishing = new Object();
  private long sequence; // guarded by publishing
  private final AtomicLong epoch = new AtomicLong();

  /** The last number heard from each publisher; bounded, forgetting the longest silent. */
  private final Map<String, Long> publishers =
      Caffeine.newBuilder()
          .maximumSize(MAX_PUBLISHERS)
          .expireAfterAccess(Duration.ofHours(1))
          .<String, Long>build()
          .asMap();

  private final AtomicBoolean closing = new AtomicBoolean();
  private final AtomicLong generations = new AtomicLong();
  private volatile @Nullable StatefulRedisPubSubConnection<byte[], byte[]> pubSub;
  private volatile boolean listening;

  /** Set by the first confirmation of a subscription; every later one is a re-subscription. */
  private final AtomicBoolean confirmed = new AtomicBoolean();

  private volatile boolean synced;

  /** Disconnects of the subscription: an epoch check that saw one happen is not a sync. */
  private final AtomicLong disconnects = new AtomicLong();

  /** This instance's heartbeats sent since it last heard anything on the channel. */
  private final AtomicInteger unheard = new AtomicInteger();

  private volatile long lastMessageNanos;
  private volatile boolean closed;

  private final LongAdder hits = new LongAdder();
  private final LongAdder misses = new LongAdder();
  private final LongAdder errors = new LongAdder();
  private final LongAdder backgroundFailures = new LongAdder();
  private final LongAdder skipped = new LongAdder();
  private final LongAdder decodeFailures = new LongAdder();
  private final LongAdder sent = new LongAdder();
  private final LongAdder received = new LongAdder();
  private final LongAdder dropped = new LongAdder();
  private final LongAdder propagationFailures = new LongAdder();
  private final LongAdder leasesAcquired = new LongAdder();
  private final LongAdder leasesAwaited = new LongAdder();
  private final LongAdder leasesTimedOut = new LongAdder();
  private final Map<Clear, LongAdder> clears = new EnumMap<>(Clear.class);

  private final @Nullable MeterRegistry registry;
  private final List<Meter> meters = new ArrayList<>();

  /** The connections a tier runs on, and how to open another subscription. */
  interface Connector {
    StatefulConnection<byte[], byte[]> connect();

    RedisClusterAsyncCommands<byte[], byte[]> commands(StatefulConnection<byte[], byte[]> c);

    StatefulRedisPubSubConnection<byte[], byte[]> connectPubSub();

    boolean cluster();
  }

  static Connector connector(RedisClient client) {
    return new Connector() {
      @Override
      public StatefulConnection<byte[], byte[]> connect() {
        return client.connect(ByteArrayCodec.INSTANCE);
      }

      @SuppressWarnings("unchecked")
      @Override
      public RedisClusterAsyncCommands<byte[], byte[]> commands(
          StatefulConnection<byte[], byte[]> c) {
        return ((io.lettuce.core.api.StatefulRedisConnection<byte[], byte[]>) c).async();
      }

      @Override
      public StatefulRedisPubSubConnection<byte[], byte[]> connectPubSub() {
        return client.connectPubSub(ByteArrayCodec.INSTANCE);
      }

      @Override
      public boolean cluster() {
        return false;
      }
    };
  }

  static Connector connector(RedisClusterClient client) {
    return new Connector() {
      @Override
      public StatefulConnection<byte[], byte[]> connect() {
        StatefulRedisClusterConnection<byte[], byte[]> c = client.connect(ByteArrayCodec.INSTANCE);
        // A client that rejects commands while disconnected (as Pools' does) rejects the first
        // command for a master whose connection it is still opening: open them all now.
        for (RedisClusterNode node : c.getPartitions()) {
          if (node.is(RedisClusterNode.NodeFlag.UPSTREAM) && !node.hasNoSlots()) {
            try {
              var unused = c.getConnection(node.getUri().getHost(), node.getUri().getPort());
            } catch (RuntimeException e) {
              // Unreachable now: its commands fail, and are counted, until it is back.
            }
          }
        }
        return c;
      }

      @SuppressWarnings("unchecked")
      @Override
      public RedisClusterAsyncCommands<byte[], byte[]> commands(
          StatefulConnection<byte[], byte[]> c) {
        return ((StatefulRedisClusterConnection<byte[], byte[]>) c).async();
      }

      @Override
      public StatefulRedisPubSubConnection<byte[], byte[]> connectPubSub() {
        return client.connectPubSub(ByteArrayCodec.INSTANCE);
      }

      @Override
      public boolean cluster() {
        return true;
      }
    };
  }

  /** The tier's settings, checked by the cache's builder. */
  record Settings(
      String prefix,
      Duration ttl,
      Duration timeout,
      Duration heartbeat,
      @Nullable Duration lease,
      @Nullable Duration leaseWait) {}

  RedisTier(
      String name,
      Connector connector,
      Codec<K> keys,
      Codec<V> values,
      Settings settings,
      Events<K> events,
      @Nullable MeterRegistry registry) {
    this.name = name;
    this.keys = keys;
    this.values = values;
    this.timeout = settings.timeout();
    this.ttlMillis = Math.max(1, settings.ttl().toMillis());
    this.heartbeat = settings.heartbeat();
    this.lease = settings.lease();
    this.leaseWait = settings.leaseWait();
    this.events = events;
    this.registry = registry;
    String base = settings.prefix() + ":" + name;
    this.prefix = bytes(base + ":");
    this.channel = bytes(base + ":invalidations");
    this.epochKey = bytes("{" + base + "}:epoch");
    this.serverKey = bytes("{" + base + "}:servers");
    byte[] id = new byte[6];
    new SecureRandom().nextBytes(id);
    this.origin = HexFormat.of().formatHex(id);
    for (Clear cause : Clear.values()) {
      clears.put(cause, new LongAdder());
    }
    this.cluster = connector.cluster();
    this.connection = connector.connect();
    this.scheduler = new ScheduledThreadPoolExecutor(1, NamedThreads.daemon("cache", name));
    this.drops =
        new ThreadPoolExecutor(
            1,
            1,
            0,
            TimeUnit.NANOSECONDS,
            new LinkedBlockingQueue<>(),
            NamedThreads.daemon("cache", name + "-drops"));
    scheduler.setRemoveOnCancelPolicy(true);
    try {
      connection.setTimeout(timeout);
      this.commands = connector.commands(connection);
      long[] answer = epochNow();
      epoch.set(answer[0]);
      StatefulRedisPubSubConnection<byte[], byte[]> first = connector.connectPubSub();
      attach(first);
      awaitSetup(first.async().subscribe(channel));
      if (answer[1] == 1) {
        // The first to meet a new server: the running instances, which may not have, move too.
        await(publish('a', bytes(Long.toString(answer[0]))));
      }
      listening = true;
      synced = true;
      lastMessageNanos = System.nanoTime();
    } catch (RuntimeException e) {
      close();
      throw e;
    }
    long every = heartbeat.toNanos();
    var unused =
        scheduler.scheduleWithFixedDelay(
            () -> {
              try {
                beat(connector);
              } catch (RuntimeException | Error e) { // never end the heartbeats
                failedInBackground("heartbeat", e);
              }
            },
            every,
            every,
            TimeUnit.NANOSECONDS);
    if (registry != null) {
      register(registry);
    }
  }

  // ---- reads and fills

  /**
   * Loads one key through the tier: Redis first, then (under a lease when single-flight is on) the
   * loader, whose value is written to Redis unless the key was invalidated meanwhile. While the
   * tier is not synced, the loader only. Redis failures are counted and skipped; the loader's are
   * thrown.
   */
  @Nullable V load(K key, Function<? super K, ? extends @Nullable V> loader) {
    if (!synced()) {
      // Not reconnected yet, or reconnected before the epoch is checked: after a failover, the
      // values of the old epoch are those whose invalidations the new server may have lost.
      skipped.increment();
      return loader.apply(key);
    }
    Names names = names(key);
    long read = System.nanoTime();
    byte[] generation;
    try {
      List<KeyValue<byte[], byte[]>> found = await(commands.mget(names.value, names.generation));
      byte[] bytes = valueOf(found, 0);
      if (bytes != null) {
        V value = decode(bytes);
        if (value != null) {
          hits.increment();
          return value;
        }
      }
      generation = orEmpty(valueOf(found, 1));
    } catch (RuntimeException e) {
      failed("read", e);
      return loader.apply(key);
    }
    byte[] token = EMPTY;
    if (lease != null) {
      Leased<V> leased = lease(names);
      if (leased.value != null) {
        return leased.value;
      }
      token = leased.token;
      generation = leased.generation == null ? generation : leased.generation;
    }
    misses.increment(); // counted here: a lease's wait may have found the value after all
    V value;
    try {
      value = loader.apply(key);
    } catch (RuntimeException | Error e) {
      releaseQuietly(names, token);
      throw e;
    }
    if (value == null) {
      releaseQuietly(names, token);
      return null;
    }
    // The generation read must still be in Redis when the fill runs, or an invalidation since
    // would go unseen: a load (from the read to the fill's last moment) must end well within it.
    if (System.nanoTime() - read >= GENERATION_TTL.toNanos() - 2 * timeout.toNanos()) {
      releaseQuietly(names, token);
      return value;
    }
    try {
      byte[] encoded = values.encode(value);
      await(
          fill.run(
              commands,
              new byte[][] {names.value, names.generation, names.lease},
              encoded,
              bytes(Long.toString(ttlMillis)),
              generation,
              token));
    } catch (RuntimeException e) {
      failed("fill", e);
      releaseQuietly(names, token);
    }
    return value;
  }

  private static final byte[] EMPTY = new byte[0];

  /** What one bulk read found in Redis, and the generations of the keys it did not find. */
  final class Bulk {
    final long read = System.nanoTime();
    final Map<K, V> found = new LinkedHashMap<>();
    final Map<K, byte[]> generations = new LinkedHashMap<>();
    final Map<K, Names> names = new LinkedHashMap<>();
  }

  /**
   * Reads many keys with one {@code MGET} (split by slot on a cluster). Never throws: a failure is
   * counted and leaves nothing found and nothing to fill.
   */
  Bulk readAll(Collection<K> wanted) {
    Bulk bulk = new Bulk();
    if (!synced()) {
      skipped.add(wanted.size());
      return bulk;
    }
    List<K> order = new ArrayList<>(wanted);
    byte[][] args = new byte[order.size() * 2][];
    List<Names> named = new ArrayList<>(order.size());
    for (int i = 0; i < order.size(); i++) {
      Names names = names(order.get(i));
      named.add(names);
      args[2 * i] = names.value;
      args[2 * i + 1] = names.generation;
    }
    try {
      List<KeyValue<byte[], byte[]>> found = await(commands.mget(args));
      for (int i = 0; i < order.size(); i++) {
        K key = order.get(i);
        byte[] bytes = valueOf(found, 2 * i);
        V value = bytes == null ? null : decode(bytes);
        if (value != null) {
          hits.increment();
          bulk.found.put(key, value);
        } else {
          misses.increment();
          bulk.generations.put(key, orEmpty(valueOf(found, 2 * i + 1)));
          bulk.names.put(key, named.get(i));
        }
      }
    } catch (RuntimeException e) {
      failed("read", e);
      bulk.generations.clear();
      bulk.found.clear();
    }
    return bulk;
  }

  /** Writes the values a bulk loader found for the keys the bulk read missed; never throws. */
  void fillAll(Bulk bulk, Map<K, ? extends V> loaded) {
    if (System.nanoTime() - bulk.read >= GENERATION_TTL.toNanos() - 2 * timeout.toNanos()) {
      return;
    }
    List<CompletionStage<Long>> pending = new ArrayList<>();
    for (Map.Entry<K, byte[]> e : bulk.generations.entrySet()) {
      V value = loaded.get(e.getKey());
      Names names = bulk.names.get(e.getKey());
      if (value == null || names == null) {
        continue;
      }
      try {
        pending.add(
            fill.run(
                commands,
                new byte[][] {names.value, names.generation, names.lease},
                values.encode(value),
                bytes(Long.toString(ttlMillis)),
                e.getValue(),
                EMPTY));
      } catch (RuntimeException failure) {
        failed("fill", failure);
      }
    }
    for (CompletionStage<Long> each : pending) {
      try {
        await(each);
      } catch (RuntimeException failure) {
        failed("fill", failure);
      }
    }
  }

  private static byte[] orEmpty(byte @Nullable [] bytes) {
    return bytes == null ? EMPTY : bytes;
  }

  private static byte @Nullable [] valueOf(List<KeyValue<byte[], byte[]>> found, int index) {
    if (found.size() <= index) {
      return null;
    }
    KeyValue<byte[], byte[]> kv = found.get(index);
    return kv.hasValue() ? kv.getValue() : null;
  }

  private @Nullable V decode(byte[] bytes) {
    try {
      return values.decode(bytes);
    } catch (RuntimeException e) {
      decodeFailures.increment();
      log.warn(
          "cache {}: a value in Redis does not decode ({}); it is treated as absent and reloaded",
          name,
          e.getClass().getName());
      return null;
    }
  }

  /** The outcome of waiting for another instance's load: its value, or a lease to load under. */
  private static final class Leased<V> {
    final @Nullable V value;
    final byte[] token;
    final byte @Nullable [] generation;

    Leased(@Nullable V value, byte[] token, byte @Nullable [] generation) {
      this.value = value;
      this.token = token;
      this.generation = generation;
    }
  }

  private Leased<V> lease(Names names) {
    Duration leaseTime = lease;
    Duration wait = leaseWait;
    if (leaseTime == null || wait == null) {
      return new Leased<>(null, EMPTY, null);
    }
    byte[] token = bytes(origin + "-" + Long.toHexString(ThreadLocalRandom.current().nextLong()));
    SetArgs args = SetArgs.Builder.nx().px(leaseTime.toMillis());
    long deadline = System.nanoTime() + wait.toNanos();
    long pause = 2_000_000L; // 2 ms, doubling to 50 ms
    boolean waited = false;
    byte[] generation = null;
    try {
      while (true) {
        if ("OK".equals(await(commands.set(names.lease, token, args)))) {
          // Read again under the lease: a holder may have filled and released it since the last
          // read, and its value is not to be loaded twice.
          List<KeyValue<byte[], byte[]>> found =
              await(commands.mget(names.value, names.generation));
          V value = valueIn(found);
          if (value != null) {
            releaseQuietly(names, token);
            return new Leased<>(value, EMPTY, null);
          }
          leasesAcquired.increment();
          return new Leased<>(null, token, orEmpty(valueOf(found, 1)));
        }
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          leasesTimedOut.increment();
          return new Leased<>(null, EMPTY, null);
        }
        if (!waited) {
          waited = true;
          leasesAwaited.increment();
        }
        Thread.sleep(TimeUnit.NANOSECONDS.toMillis(Math.min(pause, left)) + 1);
        pause = Math.min(pause * 2, 50_000_000L);
        List<KeyValue<byte[], byte[]>> found = await(commands.mget(names.value, names.generation));
        V value = valueIn(found);
        if (value != null) {
          return new Leased<>(value, EMPTY, null);
        }
        generation = orEmpty(valueOf(found, 1));
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return new Leased<>(null, EMPTY, null);
    } catch (RuntimeException e) {
      failed("lease", e);
      return new Leased<>(null, EMPTY, generation);
    }
  }

  /** The value an {@code MGET} of value and generation found, counted as a hit, or null. */
  private @Nullable V valueIn(List<KeyValue<byte[], byte[]>> found) {
    byte[] bytes = valueOf(found, 0);
    V value = bytes == null ? null : decode(bytes);
    if (value != null) {
      hits.increment();
    }
    return value;
  }

  private void releaseQuietly(Names names, byte[] token) {
    if (token.length == 0) {
      return;
    }
    release
        .run(commands, new byte[][] {names.lease}, token)
        .whenComplete(
            (ok, e) -> {
              if (e != null) {
                failedInBackground("lease release", e); // it expires at its own time
              }
            });
  }

  // ---- writes

  /** Deletes the key in Redis and tells the other instances; throws if either did not happen. */
  void invalidate(K key) {
    byte[] raw = keys.encode(key);
    write(
        "invalidate",
        at -> {
          Names names = new Names(raw, at);
          return invalidate.run(
              commands,
              new byte[][] {names.value, names.generation},
              nextGeneration(),
              bytes(Long.toString(GENERATION_TTL.toMillis())));
        },
        'k',
        raw);
  }

  /** Checks that the key and value encode, before anything changes; returns the value's bytes. */
  byte[] encode(K key, V value) {
    keys.encode(key);
    return values.encode(value);
  }

  /** Writes the value to Redis and tells the other instances to drop their copies. */
  void put(K key, byte[] encoded) {
    byte[] raw = keys.encode(key);
    write(
        "put",
        at -> {
          Names names = new Names(raw, at);
          return put.run(
              commands,
              new byte[][] {names.value, names.generation},
              encoded,
              bytes(Long.toString(ttlMillis)),
              nextGeneration(),
              bytes(Long.toString(GENERATION_TTL.toMillis())));
        },
        'k',
        raw);
  }

  /** Moves every instance to a new epoch, which leaves every value in Redis behind unread. */
  void invalidateAll() {
    long[] next = new long[1];
    write(
        "invalidateAll",
        at ->
            nextEpoch
                .run(commands, new byte[][] {epochKey}, bytes(Long.toString(epoch.get())))
                .thenApply(
                    e -> {
                      next[0] = e;
                      epoch.accumulateAndGet(e, Math::max);
                      return e;
                    }),
        'a',
        null,
        next);
  }

  private byte[] nextGeneration() {
    return bytes(origin + "." + generations.incrementAndGet());
  }

  /** One write at a given epoch. */
  private interface Call {
    CompletionStage<?> at(long epoch);
  }

  private void write(String operation, Call call, char kind, byte @Nullable [] payload) {
    write(operation, call, kind, payload, null);
  }

  private void write(
      String operation,
      Call call,
      char kind,
      byte @Nullable [] payload,
      long @Nullable [] epochOut) {
    if (!connection.isOpen()) {
      propagationFailures.increment();
      throw new CachePropagationException(
          name,
          Checks.format(
              "cache %s: %s reached this instance only: Redis is not connected, so the other"
                  + " instances keep their copies until they expire",
              name, operation),
          new IllegalStateException("the cache's Redis connection is down"));
    }
    try {
      long at = epoch.get();
      await(call.at(at));
      if (epochOut == null) {
        // Another instance may have moved the epoch while this one wrote at the old one: a fill at
        // the new epoch would then miss this write. Write again there.
        for (int i = 0; i < 3; i++) {
          byte[] stored = await(commands.get(epochKey));
          long now =
              stored == null ? 0 : Long.parseLong(new String(stored, StandardCharsets.UTF_8));
          if (now <= at) {
            break;
          }
          if (epoch.getAndAccumulate(now, Math::max) < now) {
            clear(Clear.REMOTE_ALL); // an epoch raised by another instance, not heard yet
          }
          at = epoch.get();
          await(call.at(at));
        }
      }
    } catch (RuntimeException e) {
      propagationFailures.increment();
      throw new CachePropagationException(
          name,
          Checks.format(
              "cache %s: %s reached this instance only: Redis did not answer (%s), so the other"
                  + " instances keep their copies until they expire",
              name, operation, describe(e)),
          e);
    }
    try {
      byte[] body =
          payload != null
              ? payload
              : bytes(Long.toString(epochOut == null ? epoch.get() : epochOut[0]));
      await(publish(kind, body));
      sent.increment();
    } catch (RuntimeException e) {
      propagationFailures.increment();
      throw new CachePropagationException(
          name,
          Checks.format(
              "cache %s: %s reached Redis but its message did not reach the invalidation channel"
                  + " (%s), so the other instances keep their copies until they expire",
              name, operation, describe(e)),
          e);
    }
  }

  /** Numbers and sends one message; the order of numbers is the order on the connection. */
  private CompletionStage<Long> publish(char kind, byte[] payload) {
    synchronized (publishing) {
      long number = ++sequence;
      byte[] head = bytes("1|" + origin + "|" + number + "|" + kind + "|");
      byte[] message = new byte[head.length + payload.length];
      System.arraycopy(head, 0, message, 0, head.length);
      System.arraycopy(payload, 0, message, head.length, payload.length);
      return commands.publish(channel, message);
    }
  }

  // ---- the channel

  private void attach(StatefulRedisPubSubConnection<byte[], byte[]> next) {
    Subscriber subscriber = new Subscriber(next);
    pubSub = next;
    next.addListener((RedisPubSubListener<byte[], byte[]>) subscriber);
    ((RedisChannelHandler<?, ?>) next).addListener((RedisConnectionStateListener) subscriber);
  }

  /**
   * Receives one subscription connection's messages and events, and ignores them once that
   * connection was replaced.
   */
  private final class Subscriber extends RedisPubSubAdapter<byte[], byte[]>
      implements RedisConnectionStateListener {
    private final StatefulRedisPubSubConnection<byte[], byte[]> mine;

    Subscriber(StatefulRedisPubSubConnection<byte[], byte[]> mine) {
      this.mine = mine;
    }

    @SuppressWarnings("ReferenceEquality") // the one connection subscribed now, not an old one
    private boolean current() {
      return mine == pubSub && !closed;
    }

    @Override
    public void message(byte[] from, byte[] message) {
      if (!current()) {
        return;
      }
      lastMessageNanos = System.nanoTime();
      unheard.set(0);
      if (!listening && !closed) { // heard again after a silence: what was said meanwhile is lost
        resync(Clear.RESUBSCRIBED);
      }
      receive(message);
    }

    @Override
    public void subscribed(byte[] to, long count) {
      if (!current()) {
        return;
      }
      lastMessageNanos = System.nanoTime();
      unheard.set(0);
      if (!confirmed.compareAndSet(false, true)
          && !closed) { // a re-subscription after a reconnect: messages may have been missed
        resync(Clear.RESUBSCRIBED);
      }
    }

    @Override
    public void onRedisDisconnected(RedisChannelHandler<?, ?> connection) {
      if (confirmed.get() && current()) { // not before the first subscription was confirmed
        disconnects.incrementAndGet();
        synced = false;
        listening = false;
        clear(Clear.DISCONNECTED);
      }
    }

    @Override
    public void onRedisConnected(RedisChannelHandler<?, ?> connection, SocketAddress address) {}
  }

  private void receive(byte[] message) {
    int[] bars = new int[4];
    int found = 0;
    for (int i = 0; i < message.length && found < 4; i++) {
      if (message[i] == '|') {
        bars[found++] = i;
      }
    }
    if (found < 4 || message[0] != '1' || bars[0] != 1 || bars[3] != bars[2] + 2) {
      undecodable();
      return;
    }
    String from = new String(message, bars[0] + 1, bars[1] - bars[0] - 1, StandardCharsets.UTF_8);
    long number;
    try {
      number =
          Long.parseLong(
              new String(message, bars[1] + 1, bars[2] - bars[1] - 1, StandardCharsets.UTF_8));
    } catch (NumberFormatException e) {
      undecodable();
      return;
    }
    char kind = (char) message[bars[2] + 1];
    byte[] payload = new byte[message.length - bars[3] - 1];
    System.arraycopy(message, bars[3] + 1, payload, 0, payload.length);
    if (kind == 'a') {
      long next;
      try {
        next = Long.parseLong(new String(payload, StandardCharsets.UTF_8));
      } catch (NumberFormatException e) {
        undecodable();
        return;
      }
      epoch.accumulateAndGet(next, Math::max);
    }
    if (from.equals(origin)) {
      return; // this instance's own: applied when it was sent
    }
    Long last = publishers.put(from, number);
    if (last != null && number > last + 1) {
      clear(Clear.GAP);
      synced = false; // the lost message may have been an invalidateAll: read the epoch again
      try {
        scheduler.execute(this::checkEpoch);
      } catch (RejectedExecutionException e) {
        // closed meanwhile
      }
    } else if (last != null && number <= last) {
      publishers.put(from, last); // late: it was counted as a gap when the later one came
    }
    switch (kind) {
      case 'k' -> {
        K key;
        try {
          key = keys.decode(payload);
        } catch (RuntimeException e) {
          undecodable();
          return;
        }
        Runnable removal = events.drop(key); // no read answers the old value from here on
        drops.execute(
            () -> {
              removal.run();
              received.increment(); // counted once applied: a reader of the count sees it done
            });
      }
      case 'a' -> {
        clear(Clear.REMOTE_ALL);
        received.increment();
      }
      case 'h' -> {}
      default -> undecodable();
    }
  }

  private void undecodable() {
    clear(Clear.UNDECODABLE);
    dropped.increment(); // after the clear and its count, which a reader of this one then sees
  }

  private void clear(Clear cause) {
    try {
      events.clear(cause);
    } finally { // counted once done: a reader that sees the count finds the first tier cleared
      clearsOf(cause).increment();
    }
  }

  /** After a new subscription: clear, forget the publishers' numbers, and check the epoch. */
  private void resync(Clear cause) {
    publishers.clear();
    listening = true;
    clear(cause);
    try {
      scheduler.execute(this::checkEpoch);
    } catch (RejectedExecutionException e) {
      // closed meanwhile
    }
  }

  /**
   * Reads the servers' identity and the epoch, raising it after a failover; the tier is synced when
   * this succeeds while the channel is heard. Runs on the scheduler.
   */
  private void checkEpoch() {
    long seen = disconnects.get();
    try {
      long before = epoch.get();
      long[] answer = epochNow();
      long now = epoch.accumulateAndGet(answer[0], Math::max);
      if (answer[1] == 1) {
        log.warn(
            "cache {}: Redis is not the server it was (a failover or a restart): its values from"
                + " before are left unread and the first tier is cleared",
            name);
        clear(Clear.FAILOVER);
        publish('a', bytes(Long.toString(now)))
            .whenComplete(
                (n, e) -> {
                  if (e != null) {
                    failedInBackground("epoch message", e);
                  }
                });
      } else if (now != before) {
        clear(Clear.REMOTE_ALL); // an invalidateAll whose message this instance did not hear
      }
      synced = listening && disconnects.get() == seen;
    } catch (RuntimeException e) {
      failedInBackground("epoch", e);
      synced = false;
    }
  }

  private long[] epochNow() {
    List<byte[]> args = new ArrayList<>();
    args.add(bytes(Long.toString(epoch.get())));
    for (String id : replicationIds()) {
      args.add(bytes(id));
    }
    List<?> answer =
        awaitSetup(
            epochScript.<List<?>>run(
                ScriptOutputType.MULTI,
                commands,
                new byte[][] {serverKey, epochKey},
                args.toArray(new byte[0][])));
    return new long[] {((Number) answer.get(0)).longValue(), ((Number) answer.get(1)).longValue()};
  }

  /** The replication id of the master, or of every cluster master. */
  private List<String> replicationIds() {
    if (!cluster) {
      return List.of(replicationId(awaitSetup(commands.info("replication"))));
    }
    @SuppressWarnings("unchecked")
    RedisAdvancedClusterAsyncCommands<byte[], byte[]> all =
        (RedisAdvancedClusterAsyncCommands<byte[], byte[]>) commands;
    List<String> ids = new ArrayList<>();
    for (CompletableFuture<String> info : all.upstream().commands().info("replication").futures()) {
      ids.add(replicationId(awaitSetup(info)));
    }
    return ids;
  }

  static String replicationId(String info) {
    String field = "master_replid:";
    int at = info.indexOf(field);
    if (at < 0) {
      throw new IllegalStateException("INFO replication has no master_replid");
    }
    int end = at + field.length();
    while (end < info.length() && Character.isLetterOrDigit(info.charAt(end))) {
      end++;
    }
    return info.substring(at + field.length(), end);
  }

  /**
   * Every heartbeat: send one; check the epoch; and if nothing was heard for three, clear and
   * replace the subscription.
   */
  private void beat(Connector connector) {
    if (closed) {
      return;
    }
    boolean up = connection.isOpen();
    int unanswered = unheard.get();
    if (up) {
      unheard.incrementAndGet();
      publish('h', EMPTY)
          .whenComplete(
              (n, e) -> {
                if (e != null) {
                  failedInBackground("heartbeat", e);
                }
              });
    }
    long silent = System.nanoTime() - lastMessageNanos;
    // Silent only if this instance's own heartbeats went out unheard: a beat that ran late (the
    // thread waited for Redis) is no silence of the channel.
    if (silent > MISSED_HEARTBEATS * heartbeat.toNanos() && unanswered >= MISSED_HEARTBEATS) {
      if (listening) {
        log.warn(
            "cache {}: no message on its invalidation channel for {} ms, not even its own"
                + " heartbeat; its first tier is cleared and the subscription replaced",
            name,
            TimeUnit.NANOSECONDS.toMillis(silent));
        clear(Clear.HEARTBEAT);
      }
      listening = false;
      synced = false;
      if (up) { // it could have heard its own heartbeat: the subscription is what is silent
        replaceSubscription(connector);
      }
    } else if (up && listening) {
      checkEpoch();
    }
  }

  private void replaceSubscription(Connector connector) {
    StatefulRedisPubSubConnection<byte[], byte[]> old = pubSub;
    if (old != null && !old.isOpen()) {
      return; // disconnected: Lettuce reconnects it and subscribes again
    }
    StatefulRedisPubSubConnection<byte[], byte[]> next;
    try {
      next = connector.connectPubSub();
    } catch (RuntimeException e) {
      failedInBackground("subscribe", e); // the next heartbeat tries again
      return;
    }
    attach(next); // the current one from now: its disconnects count, not the old one's
    try {
      awaitSetup(next.async().subscribe(channel)); // its confirmation resyncs
    } catch (RuntimeException e) {
      failedInBackground("subscribe", e); // unheard: replaced again three heartbeats from now
    }
    lastMessageNanos = System.nanoTime();
    if (old != null) {
      var unused = old.closeAsync();
    }
    if (closed) {
      var unused = next.closeAsync();
    }
  }

  // ---- plumbing

  /** The Redis names of one key. */
  private final class Names {
    final byte[] value;
    final byte[] generation;
    final byte[] lease;

    Names(byte[] raw) {
      this(raw, epoch.get());
    }

    Names(byte[] raw, long at) {
      byte[] head = bytes(at + ":");
      boolean plain = raw.length > 0 && indexOf(raw, (byte) '}') < 0;
      byte[] tagged;
      if (plain) {
        tagged = concat(prefix, head, BRACE_OPEN, raw, BRACE_CLOSE);
      } else {
        tagged = concat(prefix, head, BRACE_OPEN, digest(raw), BRACE_CLOSE, COLON, raw);
      }
      this.value = tagged;
      this.generation = concat(tagged, GEN);
      this.lease = concat(tagged, LEASE);
    }
  }

  private static final byte[] BRACE_OPEN = {'{'};
  private static final byte[] BRACE_CLOSE = {'}'};
  private static final byte[] COLON = {':'};
  private static final byte[] GEN = bytes(":gen");
  private static final byte[] LEASE = bytes(":lease");

  private Names names(K key) {
    return new Names(keys.encode(key));
  }

  /** The Redis key of a value, for tests. */
  String valueKey(K key) {
    return new String(names(key).value, StandardCharsets.UTF_8);
  }

  /** The Redis key of a value's generation, for tests. */
  String generationKey(K key) {
    return new String(names(key).generation, StandardCharsets.UTF_8);
  }

  /** The Redis key of a value's single-flight lease, for tests. */
  String leaseKey(K key) {
    return new String(names(key).lease, StandardCharsets.UTF_8);
  }

  /** The Redis keys of the epoch and of the server marker, for tests. */
  List<String> epochKeys() {
    return List.of(
        new String(epochKey, StandardCharsets.UTF_8),
        new String(serverKey, StandardCharsets.UTF_8));
  }

  private static int indexOf(byte[] bytes, byte b) {
    for (int i = 0; i < bytes.length; i++) {
      if (bytes[i] == b) {
        return i;
      }
    }
    return -1;
  }

  private static byte[] digest(byte[] raw) {
    try {
      byte[] sha = MessageDigest.getInstance("SHA-256").digest(raw);
      return bytes(HexFormat.of().formatHex(sha, 0, 8));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this JVM", e);
    }
  }

  private static byte[] concat(byte[]... parts) {
    int length = 0;
    for (byte[] part : parts) {
      length += part.length;
    }
    byte[] out = new byte[length];
    int at = 0;
    for (byte[] part : parts) {
      System.arraycopy(part, 0, out, at, part.length);
      at += part.length;
    }
    return out;
  }

  private static byte[] bytes(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }

  private <T> T await(CompletionStage<T> stage) {
    return await(stage, timeout);
  }

  /** Waits for a subscription, which is not on the path of any read: the longer setup bound. */
  private <T> T awaitSetup(CompletionStage<T> stage) {
    return await(stage, timeout.compareTo(SETUP_TIMEOUT) > 0 ? timeout : SETUP_TIMEOUT);
  }

  private static <T> T await(CompletionStage<T> stage, Duration timeout) {
    CompletableFuture<T> future = stage.toCompletableFuture();
    try {
      return future.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
    } catch (TimeoutException e) {
      future.cancel(false);
      throw new IllegalStateException("no answer from Redis within " + Checks.duration(timeout), e);
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      if (cause instanceof RedisCommandTimeoutException) { // Lettuce's timer of the same length
        throw new IllegalStateException(
            "no answer from Redis within " + Checks.duration(timeout), cause);
      }
      if (cause instanceof RuntimeException runtime) {
        throw runtime;
      }
      throw new IllegalStateException(describe(cause), cause);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      future.cancel(false);
      throw new IllegalStateException("interrupted while waiting for Redis", e);
    }
  }

  private static String describe(@Nullable Throwable e) {
    if (e == null) {
      return "no cause";
    }
    String message = e.getMessage();
    return e.getClass().getSimpleName() + (message == null ? "" : ": " + message);
  }

  /** A failure outside any caller's read: the heartbeat, the epoch check, a subscription. */
  private void failedInBackground(String operation, Throwable e) {
    backgroundFailures.increment();
    if (log.isDebugEnabled()) {
      log.debug("cache {}: Redis {} failed: {}", name, operation, describe(e));
    }
  }

  private void failed(String operation, Throwable e) {
    errors.increment();
    if (log.isDebugEnabled()) {
      log.debug("cache {}: Redis {} failed: {}", name, operation, describe(e));
    }
  }

  /** One Lua script, run by its digest, and sent again when the server does not know it. */
  private static final class Script {
    private final byte[] source;
    private final String sha;

    Script(String source) {
      this.source = bytes(source);
      try {
        this.sha = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-1").digest(this.source));
      } catch (NoSuchAlgorithmException e) {
        throw new IllegalStateException("SHA-1 is missing from this JVM", e);
      }
    }

    CompletionStage<Long> run(
        RedisClusterAsyncCommands<byte[], byte[]> commands, byte[][] keys, byte[]... args) {
      return this.<Long>run(ScriptOutputType.INTEGER, commands, keys, args);
    }

    <T> CompletionStage<T> run(
        ScriptOutputType type,
        RedisClusterAsyncCommands<byte[], byte[]> commands,
        byte[][] keys,
        byte[]... args) {
      CompletionStage<T> first = commands.<T>evalsha(sha, type, keys, args);
      return first
          .handle(
              (value, e) -> {
                Throwable cause =
                    e instanceof java.util.concurrent.CompletionException ? e.getCause() : e;
                if (cause instanceof RedisNoScriptException) {
                  return commands.<T>eval(source, type, keys, args);
                }
                return e == null
                    ? CompletableFuture.completedFuture(value)
                    : CompletableFuture.<T>failedFuture(cause);
              })
          .thenCompose(Function.identity());
    }
  }

  // ---- state and meters

  private LongAdder clearsOf(Clear cause) {
    return Objects.requireNonNull(clears.get(cause), "every cause has its count");
  }

  boolean connected() {
    return connection.isOpen();
  }

  boolean synced() {
    return synced && connection.isOpen();
  }

  long clears(Clear cause) {
    return clearsOf(cause).sum();
  }

  RedisTierSnapshot snapshot() {
    long allClears = 0;
    for (LongAdder adder : clears.values()) {
      allClears += adder.sum();
    }
    return new RedisTierSnapshot(
        connection.isOpen(),
        synced(),
        hits.sum(),
        misses.sum(),
        errors.sum() + skipped.sum(),
        sent.sum(),
        received.sum(),
        allClears,
        propagationFailures.sum());
  }

  long leases(String result) {
    return switch (result) {
      case "acquired" -> leasesAcquired.sum();
      case "awaited" -> leasesAwaited.sum();
      default -> leasesTimedOut.sum();
    };
  }

  private void register(MeterRegistry registry) {
    counter(
        registry, "redis.gets", "L2 lookups after an L1 miss, by result", "result", "hit", hits);
    counter(registry, "redis.gets", null, "result", "miss", misses);
    counter(registry, "redis.gets", null, "result", "error", errors);
    counter(registry, "redis.gets", null, "result", "skipped", skipped);
    counter(
        registry,
        "redis.background.failures",
        "Heartbeats, epoch checks and subscriptions that failed",
        null,
        null,
        backgroundFailures);
    counter(
        registry,
        "redis.decode.failures",
        "Values in Redis that did not decode",
        null,
        null,
        decodeFailures);
    counter(
        registry,
        "invalidations.sent",
        "Invalidation messages this instance sent",
        null,
        null,
        sent);
    counter(
        registry,
        "invalidations.received",
        "Invalidation messages from other instances applied",
        null,
        null,
        received);
    counter(
        registry,
        "invalidations.dropped",
        "Messages on the invalidation channel that could not be read",
        null,
        null,
        dropped);
    counter(
        registry,
        "propagation.failures",
        "Writes that reached this instance but not Redis or the channel",
        null,
        null,
        propagationFailures);
    counter(
        registry,
        "leases",
        "Single-flight leases, by result",
        "result",
        "acquired",
        leasesAcquired);
    counter(registry, "leases", null, "result", "awaited", leasesAwaited);
    counter(registry, "leases", null, "result", "timeout", leasesTimedOut);
    for (Clear cause : Clear.values()) {
      counter(
          registry,
          "l1.clears",
          "L1 cleared by the tier, by cause",
          "cause",
          cause.tag,
          clearsOf(cause));
    }
    meters.add(
        Gauge.builder(Meters.name("cache", "redis.synced"), this, t -> t.synced() ? 1 : 0)
            .description("1 while the invalidation channel is subscribed and heard, else 0")
            .tag(Meters.NAME_TAG, name)
            .register(registry));
  }

  private void counter(
      MeterRegistry registry,
      String meter,
      @Nullable String description,
      @Nullable String tag,
      @Nullable String value,
      LongAdder adder) {
    FunctionCounter.Builder<LongAdder> builder =
        FunctionCounter.builder(Meters.name("cache", meter), adder, LongAdder::sum)
            .tag(Meters.NAME_TAG, name);
    if (description != null) {
      builder.description(description);
    }
    if (tag != null && value != null) {
      builder.tag(tag, value);
    }
    meters.add(builder.register(registry));
  }

  @Override
  public void close() {
    if (!closing.compareAndSet(false, true)) {
      return;
    }
    closed = true;
    scheduler.shutdown(); // a heartbeat running now sees closed and closes what it opened
    drops.shutdown();
    StatefulRedisPubSubConnection<byte[], byte[]> current = pubSub;
    CompletableFuture<Void> subscription =
        current == null ? CompletableFuture.completedFuture(null) : current.closeAsync();
    CompletableFuture<Void> commandsClosed = connection.closeAsync();
    try { // so that a client shut down next finds them closed, not closing
      CompletableFuture.allOf(subscription, commandsClosed)
          .get(timeout.toNanos(), TimeUnit.NANOSECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (ExecutionException | TimeoutException e) {
      // closed or not, nothing more to do: the connections are the client's to shut down
    }
    MeterRegistry current2 = registry;
    if (current2 != null) {
      for (Meter meter : meters) {
        current2.remove(meter);
      }
    }
  }
}

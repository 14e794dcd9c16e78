package dev.bulwark.cache;

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
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
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
import java.util.EnumMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
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
 * instead); the epoch {@code {p:c}:epoch} and the server marker {@code {p:c}:server}; the channel
 * {@code p:c:invalidations}. The keys a script touches share their hash tag, so one slot.
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
    /** Drops one key from the first tier; may block briefly on a load of that key. */
    void drop(K key);

    /** Drops every entry of the first tier at once. */
    void clear(Clear cause);
  }

  private static final String INVALIDATE =
      "redis.call('DEL', KEYS[1]) redis.call('INCR', KEYS[2])"
          + " redis.call('PEXPIRE', KEYS[2], ARGV[1]) return 1";
  private static final String PUT =
      "redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) redis.call('INCR', KEYS[2])"
          + " redis.call('PEXPIRE', KEYS[2], ARGV[3]) return 1";

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
   * Returns the epoch, raised first if the server is not the one that last answered: a replica
   * promoted, or a server restarted from a snapshot, may hold values whose invalidation it lost.
   */
  private static final String EPOCH =
      "local info = redis.call('INFO', 'server')"
          + " local id = string.match(info, 'run_id:(%w+)')"
          + " local seen = redis.call('GET', KEYS[1])"
          + " local raised = 0"
          + " if seen ~= id then"
          + "   if seen or redis.call('EXISTS', KEYS[2]) == 1 then"
          + "     redis.call('INCR', KEYS[2]) raised = 1 end"
          + "   redis.call('SET', KEYS[1], id) end"
          + " return {tonumber(redis.call('GET', KEYS[2]) or '0'), raised}";

  private final String name;
  private final Codec<K> keys;
  private final Codec<V> values;
  private final Duration timeout;
  private final long ttlMillis;
  private final Duration heartbeat;
  private final @Nullable Duration lease;
  private final @Nullable Duration leaseWait;
  private final Events<K> events;
  private final Executor executor;
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

  private final StatefulConnection<byte[], byte[]> connection;
  private final RedisClusterAsyncCommands<byte[], byte[]> commands;
  private final Subscriber subscriber;
  private final ScheduledThreadPoolExecutor scheduler;

  private final Object publishing = new Object();
  private long sequence; // guarded by publishing
  private final AtomicLong epoch = new AtomicLong();
  private final AtomicLong epochSeen = new AtomicLong(-1);
  private final Map<String, Long> publishers = new ConcurrentHashMap<>();
  private volatile @Nullable StatefulRedisPubSubConnection<byte[], byte[]> pubSub;
  private volatile boolean subscribed;

  /** Set by the first confirmation of a subscription; every later one is a re-subscription. */
  private final AtomicBoolean confirmed = new AtomicBoolean();

  private volatile boolean synced;
  private volatile long lastMessageNanos;
  private volatile boolean closed;

  private final LongAdder hits = new LongAdder();
  private final LongAdder misses = new LongAdder();
  private final LongAdder errors = new LongAdder();
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
    };
  }

  static Connector connector(RedisClusterClient client) {
    return new Connector() {
      @Override
      public StatefulConnection<byte[], byte[]> connect() {
        return client.connect(ByteArrayCodec.INSTANCE);
      }

      @SuppressWarnings("unchecked")
      @Override
      public RedisClusterAsyncCommands<byte[], byte[]> commands(
          StatefulConnection<byte[], byte[]> c) {
        return ((io.lettuce.core.cluster.api.StatefulRedisClusterConnection<byte[], byte[]>) c)
            .async();
      }

      @Override
      public StatefulRedisPubSubConnection<byte[], byte[]> connectPubSub() {
        return client.connectPubSub(ByteArrayCodec.INSTANCE);
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
      Executor executor,
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
    this.executor = executor;
    this.registry = registry;
    String base = settings.prefix() + ":" + name;
    this.prefix = bytes(base + ":");
    this.channel = bytes(base + ":invalidations");
    this.epochKey = bytes("{" + base + "}:epoch");
    this.serverKey = bytes("{" + base + "}:server");
    byte[] id = new byte[6];
    new SecureRandom().nextBytes(id);
    this.origin = HexFormat.of().formatHex(id);
    for (Clear cause : Clear.values()) {
      clears.put(cause, new LongAdder());
    }
    this.subscriber = new Subscriber();
    this.connection = connector.connect();
    this.scheduler = new ScheduledThreadPoolExecutor(1, NamedThreads.daemon("cache", name));
    scheduler.setRemoveOnCancelPolicy(true);
    try {
      connection.setTimeout(timeout);
      this.commands = connector.commands(connection);
      long[] answer = epochNow();
      epoch.set(answer[0]);
      StatefulRedisPubSubConnection<byte[], byte[]> first = connector.connectPubSub();
      attach(first);
      await(first.async().subscribe(channel));
      subscribed = true;
      synced = true;
      lastMessageNanos = System.nanoTime();
    } catch (RuntimeException e) {
      close();
      throw e;
    }
    long every = heartbeat.toNanos();
    var unused =
        scheduler.scheduleWithFixedDelay(() -> beat(connector), every, every, TimeUnit.NANOSECONDS);
    if (registry != null) {
      register(registry);
    }
  }

  // ---- reads and fills

  /**
   * Loads one key through the tier: Redis first, then (under a lease when single-flight is on) the
   * loader, whose value is written to Redis unless the key was invalidated meanwhile. Redis
   * failures are counted and skipped; the loader's are thrown.
   */
  @Nullable V load(K key, Function<? super K, ? extends @Nullable V> loader) {
    if (!connection.isOpen()) {
      skipped.increment();
      return loader.apply(key);
    }
    Names names = names(key);
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
    misses.increment();
    byte[] token = EMPTY;
    if (lease != null) {
      Leased<V> leased = lease(names);
      if (leased.value != null) {
        return leased.value;
      }
      token = leased.token;
      generation = leased.generation == null ? generation : leased.generation;
    }
    long start = System.nanoTime();
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
    if (System.nanoTime() - start >= GENERATION_TTL.toNanos()) {
      releaseQuietly(names, token); // too slow to know whether it was invalidated meanwhile
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
    }
    return value;
  }

  private static final byte[] EMPTY = new byte[0];

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
        V value = valueIn(await(commands.mget(names.value, names.generation)));
        if (value != null) {
          return new Leased<>(value, EMPTY, null);
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return new Leased<>(null, EMPTY, null);
    } catch (RuntimeException e) {
      failed("lease", e);
      return new Leased<>(null, EMPTY, null);
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
                failed("lease release", e); // it expires at its own time
              }
            });
  }

  // ---- writes

  /** Deletes the key in Redis and tells the other instances; throws if either did not happen. */
  void invalidate(K key) {
    Names names = names(key);
    write(
        "invalidate",
        () ->
            invalidate.run(
                commands,
                new byte[][] {names.value, names.generation},
                bytes(Long.toString(GENERATION_TTL.toMillis()))),
        'k',
        names.raw);
  }

  /** Writes the value to Redis and tells the other instances to drop their copies. */
  void put(K key, V value) {
    Names names = names(key);
    byte[] encoded = values.encode(value);
    write(
        "put",
        () ->
            put.run(
                commands,
                new byte[][] {names.value, names.generation},
                encoded,
                bytes(Long.toString(ttlMillis)),
                bytes(Long.toString(GENERATION_TTL.toMillis()))),
        'k',
        names.raw);
  }

  /** Moves every instance to a new epoch, which leaves every value in Redis behind unread. */
  void invalidateAll() {
    long[] next = new long[1];
    write(
        "invalidateAll",
        () ->
            commands
                .incr(epochKey)
                .thenApply(
                    e -> {
                      next[0] = e;
                      epoch.accumulateAndGet(e, Math::max);
                      return e;
                    }),
        'a',
        null);
  }

  private interface Call {
    CompletionStage<?> start();
  }

  private void write(String operation, Call call, char kind, byte @Nullable [] payload) {
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
      await(call.start());
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
      await(publish(kind, payload == null ? bytes(Long.toString(epoch.get())) : payload));
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
    next.addListener((RedisPubSubListener<byte[], byte[]>) subscriber);
    ((RedisChannelHandler<?, ?>) next).addListener((RedisConnectionStateListener) subscriber);
    pubSub = next;
  }

  /** Receives the channel's messages and the subscription's connection events. */
  private final class Subscriber extends RedisPubSubAdapter<byte[], byte[]>
      implements RedisConnectionStateListener {

    @Override
    public void message(byte[] from, byte[] message) {
      lastMessageNanos = System.nanoTime();
      receive(message);
    }

    @Override
    public void subscribed(byte[] to, long count) {
      lastMessageNanos = System.nanoTime();
      if (!confirmed.compareAndSet(false, true)) { // a re-subscription: messages may be lost
        resync(Clear.RESUBSCRIBED);
      }
    }

    @Override
    @SuppressWarnings("ReferenceEquality") // the one connection subscribed now, not an old one
    public void onRedisDisconnected(RedisChannelHandler<?, ?> connection) {
      if (subscribed && !closed && connection == pubSub) {
        synced = false;
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
      epochSeen.accumulateAndGet(next, Math::max);
    }
    if (from.equals(origin)) {
      return; // this instance's own: applied when it was sent
    }
    Long last = publishers.put(from, number);
    if (last != null && number > last + 1) {
      clear(Clear.GAP);
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
        executor.execute(
            () -> {
              events.drop(key);
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
    dropped.increment();
    clear(Clear.UNDECODABLE);
  }

  private void clear(Clear cause) {
    clearsOf(cause).increment();
    events.clear(cause);
  }

  /** After a new subscription: clear, forget the publishers' numbers, and read the epoch again. */
  private void resync(Clear cause) {
    publishers.clear();
    clear(cause);
    scheduler.execute(
        () -> {
          try {
            epochSeen.set(-1);
            long[] answer = epochNow();
            long before = epoch.getAndSet(Math.max(answer[0], epochSeen.get()));
            if (answer[1] == 1 || before != epoch.get()) {
              clear(Clear.FAILOVER);
              if (answer[1] == 1) {
                publish('a', bytes(Long.toString(epoch.get())));
              }
            }
            synced = true;
          } catch (RuntimeException e) {
            failed("epoch", e); // the next heartbeat's check retries
            synced = false;
          }
        });
  }

  private long[] epochNow() {
    List<?> answer =
        await(
            epochScript.<List<?>>run(
                ScriptOutputType.MULTI, commands, new byte[][] {serverKey, epochKey}));
    return new long[] {((Number) answer.get(0)).longValue(), ((Number) answer.get(1)).longValue()};
  }

  /** Every heartbeat: send one, and replace the subscription if none came for three. */
  private void beat(Connector connector) {
    if (closed) {
      return;
    }
    if (connection.isOpen()) {
      publish('h', EMPTY)
          .whenComplete(
              (n, e) -> {
                if (e != null) {
                  failed("heartbeat", e);
                }
              });
    }
    long silent = System.nanoTime() - lastMessageNanos;
    if (silent > MISSED_HEARTBEATS * heartbeat.toNanos()) {
      boolean wasSynced = synced;
      synced = false;
      if (wasSynced) {
        log.warn(
            "cache {}: no message on its invalidation channel for {} ms, not even its own"
                + " heartbeat; its first tier is cleared and the subscription replaced",
            name,
            TimeUnit.NANOSECONDS.toMillis(silent));
        clear(Clear.HEARTBEAT);
      }
      replaceSubscription(connector);
    } else if (!synced && subscribed && pubSubOpen() && connection.isOpen()) {
      resync(Clear.RESUBSCRIBED);
    }
  }

  private boolean pubSubOpen() {
    StatefulRedisPubSubConnection<byte[], byte[]> current = pubSub;
    return current != null && current.isOpen();
  }

  private void replaceSubscription(Connector connector) {
    StatefulRedisPubSubConnection<byte[], byte[]> old = pubSub;
    if (old != null && !old.isOpen()) {
      return; // disconnected: Lettuce reconnects it and subscribes again
    }
    pubSub = null;
    if (old != null) {
      var unused = old.closeAsync();
    }
    try {
      StatefulRedisPubSubConnection<byte[], byte[]> next = connector.connectPubSub();
      if (closed) {
        var unused = next.closeAsync();
        return;
      }
      attach(next);
      lastMessageNanos = System.nanoTime();
      var unused = next.async().subscribe(channel); // its confirmation resyncs
    } catch (RuntimeException e) {
      failed("subscribe", e); // the next heartbeat tries again
    }
  }

  // ---- plumbing

  /** The Redis names of one key. */
  private final class Names {
    final byte[] raw;
    final byte[] value;
    final byte[] generation;
    final byte[] lease;

    Names(byte[] raw) {
      this.raw = raw;
      byte[] head = bytes(epoch.get() + ":");
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

  /** The Redis key of a key's single-flight lease, for tests. */
  String leaseKey(K key) {
    return new String(names(key).lease, StandardCharsets.UTF_8);
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
    closed = true;
    scheduler.shutdownNow();
    StatefulRedisPubSubConnection<byte[], byte[]> current = pubSub;
    if (current != null) {
      var unused = current.closeAsync();
    }
    var unused = connection.closeAsync();
    MeterRegistry current2 = registry;
    if (current2 != null) {
      for (Meter meter : meters) {
        current2.remove(meter);
      }
    }
  }
}

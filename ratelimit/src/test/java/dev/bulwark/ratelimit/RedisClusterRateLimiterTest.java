package dev.bulwark.ratelimit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.bulwark.pool.Pools;
import dev.bulwark.pool.RedisClusterClientBuilder;
import dev.bulwark.testing.Await;
import dev.bulwark.testing.Closer;
import dev.bulwark.testing.FaultProxy;
import dev.bulwark.testing.RedisClusterExtension;
import dev.bulwark.testing.TestRedisCluster;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.internal.HostAndPort;
import io.lettuce.core.resource.ClientResources;
import io.lettuce.core.resource.MappingSocketAddressResolver;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Function;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The Redis limiter on a real Redis Cluster of three masters, each with a replica: the limits of a
 * key share a slot, keys spread over the shards, the count stays exact across them, and a master
 * that dies or goes silent costs its own keys the failure policy, within the command timeout (a
 * dead one costs every key that, for the second the cluster takes to promote its replica).
 */
@ExtendWith(RedisClusterExtension.class)
class RedisClusterRateLimiterTest {
  /**
   * The command timeout of the limiters that meet a failure: above a call's time on a loaded
   * machine, so that only the failure makes a call give up, and the shards that answer are seen to.
   */
  private static final Duration TIMEOUT = Duration.ofSeconds(1);

  /** What a decision may take beyond {@link #TIMEOUT} on a loaded machine. */
  private static final Duration SLACK = Duration.ofSeconds(1);

  /** The longest a decision may take. */
  private static final Duration BOUND = TIMEOUT.plus(SLACK);

  /** Above a call's time on a loaded machine: only the tests of failures see a timeout. */
  private static final Duration LONG_TIMEOUT = Duration.ofSeconds(2);

  /** A promoted replica's keys are routed to it at the next refresh of the slot map. */
  private static final Duration REFRESH = Duration.ofSeconds(1);

  private static final Duration RECOVERY = Duration.ofSeconds(20);

  private static final long T0 = 1_800_000_000_000_000L;

  /** Keys with hash-tag characters, and other odd ones. */
  private static final List<String> ODD_KEYS =
      List.of(
          "}",
          "}}",
          "}x",
          "}{",
          "}:10/1000ms/10",
          "x}",
          "a}b",
          "{",
          "{}",
          "{x}",
          "a{b}c",
          "a{b",
          ":",
          " ",
          "\n",
          "\u0000",
          "ключ",
          "\uD83D\uDD11",
          "k".repeat(RateLimiter.MAX_KEY_LENGTH),
          "}" + "k".repeat(RateLimiter.MAX_KEY_LENGTH - 1));

  private final Closer opened = new Closer();
  private final AtomicLong micros = new AtomicLong(T0);
  private TestRedisCluster cluster;
  private String name;

  /** A master a test stopped, to start again and fail back to; 0 when none was. */
  private int stopped;

  @BeforeEach
  void setUp(TestRedisCluster cluster, TestInfo info) {
    this.cluster = cluster;
    this.name = Closer.name("c-", info);
    cluster.flushAll();
  }

  @AfterEach
  void tearDown() throws Exception {
    try {
      opened.close();
    } finally {
      int port = stopped;
      if (port != 0) {
        stopped = 0;
        cluster.startNode(port); // back as a replica of the node promoted in its place
        cluster.failover(port); // the original roles again, for the next test
      }
    }
  }

  private RedisClusterClientBuilder builder() {
    List<String> seeds = cluster.seedUrls();
    return Pools.redisCluster(seeds.get(0), seeds.subList(1, seeds.size()).toArray(String[]::new))
        .meterRegistry(new SimpleMeterRegistry());
  }

  private RedisClusterClient client(RedisClusterClientBuilder builder) {
    return opened.client(builder.build());
  }

  private RedisRateLimiter limiter(
      RedisClusterClient client, String limits, UnaryOperator<RedisLimiterBuilder> more) {
    RedisLimiterBuilder builder = RateLimiter.redis(client).name(name).limits(limits);
    return opened.add(more.apply(builder).build());
  }

  /** The master that serves the limits of {@code key}. */
  private int master(RedisRateLimiter limiter, String key) {
    return cluster.masterPort(TestRedisCluster.slot(limiter.redisKeys(key).get(0)));
  }

  /** {@code count} keys {@code <prefix>0, <prefix>1, ...} whose limits lie on every master. */
  private List<String> keysOnEveryMaster(RedisRateLimiter limiter, String prefix, int count) {
    List<String> keys = new ArrayList<>();
    Set<Integer> masters = new TreeSet<>();
    for (int i = 0; i < count; i++) {
      keys.add(prefix + i);
      masters.add(master(limiter, prefix + i));
    }
    assertThat(masters).hasSize(3);
    return keys;
  }

  /**
   * {@code each} keys of every master, the first of {@code <prefix>0, <prefix>1, ...} to fall on
   * it.
   */
  private List<String> keysPerMaster(RedisRateLimiter limiter, String prefix, int each) {
    Map<Integer, Integer> held = new HashMap<>();
    List<String> keys = new ArrayList<>();
    for (int i = 0; keys.size() < 3 * each; i++) {
      if (held.merge(master(limiter, prefix + i), 1, Integer::sum) <= each) {
        keys.add(prefix + i);
      }
    }
    return keys;
  }

  @Test
  void everyLimitOfAKeyLivesInOneSlotWhateverTheKey() {
    RedisRateLimiter limiter = limiter(client(builder()), "10/second;100/minute;1000/hour", b -> b);
    List<String> keys = new ArrayList<>(ODD_KEYS);
    for (int i = 0; i < 500; i++) {
      keys.add("key-" + i);
      keys.add("user:" + i + "}");
      keys.add("}user:" + i);
    }
    Set<Integer> slots = new TreeSet<>();
    for (String key : keys) {
      List<String> redisKeys = limiter.redisKeys(key);
      assertThat(redisKeys).hasSize(3).doesNotHaveDuplicates();
      int slot = TestRedisCluster.slot(redisKeys.get(0));
      for (String redisKey : redisKeys) {
        assertThat(TestRedisCluster.slot(redisKey)).as(redisKey).isEqualTo(slot);
      }
      if (!key.contains("}") && !key.contains("{")) {
        // The key itself is the hash tag: a limiter's keys spread as the keys do. A key that holds
        // a brace is tagged by its digest instead.
        assertThat(slot).as(key).isEqualTo(TestRedisCluster.slot(key));
      }
      slots.add(slot);
    }
    assertThat(slots).hasSizeGreaterThan(keys.size() * 9 / 10);
  }

  @Test
  void oddKeysAreDecidedByTheCluster() {
    RedisRateLimiter limiter =
        limiter(
            client(builder()),
            "2/minute;100/hour",
            b ->
                b.onRedisFailure(FailurePolicy.FAIL_CLOSED)
                    .commandTimeout(LONG_TIMEOUT)
                    .serverMicros(micros::get)
                    .deniedCacheSize(0));
    for (String key : ODD_KEYS) {
      assertThat(limiter.tryAcquire(key).outcome()).as(key).isEqualTo(Outcome.ALLOWED);
      assertThat(limiter.tryAcquire(key).outcome()).as(key).isEqualTo(Outcome.ALLOWED);
      Decision denied = limiter.tryAcquire(key);
      assertThat(denied.outcome()).as(key).isEqualTo(Outcome.DENIED);
      assertThat(denied.deniedBy()).isEqualTo(Limit.perMinute(2));
    }
    assertThat(limiter.snapshot().redisErrors()).isZero();
  }

  @Test
  void fourInstancesOfSixteenThreadsAdmitExactlyTheLimitOfEveryKeyOnEveryShard() throws Exception {
    List<RedisRateLimiter> instances = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      instances.add(
          limiter(
              client(builder()),
              "50/minute",
              b -> b.commandTimeout(LONG_TIMEOUT).serverMicros(micros::get).deniedCacheSize(0)));
    }
    List<String> keys = keysOnEveryMaster(instances.get(0), "hot-", 30);
    Map<String, LongAdder> admitted = new ConcurrentHashMap<>();
    keys.forEach(k -> admitted.put(k, new LongAdder()));
    LongAdder denied = new LongAdder();
    LongAdder other = new LongAdder();
    int threads = 64;
    int rounds = 2; // 128 requests per key
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      CountDownLatch start = new CountDownLatch(1);
      List<Future<?>> done = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        RedisRateLimiter limiter = instances.get(t % 4);
        int first = t;
        done.add(
            pool.submit(
                () -> {
                  start.await();
                  for (int i = 0; i < rounds * keys.size(); i++) {
                    String key = keys.get((first + i) % keys.size());
                    Outcome outcome = limiter.tryAcquire(key).outcome();
                    if (outcome == Outcome.ALLOWED) {
                      admitted.get(key).increment();
                    } else if (outcome == Outcome.DENIED) {
                      denied.increment();
                    } else {
                      other.increment();
                    }
                  }
                  return null;
                }));
      }
      start.countDown();
      for (Future<?> f : done) {
        f.get(60, TimeUnit.SECONDS);
      }
    } finally {
      pool.shutdownNow();
    }
    assertThat(other.sum()).isZero();
    for (String key : keys) {
      assertThat(admitted.get(key).sum()).as(key).isEqualTo(50);
    }
    assertThat(denied.sum()).isEqualTo((long) threads * rounds * keys.size() - 50L * keys.size());
  }

  /** A decision and when it ran, on {@link System#nanoTime()}. */
  private record Timed(String key, Outcome outcome, long start, long end) {}

  /**
   * A master dies while decisions run on every shard, from a synchronous and an asynchronous
   * caller, and the cluster promotes its replica. No decision waits past the timeout: the dead
   * master's keys follow the failure policy until the client's next refresh of the slot map routes
   * them to the promoted replica, whose script cache is empty (one {@code EVAL}).
   *
   * <p>The other shards answer before the failure and as soon as the replica is promoted. Between
   * the two, for the second or so that the cluster takes to notice the failure and elect the
   * replica, the nodes answer {@code CLUSTERDOWN} for every slot ({@code
   * cluster-require-full-coverage yes}, Redis's default, as on the test's cluster): their keys
   * follow the policy as well. {@link #aSilentMasterCostsOnlyItsOwnKeysTheTimeout()} shows the
   * other shards untouched by a master that the cluster still counts as up.
   */
  @Test
  void aMasterStoppedMidRunCostsItsKeysThePolicyUntilItsReplicaIsPromoted() throws Exception {
    assumeTrue(cluster.isEmbedded(), "needs a cluster this JVM owns");
    RedisClusterClient client =
        client(builder().topologyRefreshPeriod(REFRESH).maxReconnectDelay(Duration.ofMillis(100)));
    RedisRateLimiter limiter =
        limiter(
            client,
            "1000000/minute",
            b ->
                b.commandTimeout(TIMEOUT)
                    .onRedisFailure(FailurePolicy.LOCAL_FALLBACK)
                    .deniedCacheSize(0));
    List<String> keys = keysOnEveryMaster(limiter, "k-", 30);
    int slot = TestRedisCluster.slot(limiter.redisKeys(keys.get(0)).get(0));
    int victim = cluster.masterPort(slot);
    Set<String> victimKeys = new TreeSet<>();
    for (String key : keys) {
      if (master(limiter, key) == victim) {
        victimKeys.add(key);
      }
    }

    Queue<Timed> decisions = new ConcurrentLinkedQueue<>();
    Map<String, AtomicLong> lastFromRedis = new ConcurrentHashMap<>();
    keys.forEach(k -> lastFromRedis.put(k, new AtomicLong(Long.MIN_VALUE)));
    AtomicBoolean stop = new AtomicBoolean();
    ExecutorService callers = Executors.newFixedThreadPool(2);
    long stopAt;
    long promotedAt;
    try {
      // Each caller decides every key, then waits Await's 5 ms, until told to stop.
      Future<?> sync =
          callers.submit(
              () -> {
                Await.until(
                    Duration.ofMinutes(2),
                    "the end of the run",
                    () -> {
                      for (String key : keys) {
                        long start = System.nanoTime();
                        Outcome outcome = limiter.tryAcquire(key).outcome();
                        record(decisions, lastFromRedis, key, outcome, start);
                      }
                      return stop.get();
                    });
                return null;
              });
      Future<?> async =
          callers.submit(
              () -> {
                Await.until(
                    Duration.ofMinutes(2),
                    "the end of the run",
                    () -> {
                      List<CompletableFuture<Void>> round = new ArrayList<>();
                      for (String key : keys) {
                        long start = System.nanoTime();
                        round.add(
                            limiter
                                .tryAcquireAsync(key)
                                .toCompletableFuture()
                                .thenAccept(
                                    d ->
                                        record(decisions, lastFromRedis, key, d.outcome(), start)));
                      }
                      for (CompletableFuture<Void> f : round) {
                        f.get(10, TimeUnit.SECONDS); // a failure here fails the test
                      }
                      return stop.get();
                    });
                return null;
              });
      Await.until(
          RECOVERY,
          "decisions from Redis for every key",
          () -> lastFromRedis.values().stream().allMatch(t -> t.get() != Long.MIN_VALUE));

      stopAt = System.nanoTime();
      stopped = victim;
      int promoted = cluster.stopMaster(slot); // returns once its replica is promoted
      promotedAt = System.nanoTime();
      assertThat(promoted).isNotEqualTo(victim);

      Await.until(
          RECOVERY,
          "decisions from the promoted replica for every key of the stopped master",
          () -> victimKeys.stream().allMatch(k -> lastFromRedis.get(k).get() - promotedAt > 0));
      stop.set(true);
      sync.get(30, TimeUnit.SECONDS);
      async.get(30, TimeUnit.SECONDS);
    } finally {
      stop.set(true);
      callers.shutdownNow();
    }

    long victimFallbacks = 0;
    long othersAfter = 0;
    for (Timed d : decisions) {
      assertThat(Duration.ofNanos(d.end() - d.start())).as("a decision").isLessThan(BOUND);
      assertThat(d.outcome()).isIn(Outcome.ALLOWED, Outcome.FALLBACK_ALLOWED);
      if (d.end() - stopAt < 0) {
        assertThat(d.outcome()).as("before the stop: %s", d).isEqualTo(Outcome.ALLOWED);
      }
      if (victimKeys.contains(d.key())) {
        if (d.outcome() == Outcome.FALLBACK_ALLOWED) {
          victimFallbacks++;
        }
      } else if (d.start() - promotedAt > 0) {
        assertThat(d.outcome())
            .as("another shard after the promotion: %s", d)
            .isEqualTo(Outcome.ALLOWED);
        othersAfter++;
      }
    }
    assertThat(victimFallbacks).isPositive();
    assertThat(othersAfter).isPositive();
    RateLimiterSnapshot snapshot = limiter.snapshot();
    assertThat(snapshot.redisErrors()).isPositive().isEqualTo(snapshot.fallbacks());
  }

  private static void record(
      Queue<Timed> decisions,
      Map<String, AtomicLong> lastFromRedis,
      String key,
      Outcome outcome,
      long start) {
    decisions.add(new Timed(key, outcome, start, System.nanoTime()));
    if (outcome == Outcome.ALLOWED) {
      lastFromRedis.get(key).accumulateAndGet(start, Math::max);
    }
  }

  /**
   * One master goes silent behind a {@link FaultProxy}, as after a network fault the cluster has
   * not noticed: its connection stays open and nothing comes back. The cluster announces its nodes'
   * own addresses, so the client reaches that master through a {@link MappingSocketAddressResolver}
   * that maps its address to the proxy's. Its keys cost each decision the timeout and follow the
   * policy; the keys of the other shards never stop coming from Redis.
   */
  @Test
  void aSilentMasterCostsOnlyItsOwnKeysTheTimeout() throws Exception {
    int victim = cluster.masterPorts().get(0);
    FaultProxy proxy = opened.add(FaultProxy.to(cluster.host(), victim));
    HostAndPort from = HostAndPort.of(cluster.host(), victim);
    HostAndPort to = HostAndPort.of(proxy.host(), proxy.port());
    Function<HostAndPort, HostAndPort> mapping = address -> address.equals(from) ? to : address;
    ClientResources resources =
        ClientResources.builder()
            .socketAddressResolver(MappingSocketAddressResolver.create(mapping))
            .build();
    AutoCloseable release =
        () -> resources.shutdown(0, 2, TimeUnit.SECONDS).get(5, TimeUnit.SECONDS);
    opened.add(release);
    // The client's own timeout far above the limiter's, so that no decision of this test meets a
    // connection the client replaced: each one waits on the silent connection, and times out.
    RedisClusterClient client =
        client(builder().clientResources(resources).commandTimeout(Duration.ofMinutes(1)));
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    RedisRateLimiter limiter =
        limiter(
            client,
            "1000/minute",
            b ->
                b.commandTimeout(TIMEOUT)
                    .onRedisFailure(FailurePolicy.FAIL_CLOSED)
                    .serverMicros(micros::get)
                    .deniedCacheSize(0)
                    .meterRegistry(registry));
    List<String> keys = keysPerMaster(limiter, "s-", 2);
    Set<String> silentKeys = new TreeSet<>();
    for (String key : keys) {
      if (master(limiter, key) == victim) {
        silentKeys.add(key);
      }
      assertThat(limiter.tryAcquire(key).outcome()).as(key).isEqualTo(Outcome.ALLOWED);
    }
    assertThat(proxy.bytesToClient()).as("the proxied master answered").isPositive();

    proxy.blackhole(true);
    long silent = 0;
    String lines;
    try (RedisRateLimiterFailureTest.Logged logged = new RedisRateLimiterFailureTest.Logged()) {
      for (String key : keys) {
        long start = System.nanoTime();
        Decision d = limiter.tryAcquire(key);
        assertThat(Duration.ofNanos(System.nanoTime() - start)).as("a decision").isLessThan(BOUND);
        if (silentKeys.contains(key)) {
          assertThat(d.outcome()).as(key).isEqualTo(Outcome.FAILED_CLOSED);
          silent++;
        } else {
          assertThat(d.outcome()).as(key).isEqualTo(Outcome.ALLOWED);
        }
      }
      long start = System.nanoTime();
      List<CompletableFuture<Decision>> round = new ArrayList<>();
      for (String key : keys) {
        round.add(limiter.tryAcquireAsync(key).toCompletableFuture());
      }
      for (int i = 0; i < keys.size(); i++) {
        CompletableFuture<Decision> f = round.get(i);
        assertThat(f).succeedsWithin(BOUND);
        boolean onVictim = silentKeys.contains(keys.get(i));
        assertThat(f.join().outcome())
            .as(keys.get(i))
            .isEqualTo(onVictim ? Outcome.FAILED_CLOSED : Outcome.ALLOWED);
        silent += onVictim ? 1 : 0;
      }
      assertThat(Duration.ofNanos(System.nanoTime() - start)).as("a round").isLessThan(BOUND);
      lines = logged.text();
    }
    assertThat(limiter.snapshot().redisErrors()).isEqualTo(silent);
    assertThat(limiter.snapshot().decisions(Outcome.FAILED_CLOSED)).isEqualTo(silent);
    assertThat(
            registry
                .get("bulwark.ratelimit.redis.errors")
                .tag("kind", "timeout")
                .functionCounter()
                .count())
        .isEqualTo(silent);
    // One WARN for the silent master, however its failures and the other shards' answers
    // interleave.
    assertThat(lines).containsOnlyOnce("rate limiter " + name + ": Redis failed (");
  }
}

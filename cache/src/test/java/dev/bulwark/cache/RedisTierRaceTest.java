package dev.bulwark.cache;

import static org.assertj.core.api.Assertions.assertThat;

import dev.bulwark.pool.Pools;
import dev.bulwark.testing.Await;
import dev.bulwark.testing.Closer;
import dev.bulwark.testing.RedisExtension;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.SetArgs;
import io.lettuce.core.api.StatefulRedisConnection;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Queue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Reads racing invalidations, and many threads on several instances missing one key, over one real
 * Redis. The "database" is a map of a version per key, which the loaders read.
 */
@ExtendWith(RedisExtension.class)
class RedisTierRaceTest {
  private static final int ITERATIONS = 300;
  private static final List<String> KEYS = List.of("k0", "k1", "k2", "k3");
  private static final Duration PROPAGATION = Duration.ofSeconds(5);
  private static final Duration WAIT = Duration.ofSeconds(10);

  /** Far above a command's time even on a loaded machine: no Redis command fails here. */
  private static final Duration REDIS_TIMEOUT = Duration.ofSeconds(2);

  private final Closer closing = new Closer();
  private final Map<String, Integer> db = new ConcurrentHashMap<>();
  private final AtomicInteger loads = new AtomicInteger();
  private RedisURI uri;
  private String name;

  @BeforeEach
  void setUp(RedisURI uri, TestInfo info) {
    this.uri = uri;
    this.name = Closer.name("r-", info);
    for (String key : KEYS) {
      db.put(key, 0);
    }
  }

  @AfterEach
  void tearDown() throws Exception {
    closing.close();
  }

  private RedisClient client() {
    RedisClient client = Pools.redis(uri).meterRegistry(new SimpleMeterRegistry()).build();
    closing.client(client);
    return client;
  }

  private BoundedCache.Builder<String, Integer> builder() {
    return BoundedCache.<String, Integer>builder(name)
        .maximumSize(1_000)
        .expireAfterWrite(Duration.ofMinutes(5));
  }

  private BoundedCache<String, Integer> instance() {
    return open(
        builder()
            .redis(client(), Codecs.utf8(), Codecs.text(Integer::valueOf))
            .redisTimeout(REDIS_TIMEOUT));
  }

  private BoundedCache<String, Integer> singleFlight(Duration lease, Duration wait) {
    return open(
        builder()
            .redis(client(), Codecs.utf8(), Codecs.text(Integer::valueOf))
            .redisTimeout(REDIS_TIMEOUT)
            .singleFlight(lease, wait));
  }

  private BoundedCache<String, Integer> open(BoundedCache.Builder<String, Integer> builder) {
    BoundedCache<String, Integer> cache = builder.build();
    closing.add(cache);
    return cache;
  }

  private static RedisTier<String, Integer> tier(BoundedCache<String, Integer> cache) {
    return Objects.requireNonNull(cache.tier(), "the cache has a Redis tier");
  }

  private static RedisTierSnapshot redisOf(BoundedCache<String, Integer> cache) {
    return Objects.requireNonNull(cache.snapshot().redis(), "the cache has a Redis tier");
  }

  /** Reads the database, then gives the other threads a chance before answering. */
  private Integer load(String key) {
    loads.incrementAndGet();
    Integer version = db.get(key);
    for (int i = ThreadLocalRandom.current().nextInt(4); i > 0; i--) {
      Thread.yield();
    }
    return version;
  }

  /** Readers that call {@code get} on their caches until stopped. */
  private static final class Readers implements AutoCloseable {
    private final AtomicBoolean stop = new AtomicBoolean();
    private final Queue<Throwable> failures = new ConcurrentLinkedQueue<>();
    private final List<Thread> threads = new ArrayList<>();

    Readers(List<BoundedCache<String, Integer>> caches, Function<String, Integer> loader) {
      for (BoundedCache<String, Integer> cache : caches) {
        Thread thread =
            new Thread(
                () -> {
                  try {
                    while (!stop.get()) {
                      String key = KEYS.get(ThreadLocalRandom.current().nextInt(KEYS.size()));
                      cache.get(key, loader);
                    }
                  } catch (Throwable e) {
                    failures.add(e);
                  }
                },
                "reader-" + threads.size());
        thread.setDaemon(true);
        threads.add(thread);
        thread.start();
      }
    }

    @Override
    public void close() throws InterruptedException {
      stop.set(true);
      for (Thread thread : threads) {
        thread.join(WAIT.toMillis());
        assertThat(thread.isAlive()).as("%s stopped", thread.getName()).isFalse();
      }
      assertThat(failures).isEmpty();
    }
  }

  @Test
  void afterAnInvalidationReachesBothInstancesNeitherReadsAnOlderVersion() throws Exception {
    BoundedCache<String, Integer> a = instance();
    BoundedCache<String, Integer> b = instance();
    try (Readers readers = new Readers(List.of(a, a, b, b), this::load)) {
      for (int i = 1; i <= ITERATIONS; i++) {
        String key = KEYS.get(ThreadLocalRandom.current().nextInt(KEYS.size()));
        int version = db.merge(key, 1, Integer::sum);
        a.invalidate(key);
        int sent = i;
        Await.until(
            PROPAGATION, "invalidation " + i + " at b", () -> redisOf(b).received() >= sent);
        assertThat(a.get(key, this::load))
            .as("a's %s after invalidation %d", key, i)
            .isGreaterThanOrEqualTo(version);
        assertThat(b.get(key, this::load))
            .as("b's %s after invalidation %d", key, i)
            .isGreaterThanOrEqualTo(version);
      }
    }
    assertThat(redisOf(a).sent()).isEqualTo(ITERATIONS);
    assertThat(redisOf(b).received()).isEqualTo(ITERATIONS);
    assertThat(loads.get()).isGreaterThanOrEqualTo(ITERATIONS); // each one dropped it from Redis
  }

  @ParameterizedTest(name = "redis {0}")
  @ValueSource(booleans = {true, false})
  void onOneInstanceALoadRacingAnInvalidationIsNotKept(boolean redis) throws Exception {
    BoundedCache<String, Integer> cache = redis ? instance() : open(builder());
    try (Readers readers = new Readers(List.of(cache, cache, cache), this::load)) {
      for (int i = 1; i <= ITERATIONS; i++) {
        String key = KEYS.get(ThreadLocalRandom.current().nextInt(KEYS.size()));
        int version = db.merge(key, 1, Integer::sum);
        cache.invalidate(key);
        assertThat(cache.get(key, this::load))
            .as("%s after invalidation %d", key, i)
            .isGreaterThanOrEqualTo(version);
      }
    }
  }

  /** Runs {@code perInstance} threads on each cache, all at once, each reading {@code key}. */
  private static List<Integer> stampede(
      List<BoundedCache<String, Integer>> caches,
      int perInstance,
      String key,
      Function<Integer, Function<String, Integer>> loaderOf)
      throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(caches.size() * perInstance);
    try {
      CountDownLatch start = new CountDownLatch(1);
      List<Future<Integer>> answers = new ArrayList<>();
      for (int c = 0; c < caches.size(); c++) {
        BoundedCache<String, Integer> cache = caches.get(c);
        Function<String, Integer> loader = loaderOf.apply(c);
        for (int t = 0; t < perInstance; t++) {
          answers.add(
              pool.submit(
                  () -> {
                    start.await();
                    return cache.get(key, loader);
                  }));
        }
      }
      start.countDown();
      List<Integer> values = new ArrayList<>();
      for (Future<Integer> answer : answers) {
        values.add(answer.get(30, TimeUnit.SECONDS));
      }
      return values;
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void withoutALeaseEachInstanceLoadsAMissingKeyOnce() throws Exception {
    List<BoundedCache<String, Integer>> caches = List.of(instance(), instance(), instance());
    AtomicIntegerArray calls = new AtomicIntegerArray(caches.size());
    CountDownLatch inLoader = new CountDownLatch(caches.size());
    List<Integer> values =
        stampede(
            caches,
            100,
            "k",
            c ->
                key -> {
                  calls.incrementAndGet(c);
                  inLoader.countDown();
                  try { // none answers before every instance missed Redis and called its loader
                    assertThat(inLoader.await(WAIT.toMillis(), TimeUnit.MILLISECONDS)).isTrue();
                  } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                  }
                  return 42;
                });

    assertThat(caches.stream().mapToLong(c -> redisOf(c).errors()).sum()).isZero();
    assertThat(values).hasSize(300).containsOnly(42);
    assertThat(calls).hasToString("[1, 1, 1]");
  }

  @Test
  void withALeaseOneInstanceLoadsAMissingKeyForAll() throws Exception {
    List<BoundedCache<String, Integer>> caches =
        List.of(
            singleFlight(Duration.ofSeconds(5), Duration.ofSeconds(5)),
            singleFlight(Duration.ofSeconds(5), Duration.ofSeconds(5)),
            singleFlight(Duration.ofSeconds(5), Duration.ofSeconds(5)));
    AtomicInteger calls = new AtomicInteger();
    Function<String, Integer> loader =
        key -> {
          calls.incrementAndGet();
          try { // answers once the two other instances wait for its lease
            Await.until(
                WAIT,
                "two instances waiting",
                () -> caches.stream().mapToLong(c -> tier(c).leases("awaited")).sum() == 2);
          } catch (Exception e) {
            throw new IllegalStateException(e);
          }
          return 42;
        };
    List<Integer> values = stampede(caches, 100, "k", c -> loader);

    assertThat(caches.stream().mapToLong(c -> redisOf(c).errors()).sum()).isZero();
    assertThat(values).hasSize(300).containsOnly(42);
    assertThat(calls).hasValue(1);
    assertThat(caches.stream().mapToLong(c -> tier(c).leases("acquired")).sum()).isEqualTo(1);
    assertThat(caches.stream().mapToLong(c -> tier(c).leases("awaited")).sum()).isEqualTo(2);
    assertThat(caches.stream().mapToLong(c -> tier(c).leases("timeout")).sum()).isZero();
    assertThat(caches.stream().mapToLong(c -> redisOf(c).hits()).sum())
        .as("the waiters found the holder's value")
        .isEqualTo(2);
  }

  /**
   * The waiters poll Redis while the holder loads; a holder that fills and releases its lease
   * between a waiter's read and its next attempt at the lease must not make the waiter load again.
   * Each round has a fair chance to land there.
   */
  @Test
  void aWaiterThatTakesTheLeaseAfterTheHolderFilledDoesNotLoadAgain() throws Exception {
    List<BoundedCache<String, Integer>> caches =
        List.of(
            singleFlight(Duration.ofSeconds(5), Duration.ofSeconds(5)),
            singleFlight(Duration.ofSeconds(5), Duration.ofSeconds(5)),
            singleFlight(Duration.ofSeconds(5), Duration.ofSeconds(5)));
    AtomicInteger calls = new AtomicInteger();
    int rounds = 20;
    for (int round = 1; round <= rounds; round++) {
      long waiting = 2L * round;
      Function<String, Integer> loader =
          key -> {
            calls.incrementAndGet();
            try {
              Await.until(
                  WAIT,
                  "two instances waiting",
                  () -> caches.stream().mapToLong(c -> tier(c).leases("awaited")).sum() == waiting);
            } catch (Exception e) {
              throw new IllegalStateException(e);
            }
            return 42;
          };
      assertThat(stampede(caches, 1, "k" + round, c -> loader)).containsOnly(42);
      assertThat(calls).as("loads after round %d", round).hasValue(round);
    }
    assertThat(caches.stream().mapToLong(c -> tier(c).leases("acquired")).sum()).isEqualTo(rounds);
    assertThat(caches.stream().mapToLong(c -> redisOf(c).errors()).sum()).isZero();
  }

  @Test
  void aLeaseWhoseHolderDiedIsTakenOnceItExpires() throws Exception {
    BoundedCache<String, Integer> cache =
        singleFlight(Duration.ofSeconds(5), Duration.ofSeconds(5));
    StatefulRedisConnection<String, String> admin = client().connect();
    closing.add(admin);
    String lease = tier(cache).leaseKey("k");
    assertThat(admin.sync().set(lease, "a-dead-holder", SetArgs.Builder.px(300))).isEqualTo("OK");
    db.put("k", 7);

    assertThat(cache.get("k", this::load)).isEqualTo(7);

    assertThat(loads).hasValue(1);
    assertThat(tier(cache).leases("awaited")).isEqualTo(1);
    assertThat(tier(cache).leases("acquired")).isEqualTo(1);
    assertThat(tier(cache).leases("timeout")).isZero();
    assertThat(admin.sync().exists(lease)).as("released with the fill").isZero();
    assertThat(admin.sync().get(tier(cache).valueKey("k"))).isEqualTo("7");
  }

  @Test
  void aWaiterWhoseWaitRunsOutLoadsWithoutTheLease() throws Exception {
    BoundedCache<String, Integer> cache =
        singleFlight(Duration.ofSeconds(5), Duration.ofMillis(200));
    StatefulRedisConnection<String, String> admin = client().connect();
    closing.add(admin);
    String lease = tier(cache).leaseKey("k");
    assertThat(admin.sync().set(lease, "a-dead-holder", SetArgs.Builder.px(60_000)))
        .isEqualTo("OK");
    db.put("k", 7);

    assertThat(cache.get("k", this::load)).isEqualTo(7);

    assertThat(loads).hasValue(1);
    assertThat(tier(cache).leases("awaited")).isEqualTo(1);
    assertThat(tier(cache).leases("timeout")).isEqualTo(1);
    assertThat(tier(cache).leases("acquired")).isZero();
    assertThat(admin.sync().get(lease))
        .as("another's lease is left alone")
        .isEqualTo("a-dead-holder");
    assertThat(admin.sync().get(tier(cache).valueKey("k"))).isEqualTo("7");
  }
}

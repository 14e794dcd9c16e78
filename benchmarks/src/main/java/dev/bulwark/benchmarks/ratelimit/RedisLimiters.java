package dev.bulwark.benchmarks.ratelimit;

import dev.bulwark.ratelimit.FailurePolicy;
import dev.bulwark.ratelimit.Limit;
import dev.bulwark.ratelimit.Outcome;
import dev.bulwark.ratelimit.RateLimiter;
import dev.bulwark.ratelimit.RateLimiterSnapshot;
import dev.bulwark.ratelimit.RedisRateLimiter;
import dev.bulwark.testing.TestRedis;
import io.github.bucket4j.Bandwidth;
import io.github.bucket4j.BucketConfiguration;
import io.github.bucket4j.distributed.AsyncBucketProxy;
import io.github.bucket4j.distributed.BucketProxy;
import io.github.bucket4j.distributed.ExpirationAfterWriteStrategy;
import io.github.bucket4j.redis.lettuce.Bucket4jLettuce;
import io.github.bucket4j.redis.lettuce.cas.LettuceBasedProxyManager;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.codec.ByteArrayCodec;
import io.lettuce.core.codec.RedisCodec;
import io.lettuce.core.codec.StringCodec;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.LongAdder;

/**
 * The two Redis limiters under test, on one Lettuce client of the JVM's embedded Redis, and the
 * count of the Redis commands their decisions send.
 *
 * <ul>
 *   <li>bulwark: {@code RateLimiter.redis(client)}, one limit, the denied cache off (it would only
 *       add a missed lookup, since nothing is denied), a command timeout of 1 s (so that a slow
 *       moment of the 2-core machine is not answered by the failure policy) and {@code FAIL_OPEN}:
 *       a decision Redis did not answer is counted and printed at the end. It opens one connection
 *       of its own on the client and multiplexes every thread over it. A decision is one {@code
 *       EVALSHA} of its script, which reads {@code TIME}, {@code GET}s the bucket and {@code SET}s
 *       it with an expiry.
 *   <li>Bucket4j: {@code Bucket4jLettuce.casBasedBuilder(connection)} on one connection of the same
 *       client ({@code String} keys, {@code byte[]} values), buckets that expire once full ({@code
 *       basedOnTimeForRefillingBucketUpToMax(0)}, as bulwark's do), the same limit as a greedy
 *       bandwidth. A decision is a {@code GET} of the state, then an {@code EVAL} of a
 *       compare-and-swap script (the script's text sent each time); when another decision changed
 *       the state in between, both again, with no limit and no pause. A Redis failure throws, and
 *       fails the benchmark (asynchronously: it is counted and printed at the end).
 * </ul>
 *
 * <p>bulwark's limiter does not take a connection, only a client, so the two do not share one
 * connection: each has one connection of its own, on the same client and event loops.
 *
 * <p>The limit, 1,000 per hour with a burst of 10^9, is never reached in a run, so every decision
 * writes. Both libraries let a bucket's key expire once it is full again, and here each decision
 * puts 3.6 s of refill on its key, so every key stays in Redis for the run, and a decision on
 * 10,000 keys finds its key there as one on the hot key does (after the first pass over the keys,
 * in the warm-up). A limit that refills fast, such as 10^9 per hour, would not do: a key expires 1
 * ms after its last decision, so at one thread the hot key itself expires between decisions, and a
 * Bucket4j decision whose key expires between its {@code GET} and its {@code EVAL} fails its swap
 * and starts again (15 % of them did in a first try); on 10,000 keys every decision would create
 * its key.
 */
final class RedisLimiters implements AutoCloseable {
  static final Limit LIMIT = Limit.perHour(1_000).withBurst(1_000_000_000);

  /** Administrative and internal commands, left out of the counts. */
  private static final Set<String> NOT_COUNTED =
      Set.of("info", "config", "ping", "hello", "client", "flushall", "select", "command");

  final TestRedis redis;
  final RedisClient client;
  final StatefulRedisConnection<String, String> admin;
  final RedisRateLimiter bulwark;
  final StatefulRedisConnection<String, byte[]> bucket4jConnection;
  final LettuceBasedProxyManager<String> bucket4j;
  final String[] keys;
  final BucketProxy[] buckets;
  final AsyncBucketProxy[] asyncBuckets;
  final int[] walk;
  final LongAdder bulwarkDecisions = new LongAdder();
  final LongAdder bucket4jDecisions = new LongAdder();
  final LongAdder bucket4jRefused = new LongAdder();
  final LongAdder bucket4jFailed = new LongAdder();

  /** Starts Redis (once per JVM), empties it, builds both limiters and resets the counts. */
  RedisLimiters(int keyCount) {
    redis = TestRedis.get();
    redis.flushAll();
    client = RedisClient.create(redis.uri());
    admin = client.connect(StringCodec.UTF8);
    bulwark =
        RateLimiter.redis(client)
            .name("benchmark")
            .limits(List.of(LIMIT))
            .deniedCacheSize(0)
            .commandTimeout(Duration.ofSeconds(1))
            .onRedisFailure(FailurePolicy.FAIL_OPEN)
            .build();
    bucket4jConnection = client.connect(RedisCodec.of(StringCodec.UTF8, ByteArrayCodec.INSTANCE));
    bucket4j =
        Bucket4jLettuce.casBasedBuilder(bucket4jConnection)
            .expirationAfterWrite(
                ExpirationAfterWriteStrategy.basedOnTimeForRefillingBucketUpToMax(Duration.ZERO))
            .build();
    BucketConfiguration configuration =
        BucketConfiguration.builder()
            .addLimit(
                Bandwidth.builder()
                    .capacity(LIMIT.burst())
                    .refillGreedy(LIMIT.permits(), LIMIT.period())
                    .build())
            .build();
    CompletableFuture<BucketConfiguration> ready = CompletableFuture.completedFuture(configuration);
    keys = Keys.named("tenant:", keyCount);
    buckets = new BucketProxy[keyCount];
    asyncBuckets = new AsyncBucketProxy[keyCount];
    for (int i = 0; i < keyCount; i++) {
      String redisKey = "bucket4j:{" + keys[i] + "}";
      buckets[i] = bucket4j.getProxy(redisKey, () -> configuration);
      asyncBuckets[i] = bucket4j.asAsync().getProxy(redisKey, () -> ready);
    }
    walk = Keys.walk(keyCount);
    admin.sync().configResetstat();
  }

  /**
   * Prints, for the library whose decisions this fork ran, its decisions, how they ended, and the
   * Redis commands per decision (counted since the reset, warm-up included).
   */
  void report() {
    long decisions;
    String library;
    String outcomes;
    if (bulwarkDecisions.sum() > 0) {
      decisions = bulwarkDecisions.sum();
      library = "bulwark";
      RateLimiterSnapshot snapshot = bulwark.snapshot();
      StringBuilder out = new StringBuilder();
      for (Map.Entry<Outcome, Long> e : snapshot.decisions().entrySet()) {
        if (e.getValue() > 0) {
          out.append(e.getKey()).append('=').append(e.getValue()).append(' ');
        }
      }
      outcomes = out + "redisErrors=" + snapshot.redisErrors();
    } else if (bucket4jDecisions.sum() > 0) {
      decisions = bucket4jDecisions.sum();
      library = "bucket4j";
      long refused = bucket4jRefused.sum();
      long failed = bucket4jFailed.sum();
      outcomes =
          "allowed=" + (decisions - refused - failed) + " refused=" + refused + " failed=" + failed;
    } else {
      return;
    }
    Map<String, Long> calls = commandCalls();
    StringBuilder out =
        new StringBuilder("\n")
            .append(library)
            .append(": ")
            .append(decisions)
            .append(" decisions (")
            .append(outcomes)
            .append("); Redis commands per decision:");
    for (String command : List.of("evalsha", "eval", "get", "set")) {
      out.append(perDecision(command, calls.getOrDefault(command, 0L), decisions));
    }
    for (Map.Entry<String, Long> e : calls.entrySet()) {
      if (!List.of("evalsha", "eval", "get", "set").contains(e.getKey())) {
        out.append(perDecision(e.getKey(), e.getValue(), decisions));
      }
    }
    System.out.println(out);
  }

  private static String perDecision(String command, long calls, long decisions) {
    return String.format(Locale.ROOT, " %s=%.4f", command, (double) calls / decisions);
  }

  /** Calls per command since the reset, from {@code INFO commandstats}. */
  Map<String, Long> commandCalls() {
    Map<String, Long> calls = new TreeMap<>();
    for (String line : redis.info("commandstats").split("\r?\n")) {
      if (line.startsWith("cmdstat_")) {
        String command = line.substring("cmdstat_".length(), line.indexOf(':'));
        int at = line.indexOf("calls=") + "calls=".length();
        long count = Long.parseLong(line.substring(at, line.indexOf(',', at)));
        if (!NOT_COUNTED.contains(command) && count > 0) {
          calls.put(command, count);
        }
      }
    }
    return calls;
  }

  @Override
  public void close() {
    bulwark.close();
    bucket4jConnection.close();
    admin.close();
    client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
  }
}

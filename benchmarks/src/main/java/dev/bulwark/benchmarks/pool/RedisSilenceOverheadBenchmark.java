package dev.bulwark.benchmarks.pool;

import dev.bulwark.pool.Pools;
import dev.bulwark.testing.TestRedis;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisFuture;
import io.lettuce.core.api.StatefulRedisConnection;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * What watching every command for silence costs: the same hardened client, with the watch ({@code
 * on}) and without it ({@code off}), against a real Redis on loopback. One synchronous {@code GET}
 * is a round trip; a batch of 100 pipelined {@code GET}s shows the per-command cost, since the
 * round trip is shared.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@State(Scope.Benchmark)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(2)
public class RedisSilenceOverheadBenchmark {
  private static final int BATCH = 100;

  /** Whether the client watches its connections for silence. */
  @Param({"off", "on"})
  public String detection;

  private RedisClient client;
  private StatefulRedisConnection<String, String> connection;

  /** Starts Redis (once per fork) and connects the client. */
  @Setup(Level.Trial)
  public void start() {
    TestRedis redis = TestRedis.get();
    client = Pools.redis(redis.url()).detectSilentConnections(detection.equals("on")).build();
    connection = client.connect();
    connection.sync().set("benchmark:key", "value");
  }

  /** Closes the connection and the client; Redis stops with the fork. */
  @TearDown(Level.Trial)
  public void stop() {
    connection.close();
    client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
  }

  /** One round trip. */
  @Benchmark
  public String syncGet() {
    return connection.sync().get("benchmark:key");
  }

  /** 100 commands in flight together, then all their answers. */
  @Benchmark
  public int pipelinedGets() throws InterruptedException, ExecutionException, TimeoutException {
    List<RedisFuture<String>> futures = new ArrayList<>(BATCH);
    for (int i = 0; i < BATCH; i++) {
      futures.add(connection.async().get("benchmark:key"));
    }
    int length = 0;
    for (RedisFuture<String> f : futures) {
      length += f.get(5, TimeUnit.SECONDS).length();
    }
    return length;
  }
}

package dev.bulwark.benchmarks.ratelimit;

import dev.bulwark.benchmarks.Options;
import io.lettuce.core.RedisFuture;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.async.RedisAsyncCommands;
import io.lettuce.core.api.sync.RedisCommands;
import io.lettuce.core.codec.StringCodec;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * How many decisions per second the embedded Redis can make at all: bulwark's own script, sent with
 * {@code EVALSHA} exactly as the limiter sends it, by many pipelined clients, the ceiling that no
 * client library can pass. Not a JMH benchmark: run it with {@code java -cp
 * benchmarks/target/benchmarks.jar dev.bulwark.benchmarks.ratelimit.ScriptCeiling}.
 *
 * <p>The embedded-redis artifact of {@code bulwark-testing} ships {@code redis-server} only, no
 * {@code redis-benchmark}. So this is a stand-in for {@code redis-benchmark -c 16 -P 16}: 16
 * Lettuce connections, each sending 16 {@code EVALSHA}s in one write, then waiting for the 16
 * answers before it sends the next 16, as {@code redis-benchmark -P 16} does. Each call's latency
 * is the time from its batch's write to its answer, as {@code redis-benchmark} counts it. Unlike
 * {@code redis-benchmark}, the driver is a JVM, with Lettuce's event loops decoding every answer,
 * on the same 2 cores as Redis: its ceiling is a lower bound of the server's. Where a real {@code
 * redis-benchmark} exists (Debian's {@code redis-tools} package has one), {@code --redis-benchmark
 * <its path>} runs it too, against the same server and the same command.
 *
 * <p>The command is the one bulwark's limiter sent for its second decision of a key, read back from
 * Redis' {@code SLOWLOG} (with {@code slowlog-log-slower-than 0} for those two decisions): the
 * script's digest, the bucket's key, its arguments. The limit is {@link RedisLimiters#LIMIT}, never
 * reached. With {@code --keys N} (N above 1) each call names one of N keys, drawn at random.
 *
 * <p>Options, each {@code --name value}: {@code keys} (1, the hot key, or more; default: 1 then
 * 10,000), {@code connections} (16), {@code pipeline} (16), {@code warmup} (seconds, 5), {@code
 * seconds} (measured, 10), {@code redis-benchmark} (the binary; none by default) and {@code
 * requests} (its {@code -n}, 1,000,000).
 */
public final class ScriptCeiling {
  /** Latencies are counted in microseconds up to this; slower calls are counted apart. */
  private static final int MAX_MICROS = 100_000;

  private final RedisLimiters limiters;
  private final String sha;
  private final String keyTemplate;
  private final String[] args;

  private ScriptCeiling(RedisLimiters limiters, List<String> command) {
    this.limiters = limiters;
    this.sha = command.get(1);
    this.keyTemplate = command.get(3).replace("{probe}", "{%s}");
    this.args = command.subList(4, command.size()).toArray(new String[0]);
  }

  /**
   * Runs the driver, then {@code redis-benchmark} if named, and prints their figures.
   *
   * @param arguments the options, as pairs {@code --name value}
   * @throws Exception if Redis or {@code redis-benchmark} fails
   */
  public static void main(String[] arguments) throws Exception {
    Map<String, String> options = Options.parse(arguments);
    int connections = Integer.parseInt(options.getOrDefault("connections", "16"));
    int pipeline = Integer.parseInt(options.getOrDefault("pipeline", "16"));
    int warmup = Integer.parseInt(options.getOrDefault("warmup", "5"));
    int seconds = Integer.parseInt(options.getOrDefault("seconds", "10"));
    String keys = options.get("keys");
    List<Integer> keyCounts = keys == null ? List.of(1, 10_000) : List.of(Integer.parseInt(keys));
    try (RedisLimiters limiters = new RedisLimiters(1)) {
      ScriptCeiling ceiling = new ScriptCeiling(limiters, capture(limiters));
      System.out.println(
          "EVALSHA "
              + ceiling.sha
              + " 1 "
              + String.format(Locale.ROOT, ceiling.keyTemplate, "<key>")
              + " "
              + String.join(" ", quoted(ceiling.args)));
      for (int count : keyCounts) {
        ceiling.drive(count, connections, pipeline, warmup, seconds);
      }
      String binary = options.get("redis-benchmark");
      if (binary != null) {
        long requests = Long.parseLong(options.getOrDefault("requests", "1000000"));
        for (int count : keyCounts) {
          ceiling.redisBenchmark(binary, count, connections, pipeline, requests);
        }
      }
    }
  }

  private static List<String> quoted(String[] args) {
    List<String> out = new ArrayList<>();
    for (String arg : args) {
      out.add(arg.isEmpty() ? "''" : arg);
    }
    return out;
  }

  /** Makes two decisions of key "probe" and reads the second's command back from the slow log. */
  private static List<String> capture(RedisLimiters limiters) {
    RedisCommands<String, String> admin = limiters.admin.sync();
    Map<String, String> before = admin.configGet("slowlog-log-slower-than");
    admin.configSet("slowlog-log-slower-than", "0");
    admin.slowlogReset();
    try {
      var unused = limiters.bulwark.tryAcquire("probe");
      unused = limiters.bulwark.tryAcquire("probe");
    } finally {
      admin.configSet(
          "slowlog-log-slower-than", before.getOrDefault("slowlog-log-slower-than", "10000"));
    }
    for (Object entry : admin.slowlogGet(128)) {
      List<?> fields = (List<?>) entry;
      List<String> command = new ArrayList<>();
      for (Object arg : (List<?>) fields.get(3)) {
        command.add(text(arg));
      }
      if (command.get(0).equalsIgnoreCase("evalsha")) {
        if (!command.get(2).equals("1") || !command.get(3).contains("{probe}")) {
          throw new IllegalStateException("the limiter sent another command: " + command);
        }
        admin.slowlogReset();
        return command;
      }
    }
    throw new IllegalStateException("the slow log holds no EVALSHA of the limiter");
  }

  private static String text(Object value) {
    if (value instanceof ByteBuffer) {
      return StandardCharsets.UTF_8.decode(((ByteBuffer) value).duplicate()).toString();
    }
    if (value instanceof byte[]) {
      return new String((byte[]) value, StandardCharsets.UTF_8);
    }
    return String.valueOf(value);
  }

  private String[] redisKeys(int count) {
    if (count == 1) {
      return new String[] {String.format(Locale.ROOT, keyTemplate, "probe")};
    }
    String[] names = Keys.named("tenant:", count);
    String[] keys = new String[count];
    for (int i = 0; i < count; i++) {
      keys[i] = String.format(Locale.ROOT, keyTemplate, names[i]);
    }
    return keys;
  }

  /** Runs the pipelined clients for the warm-up, then for {@code seconds}, and prints the rate. */
  private void drive(int keyCount, int connections, int pipeline, int warmup, int seconds)
      throws InterruptedException {
    String[] keys = redisKeys(keyCount);
    int[] walk = Keys.walk(keyCount);
    List<Pipe> pipes = new ArrayList<>();
    for (int i = 0; i < connections; i++) {
      pipes.add(new Pipe(limiters.client.connect(StringCodec.UTF8), keys, walk, pipeline, i));
    }
    try {
      for (Pipe pipe : pipes) {
        pipe.send();
      }
      TimeUnit.SECONDS.sleep(warmup);
      long start = System.nanoTime();
      for (Pipe pipe : pipes) {
        pipe.measuring = true;
      }
      TimeUnit.SECONDS.sleep(seconds);
      for (Pipe pipe : pipes) {
        pipe.measuring = false;
      }
      long elapsed = System.nanoTime() - start;
      for (Pipe pipe : pipes) {
        pipe.running = false;
      }
      long[] histogram = new long[MAX_MICROS + 1];
      long calls = 0;
      long errors = 0;
      long denied = 0;
      for (Pipe pipe : pipes) {
        if (!pipe.stopped.await(30, TimeUnit.SECONDS)) {
          throw new IllegalStateException("a connection's last batch never ended");
        }
        calls += pipe.calls;
        errors += pipe.errors;
        denied += pipe.denied;
        for (int i = 0; i <= MAX_MICROS; i++) {
          histogram[i] += pipe.histogram[i];
        }
      }
      System.out.printf(
          Locale.ROOT,
          "%s, %d connections x %d pipelined: %,.0f calls/s over %d s (%,d calls, %d denied, %d"
              + " errors); latency p50 %s, p99 %s, p99.9 %s%n",
          keyCount == 1 ? "hot key" : String.format(Locale.ROOT, "%,d keys", keyCount),
          connections,
          pipeline,
          calls / (elapsed / 1e9),
          seconds,
          calls,
          denied,
          errors,
          percentile(histogram, calls, 0.50),
          percentile(histogram, calls, 0.99),
          percentile(histogram, calls, 0.999));
    } finally {
      for (Pipe pipe : pipes) {
        pipe.connection.close();
      }
    }
  }

  private static String percentile(long[] histogram, long total, double fraction) {
    long rank = (long) Math.ceil(fraction * total);
    long seen = 0;
    for (int micros = 0; micros < MAX_MICROS; micros++) {
      seen += histogram[micros];
      if (seen >= rank && rank > 0) {
        return micros + " µs";
      }
    }
    return "> " + MAX_MICROS + " µs";
  }

  /** Runs the real {@code redis-benchmark} against the same server, with the same command. */
  private void redisBenchmark(
      String binary, int keyCount, int connections, int pipeline, long requests)
      throws IOException, InterruptedException {
    if (!limiters.redis.isEmbedded()) {
      throw new IllegalStateException("--redis-benchmark runs against the embedded server only");
    }
    List<String> command = new ArrayList<>();
    command.addAll(
        List.of(
            binary,
            "-h",
            limiters.redis.host(),
            "-p",
            Integer.toString(limiters.redis.port()),
            "-c",
            Integer.toString(connections),
            "-P",
            Integer.toString(pipeline),
            "-n",
            Long.toString(requests)));
    String key;
    if (keyCount == 1) {
      key = String.format(Locale.ROOT, keyTemplate, "probe");
    } else {
      command.addAll(List.of("-r", Integer.toString(keyCount)));
      key = String.format(Locale.ROOT, keyTemplate, "tenant:__rand_int__");
    }
    command.addAll(List.of("EVALSHA", sha, "1", key));
    command.addAll(Arrays.asList(args));
    System.out.println(
        "\nredis-benchmark, "
            + (keyCount == 1 ? "hot key" : keyCount + " keys")
            + ": "
            + String.join(" ", command.subList(1, command.size())));
    Map<String, Long> before = limiters.commandCalls();
    Process process = new ProcessBuilder(command).inheritIO().start();
    if (!process.waitFor(10, TimeUnit.MINUTES)) {
      process.destroyForcibly();
      throw new IllegalStateException("redis-benchmark ran for more than 10 minutes");
    }
    if (process.exitValue() != 0) {
      throw new IllegalStateException("redis-benchmark exited with " + process.exitValue());
    }
    // redis-benchmark counts an error reply as an answer: a call that ran the script wrote a
    // bucket.
    Map<String, Long> after = limiters.commandCalls();
    System.out.printf(
        Locale.ROOT,
        "EVALSHA calls: %,d, of which wrote a bucket (SET calls): %,d%n",
        after.getOrDefault("evalsha", 0L) - before.getOrDefault("evalsha", 0L),
        after.getOrDefault("set", 0L) - before.getOrDefault("set", 0L));
  }

  /**
   * One connection that sends {@code pipeline} calls in one write, then the next batch when the
   * last answer of this one arrives. Its answers complete on the connection's event loop, one
   * thread, which alone writes the counts; the main thread reads them after {@link #stopped}.
   */
  private final class Pipe {
    final StatefulRedisConnection<String, String> connection;
    final RedisAsyncCommands<String, String> commands;
    final String[] keys;
    final int[] walk;
    final int pipeline;
    final long[] histogram = new long[MAX_MICROS + 1];
    final AtomicInteger pending = new AtomicInteger();
    final CountDownLatch stopped = new CountDownLatch(1);
    volatile boolean running = true;
    volatile boolean measuring;
    int next;
    long calls;
    long errors;
    long denied;

    Pipe(
        StatefulRedisConnection<String, String> connection,
        String[] keys,
        int[] walk,
        int pipeline,
        int index) {
      this.connection = connection;
      this.commands = connection.async();
      this.keys = keys;
      this.walk = walk;
      this.pipeline = pipeline;
      this.next = index * (Keys.WALK / 64);
      connection.setAutoFlushCommands(false);
    }

    void send() {
      if (!running) {
        stopped.countDown();
        return;
      }
      long sent = System.nanoTime();
      pending.set(pipeline);
      for (int i = 0; i < pipeline; i++) {
        String[] key = {keys[walk[next++ & (Keys.WALK - 1)]]};
        RedisFuture<List<Object>> reply = commands.evalsha(sha, ScriptOutputType.MULTI, key, args);
        reply.whenComplete((answer, e) -> answered(sent, answer, e));
      }
      connection.flushCommands();
    }

    private void answered(long sent, List<Object> answer, Throwable e) {
      if (measuring) {
        calls++;
        if (e != null) {
          errors++;
        } else if (Long.valueOf(0).equals(answer.get(0))) {
          denied++;
        }
        long micros = (System.nanoTime() - sent) / 1_000;
        histogram[(int) Math.min(micros, MAX_MICROS)]++;
      }
      if (pending.decrementAndGet() == 0) {
        send();
      }
    }
  }
}

package dev.bulwark.benchmarks.health;

import dev.bulwark.benchmarks.Options;
import dev.bulwark.health.HealthCheck;
import dev.bulwark.health.HealthRegistry;
import dev.bulwark.health.HealthServer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * A readiness request's latency at 64 kept-alive connections, driven as a load tool such as {@code
 * wrk -t2 -c64} drives it: two client threads, each an event loop over 32 connections, each
 * connection sending its next request as soon as the last answer is in. The same server, checks and
 * hand-written endpoint as {@link HealthEndpointBenchmark}, whose 64 client threads (one per
 * connection, as JMH runs them) compete with the server for the machine's 2 cores: a response that
 * is in waits there for its thread to be scheduled, and that wait is counted in its latency. Not a
 * JMH benchmark: run it with {@code java -cp benchmarks/target/benchmarks.jar
 * dev.bulwark.benchmarks.health.HealthLoad}.
 *
 * <p>A request's latency is the time from its write to the last byte of its answer, every request
 * counted (no sampling), sorted for the percentiles. Each round first runs {@code warmup} seconds
 * uncounted.
 *
 * <p>Options, each {@code --name value}: {@code connections} (64), {@code threads} (client event
 * loops, 2), {@code warmup} (seconds, 5), {@code seconds} (measured, 10), {@code rounds} (5) and
 * {@code endpoint} ({@code bulwark}, {@code sequential} or {@code both}, the default).
 */
public final class HealthLoad {
  private HealthLoad() {}

  /**
   * Starts the servers, drives each for its rounds, and prints one line a round.
   *
   * @param arguments the options, as pairs {@code --name value}
   * @throws Exception if a server or a connection fails
   */
  public static void main(String[] arguments) throws Exception {
    Map<String, String> options = Options.parse(arguments);
    int connections = Integer.parseInt(options.getOrDefault("connections", "64"));
    int threads = Integer.parseInt(options.getOrDefault("threads", "2"));
    int warmup = Integer.parseInt(options.getOrDefault("warmup", "5"));
    int seconds = Integer.parseInt(options.getOrDefault("seconds", "10"));
    int rounds = Integer.parseInt(options.getOrDefault("rounds", "5"));
    String endpoint = options.getOrDefault("endpoint", "both");
    if (connections < threads || threads < 1) {
      throw new IllegalArgumentException(
          "threads must be between 1 and connections (" + connections + "), but was " + threads);
    }
    List<HealthCheck> checks = HealthEndpointBenchmark.checks();
    HealthRegistry.Builder builder = HealthRegistry.builder();
    for (int i = 0; i < checks.size(); i++) {
      builder.readiness("check-" + i, checks.get(i));
    }
    System.out.printf(
        Locale.ROOT,
        "%d connections on %d client threads, %d s warm-up and %d s measured a round, %s %s%n",
        connections,
        threads,
        warmup,
        seconds,
        System.getProperty("java.vm.name"),
        System.getProperty("java.version"));
    try (HealthRegistry registry = builder.build();
        HealthServer bulwark = HealthServer.builder(registry, 0).host("127.0.0.1").start();
        HandWrittenEndpoint sequential = new HandWrittenEndpoint(checks)) {
      if (!endpoint.equals("sequential")) {
        drive("bulwark", bulwark.port(), connections, threads, warmup, seconds, rounds);
      }
      if (!endpoint.equals("bulwark")) {
        drive("sequential", sequential.port(), connections, threads, warmup, seconds, rounds);
      }
    }
  }

  private static void drive(
      String name, int port, int connections, int threads, int warmup, int seconds, int rounds)
      throws InterruptedException {
    byte[] request =
        ("GET /health/ready HTTP/1.1\r\nHost: 127.0.0.1:" + port + "\r\n\r\n")
            .getBytes(StandardCharsets.US_ASCII);
    for (int round = 1; round <= rounds; round++) {
      Loop[] loops = new Loop[threads];
      Thread[] running = new Thread[threads];
      for (int t = 0; t < threads; t++) {
        int mine = connections / threads + (t < connections % threads ? 1 : 0);
        loops[t] = new Loop(port, request, mine, warmup * 1_000_000_000L, seconds * 1_000_000_000L);
        running[t] = new Thread(loops[t], "health-load-" + t);
        running[t].start();
      }
      for (Thread thread : running) {
        thread.join();
      }
      int total = 0;
      for (Loop loop : loops) {
        if (loop.failure != null) {
          throw new IllegalStateException("a client failed", loop.failure);
        }
        total += loop.count;
      }
      long[] latencies = new long[total];
      int at = 0;
      for (Loop loop : loops) {
        System.arraycopy(loop.latencies, 0, latencies, at, loop.count);
        at += loop.count;
      }
      Arrays.sort(latencies);
      System.out.printf(
          Locale.ROOT,
          "%s, round %d: %,d requests, %,.0f/s; p50 %s, p90 %s, p99 %s, p99.9 %s, max %s%n",
          name,
          round,
          total,
          total / (double) seconds,
          millis(latencies, 0.50),
          millis(latencies, 0.90),
          millis(latencies, 0.99),
          millis(latencies, 0.999),
          total == 0 ? "-" : format(latencies[total - 1]));
    }
  }

  private static String millis(long[] sorted, double fraction) {
    if (sorted.length == 0) {
      return "-";
    }
    int rank = (int) Math.ceil(fraction * sorted.length);
    return format(sorted[Math.max(0, rank - 1)]);
  }

  private static String format(long nanos) {
    return String.format(Locale.ROOT, "%.2f ms", nanos / 1e6);
  }

  /** One client thread: an event loop over its connections, one request in flight on each. */
  private static final class Loop implements Runnable {
    private final int port;
    private final byte[] request;
    private final int connections;
    private final long warmupNanos;
    private final long measuredNanos;
    long[] latencies = new long[1 << 16];
    int count;
    volatile @Nullable Throwable failure;

    Loop(int port, byte[] request, int connections, long warmupNanos, long measuredNanos) {
      this.port = port;
      this.request = request;
      this.connections = connections;
      this.warmupNanos = warmupNanos;
      this.measuredNanos = measuredNanos;
    }

    @Override
    public void run() {
      List<Connection> opened = new ArrayList<>();
      try (Selector selector = Selector.open()) {
        for (int i = 0; i < connections; i++) {
          Connection connection = new Connection(port);
          opened.add(connection);
          connection.channel.register(selector, SelectionKey.OP_READ, connection);
        }
        long start = System.nanoTime();
        long counted = start + warmupNanos;
        long end = counted + measuredNanos;
        for (Connection connection : opened) {
          connection.send(request, System.nanoTime());
        }
        for (long now = start; now - end < 0; now = System.nanoTime()) {
          selector.select(100);
          Iterator<SelectionKey> keys = selector.selectedKeys().iterator();
          while (keys.hasNext()) {
            Connection connection = (Connection) keys.next().attachment();
            keys.remove();
            if (connection.readAnswer()) {
              long done = System.nanoTime();
              if (done - counted >= 0 && done - end < 0) {
                record(done - connection.sent);
              }
              connection.send(request, done);
            }
          }
        }
      } catch (IOException | RuntimeException e) {
        failure = e;
      } finally {
        for (Connection connection : opened) {
          connection.close();
        }
      }
    }

    private void record(long nanos) {
      if (count == latencies.length) {
        latencies = Arrays.copyOf(latencies, count * 2);
      }
      latencies[count++] = nanos;
    }
  }

  /**
   * A non-blocking kept-alive connection that reads one answer whole: headers up to the blank line,
   * then {@code Content-Length} bytes. Only what the two servers answer is understood.
   */
  private static final class Connection {
    final SocketChannel channel;
    private final ByteBuffer in = ByteBuffer.allocate(1 << 16);
    long sent;

    Connection(int port) throws IOException {
      channel = SocketChannel.open(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
      channel.setOption(StandardSocketOptions.TCP_NODELAY, true);
      channel.configureBlocking(false);
    }

    void send(byte[] request, long now) throws IOException {
      sent = now;
      ByteBuffer out = ByteBuffer.wrap(request);
      while (out.hasRemaining()) {
        if (channel.write(out) == 0) {
          throw new IOException("the request did not fit the socket's buffer");
        }
      }
    }

    /** Reads what arrived; {@return whether the answer is now whole} */
    boolean readAnswer() throws IOException {
      if (channel.read(in) < 0) {
        throw new IOException("the server closed the connection");
      }
      byte[] bytes = in.array();
      int end = in.position();
      for (int i = 3; i < end; i++) {
        if (bytes[i] == '\n'
            && bytes[i - 1] == '\r'
            && bytes[i - 2] == '\n'
            && bytes[i - 3] == '\r') {
          int length = contentLength(new String(bytes, 0, i, StandardCharsets.ISO_8859_1));
          if (end < i + 1 + length) {
            return false;
          }
          if (end > i + 1 + length) {
            throw new IOException("bytes beyond the answer: one request is in flight at a time");
          }
          in.clear();
          return true;
        }
      }
      if (!in.hasRemaining()) {
        throw new IOException("an answer's headers passed " + in.capacity() + " bytes");
      }
      return false;
    }

    private static int contentLength(String headers) throws IOException {
      for (String line : headers.split("\r\n")) {
        int colon = line.indexOf(':');
        if (colon > 0 && line.regionMatches(true, 0, "content-length", 0, colon)) {
          return Integer.parseInt(line.substring(colon + 1).trim());
        }
      }
      throw new IOException("no Content-Length in the answer");
    }

    void close() {
      try {
        channel.close();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  }
}

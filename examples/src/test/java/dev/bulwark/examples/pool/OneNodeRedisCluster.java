package dev.bulwark.examples.pool;

import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.api.StatefulRedisConnection;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import redis.embedded.RedisServer;

/**
 * A Redis Cluster of one node that holds every slot, started from the same embedded Redis binary as
 * {@code bulwark-testing}'s server, for the cluster recipe. {@link #close()} stops it.
 */
final class OneNodeRedisCluster implements AutoCloseable {
  private static final Duration WAIT = Duration.ofSeconds(20);
  private static final int SLOTS = 16_384;

  private final RedisServer server;
  private final Path dir;
  private final int port;

  private OneNodeRedisCluster(RedisServer server, Path dir, int port) {
    this.server = server;
    this.dir = dir;
    this.port = port;
  }

  static OneNodeRedisCluster start() throws IOException {
    int port;
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      port = socket.getLocalPort();
    }
    Path dir = Files.createTempDirectory("bulwark-examples-cluster-");
    RedisServer server =
        RedisServer.newRedisServer()
            .port(port)
            .bind("127.0.0.1")
            .setting("cluster-enabled yes")
            // A node that has met no other announces no address of its own.
            .setting("cluster-announce-ip 127.0.0.1")
            .setting("cluster-config-file " + dir.resolve("nodes.conf").toAbsolutePath())
            .setting("save \"\"")
            .setting("appendonly no")
            .setting("dir " + dir.toAbsolutePath())
            .build();
    server.start();
    OneNodeRedisCluster cluster = new OneNodeRedisCluster(server, dir, port);
    RedisClient admin = RedisClient.create(RedisURI.create("127.0.0.1", port));
    try (StatefulRedisConnection<String, String> c = admin.connect()) {
      c.sync().clusterAddSlots(IntStream.range(0, SLOTS).toArray());
      long end = System.nanoTime() + WAIT.toNanos();
      while (!c.sync().clusterInfo().contains("cluster_state:ok")) {
        if (System.nanoTime() > end) {
          throw new IllegalStateException("the one-node cluster did not come up within " + WAIT);
        }
        Thread.sleep(10);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      cluster.close();
      throw new IllegalStateException("interrupted while the cluster came up", e);
    } catch (RuntimeException e) {
      cluster.close();
      throw e;
    } finally {
      admin.shutdown(Duration.ZERO, Duration.ofSeconds(2));
    }
    return cluster;
  }

  /** {@return the node's URL, {@code redis://127.0.0.1:port}} */
  String url() {
    return "redis://127.0.0.1:" + port;
  }

  @Override
  public void close() {
    try {
      server.stop();
      try (Stream<Path> files = Files.walk(dir)) {
        for (Path file : files.sorted(Comparator.reverseOrder()).toList()) {
          Files.deleteIfExists(file);
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}

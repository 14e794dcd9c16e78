package dev.bulwark.testing;

import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import io.lettuce.core.sentinel.api.StatefulRedisSentinelConnection;
import io.lettuce.core.sentinel.api.sync.RedisSentinelCommands;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Function;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;
import redis.embedded.core.ExecutableProvider;

/**
 * One real Redis master, its replica and three Redis Sentinels per JVM, for tests of clients that
 * follow a failover.
 *
 * <p>{@link #get()} extracts the {@code redis-server} binary shipped in the {@code
 * com.github.codemonstur:embedded-redis} artifact into a temporary folder (or takes the one {@link
 * TestRedis} is pointed at with {@code bulwark.test.redis.binary} or {@code
 * BULWARK_TEST_REDIS_BINARY}) and starts, each on a free port of 127.0.0.1 and with a folder of its
 * own: a master, a replica of it ({@code replicaof}), both with persistence off, and three
 * sentinels ({@code redis-server sentinel.conf --sentinel}) that monitor the master as {@value
 * #MASTER_NAME} with a quorum of {@value #QUORUM}, {@code down-after-milliseconds} {@value
 * #DOWN_AFTER_MILLIS} and {@code failover-timeout} {@value #FAILOVER_TIMEOUT_MILLIS}. It returns
 * once every sentinel reports the master, its replica up and in sync, and the two other sentinels;
 * all the processes are stopped and their folders deleted when the JVM exits. There is no external
 * variant: every topology this class gives is one it started, since {@link #killMaster()} has to
 * own the processes.
 *
 * <p>Thread-safe. {@link #killMaster()} is serialised with itself; commands sent to the master
 * while it runs fail or wait, as they would in production.
 */
public final class TestRedisSentinel {

  /**
   * The name the sentinels monitor the master under, and the fragment of {@link #sentinelUrl()}.
   */
  public static final String MASTER_NAME = "bulwark";

  /** Sentinels that must agree the master is down before one of them fails it over. */
  public static final int QUORUM = 2;

  /** How long, in milliseconds, the master may not answer before a sentinel deems it down. */
  public static final int DOWN_AFTER_MILLIS = 1_000;

  /** The sentinels' {@code failover-timeout}, in milliseconds. */
  public static final int FAILOVER_TIMEOUT_MILLIS = 5_000;

  private static final int SENTINELS = 3;
  private static final String HOST = "127.0.0.1";
  private static final Duration ADMIN_TIMEOUT = Duration.ofSeconds(2);

  /** How long the topology may take to settle, at start and after a failover. */
  private static final Duration SETTLE_TIMEOUT = Duration.ofSeconds(60);

  private static final Duration POLL_INTERVAL = Duration.ofMillis(50);
  private static final Duration STOP_TIMEOUT = Duration.ofSeconds(5);

  private static @Nullable TestRedisSentinel instance;

  private final Path root;
  private final Path binary;

  /** The two data servers; which one is the master changes with each {@link #killMaster()}. */
  private final Node[] servers;

  private final Node[] sentinels;
  private final RedisClient admin;
  private volatile int masterIndex;

  private TestRedisSentinel(Path root, Path binary, Node[] servers, Node[] sentinels) {
    this.root = root;
    this.binary = binary;
    this.servers = servers;
    this.sentinels = sentinels;
    this.admin = TestRedis.adminClient(ADMIN_TIMEOUT);
  }

  /**
   * Returns the JVM's sentinel topology, starting it on the first call (a few seconds: the
   * sentinels find each other through the master's hello channel, every 2 s).
   *
   * @return the shared topology
   * @throws IllegalStateException if it cannot be started or does not settle within 60 s
   */
  public static synchronized TestRedisSentinel get() {
    TestRedisSentinel sentinel = instance;
    if (sentinel == null) {
      sentinel = create();
      instance = sentinel;
      TestRedisSentinel stopping = sentinel;
      Runtime.getRuntime()
          .addShutdownHook(new Thread(stopping::shutdown, "bulwark-testing-sentinel-shutdown"));
    }
    return sentinel;
  }

  /** Starts a topology of its own; the caller must {@link #shutdown()} it. */
  static TestRedisSentinel create() {
    Path configured = RedisBinary.configured();
    Path root;
    try {
      root = Files.createTempDirectory("bulwark-sentinel-");
    } catch (IOException e) {
      throw new IllegalStateException("cannot create a temporary folder for Redis Sentinel", e);
    }
    Path binary;
    try {
      binary =
          configured != null
              ? configured
              : ExecutableProvider.newJarResourceProvider(root.toFile()).get().toPath();
    } catch (IOException e) {
      TempDirs.deleteQuietly(root);
      throw new IllegalStateException("cannot extract the embedded redis-server binary", e);
    }
    List<Integer> ports = freePorts(2 + SENTINELS);
    Node[] servers = new Node[2];
    for (int i = 0; i < servers.length; i++) {
      servers[i] = new Node("server-" + (i + 1), ports.get(i), root);
    }
    Node[] sentinels = new Node[SENTINELS];
    for (int i = 0; i < sentinels.length; i++) {
      sentinels[i] = new Node("sentinel-" + (i + 1), ports.get(2 + i), root);
    }
    TestRedisSentinel topology = new TestRedisSentinel(root, binary, servers, sentinels);
    try {
      topology.startAll();
      return topology;
    } catch (RuntimeException e) {
      topology.shutdown();
      throw e;
    }
  }

  private void startAll() {
    Node master = servers[0];
    start(master, serverConfig(master, null), false);
    start(servers[1], serverConfig(servers[1], master), false);
    for (Node sentinel : sentinels) {
      start(sentinel, sentinelConfig(sentinel, master.port), true);
    }
    awaitSettled(0, "start");
  }

  private static String serverConfig(Node node, @Nullable Node masterOf) {
    StringBuilder config =
        new StringBuilder()
            .append("port ")
            .append(node.port)
            .append("\nbind ")
            .append(HOST)
            .append("\nsave \"\"\nappendonly no\ndir ")
            .append(node.dir.toAbsolutePath())
            .append('\n');
    if (masterOf != null) {
      config.append("replicaof ").append(HOST).append(' ').append(masterOf.port).append('\n');
    }
    return config.toString();
  }

  private static String sentinelConfig(Node node, int masterPort) {
    return "port "
        + node.port
        + "\nbind "
        + HOST
        + "\ndir "
        + node.dir.toAbsolutePath()
        + "\nsentinel announce-ip "
        + HOST
        + "\nsentinel monitor "
        + MASTER_NAME
        + " "
        + HOST
        + " "
        + masterPort
        + " "
        + QUORUM
        + "\nsentinel down-after-milliseconds "
        + MASTER_NAME
        + " "
        + DOWN_AFTER_MILLIS
        + "\nsentinel failover-timeout "
        + MASTER_NAME
        + " "
        + FAILOVER_TIMEOUT_MILLIS
        + "\nsentinel parallel-syncs "
        + MASTER_NAME
        + " 1\n";
  }

  /** Writes the node's configuration and starts its process, its output going to a log file. */
  private void start(Node node, String config, boolean sentinel) {
    try {
      Files.createDirectories(node.dir);
      Path file = node.dir.resolve(sentinel ? "sentinel.conf" : "redis.conf");
      Files.writeString(file, config, StandardCharsets.UTF_8);
      List<String> command = new ArrayList<>();
      command.add(binary.toString());
      command.add(file.toAbsolutePath().toString());
      if (sentinel) {
        command.add("--sentinel");
      }
      node.process =
          new ProcessBuilder(command)
              .directory(node.dir.toFile())
              .redirectErrorStream(true)
              .redirectOutput(ProcessBuilder.Redirect.appendTo(node.dir.resolve("log").toFile()))
              .start();
    } catch (IOException e) {
      throw new IllegalStateException(
          "cannot start redis " + node.name + " on port " + node.port, e);
    }
  }

  /** {@return the name the sentinels monitor the master under, {@value #MASTER_NAME}} */
  public String masterName() {
    return MASTER_NAME;
  }

  /** {@return the current master's port on 127.0.0.1; it changes with {@link #killMaster()}} */
  public int masterPort() {
    return servers[masterIndex].port;
  }

  /** {@return the current replica's port on 127.0.0.1; it changes with {@link #killMaster()}} */
  public int replicaPort() {
    return servers[1 - masterIndex].port;
  }

  /** {@return the three sentinels' ports on 127.0.0.1, in a new list} */
  public List<Integer> sentinelPorts() {
    List<Integer> ports = new ArrayList<>(SENTINELS);
    for (Node sentinel : sentinels) {
      ports.add(sentinel.port);
    }
    return ports;
  }

  /**
   * Returns a new URI that reaches the master through the three sentinels, database 0, as {@code
   * RedisClient.create(uri)} takes it. Each call returns a fresh copy, since {@link RedisURI} is
   * mutable.
   *
   * @return the URI
   */
  public RedisURI sentinelUri() {
    RedisURI.Builder builder = RedisURI.Builder.sentinel(HOST, sentinels[0].port, MASTER_NAME);
    for (int i = 1; i < sentinels.length; i++) {
      builder.withSentinel(HOST, sentinels[i].port);
    }
    return builder.build();
  }

  /**
   * Returns the URL of {@link #sentinelUri()} as a string, {@code
   * redis-sentinel://127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3#bulwark}, for code that takes a URL.
   *
   * @return the URL, without credentials
   */
  public String sentinelUrl() {
    StringBuilder url = new StringBuilder("redis-sentinel://");
    for (int i = 0; i < sentinels.length; i++) {
      url.append(i == 0 ? "" : ",").append(HOST).append(':').append(sentinels[i].port);
    }
    return url.append('#').append(MASTER_NAME).toString();
  }

  /** Removes every key in every database of the master; the replica follows. */
  public void flushAll() {
    withServer(masterPort(), RedisCommands::flushall);
  }

  /**
   * Kills the master process ({@code SIGKILL}, so it closes nothing politely) and returns once the
   * sentinels have promoted the replica and the topology has settled again.
   *
   * <p>Waits until a quorum of sentinels names the replica as the master ({@code SENTINEL
   * get-master-addr-by-name}) and every sentinel has a ping answered by it, then starts the killed
   * server again on its old port, empty, as a replica of the new master, and waits until every
   * sentinel reports the new master with that replica up and in sync. Afterwards the roles are
   * swapped: {@link #masterPort()} is the old replica's port, {@link #replicaPort()} the old
   * master's, and the data is what the replica had (writes it had not received when the master died
   * are lost, as in production). A second call fails over back. Takes a few seconds: {@value
   * #DOWN_AFTER_MILLIS} ms to notice, then the sentinels' vote and the promotion.
   *
   * @return the new master's port on 127.0.0.1
   * @throws IllegalStateException if the failover or the rejoin does not complete within 60 s
   */
  public synchronized int killMaster() {
    int oldIndex = masterIndex;
    int newIndex = 1 - oldIndex;
    Node old = servers[oldIndex];
    Node promoted = servers[newIndex];
    kill(old);
    awaitUntil(
        () -> quorumNames(promoted.port),
        () ->
            "a quorum of sentinels to promote the replica on port "
                + promoted.port
                + "; they name "
                + masterAddresses());
    masterIndex = newIndex;
    // Restarting the old server while a sentinel is still connecting to the new master can make
    // that sentinel deem the new master down and start a second failover: first wait until every
    // sentinel follows the new master and has its answer to a ping.
    awaitUntil(
        () -> everySentinelReaches(promoted.port),
        () ->
            "every sentinel to reach the promoted master on port "
                + promoted.port
                + "; they name "
                + masterAddresses());
    start(old, serverConfig(old, promoted), false);
    awaitSettled(newIndex, "the failover");
    return promoted.port;
  }

  /** {@return the pids of the five processes that are alive, for the harness's own test} */
  List<Long> livePids() {
    List<Long> pids = new ArrayList<>();
    for (Node node : allNodes()) {
      Process process = node.process;
      if (process != null && process.isAlive()) {
        pids.add(process.pid());
      }
    }
    return pids;
  }

  /** {@return the temporary folder holding the binary and every node's files} */
  Path root() {
    return root;
  }

  private List<Node> allNodes() {
    List<Node> nodes = new ArrayList<>(List.of(servers));
    nodes.addAll(List.of(sentinels));
    return nodes;
  }

  private boolean quorumNames(int port) {
    int agree = 0;
    for (Node sentinel : sentinels) {
      SocketAddress address = sentinelOrNull(sentinel, s -> s.getMasterAddrByName(MASTER_NAME));
      if (address instanceof InetSocketAddress && ((InetSocketAddress) address).getPort() == port) {
        agree++;
      }
    }
    return agree >= QUORUM;
  }

  private boolean everySentinelReaches(int port) {
    for (Node sentinel : sentinels) {
      Map<String, String> reported = sentinelOrNull(sentinel, s -> s.master(MASTER_NAME));
      if (reported == null
          || !String.valueOf(port).equals(reported.get("port"))
          || !"master".equals(reported.get("flags"))
          || !"0".equals(reported.get("last-ping-sent"))
          || !"master".equals(reported.get("role-reported"))) {
        return false;
      }
    }
    return true;
  }

  private String masterAddresses() {
    List<String> seen = new ArrayList<>();
    for (Node sentinel : sentinels) {
      SocketAddress address = sentinelOrNull(sentinel, s -> s.getMasterAddrByName(MASTER_NAME));
      seen.add(String.valueOf(address));
    }
    return seen.toString();
  }

  /**
   * Waits until every sentinel reports the given server as the master, with flags {@code master},
   * the other server as its one replica, up and with its link to the master up, and the two other
   * sentinels.
   */
  private void awaitSettled(int master, String after) {
    Node expectedMaster = servers[master];
    Node expectedReplica = servers[1 - master];
    StringBuilder last = new StringBuilder();
    awaitUntil(
        () -> {
          last.setLength(0);
          for (Node sentinel : sentinels) {
            String problem = settledProblem(sentinel, expectedMaster, expectedReplica);
            if (problem != null) {
              last.append(sentinel.name).append(": ").append(problem);
              return false;
            }
          }
          return true;
        },
        () -> "the sentinel topology to settle after " + after + " (" + last + ")");
  }

  private @Nullable String settledProblem(Node sentinel, Node master, Node replica) {
    Map<String, String> reported = sentinelOrNull(sentinel, s -> s.master(MASTER_NAME));
    if (reported == null) {
      return "does not answer";
    }
    if (!String.valueOf(master.port).equals(reported.get("port"))
        || !"master".equals(reported.get("flags"))
        || !"1".equals(reported.get("num-slaves"))
        || !String.valueOf(SENTINELS - 1).equals(reported.get("num-other-sentinels"))) {
      return "reports master port "
          + reported.get("port")
          + " flags "
          + reported.get("flags")
          + " with "
          + reported.get("num-slaves")
          + " replicas and "
          + reported.get("num-other-sentinels")
          + " other sentinels";
    }
    List<Map<String, String>> replicas = sentinelOrNull(sentinel, s -> s.replicas(MASTER_NAME));
    if (replicas == null || replicas.size() != 1) {
      return "reports replicas " + replicas;
    }
    Map<String, String> only = replicas.get(0);
    if (!String.valueOf(replica.port).equals(only.get("port"))
        || !"slave".equals(only.get("flags"))
        || !"ok".equals(only.get("master-link-status"))) {
      return "reports replica port "
          + only.get("port")
          + " flags "
          + only.get("flags")
          + " link "
          + only.get("master-link-status");
    }
    return null;
  }

  private static void awaitUntil(BooleanSupplier done, Supplier<String> what) {
    long deadline = System.nanoTime() + SETTLE_TIMEOUT.toNanos();
    while (!done.getAsBoolean()) {
      if (System.nanoTime() - deadline > 0) {
        throw new IllegalStateException(
            "waited " + SETTLE_TIMEOUT.toSeconds() + " s for " + what.get());
      }
      try {
        Thread.sleep(POLL_INTERVAL.toMillis());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted while waiting for " + what.get(), e);
      }
    }
  }

  private <T> @Nullable T sentinelOrNull(
      Node sentinel, Function<RedisSentinelCommands<String, String>, T> action) {
    RedisURI uri = RedisURI.builder().withHost(HOST).withPort(sentinel.port).build();
    try (StatefulRedisSentinelConnection<String, String> connection = admin.connectSentinel(uri)) {
      connection.setTimeout(ADMIN_TIMEOUT);
      return action.apply(connection.sync());
    } catch (RuntimeException e) {
      return null;
    }
  }

  private <T> T withServer(int port, Function<RedisCommands<String, String>, T> action) {
    RedisURI uri = RedisURI.builder().withHost(HOST).withPort(port).build();
    try (StatefulRedisConnection<String, String> connection = admin.connect(uri)) {
      connection.setTimeout(ADMIN_TIMEOUT);
      return action.apply(connection.sync());
    }
  }

  private static void kill(Node node) {
    Process process = node.process;
    if (process == null) {
      return;
    }
    process.destroyForcibly();
    try {
      if (!process.waitFor(STOP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
        throw new IllegalStateException(
            "redis " + node.name + " on port " + node.port + " did not exit after SIGKILL");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while killing redis " + node.name, e);
    }
  }

  private static List<Integer> freePorts(int count) {
    Set<Integer> ports = new LinkedHashSet<>();
    while (ports.size() < count) {
      ports.add(Ports.freeLoopbackPort());
    }
    return new ArrayList<>(ports);
  }

  /** Stops every process and deletes the temporary folder. */
  void shutdown() {
    admin.shutdown(Duration.ZERO, Duration.ofSeconds(2));
    for (Node node : allNodes()) {
      Process process = node.process;
      if (process != null) {
        process.destroy();
      }
    }
    for (Node node : allNodes()) {
      Process process = node.process;
      if (process == null) {
        continue;
      }
      try {
        if (!process.waitFor(STOP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
          process.destroyForcibly().waitFor(STOP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        }
      } catch (InterruptedException e) {
        process.destroyForcibly();
        Thread.currentThread().interrupt();
      }
    }
    TempDirs.deleteQuietly(root);
  }

  /** A server or sentinel: its port, its folder and, once started, its process. */
  private static final class Node {
    final String name;
    final int port;
    final Path dir;
    volatile @Nullable Process process;

    Node(String name, int port, Path root) {
      this.name = name;
      this.port = port;
      this.dir = root.resolve(name);
    }
  }
}

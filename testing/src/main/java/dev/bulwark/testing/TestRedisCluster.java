package dev.bulwark.testing;

import dev.bulwark.core.internal.Checks;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import io.lettuce.core.cluster.SlotHash;
import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.output.StatusOutput;
import io.lettuce.core.protocol.CommandArgs;
import io.lettuce.core.protocol.CommandType;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.stream.IntStream;
import org.jspecify.annotations.Nullable;
import redis.embedded.RedisServer;

/**
 * One real Redis Cluster per JVM, for tests: three masters, each with one replica.
 *
 * <p>{@link #get()} starts six {@code redis-server} processes from the binary shipped in the {@code
 * com.github.codemonstur:embedded-redis} artifact, on free ports of 127.0.0.1, each with {@code
 * cluster-enabled yes}, a node timeout of {@value #NODE_TIMEOUT_MILLIS} ms, persistence off and its
 * own temporary folder. It joins them with {@code CLUSTER MEET}, gives the masters a third of the
 * 16384 slots each with {@code CLUSTER ADDSLOTS} ({@code 0-5460}, {@code 5461-10922}, {@code
 * 10923-16383}), attaches a replica to each with {@code CLUSTER REPLICATE}, and returns once every
 * node reports {@code cluster_state:ok}, all agree on the slot map and every replica is in sync. It
 * stops the processes and deletes the folders when the JVM exits.
 *
 * <p>If the environment variable {@value #URL_VARIABLE} is set (seeds as {@code host:port}
 * separated by commas, for example {@code 10.0.0.5:7000,10.0.0.6:7000}), that cluster is used
 * instead and nothing is started; the fault-injection methods ({@link #stopMaster(int)}, {@link
 * #startNode(int)}, {@link #failover(int)}, {@link #pause(int, Duration)}, {@link #moveSlot(int,
 * int)}, {@link #beginSlotMigration(int, int)}) then throw {@link UnsupportedOperationException}.
 *
 * <p>Nodes are named by their port. The fault-injection methods change the cluster every later test
 * sees until they are undone: a test that stops a master should start it again (it comes back as a
 * replica) and, to restore the original roles, {@link #failover(int) fail over} to it.
 *
 * <p>Thread-safe; the fault-injection methods are serialized. Administrative commands run on
 * short-lived connections of their own with a 5 s timeout; waits for the cluster to settle give up
 * after 30 s with an {@link IllegalStateException}.
 */
public final class TestRedisCluster {

  /** Environment variable naming an existing cluster (host:port seeds) to use instead. */
  public static final String URL_VARIABLE = "BULWARK_TEST_REDIS_CLUSTER_URL";

  /** The {@code cluster-node-timeout} of the embedded nodes, in milliseconds. */
  public static final int NODE_TIMEOUT_MILLIS = 1000;

  /** The number of hash slots of a Redis Cluster. */
  public static final int SLOTS = 16_384;

  private static final int MASTERS = 3;
  private static final Duration ADMIN_TIMEOUT = Duration.ofSeconds(5);
  private static final Duration SETTLE_TIMEOUT = Duration.ofSeconds(30);
  private static final long POLL_MILLIS = 20;
  private static final int MIGRATE_BATCH = 100;
  private static final int MAX_PORT = 65_535;
  private static final String HOST = "127.0.0.1";
  private static final int BUS_PORT_OFFSET = 10_000;

  private static @Nullable TestRedisCluster instance;

  /** The seeds, as given or as started. */
  private final List<HostPort> seeds;

  /** The embedded nodes by port; empty for a cluster from {@value #URL_VARIABLE}. */
  private final Map<Integer, Node> nodes;

  private final RedisClient admin;

  private TestRedisCluster(List<HostPort> seeds, Map<Integer, Node> nodes) {
    this.seeds = List.copyOf(seeds);
    this.nodes = nodes;
    this.admin = TestRedis.adminClient(ADMIN_TIMEOUT);
  }

  /**
   * Returns the JVM's Redis Cluster, starting it on the first call.
   *
   * @return the shared cluster
   * @throws IllegalStateException if the cluster cannot be started or does not settle within 30 s,
   *     or {@value #URL_VARIABLE} is not a list of host:port seeds
   */
  public static synchronized TestRedisCluster get() {
    TestRedisCluster cluster = instance;
    if (cluster == null) {
      cluster = create(System.getenv(URL_VARIABLE));
      instance = cluster;
      TestRedisCluster stopping = cluster;
      Runtime.getRuntime()
          .addShutdownHook(
              new Thread(stopping::shutdown, "bulwark-testing-redis-cluster-shutdown"));
    }
    return cluster;
  }

  static TestRedisCluster create(@Nullable String url) {
    if (url != null && !url.isBlank()) {
      return new TestRedisCluster(parseSeeds(url.strip()), Map.of());
    }
    Map<Integer, Node> started = new TreeMap<>();
    List<Node> ordered = new ArrayList<>();
    while (ordered.size() < 2 * MASTERS) {
      Node node = Node.create(clusterPort(started.keySet()));
      started.put(node.port, node);
      ordered.add(node);
    }
    List<HostPort> seeds = started.keySet().stream().map(p -> new HostPort(HOST, p)).toList();
    TestRedisCluster cluster = new TestRedisCluster(seeds, started);
    try {
      for (Node node : ordered) {
        node.start();
      }
      cluster.form(ordered);
    } catch (RuntimeException e) {
      cluster.shutdown();
      throw e;
    }
    return cluster;
  }

  /**
   * A free loopback port whose cluster bus port (10000 above it, fixed in Redis 6.2) is free and
   * valid too, and that is not among {@code taken}.
   */
  private static int clusterPort(Set<Integer> taken) {
    for (int attempt = 0; attempt < 1000; attempt++) {
      int port = Ports.freeLoopbackPort();
      if (port + BUS_PORT_OFFSET <= MAX_PORT
          && !taken.contains(port)
          && !taken.contains(port - BUS_PORT_OFFSET)
          && !taken.contains(port + BUS_PORT_OFFSET)
          && isFree(port + BUS_PORT_OFFSET)) {
        return port;
      }
    }
    throw new IllegalStateException("no free loopback port pair for a Redis Cluster node");
  }

  private static boolean isFree(int port) {
    try (ServerSocket socket = new ServerSocket()) {
      socket.setReuseAddress(true);
      socket.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  /**
   * Checks a {@value #URL_VARIABLE} value: {@code host:port} seeds separated by commas, each port
   * from 1 to 65535. A value with credentials is refused without being shown.
   */
  static List<HostPort> parseSeeds(String value) {
    if (value.contains("@")) {
      throw new IllegalStateException(
          URL_VARIABLE + " must list host:port seeds without credentials");
    }
    List<HostPort> seeds = new ArrayList<>();
    for (String part : value.split(",", -1)) {
      String seed = part.strip();
      int colon = seed.lastIndexOf(':');
      int port = -1;
      if (colon > 0) {
        try {
          port = Integer.parseInt(seed.substring(colon + 1));
        } catch (NumberFormatException e) {
          port = -1;
        }
      }
      if (port < 1 || port > MAX_PORT || seed.substring(0, colon).contains("/")) {
        throw new IllegalStateException(
            URL_VARIABLE + " must look like host:port[,host:port...], but was " + value);
      }
      seeds.add(new HostPort(seed.substring(0, colon), port));
    }
    return seeds;
  }

  private void form(List<Node> ordered) {
    for (Node node : ordered) {
      node.id = withConnection(node.port, RedisCommands::clusterMyId);
    }
    // Every pair meets directly: faster than waiting for gossip to spread the news.
    for (int i = 0; i < ordered.size(); i++) {
      for (Node other : ordered.subList(i + 1, ordered.size())) {
        withConnection(ordered.get(i).port, c -> c.clusterMeet(HOST, other.port));
      }
    }
    awaitAll(
        "every node knows the others",
        views -> views.values().stream().allMatch(v -> v.nodes.size() == ordered.size()));
    for (int i = 0; i < MASTERS; i++) {
      int from = i * SLOTS / MASTERS;
      int to = (i + 1) * SLOTS / MASTERS;
      int[] slots = IntStream.range(from, to).toArray();
      withConnection(ordered.get(i).port, c -> c.clusterAddSlots(slots));
    }
    for (int i = 0; i < MASTERS; i++) {
      String masterId = Objects.requireNonNull(ordered.get(i).id);
      withConnection(ordered.get(MASTERS + i).port, c -> c.clusterReplicate(masterId));
    }
    awaitSettled("the cluster forms");
  }

  /** {@return the first seed's host name or address} */
  public String host() {
    return seeds.get(0).host();
  }

  /** {@return true if this JVM started the cluster, and so can break it} */
  public boolean isEmbedded() {
    return !nodes.isEmpty();
  }

  /**
   * Returns a URI for each seed, for Lettuce's {@code RedisClusterClient.create(Iterable)} or
   * {@code Pools.redisCluster(RedisURI, RedisURI...)}. Each call returns fresh copies, since {@link
   * RedisURI} is mutable.
   *
   * @return the seeds: every node of an embedded cluster, the {@value #URL_VARIABLE} ones otherwise
   */
  public List<RedisURI> seedUris() {
    return seeds.stream()
        .map(s -> RedisURI.builder().withHost(s.host()).withPort(s.port()).build())
        .toList();
  }

  /**
   * Returns the seeds as URLs, {@code redis://127.0.0.1:port}, for {@code
   * Pools.redisCluster(String, String...)}.
   *
   * @return the seed URLs, in the order of {@link #seedUris()}
   */
  public List<String> seedUrls() {
    return seeds.stream().map(s -> "redis://" + s.host() + ":" + s.port()).toList();
  }

  /**
   * Returns the ports of the masters that serve slots, in the order of their first slot.
   *
   * @return the master ports, three on an embedded cluster
   */
  public List<Integer> masterPorts() {
    View view = anyView();
    return view.nodes.values().stream()
        .filter(n -> n.master && !n.failed && !n.slots.isEmpty())
        .sorted((a, b) -> Integer.compare(a.slots.get(0)[0], b.slots.get(0)[0]))
        .map(NodeState::port)
        .toList();
  }

  /**
   * Returns the port of the master that serves a slot.
   *
   * @param slot the slot, from 0 to 16383
   * @return the master's port
   * @throws IllegalArgumentException if {@code slot} is out of range
   * @throws IllegalStateException if no master serves the slot
   */
  public int masterPort(int slot) {
    checkSlot(slot);
    return anyView().ownerOf(slot).port;
  }

  /**
   * Returns the port of a master's replica.
   *
   * @param masterPort a master's port
   * @return the port of a replica that is not failed
   * @throws IllegalStateException if the master has no such replica
   */
  public int replicaPort(int masterPort) {
    View view = anyView();
    NodeState master = view.byPort(masterPort);
    return view.nodes.values().stream()
        .filter(n -> !n.master && !n.failed && master.id.equals(n.masterId))
        .map(NodeState::port)
        .findFirst()
        .orElseThrow(() -> new IllegalStateException("master " + masterPort + " has no replica"));
  }

  /**
   * Returns the hash slot of a key, as the cluster computes it (with hash tags).
   *
   * @param key the key
   * @return the slot, from 0 to 16383
   */
  public static int slot(String key) {
    return SlotHash.getSlot(key);
  }

  /** Removes every key on every master ({@code FLUSHALL}); replicas follow. */
  public void flushAll() {
    for (int port : masterPorts()) {
      withConnection(anyView().byPort(port).host, port, RedisCommands::flushall);
    }
  }

  /**
   * Returns the text of {@code CLUSTER INFO} as a node sees it.
   *
   * @param port the node's port
   * @return the raw text, with {@code cluster_state:ok} when the node serves every slot
   */
  public String clusterInfo(int port) {
    return withConnection(hostOf(port), port, RedisCommands::clusterInfo);
  }

  /**
   * Stops the master that serves a slot and waits until the cluster has promoted its replica and
   * every running node agrees. Takes a few seconds: a node timeout to notice the failure, then an
   * election.
   *
   * @param slot a slot the master serves, from 0 to 16383
   * @return the port of the new master of the slot
   * @throws IllegalArgumentException if {@code slot} is out of range
   * @throws IllegalStateException if the cluster does not settle within 30 s
   * @throws UnsupportedOperationException if the cluster was not started by this JVM
   */
  public synchronized int stopMaster(int slot) {
    checkSlot(slot);
    requireEmbedded("stop a master of");
    int oldMaster = masterPort(slot);
    Objects.requireNonNull(nodes.get(oldMaster)).stop();
    View view =
        awaitSettled(
            "a replica of " + oldMaster + " is promoted", v -> v.ownerOf(slot).port != oldMaster);
    return view.ownerOf(slot).port;
  }

  /**
   * Starts a stopped node again on its port, with no data, and waits until it has rejoined: a
   * former master comes back as a replica of the node promoted in its place. Does nothing if it is
   * running.
   *
   * @param port the node's port
   * @throws IllegalArgumentException if no node of this cluster has that port
   * @throws IllegalStateException if the cluster does not settle within 30 s
   * @throws UnsupportedOperationException if the cluster was not started by this JVM
   */
  public synchronized void startNode(int port) {
    requireEmbedded("start a node of");
    Node node = node(port);
    if (node.isRunning()) {
      return;
    }
    node.start();
    awaitSettled("node " + port + " rejoins");
  }

  /**
   * Makes a replica the master of its master's slots with {@code CLUSTER FAILOVER} (the coordinated
   * kind: no write is lost) and waits until every node agrees.
   *
   * @param replicaPort the port of a replica
   * @throws IllegalArgumentException if no running node of this cluster has that port
   * @throws IllegalStateException if the node is not a replica or the cluster does not settle
   *     within 30 s
   * @throws UnsupportedOperationException if the cluster was not started by this JVM
   */
  public synchronized void failover(int replicaPort) {
    requireEmbedded("fail over");
    node(replicaPort);
    if (anyView().byPort(replicaPort).master) {
      throw new IllegalStateException("node " + replicaPort + " is not a replica");
    }
    withConnection(replicaPort, c -> c.clusterFailover(false));
    awaitSettled("replica " + replicaPort + " takes over", v -> v.byPort(replicaPort).master);
  }

  /**
   * Pauses every client of one node for the given time ({@code CLIENT PAUSE ms ALL}). Returns at
   * once; commands sent to that node during the pause are answered when it ends, and the cluster
   * does not fail the node over as long as the pause is shorter than {@value #NODE_TIMEOUT_MILLIS}
   * ms (the nodes' own bus traffic is not paused).
   *
   * @param port the node's port
   * @param duration how long to pause, at least 1 ms
   * @throws IllegalArgumentException if {@code duration} is shorter than 1 ms or no running node of
   *     this cluster has that port
   * @throws UnsupportedOperationException if the cluster was not started by this JVM
   */
  public void pause(int port, Duration duration) {
    long millis = duration.toMillis();
    if (millis < 1) {
      throw new IllegalArgumentException(
          Checks.format("duration must be at least 1 ms, but was %s", Checks.duration(duration)));
    }
    requireEmbedded("pause a node of");
    node(port);
    withConnection(
        port,
        c ->
            c.dispatch(
                CommandType.CLIENT,
                new StatusOutput<>(StringCodec.UTF8),
                new CommandArgs<>(StringCodec.UTF8).add("PAUSE").add(millis).add("ALL")));
  }

  /**
   * Starts moving a slot to another master and stops half-way: the target is {@code IMPORTING} it
   * and its owner is {@code MIGRATING} it, and no key has moved yet. The owner still answers for
   * the keys it holds and answers {@code ASK} with the target's address for the others. Finish with
   * {@link #moveSlot(int, int)}.
   *
   * @param slot the slot, from 0 to 16383
   * @param targetPort the port of the master to move it to
   * @throws IllegalArgumentException if {@code slot} is out of range, or the target is not another
   *     master
   * @throws UnsupportedOperationException if the cluster was not started by this JVM
   */
  public synchronized void beginSlotMigration(int slot, int targetPort) {
    checkSlot(slot);
    requireEmbedded("migrate a slot of");
    View view = anyView();
    NodeState source = view.ownerOf(slot);
    NodeState target = view.byPort(targetPort);
    if (!target.master || target.port == source.port) {
      throw new IllegalArgumentException(
          "targetPort must be another master than " + source.port + ", but was " + targetPort);
    }
    withConnection(target.port, c -> c.clusterSetSlotImporting(slot, source.id));
    withConnection(source.port, c -> c.clusterSetSlotMigrating(slot, target.id));
  }

  /**
   * Moves a slot, with its keys, to another master, and waits until every node agrees. The old
   * owner then answers {@code MOVED} for keys of the slot. Moving it back restores the slot map.
   *
   * @param slot the slot, from 0 to 16383
   * @param targetPort the port of the master to move it to
   * @throws IllegalArgumentException if {@code slot} is out of range, or the target is not another
   *     master
   * @throws IllegalStateException if the cluster does not settle within 30 s
   * @throws UnsupportedOperationException if the cluster was not started by this JVM
   */
  public synchronized void moveSlot(int slot, int targetPort) {
    beginSlotMigration(slot, targetPort);
    View view = anyView();
    NodeState source = view.ownerOf(slot);
    NodeState target = view.byPort(targetPort);
    long timeoutMillis = ADMIN_TIMEOUT.toMillis();
    List<String> keys;
    do {
      keys = withConnection(source.port, c -> c.clusterGetKeysInSlot(slot, MIGRATE_BATCH));
      for (String key : keys) {
        withConnection(source.port, c -> c.migrate(HOST, target.port, key, 0, timeoutMillis));
      }
    } while (!keys.isEmpty());
    withConnection(target.port, c -> c.clusterSetSlotNode(slot, target.id));
    withConnection(source.port, c -> c.clusterSetSlotNode(slot, target.id));
    for (NodeState other : view.nodes.values()) {
      if (other.master && !other.failed && other.port != source.port && other.port != target.port) {
        withConnection(other.port, c -> c.clusterSetSlotNode(slot, target.id));
      }
    }
    awaitSettled(
        "slot " + slot + " moves to " + targetPort, v -> v.ownerOf(slot).port == targetPort);
  }

  private void awaitSettled(String what) {
    awaitSettled(what, v -> true);
  }

  /**
   * Waits until every running node reports {@code cluster_state:ok}, all see the same roles and
   * slot map, every replica of a running master is in sync, and {@code also} holds; returns that
   * view.
   */
  private View awaitSettled(String what, Predicate<View> also) {
    return awaitAll(
            what,
            views -> {
              View first = views.values().iterator().next();
              for (Map.Entry<Integer, View> entry : views.entrySet()) {
                View view = entry.getValue();
                if (!view.ok || !view.map().equals(first.map())) {
                  return false;
                }
                NodeState self = view.byPort(entry.getKey());
                if (!self.master && !view.replicaInSync) {
                  return false;
                }
              }
              return also.test(first);
            })
        .values()
        .iterator()
        .next();
  }

  /** Polls every running node's view until {@code done} holds for them, with a deadline. */
  private Map<Integer, View> awaitAll(String what, Predicate<Map<Integer, View>> done) {
    long deadline = System.nanoTime() + SETTLE_TIMEOUT.toNanos();
    RuntimeException last = null;
    Map<Integer, View> seen = Map.of();
    while (true) {
      try {
        Map<Integer, View> views = new TreeMap<>();
        for (Node node : nodes.values()) {
          if (node.isRunning()) {
            views.put(node.port, view(node.port));
          }
        }
        seen = views;
        if (done.test(views)) {
          return views;
        }
        last = null;
      } catch (RuntimeException e) {
        // A node still starting or a view without the node asked about: poll again.
        last = e;
      }
      if (System.nanoTime() - deadline > 0) {
        IllegalStateException failure =
            new IllegalStateException(
                "the Redis Cluster did not settle within "
                    + Checks.duration(SETTLE_TIMEOUT)
                    + " (waiting until "
                    + what
                    + "); last seen: "
                    + describe(seen));
        if (last != null) {
          failure.initCause(last);
        }
        throw failure;
      }
      try {
        Thread.sleep(POLL_MILLIS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted while waiting until " + what, e);
      }
    }
  }

  private static String describe(Map<Integer, View> views) {
    StringBuilder text = new StringBuilder();
    views.forEach(
        (port, view) ->
            text.append("\n  node ")
                .append(port)
                .append(view.ok ? " ok" : " not ok")
                .append(view.replicaInSync ? ", in sync: " : ": ")
                .append(view.map()));
    return text.toString();
  }

  private View view(int port) {
    return withConnection(
        hostOf(port),
        port,
        c -> {
          String info = c.clusterInfo();
          String nodesText = c.clusterNodes();
          boolean inSync = c.info("replication").contains("master_link_status:up");
          return View.parse(info, nodesText, inSync);
        });
  }

  /** A view from the first node that answers: a running embedded node, or a seed. */
  private View anyView() {
    RuntimeException last = null;
    List<HostPort> candidates = new ArrayList<>();
    for (Node node : nodes.values()) {
      if (node.isRunning()) {
        candidates.add(new HostPort(HOST, node.port));
      }
    }
    candidates.addAll(seeds);
    for (HostPort candidate : candidates) {
      try {
        return withConnection(
            candidate.host(),
            candidate.port(),
            c -> View.parse(c.clusterInfo(), c.clusterNodes(), false));
      } catch (RuntimeException e) {
        last = e;
      }
    }
    throw new IllegalStateException("no node of the Redis Cluster answers", last);
  }

  private String hostOf(int port) {
    return nodes.containsKey(port) ? HOST : anyView().byPort(port).host;
  }

  private Node node(int port) {
    Node node = nodes.get(port);
    if (node == null) {
      throw new IllegalArgumentException(
          "port must be the port of a node of this cluster, but was " + port);
    }
    return node;
  }

  private void requireEmbedded(String action) {
    if (nodes.isEmpty()) {
      throw new UnsupportedOperationException(
          "cannot "
              + action
              + " a Redis Cluster this JVM did not start (it came from "
              + URL_VARIABLE
              + ")");
    }
  }

  private static void checkSlot(int slot) {
    if (slot < 0 || slot >= SLOTS) {
      throw new IllegalArgumentException("slot must be from 0 to 16383, but was " + slot);
    }
  }

  private <T> T withConnection(int port, Function<RedisCommands<String, String>, T> action) {
    return withConnection(HOST, port, action);
  }

  private <T> T withConnection(
      String host, int port, Function<RedisCommands<String, String>, T> action) {
    RedisURI uri = RedisURI.builder().withHost(host).withPort(port).build();
    try (StatefulRedisConnection<String, String> connection = admin.connect(uri)) {
      connection.setTimeout(ADMIN_TIMEOUT);
      return action.apply(connection.sync());
    }
  }

  void shutdown() {
    admin.shutdown(Duration.ZERO, Duration.ofSeconds(2));
    for (Node node : nodes.values()) {
      node.destroy();
    }
  }

  /** A host and a port. */
  record HostPort(String host, int port) {}

  /** One embedded node: its process and folder. */
  private static final class Node {
    final int port;
    final Path dir;
    final RedisServer server;
    @Nullable String id;

    private Node(int port, Path dir, RedisServer server) {
      this.port = port;
      this.dir = dir;
      this.server = server;
    }

    static Node create(int port) {
      try {
        Path dir = Files.createTempDirectory("bulwark-redis-cluster-");
        RedisServer server =
            RedisServer.newRedisServer()
                .port(port)
                .bind(HOST)
                .setting("cluster-enabled yes")
                .setting("cluster-config-file " + dir.resolve("nodes.conf").toAbsolutePath())
                .setting("cluster-node-timeout " + NODE_TIMEOUT_MILLIS)
                // Let a replica take over however long ago it last heard from its master.
                .setting("cluster-replica-validity-factor 0")
                // A node that has met no other announces no address of its own.
                .setting("cluster-announce-ip " + HOST)
                .setting("save \"\"")
                .setting("appendonly no")
                .setting("dir " + dir.toAbsolutePath())
                .build();
        return new Node(port, dir, server);
      } catch (IOException e) {
        throw new UncheckedIOException("cannot prepare a Redis Cluster node on port " + port, e);
      }
    }

    boolean isRunning() {
      return server.isActive();
    }

    void start() {
      try {
        server.start();
      } catch (IOException e) {
        throw new IllegalStateException("cannot start a Redis Cluster node on port " + port, e);
      }
    }

    void stop() {
      try {
        server.stop();
      } catch (IOException e) {
        throw new UncheckedIOException("cannot stop the Redis Cluster node on port " + port, e);
      }
    }

    void destroy() {
      if (server.isActive()) {
        try {
          server.stop();
        } catch (IOException | RuntimeException e) {
          // The JVM is exiting; the process dies with it.
        }
      }
      TempDirs.deleteQuietly(dir);
    }
  }

  /** One node's state as another node sees it. */
  record NodeState(
      String id,
      String host,
      int port,
      boolean master,
      boolean failed,
      String masterId,
      List<int[]> slots) {

    /** The part every node must agree on, by port: role, failure, master and slots. */
    String agreed(Map<String, Integer> portsById) {
      StringBuilder text =
          new StringBuilder(master ? "master" : "replica of " + portsById.get(masterId));
      if (failed) {
        text.append(" failed");
      }
      for (int[] range : slots) {
        text.append(' ').append(range[0]).append('-').append(range[1]);
      }
      return text.toString();
    }
  }

  /** {@code CLUSTER INFO} and {@code CLUSTER NODES} as one node sees them. */
  static final class View {
    final boolean ok;
    final boolean replicaInSync;
    final Map<Integer, NodeState> nodes;

    private View(boolean ok, boolean replicaInSync, Map<Integer, NodeState> nodes) {
      this.ok = ok;
      this.replicaInSync = replicaInSync;
      this.nodes = nodes;
    }

    static View parse(String info, String nodesText, boolean replicaInSync) {
      Map<Integer, NodeState> nodes = new TreeMap<>();
      for (String line : nodesText.split("\n", -1)) {
        String[] fields = line.strip().split(" ", -1);
        if (fields.length < 8 || fields[2].contains("handshake") || fields[2].contains("noaddr")) {
          continue;
        }
        String address = fields[1].split("@", 2)[0];
        int colon = address.lastIndexOf(':');
        int port = Integer.parseInt(address.substring(colon + 1));
        List<String> flags = List.of(fields[2].split(",", -1));
        List<int[]> slots = new ArrayList<>();
        for (int i = 8; i < fields.length; i++) {
          String range = fields[i];
          if (range.isEmpty() || range.startsWith("[")) {
            continue; // a slot being migrated or imported: not yet moved
          }
          String[] ends = range.split("-", 2);
          int from = Integer.parseInt(ends[0]);
          slots.add(new int[] {from, ends.length == 2 ? Integer.parseInt(ends[1]) : from});
        }
        nodes.put(
            port,
            new NodeState(
                fields[0],
                address.substring(0, colon),
                port,
                flags.contains("master"),
                flags.contains("fail") || flags.contains("fail?"),
                fields[3],
                slots));
      }
      return new View(info.contains("cluster_state:ok"), replicaInSync, nodes);
    }

    NodeState byPort(int port) {
      NodeState node = nodes.get(port);
      if (node == null) {
        throw new IllegalArgumentException(
            "port must be the port of a node of this cluster, but was " + port);
      }
      return node;
    }

    NodeState ownerOf(int slot) {
      for (NodeState node : nodes.values()) {
        if (node.master && !node.failed) {
          for (int[] range : node.slots) {
            if (range[0] <= slot && slot <= range[1]) {
              return node;
            }
          }
        }
      }
      throw new IllegalStateException("no master serves slot " + slot);
    }

    /** Roles, failures and slots by port, which every node must see alike. */
    Map<Integer, String> map() {
      Map<String, Integer> portsById = new HashMap<>();
      nodes.values().forEach(n -> portsById.put(n.id, n.port));
      Map<Integer, String> map = new TreeMap<>();
      nodes.values().forEach(n -> map.put(n.port, n.agreed(portsById)));
      return map;
    }
  }
}

package dev.bulwark.pool;

import dev.bulwark.core.internal.Checks;
import io.lettuce.core.ClientOptions.DisconnectedBehavior;
import io.lettuce.core.RedisURI;
import io.lettuce.core.cluster.ClusterClientOptions;
import io.lettuce.core.cluster.ClusterTopologyRefreshOptions;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.resource.ClientResources;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.StringJoiner;
import java.util.stream.Collectors;
import org.jspecify.annotations.Nullable;

/**
 * Builds a Lettuce {@link RedisClusterClient} for a Redis Cluster whose every wait is bounded and
 * whose slot map stays current. Obtain one from {@link Pools#redisCluster(String, String...)} or
 * {@link Pools#redisCluster(RedisURI, RedisURI...)}.
 *
 * <pre>{@code
 * RedisClusterClient redis = Pools.redisCluster("redis://node-1:6379", "redis://node-2:6379").build();
 * StatefulRedisClusterConnection<String, String> connection = redis.connect();  // share this one
 * }</pre>
 *
 * <p>It has the settings and defaults of {@link RedisClientBuilder} (one shared connection, 5 s
 * command timeout, bounded request queue, commands rejected while disconnected, bounded reconnect
 * delay, keepalive, {@code TCP_USER_TIMEOUT} where available, silent connections replaced,
 * resources released on shutdown, their threads named {@code
 * bulwark-pool-redis-cluster-<kind>-<n>}), applied to the connection of every node, plus periodic
 * (60 s) and adaptive refresh of the cluster topology.
 *
 * <p><b>Checks.</b> A value out of its range throws {@link IllegalArgumentException} from its
 * setter; a setting given twice throws {@link IllegalStateException}; {@link #build()} throws
 * {@link IllegalStateException} for settings the environment or each other rule out.
 *
 * <p>Not thread-safe: configure it on one thread. The client it builds is thread-safe.
 */
public final class RedisClusterClientBuilder {
  private final List<RedisURI> seeds;
  private final List<String> shown;
  private final RedisSettings settings;
  private @Nullable Duration topologyRefreshPeriod;

  /**
   * Each seed must have passed {@link RedisUris#check} and be this builder's own copy; {@code
   * shown} holds each, masked, for {@link #toString()}.
   */
  RedisClusterClientBuilder(List<RedisURI> seeds, List<String> shown, RedisSettings settings) {
    this.seeds = List.copyOf(seeds);
    this.shown = List.copyOf(shown);
    this.settings = settings;
  }

  /**
   * Sets how often the client reloads the cluster's slot map from the nodes. Independently of it,
   * the client also reloads the map at once on {@code MOVED} and {@code ASK} redirects, repeated
   * reconnects, uncovered slots and unknown nodes (Lettuce's adaptive refresh triggers, all on by
   * default). Default: 60 s.
   *
   * @param period 1 s to 1 h
   * @return this builder
   * @throws IllegalArgumentException if {@code period} is out of range
   * @throws IllegalStateException if it was already set
   */
  public RedisClusterClientBuilder topologyRefreshPeriod(Duration period) {
    Checks.requireUnset("topologyRefreshPeriod", topologyRefreshPeriod);
    this.topologyRefreshPeriod =
        Checks.between(
            "topologyRefreshPeriod",
            Objects.requireNonNull(period, "period"),
            RedisSettings.MIN_TOPOLOGY_REFRESH_PERIOD,
            RedisSettings.MAX_TOPOLOGY_REFRESH_PERIOD);
    return this;
  }

  /**
   * Names the client in its meters ({@code name} tag) and log lines. Default: {@code
   * redis-cluster}. Two clients that share a meter registry need different names.
   *
   * @param name 1 to 63 letters, digits, '.', '_' or '-'
   * @return this builder
   * @throws IllegalArgumentException if {@code name} is not such a name
   * @throws IllegalStateException if it was already set
   */
  public RedisClusterClientBuilder name(String name) {
    settings.name(name);
    return this;
  }

  /**
   * Turns the replacement of silent connections on or off. A connection that stays open while
   * nothing comes back (a failover that moved the server's address, a NAT or firewall that forgot
   * the flow) is closed, and so reconnected, after {@link #reconnectAfterTimeouts(int)} consecutive
   * command timeouts, or when it is idle and does not answer the {@link #idleProbe(Duration,
   * Duration) probe}. Default: on. Without it such a connection fails every command by timeout
   * until TCP keepalive gives up, if it ever does.
   *
   * @param detect false to turn it off
   * @return this builder
   * @throws IllegalStateException if it was already set ({@link #build()} throws it too when it is
   *     off and {@code reconnectAfterTimeouts} or {@code idleProbe} is set)
   */
  public RedisClusterClientBuilder detectSilentConnections(boolean detect) {
    settings.detectSilentConnections(detect);
    return this;
  }

  /**
   * Sets how many consecutive commands on one connection may time out before the connection is
   * closed and reconnected. A timeout counts when nothing was read on the connection since the
   * command was sent, and the command waited at least 90 % of the command timeout or the connection
   * has owed an answer, reading nothing, for a whole command timeout: a shorter timeout (clamped to
   * a request's deadline, or a caller that gave up early) counts only once the connection has been
   * silent that long. So a server that answers within the command timeout is never taken for
   * silent. A caller that gives up counts like a timeout, on every API (a synchronous call's
   * cancel, Reactor's {@code Mono.timeout}, a future's {@code orTimeout}). A lost connection does
   * not count; an answer of any kind, a value or an error reply, starts the count again. Commands
   * in flight together time out together, so a busy connection reaches the count one command
   * timeout after it went silent, and one that runs one command at a time after this many. Default:
   * 3.
   *
   * @param timeouts 1 to 100
   * @return this builder
   * @throws IllegalArgumentException if {@code timeouts} is out of range
   * @throws IllegalStateException if it was already set
   */
  public RedisClusterClientBuilder reconnectAfterTimeouts(int timeouts) {
    settings.reconnectAfterTimeouts(timeouts);
    return this;
  }

  /**
   * Sets the probe of idle connections: once a connection has read and written nothing for {@code
   * interval}, and awaits no command, it is sent a {@code PING}; no answer within {@code timeout}
   * closes and reconnects it, so that the next command finds a working connection. A connection
   * that still awaits an answer (a blocking {@code BLPOP}, {@code XREAD BLOCK}) or is inside {@code
   * MULTI} is not probed; nor is one with traffic, since any byte restarts the interval. Default:
   * every 5 s of idleness, with the command timeout as the probe's timeout, so that a server that
   * answers commands in time always passes. A shorter timeout replaces a slow connection sooner,
   * and also one whose server is merely slower than it.
   *
   * @param interval 100 ms to 1 h
   * @param timeout 10 ms to 10 min
   * @return this builder
   * @throws IllegalArgumentException if a value is out of range
   * @throws IllegalStateException if it was already set
   */
  public RedisClusterClientBuilder idleProbe(Duration interval, Duration timeout) {
    settings.idleProbe(interval, timeout);
    return this;
  }

  /**
   * Sets how long opening a TCP connection (and the TLS handshake) may take. Default: 2 s.
   *
   * @param timeout 10 ms to 5 min
   * @return this builder
   * @throws IllegalArgumentException if {@code timeout} is out of range
   * @throws IllegalStateException if it was already set
   */
  public RedisClusterClientBuilder connectTimeout(Duration timeout) {
    settings.connectTimeout(timeout);
    return this;
  }

  /**
   * Sets how long a command waits for its answer before it fails with {@code
   * RedisCommandTimeoutException}, on every API. It replaces a {@code timeout} parameter of the
   * URL. It is each connection's initial timeout: {@code connection.setTimeout(Duration)} changes
   * it for that connection alone, for example a dedicated connection for blocking commands ({@code
   * BLPOP} with a 10 s wait needs more than 10 s). Default: 5 s.
   *
   * @param timeout 10 ms to 10 min
   * @return this builder
   * @throws IllegalArgumentException if {@code timeout} is out of range
   * @throws IllegalStateException if it was already set
   */
  public RedisClusterClientBuilder commandTimeout(Duration timeout) {
    settings.commandTimeout(timeout);
    return this;
  }

  /**
   * Sets the TCP keepalive timings: after {@code idle} without traffic the kernel probes the peer
   * every {@code interval} and drops the connection after {@code count} unanswered probes, so a
   * silently dead server is noticed and the client reconnects. Default: 30 s, 10 s, 3 where the
   * transport supports them.
   *
   * @param idle a whole number of seconds, 1 s to 2 h
   * @param interval a whole number of seconds, 1 s to 10 min
   * @param count 1 to 127 probes
   * @return this builder
   * @throws IllegalArgumentException if a value is out of range
   * @throws IllegalStateException if it was already set
   */
  public RedisClusterClientBuilder keepAlive(Duration idle, Duration interval, int count) {
    settings.keepAlive(idle, interval, count);
    return this;
  }

  /**
   * Sets {@code TCP_USER_TIMEOUT}: how long sent data may stay unacknowledged before the kernel
   * drops the connection. It ends the minutes-long retransmission wait when a server vanishes
   * mid-command. Default: 30 s where the transport is epoll or io_uring, otherwise not applied.
   * Setting it explicitly makes {@link #build()} fail when neither native transport is available.
   *
   * @param timeout 1 s to 1 h
   * @return this builder
   * @throws IllegalArgumentException if {@code timeout} is out of range
   * @throws IllegalStateException if it was already set
   */
  public RedisClusterClientBuilder tcpUserTimeout(Duration timeout) {
    settings.tcpUserTimeout(timeout);
    return this;
  }

  /**
   * Sets how many commands a connection may hold unanswered or buffered; one more fails at once
   * with {@code RedisException} ("Request queue size exceeded" or "Internal stack size exceeded",
   * depending on where Lettuce catches it). Default: 10,000.
   *
   * @param size 1 to 1,000,000 commands
   * @return this builder
   * @throws IllegalArgumentException if {@code size} is out of range
   * @throws IllegalStateException if it was already set
   */
  public RedisClusterClientBuilder requestQueueSize(int size) {
    settings.requestQueueSize(size);
    return this;
  }

  /**
   * Sets what commands do while the connection is down. Default: {@link
   * DisconnectedBehavior#REJECT_COMMANDS}: they fail at once with {@code RedisException}
   * ("Currently not connected. Commands are rejected."), so callers fall back instead of waiting.
   * {@link DisconnectedBehavior#ACCEPT_COMMANDS} buffers them, up to the request queue size, until
   * the reconnect or the command timeout.
   *
   * @param behavior the behaviour
   * @return this builder
   * @throws IllegalStateException if it was already set
   */
  public RedisClusterClientBuilder disconnectedBehavior(DisconnectedBehavior behavior) {
    settings.disconnectedBehavior(behavior);
    return this;
  }

  /**
   * Sets the longest wait between reconnection attempts; attempts start 10 ms apart and the wait
   * doubles, with jitter, up to this. Default: 2 s.
   *
   * @param delay 10 ms to 5 min
   * @return this builder
   * @throws IllegalArgumentException if {@code delay} is out of range
   * @throws IllegalStateException if it was already set ({@link #build()} throws it too when {@link
   *     #clientResources(ClientResources)} is set)
   */
  public RedisClusterClientBuilder maxReconnectDelay(Duration delay) {
    settings.maxReconnectDelay(delay);
    return this;
  }

  /**
   * Uses the caller's {@link ClientResources} (event loops, timers) instead of new ones, for
   * example to share them among several clients. The client does not shut them down; the caller
   * does, after every client using them. The reconnect delay and the command latency recorder are
   * then those of the resources. Their {@code NettyCustomizer} still runs, before the one that
   * detects silent connections. Default: new resources, released with the client.
   *
   * @param resources the resources
   * @return this builder
   * @throws IllegalStateException if they were already set
   */
  public RedisClusterClientBuilder clientResources(ClientResources resources) {
    settings.clientResources(resources);
    return this;
  }

  /**
   * Registers the client's meters in a registry: {@code bulwark.pool.redis.reconnects} (silent
   * connections closed, tagged {@code name} and {@code cause}, {@code timeouts} or {@code probe}),
   * removed when the client shuts down; and, unless {@link #clientResources(ClientResources)} is
   * set (their recorder is then used), command latencies through Lettuce's Micrometer recorder
   * ({@code lettuce.command.completion} and {@code lettuce.command.firstresponse}, tagged by
   * command). Default: none; reconnects are still logged.
   *
   * @param registry the registry
   * @return this builder
   * @throws IllegalStateException if it was already set ({@link #build()} throws it too when the
   *     registry holds the meters of another Redis client of the same {@link #name(String) name})
   */
  public RedisClusterClientBuilder meterRegistry(MeterRegistry registry) {
    settings.meterRegistry(registry);
    return this;
  }

  /**
   * Creates the client. It connects lazily: {@code connect()} reads the slot map from the first
   * seed that answers and fails with {@code RedisConnectionException} if none does. Shutting the
   * client down ({@code shutdown()}, {@code close()}) releases the resources it created.
   *
   * @return a new client
   * @throws IllegalStateException if {@code tcpUserTimeout} or {@code keepAlive} was set and the
   *     transport cannot apply it, {@code clientResources} was combined with {@code
   *     maxReconnectDelay}, {@code detectSilentConnections(false)} with its settings, or the meter
   *     registry holds the meters of another client of this name
   */
  public RedisClusterClient build() {
    settings.check();
    SilenceDetector detector = settings.silenceDetector();
    ClientResources resources = settings.resources("redis-cluster", detector);
    List<RedisURI> uris = seeds();
    RedisClusterClient client =
        new OwningRedisClusterClient(resources, uris, settings.ownsResources(), detector);
    client.setOptions(
        settings
            .applyTo(ClusterClientOptions.builder())
            .topologyRefreshOptions(
                ClusterTopologyRefreshOptions.builder()
                    .enablePeriodicRefresh(
                        topologyRefreshPeriod == null
                            ? RedisSettings.DEFAULT_TOPOLOGY_REFRESH_PERIOD
                            : topologyRefreshPeriod)
                    .build())
            .build());
    return client;
  }

  /** {@return the seed URIs the client will start from; package-private for tests} */
  List<RedisURI> seeds() {
    return seeds.stream().map(settings::uri).collect(Collectors.toList());
  }

  /**
   * Lists the seed URLs, their user-info masked (or the seed {@link RedisURI}s, without their
   * credentials), and the settings given so far.
   *
   * @return for example {@code RedisClusterClientBuilder{seeds=[redis://***@node-1:6379,
   *     redis://***@node-2:6379], topologyRefreshPeriod=30000 ms}}
   */
  @Override
  public String toString() {
    StringJoiner s = new StringJoiner(", ", "RedisClusterClientBuilder{", "}");
    s.add("seeds=[" + String.join(", ", shown) + "]");
    Checks.addSetting(s, "topologyRefreshPeriod", topologyRefreshPeriod);
    settings.describe(s);
    return s.toString();
  }
}

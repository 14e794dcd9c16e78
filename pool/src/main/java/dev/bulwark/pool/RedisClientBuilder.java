package dev.bulwark.pool;

import io.lettuce.core.ClientOptions;
import io.lettuce.core.ClientOptions.DisconnectedBehavior;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.resource.ClientResources;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.util.StringJoiner;

/**
 * Builds a Lettuce {@link RedisClient} for one Redis server (or a Sentinel-managed one) whose every
 * wait is bounded. Obtain one from {@link Pools#redis(String)} or {@link Pools#redis(RedisURI)}.
 *
 * <pre>{@code
 * RedisClient redis = Pools.redis(System.getenv("REDIS_URL")).build();
 * StatefulRedisConnection<String, String> connection = redis.connect();  // share this one
 * }</pre>
 *
 * <p><b>One connection, shared.</b> A Lettuce connection is thread-safe and pipelines the commands
 * of all threads over one socket, so an application needs one connection per client, not a pool. A
 * pool ({@code io.lettuce.core.support.ConnectionPoolSupport}) or a dedicated connection is needed
 * only for commands that change the connection's state or block it: {@code MULTI}/{@code EXEC}
 * transactions and {@code WATCH}, blocking commands ({@code BLPOP}, {@code BRPOP}, {@code XREAD
 * BLOCK}, {@code WAIT}), {@code SELECT} of another database, and Pub/Sub subscriptions. A blocking
 * command's wait must be shorter than the command timeout, or the client gives up first: raise the
 * dedicated connection's timeout with {@code connection.setTimeout(...)}.
 *
 * <p><b>Defaults.</b> Connect timeout 2 s; command timeout 5 s (Lettuce's is 60 s), applied to
 * every API (synchronous, async, reactive); TCP keepalive idle 30 s, interval 10 s, count 3 where
 * the transport can set them (epoll, io_uring, or NIO on Linux and macOS with JDK 11+), else plain
 * {@code SO_KEEPALIVE}; {@code TCP_USER_TIMEOUT} 30 s where the transport is epoll or io_uring
 * (Netty's native transports; on NIO it is left out); request queue 10,000 commands (Lettuce's is
 * unbounded); {@link DisconnectedBehavior#REJECT_COMMANDS} while disconnected; automatic
 * reconnection with a jittered exponential delay from 10 ms up to 2 s (Lettuce's grows to 30 s);
 * new {@link ClientResources}, whose threads are named {@code bulwark-pool-redis-<kind>-<n>} and
 * which are released when the client shuts down.
 *
 * <p><b>Silent connections.</b> A connection that stays open while nothing comes back is closed,
 * and Lettuce reconnects, after 3 consecutive command timeouts or when, idle for 5 s, it does not
 * answer a {@code PING} within the command timeout. With the defaults such a connection is replaced
 * within 15 s of going silent (5 s when three or more commands were in flight, 10 s when it was
 * idle), instead of failing every command until TCP keepalive gives up. See {@link
 * #detectSilentConnections(boolean)}, {@link #reconnectAfterTimeouts(int)} and {@link
 * #idleProbe(Duration, Duration)}.
 *
 * <p><b>Checks.</b> A value out of its range throws {@link IllegalArgumentException} from its
 * setter; a setting given twice throws {@link IllegalStateException}; {@link #build()} throws
 * {@link IllegalStateException} for settings the environment or each other rule out.
 *
 * <p>Not thread-safe: configure it on one thread. The client it builds is thread-safe.
 */
public final class RedisClientBuilder {
  private final RedisURI target;
  private final String shown;
  private final RedisSettings settings;

  /**
   * {@code target} must have passed {@link RedisUris#check} and be this builder's own copy; {@code
   * shown} is {@code url=} or {@code uri=} and the target, masked.
   */
  RedisClientBuilder(RedisURI target, String shown, RedisSettings settings) {
    this.target = target;
    this.shown = shown;
    this.settings = settings;
  }

  /**
   * Names the client in its meters ({@code name} tag) and log lines. Default: {@code redis}. Two
   * clients that share a meter registry need different names.
   *
   * @param name 1 to 63 letters, digits, '.', '_' or '-'
   * @return this builder
   * @throws IllegalArgumentException if {@code name} is not such a name
   * @throws IllegalStateException if it was already set
   */
  public RedisClientBuilder name(String name) {
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
  public RedisClientBuilder detectSilentConnections(boolean detect) {
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
  public RedisClientBuilder reconnectAfterTimeouts(int timeouts) {
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
  public RedisClientBuilder idleProbe(Duration interval, Duration timeout) {
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
  public RedisClientBuilder connectTimeout(Duration timeout) {
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
  public RedisClientBuilder commandTimeout(Duration timeout) {
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
  public RedisClientBuilder keepAlive(Duration idle, Duration interval, int count) {
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
  public RedisClientBuilder tcpUserTimeout(Duration timeout) {
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
  public RedisClientBuilder requestQueueSize(int size) {
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
  public RedisClientBuilder disconnectedBehavior(DisconnectedBehavior behavior) {
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
  public RedisClientBuilder maxReconnectDelay(Duration delay) {
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
  public RedisClientBuilder clientResources(ClientResources resources) {
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
  public RedisClientBuilder meterRegistry(MeterRegistry registry) {
    settings.meterRegistry(registry);
    return this;
  }

  /**
   * Creates the client. It connects lazily: {@code connect()} opens a connection and fails with
   * {@code RedisConnectionException} within the connect timeout if the server is unreachable.
   * Shutting the client down ({@code shutdown()}, {@code close()}) releases the resources it
   * created.
   *
   * @return a new client
   * @throws IllegalStateException if {@code tcpUserTimeout} or {@code keepAlive} was set and the
   *     transport cannot apply it, {@code clientResources} was combined with {@code
   *     maxReconnectDelay}, {@code detectSilentConnections(false)} with its settings, or the meter
   *     registry holds the meters of another client of this name
   */
  public RedisClient build() {
    settings.check();
    SilenceDetector detector = settings.silenceDetector();
    ClientResources resources = settings.resources("redis", detector);
    RedisClient client =
        new OwningRedisClient(resources, settings.uri(target), settings.ownsResources(), detector);
    client.setOptions(settings.applyTo(ClientOptions.builder()).build());
    return client;
  }

  /** {@return the URI the client will connect to; package-private for tests} */
  RedisURI uri() {
    return settings.uri(target);
  }

  /**
   * Lists the URL, its user-info masked (or the {@link RedisURI}, without its credentials), and the
   * settings given so far.
   *
   * @return for example {@code RedisClientBuilder{url=rediss://***@cache:6380/0,
   *     commandTimeout=1000 ms}}
   */
  @Override
  public String toString() {
    StringJoiner s = new StringJoiner(", ", "RedisClientBuilder{", "}");
    s.add(shown);
    settings.describe(s);
    return s.toString();
  }
}

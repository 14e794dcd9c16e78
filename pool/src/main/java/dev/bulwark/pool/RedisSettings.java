package dev.bulwark.pool;

import static dev.bulwark.core.internal.Checks.seconds;

import dev.bulwark.core.internal.Checks;
import dev.bulwark.core.internal.Meters;
import io.lettuce.core.ClientOptions;
import io.lettuce.core.ClientOptions.DisconnectedBehavior;
import io.lettuce.core.RedisURI;
import io.lettuce.core.SocketOptions;
import io.lettuce.core.TimeoutOptions;
import io.lettuce.core.metrics.MicrometerCommandLatencyRecorder;
import io.lettuce.core.metrics.MicrometerOptions;
import io.lettuce.core.resource.ClientResources;
import io.lettuce.core.resource.Delay;
import io.lettuce.core.resource.EpollProvider;
import io.lettuce.core.resource.ExtendedKeepAliveSupport;
import io.lettuce.core.resource.IOUringProvider;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.util.Objects;
import java.util.StringJoiner;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The settings {@link RedisClientBuilder} and {@link RedisClusterClientBuilder} share: their
 * checks, their defaults and the Lettuce options they turn into. Not thread-safe, like the
 * builders.
 */
final class RedisSettings {
  private static final Logger log = LoggerFactory.getLogger(RedisSettings.class);

  static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofSeconds(2);
  static final Duration DEFAULT_COMMAND_TIMEOUT = Duration.ofSeconds(5);
  static final Duration DEFAULT_KEEPALIVE_IDLE = Duration.ofSeconds(30);
  static final Duration DEFAULT_KEEPALIVE_INTERVAL = Duration.ofSeconds(10);
  static final int DEFAULT_KEEPALIVE_COUNT = 3;
  static final Duration DEFAULT_TCP_USER_TIMEOUT = Duration.ofSeconds(30);
  static final int DEFAULT_REQUEST_QUEUE_SIZE = 10_000;
  static final Duration DEFAULT_MAX_RECONNECT_DELAY = Duration.ofSeconds(2);
  static final Duration MIN_RECONNECT_DELAY = Duration.ofMillis(10);
  static final Duration DEFAULT_TOPOLOGY_REFRESH_PERIOD = Duration.ofSeconds(60);
  static final int DEFAULT_RECONNECT_AFTER_TIMEOUTS = 3;
  static final Duration DEFAULT_PROBE_INTERVAL = Duration.ofSeconds(5);

  static final Duration MIN_TIMEOUT = Duration.ofMillis(10);
  static final Duration MAX_CONNECT_TIMEOUT = Duration.ofMinutes(5);
  static final Duration MAX_COMMAND_TIMEOUT = Duration.ofMinutes(10);
  static final Duration MAX_KEEPALIVE_IDLE = Duration.ofHours(2);
  static final Duration MAX_KEEPALIVE_INTERVAL = Duration.ofMinutes(10);
  static final int MAX_KEEPALIVE_COUNT = 127;
  static final Duration MIN_TCP_USER_TIMEOUT = Duration.ofSeconds(1);
  static final Duration MAX_TCP_USER_TIMEOUT = Duration.ofHours(1);
  static final int MAX_REQUEST_QUEUE_SIZE = 1_000_000;
  static final Duration MAX_RECONNECT_DELAY = Duration.ofMinutes(5);
  static final Duration MIN_TOPOLOGY_REFRESH_PERIOD = Duration.ofSeconds(1);
  static final Duration MAX_TOPOLOGY_REFRESH_PERIOD = Duration.ofHours(1);
  static final int MAX_RECONNECT_AFTER_TIMEOUTS = 100;
  static final Duration MIN_PROBE_INTERVAL = Duration.ofMillis(100);
  static final Duration MAX_PROBE_INTERVAL = Duration.ofHours(1);

  /** Which socket options the running JVM's Netty transport can apply. */
  interface Transport {
    /** True when epoll or io_uring is loaded: they alone can set TCP_USER_TIMEOUT. */
    boolean tcpUserTimeout();

    /** True when TCP_KEEPIDLE, TCP_KEEPINTVL and TCP_KEEPCNT can be set (native, or JDK NIO). */
    boolean extendedKeepAlive();

    /** What Lettuce finds on the class path. */
    Transport DETECTED =
        new Transport() {
          @Override
          public boolean tcpUserTimeout() {
            return EpollProvider.isAvailable() || IOUringProvider.isAvailable();
          }

          @Override
          public boolean extendedKeepAlive() {
            return ExtendedKeepAliveSupport.isSupported();
          }
        };
  }

  private final Transport transport;
  private final String defaultName;
  private @Nullable String name;
  private @Nullable Boolean detectSilentConnections;
  private @Nullable Integer reconnectAfterTimeouts;
  private @Nullable IdleProbe probe;
  private @Nullable Duration connectTimeout;
  private @Nullable Duration commandTimeout;
  private @Nullable KeepAlive keepAlive;
  private @Nullable Duration tcpUserTimeout;
  private @Nullable Integer requestQueueSize;
  private @Nullable DisconnectedBehavior disconnectedBehavior;
  private @Nullable Duration maxReconnectDelay;
  private @Nullable ClientResources clientResources;
  private @Nullable MeterRegistry meterRegistry;

  /**
   * @param transport what the transport can apply
   * @param defaultName the client's name when none is given: {@code redis}, {@code redis-cluster}
   */
  RedisSettings(Transport transport, String defaultName) {
    this.transport = transport;
    this.defaultName = defaultName;
  }

  /**
   * A new copy of a URI that {@link RedisUris} checked, whose timeout, and that of each Sentinel
   * (which bounds the lookup of the primary), is the command timeout. Copied afresh on every call:
   * a {@link RedisURI} is mutable.
   */
  RedisURI uri(RedisURI checked) {
    RedisURI uri = RedisUris.copy(checked);
    uri.setTimeout(commandTimeout());
    uri.getSentinels().forEach(sentinel -> sentinel.setTimeout(commandTimeout()));
    return uri;
  }

  void name(String name) {
    Checks.requireUnset("name", this.name);
    this.name = Checks.identifier("name", name);
  }

  void detectSilentConnections(boolean detect) {
    Checks.requireUnset("detectSilentConnections", detectSilentConnections);
    detectSilentConnections = detect;
  }

  void reconnectAfterTimeouts(int timeouts) {
    Checks.requireUnset("reconnectAfterTimeouts", reconnectAfterTimeouts);
    reconnectAfterTimeouts =
        Checks.between("reconnectAfterTimeouts", timeouts, 1, MAX_RECONNECT_AFTER_TIMEOUTS);
  }

  void idleProbe(Duration interval, Duration timeout) {
    Checks.requireUnset("idleProbe", probe);
    Checks.between(
        "idleProbe interval",
        Objects.requireNonNull(interval, "interval"),
        MIN_PROBE_INTERVAL,
        MAX_PROBE_INTERVAL);
    Checks.between(
        "idleProbe timeout",
        Objects.requireNonNull(timeout, "timeout"),
        MIN_TIMEOUT,
        MAX_COMMAND_TIMEOUT);
    probe = new IdleProbe(interval, timeout);
  }

  void connectTimeout(Duration timeout) {
    Checks.requireUnset("connectTimeout", connectTimeout);
    connectTimeout =
        Checks.between(
            "connectTimeout",
            Objects.requireNonNull(timeout, "timeout"),
            MIN_TIMEOUT,
            MAX_CONNECT_TIMEOUT);
  }

  void commandTimeout(Duration timeout) {
    Checks.requireUnset("commandTimeout", commandTimeout);
    commandTimeout =
        Checks.between(
            "commandTimeout",
            Objects.requireNonNull(timeout, "timeout"),
            MIN_TIMEOUT,
            MAX_COMMAND_TIMEOUT);
  }

  void keepAlive(Duration idle, Duration interval, int count) {
    Checks.requireUnset("keepAlive", keepAlive);
    Checks.wholeSecondsBetween(
        "keepAlive idle",
        Objects.requireNonNull(idle, "idle"),
        Duration.ofSeconds(1),
        MAX_KEEPALIVE_IDLE);
    Checks.wholeSecondsBetween(
        "keepAlive interval",
        Objects.requireNonNull(interval, "interval"),
        Duration.ofSeconds(1),
        MAX_KEEPALIVE_INTERVAL);
    Checks.between("keepAlive count", count, 1, MAX_KEEPALIVE_COUNT);
    keepAlive = new KeepAlive(idle, interval, count);
  }

  void tcpUserTimeout(Duration timeout) {
    Checks.requireUnset("tcpUserTimeout", tcpUserTimeout);
    tcpUserTimeout =
        Checks.between(
            "tcpUserTimeout",
            Objects.requireNonNull(timeout, "timeout"),
            MIN_TCP_USER_TIMEOUT,
            MAX_TCP_USER_TIMEOUT);
  }

  void requestQueueSize(int size) {
    Checks.requireUnset("requestQueueSize", requestQueueSize);
    requestQueueSize = Checks.between("requestQueueSize", size, 1, MAX_REQUEST_QUEUE_SIZE);
  }

  void disconnectedBehavior(DisconnectedBehavior behavior) {
    Objects.requireNonNull(behavior, "behavior");
    Checks.requireUnset("disconnectedBehavior", disconnectedBehavior);
    disconnectedBehavior = behavior;
  }

  void maxReconnectDelay(Duration delay) {
    Checks.requireUnset("maxReconnectDelay", maxReconnectDelay);
    maxReconnectDelay =
        Checks.between(
            "maxReconnectDelay",
            Objects.requireNonNull(delay, "delay"),
            MIN_RECONNECT_DELAY,
            MAX_RECONNECT_DELAY);
  }

  void clientResources(ClientResources resources) {
    Objects.requireNonNull(resources, "resources");
    Checks.requireUnset("clientResources", clientResources != null, "another instance");
    clientResources = resources;
  }

  void meterRegistry(MeterRegistry registry) {
    Objects.requireNonNull(registry, "registry");
    Checks.requireUnset("meterRegistry", meterRegistry);
    meterRegistry = registry;
  }

  Duration commandTimeout() {
    return commandTimeout == null ? DEFAULT_COMMAND_TIMEOUT : commandTimeout;
  }

  String name() {
    return name == null ? defaultName : name;
  }

  /** Checks what can only be checked once every setting is known, before anything is created. */
  void check() {
    if (clientResources != null && maxReconnectDelay != null) {
      throw new IllegalStateException(
          "maxReconnectDelay cannot be combined with clientResources: set the reconnect delay on"
              + " the ClientResources you pass");
    }
    if (Boolean.FALSE.equals(detectSilentConnections)
        && (reconnectAfterTimeouts != null || probe != null)) {
      throw new IllegalStateException(
          (reconnectAfterTimeouts != null ? "reconnectAfterTimeouts" : "idleProbe")
              + " cannot be combined with detectSilentConnections(false): it configures the"
              + " detection that turns off");
    }
    MeterRegistry registry = meterRegistry;
    if (registry != null && detectsSilence()) {
      Meters.requireUnused(registry, SilenceDetector.RECONNECTS, "Redis client", name(), "name");
    }
    if (tcpUserTimeout != null && !transport.tcpUserTimeout()) {
      throw new IllegalStateException(
          "tcpUserTimeout needs the epoll or io_uring transport (netty-transport-native-epoll or"
              + " netty-transport-native-io_uring with its native library), but neither is"
              + " available");
    }
    if (keepAlive != null && !transport.extendedKeepAlive()) {
      throw new IllegalStateException(
          "keepAlive needs a transport that can set TCP_KEEPIDLE, TCP_KEEPINTVL and TCP_KEEPCNT"
              + " (epoll, io_uring, or NIO on an operating system that supports them), but none is"
              + " available");
    }
  }

  /** Applies the shared options to a Lettuce options builder (plain or cluster). */
  <B extends ClientOptions.Builder> B applyTo(B options) {
    options.autoReconnect(true);
    options.pingBeforeActivateConnection(true);
    options.disconnectedBehavior(
        disconnectedBehavior == null ? DisconnectedBehavior.REJECT_COMMANDS : disconnectedBehavior);
    options.requestQueueSize(
        requestQueueSize == null ? DEFAULT_REQUEST_QUEUE_SIZE : requestQueueSize);
    // The connection's own timeout (the URI's, which is the command timeout) bounds every command
    // on every API; connection.setTimeout(...) raises it for one connection, for blocking commands.
    // fixedTimeout(...) would ignore setTimeout.
    options.timeoutOptions(
        TimeoutOptions.builder().timeoutCommands(true).connectionTimeout().build());
    options.socketOptions(socketOptions());
    return options;
  }

  SocketOptions socketOptions() {
    SocketOptions.Builder socket =
        SocketOptions.builder()
            .connectTimeout(connectTimeout == null ? DEFAULT_CONNECT_TIMEOUT : connectTimeout)
            .tcpNoDelay(true);
    KeepAlive k = keepAlive;
    if (k == null && transport.extendedKeepAlive()) {
      k =
          new KeepAlive(
              DEFAULT_KEEPALIVE_IDLE, DEFAULT_KEEPALIVE_INTERVAL, DEFAULT_KEEPALIVE_COUNT);
    }
    if (k == null) {
      log.debug(
          "extended TCP keepalive is not available on this transport; using SO_KEEPALIVE with"
              + " the operating system's timings");
      socket.keepAlive(true);
    } else {
      socket.keepAlive(
          SocketOptions.KeepAliveOptions.builder()
              .enable()
              .idle(k.idle())
              .interval(k.interval())
              .count(k.count())
              .build());
    }
    if (transport.tcpUserTimeout()) {
      socket.tcpUserTimeout(
          SocketOptions.TcpUserTimeoutOptions.builder()
              .enable()
              .tcpUserTimeout(tcpUserTimeout == null ? DEFAULT_TCP_USER_TIMEOUT : tcpUserTimeout)
              .build());
    } else {
      log.debug(
          "TCP_USER_TIMEOUT is not applied: it needs the epoll or io_uring transport, and"
              + " neither is available");
    }
    return socket.build();
  }

  private boolean detectsSilence() {
    return !Boolean.FALSE.equals(detectSilentConnections);
  }

  /**
   * The client's silent-connection rule, its meters registered; null when it is turned off. Call
   * once per client, after {@link #check()}.
   */
  @Nullable SilenceDetector silenceDetector() {
    if (!detectsSilence()) {
      return null;
    }
    ClientResources given = clientResources;
    SilenceDetector detector =
        new SilenceDetector(
            name(),
            reconnectAfterTimeouts == null
                ? DEFAULT_RECONNECT_AFTER_TIMEOUTS
                : reconnectAfterTimeouts,
            (probe == null ? DEFAULT_PROBE_INTERVAL : probe.interval()).toNanos(),
            (probe == null ? commandTimeout() : probe.timeout()).toNanos(),
            commandTimeout().toNanos(),
            given == null ? null : SilenceDetector.withoutDetectors(given.nettyCustomizer()));
    MeterRegistry registry = meterRegistry;
    if (registry != null) {
      detector.bindTo(registry);
    }
    return detector;
  }

  /** True when the client is to release its resources on shutdown (it created them). */
  boolean ownsResources() {
    return clientResources == null;
  }

  /**
   * The caller's resources, or new ones with a bounded, jittered reconnect delay whose threads are
   * named {@code bulwark-pool-<name>-<kind>-<n>}, for example {@code
   * bulwark-pool-redis-nioEventLoop-1}.
   */
  ClientResources resources(String name, @Nullable SilenceDetector detector) {
    ClientResources given = clientResources;
    if (given != null) {
      return detector == null ? given : new CustomizedResources(given, detector);
    }
    Duration max = maxReconnectDelay == null ? DEFAULT_MAX_RECONNECT_DELAY : maxReconnectDelay;
    ClientResources.Builder resources =
        ClientResources.builder()
            .threadFactoryProvider(
                lettucePool ->
                    new NettyThreadFactory(name + "-" + lettucePool.replaceFirst("^lettuce-", "")))
            .reconnectDelay(
                Delay.fullJitter(
                    MIN_RECONNECT_DELAY,
                    max,
                    MIN_RECONNECT_DELAY.toMillis(),
                    TimeUnit.MILLISECONDS));
    if (detector != null) {
      resources.nettyCustomizer(detector);
    }
    MeterRegistry registry = meterRegistry;
    if (registry != null) {
      resources.commandLatencyRecorder(
          new MicrometerCommandLatencyRecorder(registry, MicrometerOptions.create()));
    }
    return resources.build();
  }

  /** Adds {@code setting=value} for each setting that was given, none of them secret. */
  void describe(StringJoiner out) {
    if (name != null) {
      out.add("name=" + name);
    }
    Checks.addSetting(out, "detectSilentConnections", detectSilentConnections);
    Checks.addSetting(out, "reconnectAfterTimeouts", reconnectAfterTimeouts);
    Checks.addSetting(out, "idleProbe", probe);
    Checks.addSetting(out, "connectTimeout", connectTimeout);
    Checks.addSetting(out, "commandTimeout", commandTimeout);
    Checks.addSetting(out, "keepAlive", keepAlive);
    Checks.addSetting(out, "tcpUserTimeout", tcpUserTimeout);
    Checks.addSetting(out, "requestQueueSize", requestQueueSize);
    Checks.addSetting(out, "disconnectedBehavior", disconnectedBehavior);
    Checks.addSetting(out, "maxReconnectDelay", maxReconnectDelay);
    if (clientResources != null) {
      out.add("clientResources=" + clientResources.getClass().getSimpleName());
    }
    if (meterRegistry != null) {
      out.add("meterRegistry=" + meterRegistry.getClass().getSimpleName());
    }
  }

  /** The probe of idle connections. */
  private record IdleProbe(Duration interval, Duration timeout) {
    @Override
    public String toString() {
      return Checks.format(
          "interval %s, timeout %s", Checks.duration(interval), Checks.duration(timeout));
    }
  }

  /** TCP keepalive timings. */
  private record KeepAlive(Duration idle, Duration interval, int count) {
    @Override
    public String toString() {
      return Checks.format(
          "idle %s, interval %s, count %d", seconds(idle), seconds(interval), count);
    }
  }
}

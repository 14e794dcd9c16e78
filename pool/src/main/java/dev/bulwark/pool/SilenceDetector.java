package dev.bulwark.pool;

import dev.bulwark.core.internal.Checks;
import dev.bulwark.core.internal.Meters;
import io.lettuce.core.resource.NettyCustomizer;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import java.net.SocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One client's rule for connections that stay open while nothing comes back: it puts a {@link
 * SilenceWatch} on every channel the client opens (through Lettuce's {@link NettyCustomizer}), and
 * counts, logs and meters the connections the watches close.
 *
 * <p>A watch closes its channel after {@code timeouts} consecutive command timeouts, or when a
 * {@code PING} sent to a connection that has been idle for {@code probeIntervalNanos} gets no
 * answer within {@code probeTimeoutNanos}. Lettuce's connection watchdog then reconnects, as after
 * any lost connection.
 *
 * <p>Thread-safe: the counters are adders and the meters are registered once, at build, and removed
 * once, at the client's shutdown.
 */
final class SilenceDetector implements NettyCustomizer {
  private static final Logger log = LoggerFactory.getLogger(SilenceDetector.class);

  /** The meter: connections closed because they went silent, tagged by {@link Cause}. */
  static final String RECONNECTS = Meters.name("pool", "redis.reconnects");

  private static final String IDLE = "bulwark-idle";
  private static final String WATCH = "bulwark-silence";

  /**
   * {@return the customizer of the caller's resources without the silence detectors in it} A client
   * built on the resources of another bulwark client watches its own connections, and counts them
   * in its own meters.
   */
  static @Nullable NettyCustomizer withoutDetectors(@Nullable NettyCustomizer customizer) {
    NettyCustomizer c = customizer;
    while (c instanceof SilenceDetector detector) {
      c = detector.next;
    }
    return c;
  }

  /** Why a connection was closed; the {@code cause} tag of {@link #RECONNECTS}. */
  enum Cause {
    /** Consecutive commands timed out on the connection. */
    TIMEOUTS("timeouts"),
    /** The idle connection did not answer a {@code PING}. */
    PROBE("probe");

    final String tag;

    Cause(String tag) {
      this.tag = tag;
    }
  }

  private final String name;
  private final int timeouts;
  private final long probeIntervalNanos;
  private final long probeTimeoutNanos;
  private final long commandTimeoutNanos;
  private final @Nullable NettyCustomizer next;
  private final LongAdder timeoutReconnects = new LongAdder();
  private final LongAdder probeReconnects = new LongAdder();
  private final LongAdder probes = new LongAdder();
  private final List<Meter> meters = new ArrayList<>(2);
  private final AtomicBoolean closed = new AtomicBoolean();
  private @Nullable MeterRegistry registry;

  /**
   * @param name the client's name, for the meters and the log
   * @param timeouts consecutive command timeouts that close a connection, at least 1
   * @param probeIntervalNanos idle time after which a connection is probed, positive
   * @param probeTimeoutNanos how long a probe waits for its answer, positive
   * @param commandTimeoutNanos the client's command timeout, positive
   * @param next the customizer of the caller's resources, run first; null when there is none
   */
  SilenceDetector(
      String name,
      int timeouts,
      long probeIntervalNanos,
      long probeTimeoutNanos,
      long commandTimeoutNanos,
      @Nullable NettyCustomizer next) {
    this.name = name;
    this.timeouts = timeouts;
    this.probeIntervalNanos = probeIntervalNanos;
    this.probeTimeoutNanos = probeTimeoutNanos;
    this.commandTimeoutNanos = commandTimeoutNanos;
    this.next = next;
  }

  /** Registers {@link #RECONNECTS}, one counter per cause; call once, at build. */
  void bindTo(MeterRegistry registry) {
    this.registry = registry;
    meters.add(counter(registry, Cause.TIMEOUTS, timeoutReconnects));
    meters.add(counter(registry, Cause.PROBE, probeReconnects));
  }

  private FunctionCounter counter(MeterRegistry registry, Cause cause, LongAdder count) {
    return FunctionCounter.builder(RECONNECTS, count, LongAdder::doubleValue)
        .description(
            "Redis connections closed because they stayed open without answering, so that the"
                + " client reconnects")
        .baseUnit("connections")
        .tag(Meters.NAME_TAG, name)
        .tag("cause", cause.tag)
        .register(registry);
  }

  /** Removes the meters; later reconnects are still counted, not metered. Idempotent. */
  void close() {
    MeterRegistry r = registry;
    if (r != null && closed.compareAndSet(false, true)) {
      meters.forEach(r::remove);
    }
  }

  @Override
  public void afterBootstrapInitialized(Bootstrap bootstrap) {
    if (next != null) {
      next.afterBootstrapInitialized(bootstrap);
    }
  }

  @Override
  public void afterChannelInitialized(Channel channel) {
    if (next != null) {
      next.afterChannelInitialized(channel);
    }
    if (channel.pipeline().get(WATCH) != null) {
      return; // watched already, by a customizer this one runs first
    }
    SilenceWatch watch = new SilenceWatch(this, timeouts, probeTimeoutNanos, commandTimeoutNanos);
    // First in the pipeline, the idle timer sees every byte, read or written; last, the watch sees
    // every command the client writes, before Lettuce's handlers encode it.
    channel.pipeline().addFirst(IDLE, watch.idleTrigger(probeIntervalNanos));
    channel.pipeline().addLast(WATCH, watch);
  }

  /** Counts a probe sent. */
  void probed() {
    probes.increment();
  }

  /** Counts and logs a connection closed by its watch. */
  void replaced(Cause cause, @Nullable SocketAddress remote, String why) {
    (cause == Cause.TIMEOUTS ? timeoutReconnects : probeReconnects).increment();
    log.warn(
        "Redis client {}: closing the connection to {}, which stays open without answering ({});"
            + " the client reconnects",
        name,
        remote,
        why);
  }

  /** {@return connections closed for {@code cause} since the start; for tests} */
  long reconnects(Cause cause) {
    return (cause == Cause.TIMEOUTS ? timeoutReconnects : probeReconnects).sum();
  }

  /** {@return probes sent since the start; for tests} */
  long probes() {
    return probes.sum();
  }

  @Override
  public String toString() {
    return Checks.format(
        "SilenceDetector[%s, %d timeouts, probe after %s idle, probe timeout %s]",
        name,
        timeouts,
        Checks.duration(java.time.Duration.ofNanos(probeIntervalNanos)),
        Checks.duration(java.time.Duration.ofNanos(probeTimeoutNanos)));
  }
}

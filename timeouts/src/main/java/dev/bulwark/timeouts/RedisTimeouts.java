package dev.bulwark.timeouts;

import dev.bulwark.core.internal.Checks;
import io.lettuce.core.ClientOptions;
import io.lettuce.core.RedisClient;
import io.lettuce.core.TimeoutOptions;
import io.lettuce.core.cluster.ClusterClientOptions;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.protocol.RedisCommand;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;

/**
 * Makes every Lettuce command's timeout the smaller of a fixed command timeout and the time the
 * current {@link Deadline} of the thread that sends it has left.
 *
 * <p>Lettuce asks a {@link TimeoutOptions.TimeoutSource} for each command's timeout when the
 * command is written, on the thread that issues it (the caller's thread, for the sync and async
 * APIs), and the sync API asks it again for how long to wait. This class's source answers from that
 * thread's deadline, so one shared connection serves calls with different deadlines. Put it on a
 * client, before its first {@code connect()}, with one call that keeps every other option the
 * client has (a client from {@code Pools.redis(url)} keeps its {@code REJECT_COMMANDS} disconnected
 * behaviour, its request queue bound and its socket options):
 *
 * <pre>{@code
 * RedisClient redis = RedisTimeouts.applyTo(Pools.redis(url).build(), Duration.ofSeconds(5));
 * }</pre>
 *
 * <p>Do not build fresh {@code ClientOptions} for it ({@code
 * client.setOptions(ClientOptions.builder().timeoutOptions(...).build())}): that resets every other
 * option to Lettuce's defaults, an unbounded request queue and buffered commands while disconnected
 * among them. {@link #timeoutOptions(Duration)} is for options a caller builds from scratch anyway.
 *
 * <p><b>Per-connection timeouts.</b> With this source, the source alone decides each command's
 * timeout, on every API: both the timer that fails a command and the sync API's wait. {@code
 * StatefulConnection.setTimeout(...)}, which raises the timeout of one connection on a client from
 * {@code Pools.redis(url)} (Lettuce's connection-timeout source), still changes what {@code
 * getTimeout()} reports but no longer any command's timeout: a {@code BLPOP} longer than {@code
 * commandTimeout} fails with {@code RedisCommandTimeoutException}. Give blocking commands a client
 * of their own without this source, sharing the event loops, and raise its dedicated connection's
 * timeout as usual.
 *
 * <p>A command issued after the deadline has passed gets a 1 ns timeout and fails at once with
 * Lettuce's {@code RedisCommandTimeoutException}; Lettuce may still write it to the connection, so
 * a command that must not run late should be guarded with {@link Deadline#checkNotExpired()} or
 * {@link #commandTimeout(Duration)} first. Inside a limited call ({@link Timeouts#within}) that
 * exception, once the deadline has passed, reaches the caller as the cause of a {@link
 * TimeoutExceededException}. Needs {@code lettuce-core} on the class path (an optional dependency
 * of this module). Stateless and thread-safe.
 */
public final class RedisTimeouts {
  private RedisTimeouts() {}

  /**
   * Replaces the client's timeout options with the deadline-aware source, and keeps all its other
   * options (disconnected behaviour, request queue size, socket, SSL and reconnect options, and the
   * relaxed timeout of its current timeout options). Connections opened afterwards use it;
   * connections already open keep the options they were opened with. Calling it again replaces the
   * earlier call's command timeout.
   *
   * @param client the client, before its first {@code connect()}
   * @param commandTimeout the timeout of a command sent without a deadline; positive
   * @return {@code client}
   * @throws IllegalArgumentException if {@code commandTimeout} is not positive
   */
  public static RedisClient applyTo(RedisClient client, Duration commandTimeout) {
    Objects.requireNonNull(client, "client");
    ClientOptions current = client.getOptions();
    client.setOptions(
        current
            .mutate()
            .timeoutOptions(timeoutOptions(commandTimeout, current.getTimeoutOptions()))
            .build());
    return client;
  }

  /**
   * Replaces the cluster client's timeout options with the deadline-aware source, and keeps all its
   * other options, topology refresh included; see {@link #applyTo(RedisClient, Duration)}.
   *
   * @param client the cluster client, before its first {@code connect()}
   * @param commandTimeout the timeout of a command sent without a deadline; positive
   * @return {@code client}
   * @throws IllegalArgumentException if {@code commandTimeout} is not positive
   */
  public static RedisClusterClient applyTo(RedisClusterClient client, Duration commandTimeout) {
    Objects.requireNonNull(client, "client");
    ClientOptions current = client.getOptions();
    ClusterClientOptions.Builder options =
        current instanceof ClusterClientOptions
            ? ((ClusterClientOptions) current).mutate()
            : ClusterClientOptions.builder(current);
    client.setOptions(
        options
            .timeoutOptions(timeoutOptions(commandTimeout, current.getTimeoutOptions()))
            .build());
    return client;
  }

  /**
   * Returns timeout options whose per-command timeout is {@code commandTimeout} clamped to the
   * issuing thread's current deadline. To put them on a client that already has options, use {@link
   * #applyTo(RedisClient, Duration)}.
   *
   * @param commandTimeout the timeout of a command sent without a deadline; positive
   * @return options for {@code ClientOptions.Builder.timeoutOptions}
   * @throws IllegalArgumentException if {@code commandTimeout} is not positive
   */
  public static TimeoutOptions timeoutOptions(Duration commandTimeout) {
    return timeoutOptions(commandTimeout, null);
  }

  private static TimeoutOptions timeoutOptions(
      Duration commandTimeout, @Nullable TimeoutOptions current) {
    Checks.positive("commandTimeout", commandTimeout);
    TimeoutOptions.Builder options =
        TimeoutOptions.builder()
            .timeoutCommands(true)
            .timeoutSource(new DeadlineSource(Checks.saturatedNanos(commandTimeout)));
    if (current != null) {
      options.relaxedTimeoutsDuringMaintenance(current.getRelaxedTimeout());
    }
    return options.build();
  }

  /**
   * Returns {@code commandTimeout} clamped to the current deadline, for APIs that take a timeout
   * per call (for example {@code RedisFuture.get(timeout, unit)}).
   *
   * @param commandTimeout the timeout without a deadline; positive
   * @return the timeout to use
   * @throws TimeoutExceededException if the current deadline has passed
   * @throws IllegalArgumentException if {@code commandTimeout} is not positive
   */
  public static Duration commandTimeout(Duration commandTimeout) {
    return Deadline.clampToCurrentOrFail(Checks.positive("commandTimeout", commandTimeout));
  }

  private static final class DeadlineSource extends TimeoutOptions.TimeoutSource {
    private final long defaultNanos;

    DeadlineSource(long defaultNanos) {
      this.defaultNanos = defaultNanos;
    }

    @Override
    public long getTimeout(RedisCommand<?, ?, ?> command) {
      Objects.requireNonNull(command, "command");
      Deadline current = Deadline.currentOrNull();
      if (current == null) {
        return defaultNanos;
      }
      return Math.max(1, Math.min(defaultNanos, current.remainingNanos()));
    }

    @Override
    public TimeUnit getTimeUnit() {
      return TimeUnit.NANOSECONDS;
    }
  }
}

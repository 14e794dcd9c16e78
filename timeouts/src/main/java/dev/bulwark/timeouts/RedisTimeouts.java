package dev.bulwark.timeouts;

import dev.bulwark.core.internal.Checks;
import io.lettuce.core.TimeoutOptions;
import io.lettuce.core.protocol.RedisCommand;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

/**
 * Makes every Lettuce command's timeout the smaller of a fixed command timeout and the time the
 * current {@link Deadline} of the thread that sends it has left.
 *
 * <p>Lettuce asks a {@link TimeoutOptions.TimeoutSource} for each command's timeout when the
 * command is written, on the thread that issues it (the caller's thread, for the sync and async
 * APIs). This class's source answers from that thread's deadline, so one shared connection serves
 * calls with different deadlines. Use it in the client's options:
 *
 * <pre>{@code
 * client.setOptions(ClientOptions.builder()
 *     .timeoutOptions(RedisTimeouts.timeoutOptions(Duration.ofSeconds(5)))
 *     .build());
 * }</pre>
 *
 * <p>A command issued after the deadline has passed gets a 1 ns timeout and fails at once with
 * Lettuce's {@code RedisCommandTimeoutException}; Lettuce may still write it to the connection, so
 * a command that must not run late should be guarded with {@link Deadline#checkNotExpired()} or
 * {@link #commandTimeout(Duration)} first. Needs {@code lettuce-core} on the class path (an
 * optional dependency of this module). Stateless and thread-safe.
 */
public final class RedisTimeouts {
  private RedisTimeouts() {}

  /**
   * Returns timeout options whose per-command timeout is {@code commandTimeout} clamped to the
   * issuing thread's current deadline.
   *
   * @param commandTimeout the timeout of a command sent without a deadline; positive
   * @return options for {@code ClientOptions.Builder.timeoutOptions}
   * @throws IllegalArgumentException if {@code commandTimeout} is not positive
   */
  public static TimeoutOptions timeoutOptions(Duration commandTimeout) {
    Checks.positive("commandTimeout", commandTimeout);
    return TimeoutOptions.builder()
        .timeoutCommands(true)
        .timeoutSource(new DeadlineSource(Checks.saturatedNanos(commandTimeout)))
        .build();
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

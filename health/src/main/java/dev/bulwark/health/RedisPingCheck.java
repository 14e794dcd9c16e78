package dev.bulwark.health;

import dev.bulwark.core.internal.Checks;
import dev.bulwark.timeouts.Deadline;
import io.lettuce.core.RedisFuture;
import io.lettuce.core.api.StatefulRedisConnection;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * {@link HealthChecks#redis(StatefulRedisConnection, Threshold, Duration)}: one {@code PING}
 * through Lettuce's asynchronous API, waited for at most the timeout (or what the caller's {@link
 * Deadline} has left, if less), and cancelled when it is not answered in time. The connection's own
 * command timeout is left as it is: a shorter wait here gives up early without making the
 * connection look silent to {@code bulwark-pool}'s detector. Stateless beyond its settings, and
 * thread-safe, as a Lettuce connection is.
 */
final class RedisPingCheck implements HealthCheck {
  /** The default latency threshold: warn from 100 ms; never fail (the timeout does). */
  static final Threshold DEFAULT_LATENCY = Threshold.warnAt(100);

  /** The default timeout: 1 s, the default timeout of a Kubernetes probe. */
  static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(1);

  /** The shortest timeout accepted. */
  static final Duration MIN_TIMEOUT = Duration.ofMillis(10);

  /** The longest timeout accepted. */
  static final Duration MAX_TIMEOUT = Duration.ofMinutes(1);

  /** The draft's {@code componentType}. */
  static final String COMPONENT_TYPE = "datastore";

  private final StatefulRedisConnection<?, ?> connection;
  private final Threshold latencyMillis;
  private final Duration timeout;

  RedisPingCheck(
      StatefulRedisConnection<?, ?> connection, Threshold latencyMillis, Duration timeout) {
    this.connection = Objects.requireNonNull(connection, "connection");
    this.latencyMillis = requireLatencyLevels(latencyMillis);
    this.timeout = Checks.between("timeout", timeout, MIN_TIMEOUT, MAX_TIMEOUT);
  }

  /** Checks that each level of a latency threshold is positive or infinite. */
  static Threshold requireLatencyLevels(Threshold threshold) {
    Objects.requireNonNull(threshold, "latencyMillis");
    requireLatencyLevel("latencyMillis.warnAt", threshold.warnAt());
    requireLatencyLevel("latencyMillis.failAt", threshold.failAt());
    return threshold;
  }

  private static void requireLatencyLevel(String setting, double level) {
    if (!(level > 0)) {
      throw Checks.invalid(
          "%s must be positive, or infinite for never, but was %s ms",
          setting, ExternalTexts.plain(level));
    }
  }

  @Override
  public HealthResult check() throws InterruptedException {
    long budgetNanos = ExternalTexts.budgetNanos(timeout);
    if (!connection.isOpen()) {
      return fail("not connected to Redis: the connection is closed, or reconnecting");
    }
    long start = System.nanoTime();
    RedisFuture<String> ping;
    try {
      ping = connection.async().ping();
    } catch (RuntimeException e) {
      return fail("PING failed: " + ExternalTexts.describe(e));
    }
    try {
      ping.get(budgetNanos, TimeUnit.NANOSECONDS);
    } catch (TimeoutException e) {
      ping.cancel(true);
      return fail("no answer to PING within " + ExternalTexts.duration(budgetNanos));
    } catch (ExecutionException e) {
      return fail("PING failed: " + ExternalTexts.describe(Objects.requireNonNull(e.getCause())));
    } catch (InterruptedException e) {
      ping.cancel(true);
      throw e;
    }
    return rate(ExternalTexts.millis(System.nanoTime() - start), latencyMillis, "");
  }

  /**
   * Rates a PING's latency.
   *
   * @param millis the latency
   * @param threshold the threshold, in milliseconds
   * @param where {@code ""}, or {@code " on host:port"} for a cluster's slowest master
   */
  static HealthResult rate(double millis, Threshold threshold, String where) {
    Status status = threshold.rate(millis);
    String output = null;
    if (status != Status.PASS) {
      boolean failed = status == Status.FAIL;
      output =
          Checks.format(
              "PING took %s ms%s, at or above the %s level of %s ms",
              ExternalTexts.plain(millis),
              where,
              failed ? "failure" : "warning",
              ExternalTexts.plain(failed ? threshold.failAt() : threshold.warnAt()));
    }
    return HealthResult.pass()
        .withStatus(status, output)
        .withObserved(millis, "ms")
        .withComponentType(COMPONENT_TYPE);
  }

  static HealthResult fail(String output) {
    return HealthResult.fail(output).withComponentType(COMPONENT_TYPE);
  }
}

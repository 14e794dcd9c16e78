package dev.bulwark.health;

import dev.bulwark.core.Secrets;
import dev.bulwark.core.internal.Checks;
import dev.bulwark.timeouts.Deadline;
import io.lettuce.core.RedisURI;
import io.lettuce.core.cluster.api.StatefulRedisClusterConnection;
import io.lettuce.core.cluster.models.partitions.RedisClusterNode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.jspecify.annotations.Nullable;

/**
 * {@link HealthChecks#redis(StatefulRedisClusterConnection, Threshold, Duration)}: a {@code PING}
 * to every master of the connection's current view of the cluster (Lettuce's partitions, which a
 * client from {@code Pools.redisCluster} refreshes every 60 s and on redirects), in parallel,
 * through Lettuce's asynchronous node selection, waited for at most the timeout (or what the
 * caller's {@link Deadline} has left, if less). Every master, not one node: a key lives on one
 * master only, so one that does not answer fails the commands of a third (or so) of the keys while
 * the others answer. Replicas are not pinged. The latency is the slowest master's.
 *
 * <p>Stateless beyond its settings, and thread-safe, as a Lettuce connection is.
 */
final class RedisClusterPingCheck implements HealthCheck {
  /** How many failed masters a failure's text names; it counts the rest. */
  static final int MAX_NAMED = 3;

  private final StatefulRedisClusterConnection<?, ?> connection;
  private final Threshold latencyMillis;
  private final Duration timeout;

  RedisClusterPingCheck(
      StatefulRedisClusterConnection<?, ?> connection, Threshold latencyMillis, Duration timeout) {
    this.connection = Objects.requireNonNull(connection, "connection");
    this.latencyMillis = RedisPingCheck.requireLatencyLevels(latencyMillis);
    this.timeout =
        Checks.between("timeout", timeout, RedisPingCheck.MIN_TIMEOUT, RedisPingCheck.MAX_TIMEOUT);
  }

  /** One master's PING, and when it ended. */
  private static final class Ping {
    final RedisClusterNode node;
    final CompletableFuture<String> answer;
    final CompletableFuture<String> timed;
    volatile long endNanos;

    Ping(RedisClusterNode node, CompletableFuture<String> answer) {
      this.node = node;
      this.answer = answer;
      // Waited on instead of the answer, so that the end time is set before the wait ends.
      this.timed = answer.whenComplete((value, failure) -> endNanos = System.nanoTime());
    }
  }

  @Override
  public HealthResult check() throws InterruptedException {
    long budgetNanos = ExternalTexts.budgetNanos(timeout);
    long start = System.nanoTime();
    List<Ping> pings = new ArrayList<>();
    try {
      Map<RedisClusterNode, CompletableFuture<String>> sent =
          connection
              .async()
              .nodes(node -> node.is(RedisClusterNode.NodeFlag.UPSTREAM) && !node.hasNoSlots())
              .commands()
              .ping()
              .asMap();
      sent.forEach((node, answer) -> pings.add(new Ping(node, answer)));
    } catch (RuntimeException e) {
      return RedisPingCheck.fail("PING failed: " + ExternalTexts.describe(e));
    }
    if (pings.isEmpty()) {
      return RedisPingCheck.fail("no master in the client's view of the cluster");
    }
    CompletableFuture<?> all =
        CompletableFuture.allOf(pings.stream().map(p -> p.timed).toArray(CompletableFuture[]::new));
    try {
      all.get(budgetNanos, TimeUnit.NANOSECONDS);
    } catch (ExecutionException | TimeoutException e) {
      // Each PING is looked at below.
    } catch (InterruptedException e) {
      pings.forEach(p -> p.answer.cancel(true));
      throw e;
    }
    List<String> failures = new ArrayList<>();
    @Nullable Ping slowest = null;
    for (Ping ping : pings) {
      String failure = failure(ping, budgetNanos);
      if (failure != null) {
        failures.add(address(ping.node) + ": " + failure);
      } else if (slowest == null || ping.endNanos - slowest.endNanos > 0) {
        slowest = ping;
      }
    }
    if (!failures.isEmpty()) {
      StringBuilder output =
          new StringBuilder(
              Checks.format(
                  "PING failed on %d of %s: ",
                  failures.size(), ExternalTexts.count(pings.size(), "master")));
      output.append(String.join("; ", failures.subList(0, Math.min(MAX_NAMED, failures.size()))));
      if (failures.size() > MAX_NAMED) {
        output.append("; and ").append(failures.size() - MAX_NAMED).append(" more");
      }
      return RedisPingCheck.fail(output.toString())
          .withDetail("masters", pings.size())
          .withDetail("failed", failures.size());
    }
    Ping slow = Objects.requireNonNull(slowest);
    double millis = ExternalTexts.millis(slow.endNanos - start);
    return RedisPingCheck.rate(millis, latencyMillis, " on " + address(slow.node))
        .withDetail("masters", pings.size());
  }

  /** {@return why a PING did not succeed, or null if it did} */
  private static @Nullable String failure(Ping ping, long budgetNanos) {
    if (!ping.timed.isDone()) {
      ping.answer.cancel(true);
      return "no answer within " + ExternalTexts.duration(budgetNanos);
    }
    try {
      ping.answer.getNow(null);
      return null;
    } catch (CompletionException | CancellationException e) {
      Throwable cause = e.getCause() == null ? e : e.getCause();
      return ExternalTexts.describe(cause);
    }
  }

  private static String address(RedisClusterNode node) {
    RedisURI uri = node.getUri();
    return uri == null ? node.getNodeId() : Secrets.maskText(uri.getHost() + ":" + uri.getPort());
  }
}

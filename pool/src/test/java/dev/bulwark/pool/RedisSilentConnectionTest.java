package dev.bulwark.pool;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import dev.bulwark.testing.Await;
import dev.bulwark.testing.FaultProxy;
import dev.bulwark.testing.RedisExtension;
import dev.bulwark.testing.TestRedis;
import io.lettuce.core.KeyValue;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisCommandTimeoutException;
import io.lettuce.core.RedisException;
import io.lettuce.core.RedisFuture;
import io.lettuce.core.RedisURI;
import io.lettuce.core.StreamMessage;
import io.lettuce.core.TransactionResult;
import io.lettuce.core.XReadArgs;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import io.lettuce.core.pubsub.RedisPubSubAdapter;
import io.lettuce.core.pubsub.StatefulRedisPubSubConnection;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Silent connections, made by a {@link FaultProxy} between the client and a real Redis server: the
 * proxy swallows every byte of the connections open at the time, while new connections pass, as
 * after a failover that moved the server's address.
 */
@ExtendWith(RedisExtension.class)
class RedisSilentConnectionTest {
  private static final Duration COMMAND_TIMEOUT = Duration.ofMillis(500);

  /** Room for the reconnect (its first delay is at most 10 ms) and a loaded machine. */
  private static final Duration SLACK = Duration.ofSeconds(2);

  /**
   * What a command meets while the silent connection is replaced: written as it closes ("Connection
   * disconnected"), or issued before the new one is up.
   */
  private static final List<String> REJECTED =
      List.of("Connection disconnected", "Currently not connected. Commands are rejected.");

  private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  private FaultProxy proxy;
  private RedisURI direct;
  private final List<RedisClient> clients = new ArrayList<>();

  @BeforeEach
  void startProxy(TestRedis redis, RedisURI uri) {
    direct = uri;
    proxy = FaultProxy.to(redis.host(), redis.port());
  }

  @AfterEach
  void stop() {
    clients.forEach(c -> c.shutdown(Duration.ZERO, Duration.ofSeconds(2)));
    proxy.close();
  }

  private RedisClientBuilder throughProxy() {
    return throughProxy(COMMAND_TIMEOUT).meterRegistry(registry);
  }

  /** A builder through the proxy with this command timeout, and no meter registry yet. */
  private RedisClientBuilder throughProxy(Duration commandTimeout) {
    return Pools.redis("redis://" + proxy.host() + ":" + proxy.port() + "/" + direct.getDatabase())
        .commandTimeout(commandTimeout);
  }

  private RedisClient build(RedisClientBuilder builder) {
    RedisClient client = builder.build();
    clients.add(client);
    return client;
  }

  private double reconnects(String cause) {
    return registry
        .get("bulwark.pool.redis.reconnects")
        .tag("name", "redis")
        .tag("cause", cause)
        .functionCounter()
        .count();
  }

  private static SilenceDetector detector(RedisClient client) {
    return Objects.requireNonNull(((OwningRedisClient) client).detector());
  }

  /**
   * GETs {@code k} until it is answered, as callers do while the client reconnects: commands fail
   * at once while it is disconnected.
   */
  private static String firstAnswer(
      StatefulRedisConnection<String, String> connection, Duration within) throws Exception {
    String[] value = new String[1];
    Await.until(
        within,
        "an answer",
        () -> {
          try {
            value[0] = connection.sync().get("k");
            return true;
          } catch (RedisCommandTimeoutException e) {
            return false; // on the silent connection
          } catch (RedisException e) {
            assertThat(e.getMessage()).isIn(REJECTED);
            return false;
          }
        });
    return value[0];
  }

  private static Duration since(long start) {
    return Duration.ofNanos(System.nanoTime() - start);
  }

  @Test
  void aSilentConnectionIsReplacedAfterThreeTimeoutsOfCommandsIssuedOneAtATime() throws Exception {
    RedisClient client = build(throughProxy());
    try (StatefulRedisConnection<String, String> connection = client.connect()) {
      RedisCommands<String, String> redis = connection.sync();
      redis.set("k", "v");
      assertThat(proxy.blackholeOpenConnections()).isOne();

      long start = System.nanoTime();
      int timeouts = 0;
      String value = null;
      while (value == null && since(start).compareTo(Duration.ofSeconds(10)) < 0) {
        try {
          value = redis.get("k");
        } catch (RedisCommandTimeoutException e) {
          timeouts++;
        } catch (RedisException e) {
          assertThat(e.getMessage()).isIn(REJECTED);
        }
      }

      assertThat(value).isEqualTo("v");
      assertThat(timeouts).isEqualTo(3);
      assertThat(since(start)).isLessThan(COMMAND_TIMEOUT.multipliedBy(3).plus(SLACK));
      assertThat(reconnects("timeouts")).isEqualTo(1.0);
      assertThat(reconnects("probe")).isZero();
      assertThat(proxy.acceptedConnections()).isEqualTo(2);
      assertThat(redis.get("k")).isEqualTo("v");
    }
  }

  @Test
  void shortTimeoutsAgainstASlowButAnsweringServerAreNotSilence() throws Exception {
    RedisClient client =
        build(
            throughProxy(Duration.ofSeconds(1))
                .idleProbe(Duration.ofMinutes(1), Duration.ofSeconds(1)) // the timeouts rule alone
                .meterRegistry(registry));
    try (StatefulRedisConnection<String, String> connection = client.connect()) {
      connection.sync().set("k", "v");
      proxy.latencyToClient(Duration.ofMillis(300));
      // As a request's deadline clamps a command: 100 ms, against answers that take 300 ms.
      connection.setTimeout(Duration.ofMillis(100));
      for (int i = 0; i < 10; i++) {
        assertThatThrownBy(() -> connection.sync().get("k"))
            .isInstanceOf(RedisCommandTimeoutException.class);
      }
      assertThat(reconnects("timeouts")).isZero();
      assertThat(proxy.acceptedConnections()).isOne();

      connection.setTimeout(Duration.ofSeconds(1));
      assertThat(connection.sync().get("k")).isEqualTo("v");
    }
  }

  @Test
  void aSilentConnectionIsFoundEvenWhenEveryCommandHasAShortTimeout() throws Exception {
    RedisClient client = build(throughProxy().idleProbe(Duration.ofMinutes(1), COMMAND_TIMEOUT));
    try (StatefulRedisConnection<String, String> connection = client.connect()) {
      connection.sync().set("k", "v");
      Duration shortTimeout = Duration.ofMillis(50);
      connection.setTimeout(shortTimeout);
      proxy.blackholeOpenConnections();

      long start = System.nanoTime();
      // Counted once the connection has owed an answer for 90 % of the 500 ms command timeout.
      Duration bound = COMMAND_TIMEOUT.plus(shortTimeout.multipliedBy(3));
      assertThat(firstAnswer(connection, bound.plus(SLACK))).isEqualTo("v");
      assertThat(since(start)).isLessThan(bound.plus(SLACK));
      assertThat(reconnects("timeouts")).isEqualTo(1.0);
      assertThat(proxy.acceptedConnections()).isEqualTo(2);
    }
  }

  @Test
  void reactiveCallersThatGiveUpFirstStillShowTheSilence() throws Exception {
    Duration timeout = Duration.ofSeconds(1);
    RedisClient client =
        build(
            throughProxy(timeout)
                .idleProbe(Duration.ofMinutes(1), timeout) // the timeouts rule alone
                .meterRegistry(registry));
    try (StatefulRedisConnection<String, String> connection = client.connect()) {
      connection.sync().set("k", "v");
      proxy.blackholeOpenConnections();

      // Reactor's timeout, just under the command's, cancels the subscription inside Lettuce's
      // command wrapper: no completion callback, and the command's own timeout never fires.
      Duration callerTimeout = Duration.ofMillis(950);
      long start = System.nanoTime();
      int timeouts = 0;
      String value = null;
      while (value == null && since(start).compareTo(Duration.ofSeconds(15)) < 0) {
        try {
          value = connection.reactive().get("k").timeout(callerTimeout).block();
        } catch (RuntimeException e) {
          if (e.getCause() instanceof java.util.concurrent.TimeoutException) {
            timeouts++;
          } else {
            assertThat(e.getMessage()).isIn(REJECTED);
          }
        }
      }
      assertThat(value).isEqualTo("v");
      // Three timeouts judged when the next command is written, so the fourth one's write closes.
      assertThat(timeouts).isBetween(3, 4);
      assertThat(since(start)).isLessThan(callerTimeout.multipliedBy(4).plus(SLACK));
      assertThat(reconnects("timeouts")).isEqualTo(1.0);
    }
  }

  @Test
  void aClientOnAnotherClientsResourcesWatchesItsOwnConnections() throws Exception {
    RedisClient first = build(Pools.redis(direct).name("first").meterRegistry(registry));
    RedisClient second = build(throughProxy().name("second").clientResources(first.getResources()));
    try (StatefulRedisConnection<String, String> a = first.connect();
        StatefulRedisConnection<String, String> b = second.connect()) {
      a.sync().set("k", "v");
      assertThat(b.sync().get("k")).isEqualTo("v");
      proxy.blackholeOpenConnections();
      assertThat(firstAnswer(b, COMMAND_TIMEOUT.multipliedBy(3).plus(SLACK))).isEqualTo("v");

      assertThat(count("second", "timeouts")).isEqualTo(1.0);
      assertThat(count("first", "timeouts")).isZero();
      assertThat(a.sync().get("k")).isEqualTo("v");
    }
  }

  private double count(String name, String cause) {
    return registry
        .get("bulwark.pool.redis.reconnects")
        .tag("name", name)
        .tag("cause", cause)
        .functionCounter()
        .count();
  }

  @Test
  void aBusyConnectionIsReplacedOneCommandTimeoutAfterItWentSilent() throws Exception {
    RedisClient client = build(throughProxy());
    try (StatefulRedisConnection<String, String> connection = client.connect()) {
      connection.sync().set("k", "v");
      proxy.blackholeOpenConnections();

      long start = System.nanoTime();
      List<RedisFuture<String>> inFlight = new ArrayList<>();
      for (int i = 0; i < 5; i++) {
        inFlight.add(connection.async().get("k"));
      }
      // Three time out, which closes the connection; the others fail with it if they were not
      // quite as old, or time out too.
      int timeouts = 0;
      for (RedisFuture<String> f : inFlight) {
        Throwable failure = catchThrowable(() -> f.get(5, TimeUnit.SECONDS));
        assertThat(failure).isInstanceOf(ExecutionException.class);
        if (failure.getCause() instanceof RedisCommandTimeoutException) {
          timeouts++;
        } else {
          assertThat(failure.getCause()).hasMessage("Connection disconnected");
        }
      }
      assertThat(timeouts).isGreaterThanOrEqualTo(3);
      assertThat(firstAnswer(connection, COMMAND_TIMEOUT.plus(SLACK))).isEqualTo("v");
      assertThat(since(start)).isLessThan(COMMAND_TIMEOUT.plus(SLACK));
      assertThat(reconnects("timeouts")).isEqualTo(1.0);
      assertThat(proxy.acceptedConnections()).isEqualTo(2);
    }
  }

  @Test
  void anIdleConnectionThatWentSilentIsReplacedByTheProbeBeforeTheNextCommand() throws Exception {
    Duration interval = Duration.ofMillis(500);
    Duration probeTimeout = Duration.ofMillis(300);
    RedisClient client = build(throughProxy().idleProbe(interval, probeTimeout));
    try (StatefulRedisConnection<String, String> connection = client.connect()) {
      connection.sync().set("k", "v");
      long start = System.nanoTime();
      proxy.blackholeOpenConnections();

      Await.until(
          interval.plus(probeTimeout).plus(SLACK),
          "probe reconnect",
          // The second connection reached the server, so the first is closed; open again, so the
          // client is back on the second.
          () ->
              reconnects("probe") == 1.0
                  && proxy.acceptedConnections() == 2
                  && connection.isOpen());
      assertThat(since(start)).isLessThan(interval.plus(probeTimeout).plus(SLACK));

      // The next command finds the new connection: no timeout is spent on the silent one.
      long command = System.nanoTime();
      assertThat(connection.sync().get("k")).isEqualTo("v");
      assertThat(since(command)).isLessThan(COMMAND_TIMEOUT);
      assertThat(reconnects("timeouts")).isZero();
    }
  }

  @Test
  void aSlowButAnsweringServerIsNeverTreatedAsSilent() throws Exception {
    Duration interval = Duration.ofMillis(300);
    Duration timeout = Duration.ofSeconds(1);
    RedisClient client =
        build(throughProxy(timeout).idleProbe(interval, timeout).meterRegistry(registry));
    try (StatefulRedisConnection<String, String> connection = client.connect()) {
      connection.sync().set("k", "v");
      // Under the command timeout, even for answers that arrive in two chunks, each delayed.
      proxy.latencyToClient(Duration.ofMillis(250));

      for (int i = 0; i < 3; i++) {
        assertThat(connection.sync().get("k")).isEqualTo("v");
      }
      List<RedisFuture<String>> inFlight = new ArrayList<>();
      for (int i = 0; i < 10; i++) {
        inFlight.add(connection.async().get("k"));
      }
      for (RedisFuture<String> f : inFlight) {
        assertThat(f.get(5, TimeUnit.SECONDS)).isEqualTo("v");
      }
      // Idle: probes go out and come back through the same latency.
      long probes = detector(client).probes();
      Await.until(
          Duration.ofSeconds(10), "two probes", () -> detector(client).probes() >= probes + 2);
      assertThat(connection.sync().get("k")).isEqualTo("v");

      assertThat(reconnects("timeouts")).isZero();
      assertThat(reconnects("probe")).isZero();
      assertThat(proxy.acceptedConnections()).isOne();
    }
  }

  @Test
  void theProbeNeverRunsWhileCommandsFlow() throws Exception {
    Duration interval = Duration.ofMillis(200);
    RedisClient client = build(throughProxy().idleProbe(interval, COMMAND_TIMEOUT));
    try (StatefulRedisConnection<String, String> connection = client.connect()) {
      long start = System.nanoTime();
      while (since(start).compareTo(interval.multipliedBy(8)) < 0) {
        connection.sync().set("k", "v"); // well under the interval apart
      }
      assertThat(detector(client).probes()).isZero();

      Await.until(Duration.ofSeconds(5), "a probe once idle", () -> detector(client).probes() > 0);
      assertThat(reconnects("probe")).isZero();
    }
  }

  @Test
  @SuppressWarnings("unchecked") // xread's varargs of a generic StreamOffset
  void blockingCommandsOnADedicatedConnectionWithARaisedTimeoutAreNotSilence() throws Exception {
    Duration interval = Duration.ofMillis(200);
    RedisClient client = build(throughProxy().idleProbe(interval, Duration.ofMillis(200)));
    RedisClient pusher = build(Pools.redis(direct).meterRegistry(new SimpleMeterRegistry()));
    try (StatefulRedisConnection<String, String> blocking = client.connect();
        StatefulRedisConnection<String, String> other = pusher.connect()) {
      // Its wait (1.5 s) is far past the probe's interval and timeout and three command timeouts.
      blocking.setTimeout(Duration.ofSeconds(5));
      RedisCommands<String, String> redis = blocking.sync();

      assertThat(redis.blpop(1.5, "empty-list")).isNull();

      RedisFuture<KeyValue<String, String>> waiting = blocking.async().blpop(3, "jobs");
      Await.until(
          Duration.ofSeconds(5),
          "the BLPOP to block",
          () -> other.sync().clientList().contains("cmd=blpop"));
      other.sync().rpush("jobs", "job-1");
      assertThat(waiting.get(5, TimeUnit.SECONDS)).isEqualTo(KeyValue.just("jobs", "job-1"));

      List<StreamMessage<String, String>> read =
          redis.xread(XReadArgs.Builder.block(1500), XReadArgs.StreamOffset.latest("stream"));
      assertThat(read).isEmpty();

      assertThat(reconnects("timeouts")).isZero();
      assertThat(reconnects("probe")).isZero();
      assertThat(proxy.acceptedConnections()).isOne();
    }
  }

  @Test
  void anIdleSubscriberIsProbedAndResubscribedAfterItWentSilent() throws Exception {
    Duration interval = Duration.ofMillis(300);
    RedisClient client = build(throughProxy().idleProbe(interval, Duration.ofMillis(300)));
    RedisClient publisher = build(Pools.redis(direct).meterRegistry(new SimpleMeterRegistry()));
    BlockingQueue<String> received = new LinkedBlockingQueue<>();
    try (StatefulRedisPubSubConnection<String, String> subscriber = client.connectPubSub();
        StatefulRedisConnection<String, String> other = publisher.connect()) {
      subscriber.addListener(
          new RedisPubSubAdapter<>() {
            @Override
            public void message(String channel, String message) {
              received.add(message);
            }
          });
      subscriber.sync().subscribe("news");

      long probes = detector(client).probes();
      Await.until(
          Duration.ofSeconds(5), "two probes", () -> detector(client).probes() >= probes + 2);
      assertThat(reconnects("probe")).isZero();
      other.sync().publish("news", "after the probes");
      assertThat(received.poll(5, TimeUnit.SECONDS)).isEqualTo("after the probes");

      proxy.blackholeOpenConnections();
      Await.until(Duration.ofSeconds(5), "probe reconnect", () -> reconnects("probe") == 1.0);
      // Lettuce subscribes again on the new connection; until then a message reaches no one.
      Await.until(
          Duration.ofSeconds(5),
          "a message on the new connection",
          () -> {
            other.sync().publish("news", "after the reconnect");
            return "after the reconnect".equals(received.poll(100, TimeUnit.MILLISECONDS));
          });
    }
  }

  @Test
  void anOpenTransactionIsNotProbed() throws Exception {
    Duration interval = Duration.ofMillis(200);
    // Lettuce completes queued commands at EXEC, so the wait below must stay under their timeout.
    RedisClient client =
        build(
            throughProxy(Duration.ofSeconds(3))
                .idleProbe(interval, Duration.ofMillis(200))
                .meterRegistry(registry));
    try (StatefulRedisConnection<String, String> connection = client.connect()) {
      RedisCommands<String, String> redis = connection.sync();
      redis.multi();
      redis.set("k", "in a transaction");
      long probes = detector(client).probes();
      // An absence has no event to wait for: idle for five probe intervals, long enough for a
      // probe to go out (and so join the transaction) had the MULTI not held it back.
      Thread.sleep(interval.multipliedBy(5).toMillis());
      assertThat(detector(client).probes()).isEqualTo(probes);

      TransactionResult result = redis.exec();
      assertThat(result.wasDiscarded()).isFalse();
      String set = result.get(0);
      assertThat(set).isEqualTo("OK");
      assertThat(result).hasSize(1);

      Await.until(
          Duration.ofSeconds(5), "a probe after EXEC", () -> detector(client).probes() > probes);
      assertThat(redis.get("k")).isEqualTo("in a transaction");
      assertThat(reconnects("probe")).isZero();
    }
  }

  @Test
  void turnedOffASilentConnectionTimesOutCommandAfterCommand() throws Exception {
    RedisClient client = build(throughProxy(COMMAND_TIMEOUT).detectSilentConnections(false));
    assertThat(((OwningRedisClient) client).detector()).isNull();
    try (StatefulRedisConnection<String, String> connection = client.connect()) {
      connection.sync().set("k", "v");
      proxy.blackholeOpenConnections();
      for (int i = 0; i < 5; i++) {
        assertThatThrownBy(() -> connection.sync().get("k"))
            .isInstanceOf(RedisCommandTimeoutException.class);
      }
      assertThat(proxy.acceptedConnections()).isOne();
      assertThat(registry.find("bulwark.pool.redis.reconnects").meters()).isEmpty();
    }
  }

  @Test
  void theMetersLeaveWithTheClient() {
    RedisClient client = build(throughProxy());
    assertThat(registry.find("bulwark.pool.redis.reconnects").meters())
        .extracting(m -> m.getId().getTag("cause"))
        .containsExactlyInAnyOrder("timeouts", "probe");
    assertThatThrownBy(() -> throughProxy().build())
        .isInstanceOf(IllegalStateException.class)
        .hasMessage(
            "meterRegistry already holds the meters of a Redis client named \"redis\": give each"
                + " Redis client its own name");
    RedisClient second = build(throughProxy().name("sessions"));

    client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
    assertThat(registry.find("bulwark.pool.redis.reconnects").tag("name", "redis").meters())
        .isEmpty();
    assertThat(registry.find("bulwark.pool.redis.reconnects").tag("name", "sessions").meters())
        .hasSize(2);
    second.shutdown(Duration.ZERO, Duration.ofSeconds(2));
    assertThat(registry.find("bulwark.pool.redis.reconnects").meters()).isEmpty();
    // Built again under the freed name.
    build(throughProxy());
    assertThat(registry.find("bulwark.pool.redis.reconnects").tag("name", "redis").meters())
        .hasSize(2);
  }
}

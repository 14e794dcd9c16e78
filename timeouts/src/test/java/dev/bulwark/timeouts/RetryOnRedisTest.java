package dev.bulwark.timeouts;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.bulwark.testing.RedisExtension;
import dev.bulwark.testing.TestRedis;
import io.lettuce.core.ClientOptions;
import io.lettuce.core.ClientOptions.DisconnectedBehavior;
import io.lettuce.core.KillArgs;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisCommandExecutionException;
import io.lettuce.core.RedisCommandTimeoutException;
import io.lettuce.core.RedisConnectionException;
import io.lettuce.core.RedisException;
import io.lettuce.core.RedisURI;
import io.lettuce.core.TimeoutOptions;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.resource.ClientResources;
import io.lettuce.core.resource.Delay;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The Redis classifiers against failures provoked on a real server through Lettuce. */
@ExtendWith(RedisExtension.class)
class RetryOnRedisTest {
  private static final Duration WAIT = Duration.ofSeconds(20);
  private static final Duration POLL = Duration.ofMillis(2);

  /** Long enough that a dropped connection stays down while a test looks at it. */
  private static final Duration NO_RECONNECT = Duration.ofMinutes(1);

  private final List<AutoCloseable> closeLast = new ArrayList<>();
  private final ExecutorService threads = Executors.newSingleThreadExecutor();

  @AfterEach
  void close() throws Exception {
    threads.shutdownNow();
    assertThat(threads.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
    for (int i = closeLast.size() - 1; i >= 0; i--) {
      closeLast.get(i).close();
    }
  }

  @Test
  void aPausedServerIsACommandTimeout(TestRedis redis, RedisURI uri) {
    StatefulRedisConnection<String, String> c =
        client(NO_RECONNECT, Duration.ofMillis(200)).connect(uri);
    closeLast.add(c);
    redis.pause(Duration.ofSeconds(1));

    Throwable timeout = catchThrowable(() -> c.sync().get("k"));

    assertThat(timeout)
        .isExactlyInstanceOf(RedisCommandTimeoutException.class)
        .hasMessage("Command timed out after 200 millisecond(s)");
    assertMatches(timeout, false, true);
  }

  @Test
  void aClosedPortIsAConnectionFailure(RedisURI uri) throws IOException {
    RedisClient client = client(NO_RECONNECT);
    RedisURI closed = RedisURI.builder(uri).withPort(closedPort()).build();

    Throwable refused = catchThrowable(() -> client.connect(closed));

    assertThat(refused)
        .isExactlyInstanceOf(RedisConnectionException.class)
        .hasMessageStartingWith("Unable to connect to 127.0.0.1");
    assertThat(refused).hasRootCauseInstanceOf(java.net.ConnectException.class);
    assertMatches(refused, true, false);
  }

  @Test
  void aConnectionTheServerDropsFailsItsCommandInFlightThenRejectsCommands(
      TestRedis redis, RedisURI uri) throws Exception {
    StatefulRedisConnection<String, String> c = connect(uri, NO_RECONNECT);
    long id = c.sync().clientId();
    Future<?> blocked = threads.submit(() -> c.sync().blpop(30, "empty"));
    awaitBlocked(uri, id);

    kill(uri, id);

    Throwable inFlight = causeOf(blocked);
    assertThat(inFlight)
        .isExactlyInstanceOf(RedisException.class)
        .hasMessage("Connection disconnected");
    assertMatches(inFlight, true, false);

    await(() -> !c.isOpen(), "the connection to notice it is closed");
    Throwable rejected = catchThrowable(() -> c.sync().get("k"));
    assertThat(rejected)
        .isExactlyInstanceOf(RedisException.class)
        .hasMessage("Currently not connected. Commands are rejected.");
    assertMatches(rejected, true, false);
  }

  @Test
  void aConnectionResetFailsItsCommandInFlight(TestRedis redis, RedisURI uri) throws Exception {
    ResettingProxy proxy = new ResettingProxy(redis.host(), redis.port());
    closeLast.add(proxy);
    StatefulRedisConnection<String, String> c =
        connect(RedisURI.builder(uri).withPort(proxy.port()).build(), NO_RECONNECT);
    long id = c.sync().clientId();
    Future<?> blocked = threads.submit(() -> c.sync().blpop(30, "empty"));
    awaitBlocked(uri, id);

    proxy.reset();

    Throwable reset = causeOf(blocked);
    // The sync API wraps the I/O failure: "java.net.SocketException: Connection reset" with NIO.
    assertThat(reset).isExactlyInstanceOf(RedisException.class);
    assertThat(reset.getCause())
        .isInstanceOf(IOException.class)
        .hasMessageContaining("Connection reset");
    assertThat(reset).hasMessage(reset.getCause().toString());
    assertMatches(reset, true, false);
  }

  @Test
  void aConnectionTheApplicationClosesFailsItsCommandInFlightButNotTheNextOne(RedisURI uri)
      throws Exception {
    StatefulRedisConnection<String, String> c = connect(uri, NO_RECONNECT);
    long id = c.sync().clientId();
    Future<?> blocked = threads.submit(() -> c.sync().blpop(30, "empty"));
    awaitBlocked(uri, id);

    c.close();
    closeLast.remove(c);

    Throwable inFlight = causeOf(blocked);
    assertThat(inFlight).isExactlyInstanceOf(RedisException.class).hasMessage("Connection closed");
    assertMatches(inFlight, true, false);

    // Using a connection the application closed is a bug, not an outage.
    Throwable afterClose = catchThrowable(() -> c.sync().get("k"));
    assertThat(afterClose)
        .isExactlyInstanceOf(RedisException.class)
        .hasMessage("Connection is closed");
    assertMatches(afterClose, false, false);
  }

  @Test
  void aHandshakeTheServerRefusesIsNotRetried(RedisURI uri) {
    RedisClient client = client(NO_RECONNECT);
    RedisURI unknownUser =
        RedisURI.builder(uri).withAuthentication("nobody", "s3cret-pw".toCharArray()).build();

    Throwable refused = refusedHandshake(() -> client.connect(unknownUser));

    assertThat(refused).isExactlyInstanceOf(RedisConnectionException.class);
    assertThat(refused).hasRootCauseInstanceOf(RedisCommandExecutionException.class);
    assertThat(refused).rootCause().hasMessageStartingWith("WRONGPASS");
    assertThat(refused.toString()).doesNotContain("s3cret-pw");
    assertMatches(refused, false, false);

    RedisURI noSuchDatabase = RedisURI.builder(uri).withDatabase(99).build();
    Throwable outOfRange = refusedHandshake(() -> client.connect(noSuchDatabase));
    assertThat(outOfRange).isExactlyInstanceOf(RedisConnectionException.class);
    assertThat(outOfRange).rootCause().hasMessage("ERR DB index is out of range");
    assertMatches(outOfRange, false, false);
  }

  @Test
  void anErrorReplyIsNotRetried(RedisURI uri) {
    StatefulRedisConnection<String, String> c = connect(uri, NO_RECONNECT);
    c.sync().lpush("list", "x");

    Throwable wrongType = catchThrowable(() -> c.sync().incr("list"));

    assertThat(wrongType)
        .isExactlyInstanceOf(RedisCommandExecutionException.class)
        .hasMessageStartingWith("WRONGTYPE");
    assertMatches(wrongType, false, false);
  }

  @Test
  void retryRunsACommandAgainOnceRedisIsBack(TestRedis redis, RedisURI uri) throws Exception {
    assumeTrue(redis.isEmbedded(), "stops and starts the server");
    closeLast.add(redis::start);
    StatefulRedisConnection<String, String> c = connect(uri, Duration.ofMillis(50));
    redis.stop();
    await(() -> !c.isOpen(), "the connection to notice the server is gone");
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    AtomicInteger attempts = new AtomicInteger();
    Retry retry =
        Retry.builder("redis-counter")
            .maxAttempts(3)
            .retryIf(RetryOn.redisTransient())
            .meterRegistry(registry)
            .sleeper(
                nanos -> {
                  // The backoff is where the outage ends: Redis comes back, the client reconnects.
                  redis.start();
                  await(c::isOpen, "the client to reconnect");
                })
            .build();

    long value =
        retry.call(
            () -> {
              attempts.incrementAndGet();
              return c.sync().incr("counter");
            });

    assertThat(value).isEqualTo(1);
    assertThat(attempts).hasValue(2);
    assertThat(
            registry
                .get("bulwark.timeouts.retry.calls")
                .tag("outcome", "success_after_retry")
                .counter()
                .count())
        .isEqualTo(1.0);
  }

  /**
   * Asserts what the three Redis classifiers say. Every failure here is also one no PostgreSQL
   * classifier matches.
   */
  private static void assertMatches(Throwable failure, boolean connection, boolean timeout) {
    assertThat(RetryOn.redisConnectionFailure().test(failure))
        .as("redisConnectionFailure on %s", failure)
        .isEqualTo(connection);
    assertThat(RetryOn.redisCommandTimeout().test(failure))
        .as("redisCommandTimeout on %s", failure)
        .isEqualTo(timeout);
    assertThat(RetryOn.redisTransient().test(failure))
        .as("redisTransient on %s", failure)
        .isEqualTo(connection || timeout);
    assertThat(RetryOn.postgresTransient().test(failure)).isFalse();
  }

  /**
   * A client as bulwark's hardened one is set up: it reconnects on its own, and rejects commands
   * while it is disconnected instead of queueing them.
   */
  private RedisClient client(Duration reconnectDelay) {
    return client(reconnectDelay, Duration.ofSeconds(10));
  }

  private RedisClient client(Duration reconnectDelay, Duration commandTimeout) {
    ClientResources resources =
        ClientResources.builder().reconnectDelay(Delay.constant(reconnectDelay)).build();
    RedisClient client = RedisClient.create(resources);
    client.setOptions(
        ClientOptions.builder()
            .autoReconnect(true)
            .disconnectedBehavior(DisconnectedBehavior.REJECT_COMMANDS)
            .timeoutOptions(TimeoutOptions.enabled(commandTimeout))
            .build());
    closeLast.add(() -> resources.shutdown(0, 2, TimeUnit.SECONDS).get());
    closeLast.add(() -> client.shutdown(Duration.ZERO, Duration.ofSeconds(2)));
    return client;
  }

  private StatefulRedisConnection<String, String> connect(RedisURI uri, Duration reconnectDelay) {
    StatefulRedisConnection<String, String> connection = client(reconnectDelay).connect(uri);
    closeLast.add(connection);
    return connection;
  }

  /** Waits until the server lists client {@code id} as blocked in {@code BLPOP}. */
  private void awaitBlocked(RedisURI uri, long id) {
    RedisClient admin = client(NO_RECONNECT);
    try (StatefulRedisConnection<String, String> c = admin.connect(uri)) {
      await(
          () ->
              c.sync()
                  .clientList()
                  .lines()
                  .anyMatch(
                      line ->
                          line.startsWith("id=" + id + " ")
                              && line.contains(" flags=b ")
                              && line.contains(" cmd=blpop")),
          "client " + id + " to block in BLPOP");
    }
  }

  /**
   * The failure of a handshake the server refuses. Lettuce closes the channel when the handshake
   * fails, and on a loaded machine the close is sometimes seen first, so the failure then says
   * "Connection closed prematurely" instead of carrying the server's error; such an attempt is made
   * again, at most 20 times.
   */
  private static Throwable refusedHandshake(ThrowingCallable connect) {
    Throwable failure = catchThrowable(connect);
    for (int i = 1;
        i < 20 && !(rootCause(failure) instanceof RedisCommandExecutionException);
        i++) {
      failure = catchThrowable(connect);
    }
    return failure;
  }

  private static Throwable rootCause(Throwable t) {
    Throwable root = t;
    while (root.getCause() != null && root.getCause() != root) {
      root = root.getCause();
    }
    return root;
  }

  private void kill(RedisURI uri, long id) {
    try (StatefulRedisConnection<String, String> c = client(NO_RECONNECT).connect(uri)) {
      assertThat(c.sync().clientKill(KillArgs.Builder.id(id))).isEqualTo(1);
    }
  }

  private static void await(BooleanSupplier condition, String what) {
    long end = System.nanoTime() + WAIT.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > end) {
        throw new AssertionError("waited " + WAIT + " for " + what);
      }
      LockSupport.parkNanos(POLL.toNanos());
    }
  }

  private static Throwable causeOf(Future<?> future) throws Exception {
    try {
      future.get(WAIT.toSeconds(), TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      return e.getCause();
    }
    throw new AssertionError("the command did not fail");
  }

  private static int closedPort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return socket.getLocalPort();
    }
  }
}

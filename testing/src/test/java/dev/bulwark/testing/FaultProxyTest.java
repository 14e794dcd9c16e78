package dev.bulwark.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import io.lettuce.core.ClientOptions;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisCommandTimeoutException;
import io.lettuce.core.RedisConnectionException;
import io.lettuce.core.RedisURI;
import io.lettuce.core.api.StatefulRedisConnection;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

@ExtendWith({RedisExtension.class, PostgresExtension.class})
class FaultProxyTest {
  private static final String THREAD_PREFIX = "bulwark-testing-fault-proxy-";

  @Test
  void forwardsALettuceCommandAndCountsTheTraffic(TestRedis redis) {
    try (FaultProxy proxy = FaultProxy.to(redis.host(), redis.port())) {
      assertThat(proxy.host()).isEqualTo("127.0.0.1");
      assertThat(proxy.port()).isPositive().isNotEqualTo(redis.port());
      RedisClient client = RedisClient.create(through(proxy, redis, Duration.ofSeconds(5)));
      try (StatefulRedisConnection<String, String> c = client.connect()) {
        c.sync().set("fault-proxy", "v");
        assertThat(c.sync().get("fault-proxy")).isEqualTo("v");
        assertThat(proxy.connections()).isOne();
        assertThat(proxy.acceptedConnections()).isOne();
        assertThat(proxy.bytesToServer()).isPositive();
        assertThat(proxy.bytesToClient()).isPositive();
        assertThat(proxy.bytesSwallowed()).isZero();
      } finally {
        client.shutdown();
      }
      await(() -> proxy.connections() == 0);
    }
  }

  @Test
  void blackholedLettuceCommandTimesOutAndTheConnectionStaysOpen(TestRedis redis) {
    try (FaultProxy proxy = FaultProxy.to(redis.host(), redis.port())) {
      RedisClient client = RedisClient.create(through(proxy, redis, Duration.ofMillis(500)));
      try (StatefulRedisConnection<String, String> c = client.connect()) {
        assertThat(c.sync().ping()).isEqualTo("PONG");
        long toClient = proxy.bytesToClient();

        proxy.blackhole(true);
        long start = System.nanoTime();
        assertThatThrownBy(() -> c.sync().ping()).isInstanceOf(RedisCommandTimeoutException.class);

        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(2));
        assertThat(proxy.connections()).isOne();
        assertThat(c.isOpen()).isTrue();
        assertThat(proxy.bytesSwallowed()).isPositive();
        assertThat(proxy.bytesToClient()).isEqualTo(toClient);
        assertThat(proxy.toString()).endsWith(", blackhole]");
      } finally {
        client.shutdown();
      }
    }
  }

  @Test
  void blackholingTheOpenConnectionsSilencesThemAndLetsNewOnesPass(TestRedis redis) {
    try (FaultProxy proxy = FaultProxy.to(redis.host(), redis.port())) {
      RedisClient client = RedisClient.create(through(proxy, redis, Duration.ofMillis(500)));
      try (StatefulRedisConnection<String, String> old = client.connect()) {
        assertThat(old.sync().ping()).isEqualTo("PONG");

        assertThat(proxy.blackholeOpenConnections()).isOne();
        assertThat(proxy.blackholeOpenConnections()).isZero(); // already silenced
        proxy.heal(); // does not undo it: those bytes are lost for good
        assertThatThrownBy(() -> old.sync().ping())
            .isInstanceOf(RedisCommandTimeoutException.class);
        assertThat(old.isOpen()).isTrue();
        assertThat(proxy.bytesSwallowed()).isPositive();

        try (StatefulRedisConnection<String, String> fresh = client.connect()) {
          assertThat(fresh.sync().ping()).isEqualTo("PONG");
          assertThat(proxy.connections()).isEqualTo(2);
          assertThat(proxy.toString()).doesNotContain("blackhole");
        }
      } finally {
        client.shutdown();
      }
    }
  }

  @Test
  void blackholedPgjdbcQueryFailsOnItsSocketTimeout(TestPostgres postgres) throws SQLException {
    try (FaultProxy proxy = FaultProxy.to(postgres.host(), postgres.port());
        Connection c =
            DriverManager.getConnection(
                jdbcUrl(proxy, postgres) + "?socketTimeout=1",
                postgres.user(),
                postgres.password());
        Statement s = c.createStatement()) {
      assertThat(selectOne(s)).isOne();

      proxy.blackhole(true);
      long start = System.nanoTime();
      Throwable failure = catchThrowable(() -> selectOne(s));

      assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(3));
      assertThat(failure).isInstanceOf(SQLException.class);
      assertThat(failure).hasRootCauseInstanceOf(SocketTimeoutException.class);
      assertThat(c.isClosed()).as("pgjdbc gives up a connection after a socket timeout").isTrue();
    }
  }

  @Test
  void latencyDelaysEachDirectionAtLeastAsConfigured(TestRedis redis) {
    Duration latency = Duration.ofMillis(200);
    try (FaultProxy proxy = FaultProxy.to(redis.host(), redis.port())) {
      RedisClient client = RedisClient.create(through(proxy, redis, Duration.ofSeconds(10)));
      try (StatefulRedisConnection<String, String> c = client.connect()) {
        assertThat(c.sync().ping()).isEqualTo("PONG");

        proxy.latencyToServer(latency);
        assertThat(timePing(c)).isGreaterThanOrEqualTo(latency);

        proxy.latencyToServer(Duration.ZERO).latencyToClient(latency);
        assertThat(timePing(c)).isGreaterThanOrEqualTo(latency);

        proxy.latencyToServer(latency);
        assertThat(timePing(c)).isGreaterThanOrEqualTo(latency.multipliedBy(2));
        assertThat(proxy.toString())
            .isEqualTo(
                "FaultProxy[127.0.0.1:"
                    + proxy.port()
                    + " -> "
                    + redis.host()
                    + ":"
                    + redis.port()
                    + ", latencyToServer=200 ms, latencyToClient=200 ms]");

        proxy.heal();
        assertThat(c.sync().ping()).isEqualTo("PONG");
      } finally {
        client.shutdown();
      }
    }
  }

  @Test
  void resetConnectionsMakesTheClientSeeAReset(TestRedis redis) throws Exception {
    try (FaultProxy proxy = FaultProxy.to(redis.host(), redis.port());
        Socket socket = new Socket(proxy.host(), proxy.port())) {
      socket.setSoTimeout(10_000);
      OutputStream out = socket.getOutputStream();
      BufferedReader in =
          new BufferedReader(
              new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
      out.write("PING\r\n".getBytes(StandardCharsets.UTF_8));
      out.flush();
      assertThat(in.readLine()).isNotNull(); // +PONG, or -NOAUTH on a server with a password
      await(() -> proxy.connections() == 1);

      assertThat(proxy.resetConnections()).isOne();

      assertThatThrownBy(in::read)
          .isInstanceOf(SocketException.class)
          .hasMessageContaining("Connection reset");
      assertThat(proxy.connections()).isZero();
      assertThat(proxy.resetConnections()).isZero();
    }
  }

  @Test
  void refusedNewConnectionsFailAndHealServesThemAgain(TestRedis redis) {
    try (FaultProxy proxy = FaultProxy.to(redis.host(), redis.port())) {
      RedisClient client = RedisClient.create(through(proxy, redis, Duration.ofSeconds(5)));
      client.setOptions(ClientOptions.builder().autoReconnect(false).build());
      try (StatefulRedisConnection<String, String> open = client.connect()) {
        proxy.refuseNewConnections(true);

        assertThatThrownBy(client::connect).isInstanceOf(RedisConnectionException.class);
        assertThat(proxy.refusedConnections()).isOne();
        assertThat(open.sync().ping()).as("open connections are left alone").isEqualTo("PONG");

        proxy.heal();
        try (StatefulRedisConnection<String, String> again = client.connect()) {
          assertThat(again.sync().ping()).isEqualTo("PONG");
        }
        assertThat(proxy.acceptedConnections()).isEqualTo(2);
      } finally {
        client.shutdown();
      }
    }
  }

  @Test
  void healAfterABlackholeServesNewConnections(TestRedis redis) {
    try (FaultProxy proxy = FaultProxy.to(redis.host(), redis.port())) {
      RedisClient client = RedisClient.create(through(proxy, redis, Duration.ofMillis(500)));
      try (StatefulRedisConnection<String, String> lost = client.connect()) {
        proxy.blackhole(true);
        assertThatThrownBy(() -> lost.sync().ping())
            .isInstanceOf(RedisCommandTimeoutException.class);

        proxy.heal();
        assertThat(proxy.toString()).doesNotContain("blackhole");
        try (StatefulRedisConnection<String, String> c = client.connect()) {
          assertThat(c.sync().ping()).isEqualTo("PONG");
        }
      } finally {
        client.shutdown();
      }
    }
  }

  @Test
  void connectionsOverTheBoundAreReset(TestRedis redis) throws Exception {
    List<Socket> sockets = new ArrayList<>();
    try (FaultProxy proxy = FaultProxy.to(redis.host(), redis.port())) {
      for (int i = 0; i < FaultProxy.MAX_CONNECTIONS; i++) {
        sockets.add(new Socket(proxy.host(), proxy.port()));
      }
      await(() -> proxy.acceptedConnections() == FaultProxy.MAX_CONNECTIONS);

      try (Socket over = new Socket(proxy.host(), proxy.port())) {
        over.setSoTimeout(10_000);
        Throwable failure =
            catchThrowable(() -> assertThat(over.getInputStream().read()).isEqualTo(-1));
        if (failure != null) {
          assertThat(failure).isInstanceOf(SocketException.class).hasMessageContaining("reset");
        }
      }
      assertThat(proxy.refusedConnections()).isOne();
      assertThat(proxy.connections()).isEqualTo(FaultProxy.MAX_CONNECTIONS);
    } finally {
      for (Socket socket : sockets) {
        socket.close();
      }
    }
  }

  @Test
  void closeEndsEveryConnectionAndThread(TestRedis redis) throws Exception {
    FaultProxy proxy = FaultProxy.to(redis.host(), redis.port());
    try (Socket socket = new Socket(proxy.host(), proxy.port())) {
      socket.setSoTimeout(10_000);
      await(() -> proxy.connections() == 1);
      assertThat(liveProxyThreads()).isPositive();

      proxy.close();

      assertThat(socket.getInputStream().read()).isEqualTo(-1);
      assertThat(proxy.connections()).isZero();
      await(() -> liveProxyThreads() == 0);
      assertThat(proxy.toString()).endsWith(", closed]");
      proxy.close();
    }
    assertThatThrownBy(() -> new Socket(proxy.host(), proxy.port()).close())
        .isInstanceOf(SocketException.class);
  }

  @Test
  void settingsOutOfBoundsAreRefusedWithTheirValue(TestRedis redis) {
    assertThatThrownBy(() -> FaultProxy.to(" ", 6379))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("host must not be blank, but was \" \"");
    assertThatThrownBy(() -> FaultProxy.to("localhost", 0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("port must be between 1 and 65535, but was 0");
    try (FaultProxy proxy = FaultProxy.to(redis.host(), redis.port())) {
      assertThatThrownBy(() -> proxy.latencyToServer(Duration.ofMillis(-1)))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessage("latencyToServer must be between 0 ms and 60000 ms, but was -1 ms");
      assertThatThrownBy(() -> proxy.latencyToClient(Duration.ofSeconds(61)))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessage("latencyToClient must be between 0 ms and 60000 ms, but was 61000 ms");
    }
  }

  private static RedisURI through(FaultProxy proxy, TestRedis redis, Duration timeout) {
    RedisURI uri = redis.cleanDatabase();
    uri.setHost(proxy.host());
    uri.setPort(proxy.port());
    uri.setTimeout(timeout);
    return uri;
  }

  private static String jdbcUrl(FaultProxy proxy, TestPostgres postgres) {
    return "jdbc:postgresql://" + proxy.host() + ":" + proxy.port() + "/" + postgres.database();
  }

  private static int selectOne(Statement s) throws SQLException {
    try (ResultSet rs = s.executeQuery("select 1")) {
      rs.next();
      return rs.getInt(1);
    }
  }

  private static Duration timePing(StatefulRedisConnection<String, String> c) {
    long start = System.nanoTime();
    assertThat(c.sync().ping()).isEqualTo("PONG");
    return Duration.ofNanos(System.nanoTime() - start);
  }

  private static long liveProxyThreads() {
    return Thread.getAllStackTraces().keySet().stream()
        .filter(t -> t.isAlive() && t.getName().startsWith(THREAD_PREFIX))
        .count();
  }

  private static void await(BooleanSupplier condition) {
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("condition not met within 10 s");
      }
      Thread.onSpinWait();
    }
  }
}

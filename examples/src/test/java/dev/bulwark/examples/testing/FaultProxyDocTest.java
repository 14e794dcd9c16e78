package dev.bulwark.examples.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.bulwark.testing.FaultProxy;
import dev.bulwark.testing.PostgresExtension;
import dev.bulwark.testing.RedisExtension;
import dev.bulwark.testing.TestPostgres;
import dev.bulwark.testing.TestRedis;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisCommandTimeoutException;
import io.lettuce.core.RedisURI;
import io.lettuce.core.api.StatefulRedisConnection;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

// The test class of docs/testing.md's "FaultProxy" section, as the page shows it.

// snippet:begin testing-fault-proxy
@ExtendWith({RedisExtension.class, PostgresExtension.class})
class FaultProxyDocTest {

  @Test
  void aSilentRedisFailsTheCommandOnItsTimeout(TestRedis redis) {
    try (FaultProxy proxy = FaultProxy.to(redis.host(), redis.port())) {
      RedisURI uri = RedisURI.create(proxy.host(), proxy.port());
      uri.setTimeout(Duration.ofMillis(500));
      RedisClient client = RedisClient.create(uri);
      try (StatefulRedisConnection<String, String> c = client.connect()) {
        assertThat(c.sync().ping()).isEqualTo("PONG");

        proxy.blackhole(true); // the connection stays open; nothing comes back
        assertThatThrownBy(() -> c.sync().ping()).isInstanceOf(RedisCommandTimeoutException.class);

        proxy.heal(); // swallowed bytes stay lost: use a new connection
        try (StatefulRedisConnection<String, String> again = client.connect()) {
          assertThat(again.sync().ping()).isEqualTo("PONG");
        }
      } finally {
        client.shutdown();
      }
    }
  }

  @Test
  void aSilentPostgresFailsTheQueryOnTheSocketTimeout(TestPostgres pg) throws SQLException {
    try (FaultProxy proxy = FaultProxy.to(pg.host(), pg.port())) {
      String url = // socketTimeout in seconds
          "jdbc:postgresql://%s:%d/%s?socketTimeout=1"
              .formatted(proxy.host(), proxy.port(), pg.database());
      try (Connection c = DriverManager.getConnection(url, pg.user(), pg.password());
          Statement s = c.createStatement()) {
        proxy.latencyToServer(Duration.ofMillis(100)); // slower, still answered
        assertThat(s.execute("select 1")).isTrue();

        proxy.blackhole(true);
        assertThatThrownBy(() -> s.execute("select 1")).isInstanceOf(SQLException.class);
      }
    }
  }
}
// snippet:end

package dev.bulwark.examples.testing;

import static org.assertj.core.api.Assertions.assertThat;

import dev.bulwark.testing.PostgresExtension;
import dev.bulwark.testing.RedisExtension;
import dev.bulwark.testing.TestDatabase;
import dev.bulwark.testing.TestRedis;
import io.lettuce.core.RedisURI;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

// The test class of docs/testing.md's "JUnit 5" section, as the page shows it.

// snippet:begin testing-junit
@ExtendWith({RedisExtension.class, PostgresExtension.class})
class OrderServiceTest {

  @Test
  void survivesARedisRestart(TestRedis redis, RedisURI cleanDb) {
    // cleanDb: a freshly flushed Redis database (1..15, handed out in turn)
    redis.restart(); // same port, no data
    assertThat(redis.info("keyspace")).doesNotContain("keys=");
  }

  @Test
  void writesOnce(TestDatabase db) throws SQLException {
    // db: a new, empty PostgreSQL database, dropped when the test ends
    try (Connection c = db.connect();
        Statement s = c.createStatement()) {
      s.execute("create table orders(id bigint primary key)");
      assertThat(s.executeUpdate("insert into orders values (1)")).isOne();
    }
  }
}
// snippet:end

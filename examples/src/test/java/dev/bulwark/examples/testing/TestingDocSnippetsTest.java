package dev.bulwark.examples.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.zaxxer.hikari.HikariDataSource;
import dev.bulwark.pool.Pools;
import dev.bulwark.testing.PostgresExtension;
import dev.bulwark.testing.RedisExtension;
import dev.bulwark.testing.TestDatabase;
import dev.bulwark.testing.TestPostgres;
import dev.bulwark.testing.TestRedis;
import dev.bulwark.testing.TestRole;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import java.sql.Connection;
import java.sql.SQLException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Runs the Java snippets of {@code docs/testing.md} as written; the page's test class stands on its
 * own in {@link OrderServiceTest}.
 */
@ExtendWith({PostgresExtension.class, RedisExtension.class})
class TestingDocSnippetsTest {

  // snippet:begin testing-handoff
  @Test
  void ordersAreCached(TestDatabase db, TestRedis redis) throws SQLException {
    HikariDataSource pool = Pools.postgres(db.jdbcUrl(), db.user(), db.password()).build();
    RedisClient cache = Pools.redis(redis.cleanDatabaseUrl()).build();
    try (Connection c = pool.getConnection();
        StatefulRedisConnection<String, String> r = cache.connect()) {
      // hand pool and cache to the code under test; here, check both answer
      assertThat(c.isValid(1)).isTrue();
      assertThat(r.sync().dbsize()).isZero();
    } finally {
      cache.shutdown();
      pool.close();
    }
  }

  // snippet:end

  @Test
  void aRoleOfItsOwnHasItsPasswordChecked(TestPostgres postgres) {
    assumeTrue(postgres.isEmbedded(), "newRole edits the embedded server's pg_hba.conf");

    // snippet:begin testing-wrong-password
    try (TestRole role = postgres.newRole()) {
      // role.name(), role.password(): 24 letters and digits
      assertThatThrownBy(() -> Pools.postgres(postgres.jdbcUrl(), role.name(), "wrong").build())
          .rootCause()
          .hasMessageContaining("password authentication failed"); // SQLState 28P01
    }
    // snippet:end
  }
}

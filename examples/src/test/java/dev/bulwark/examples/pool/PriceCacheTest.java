package dev.bulwark.examples.pool;

import static org.assertj.core.api.Assertions.assertThat;

import dev.bulwark.pool.Pools;
import dev.bulwark.testing.RedisExtension;
import dev.bulwark.testing.TestRedis;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.api.StatefulRedisConnection;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

// The test of docs/pool.md's "From a RedisURI" section, as the page shows it: bulwark-testing's
// Redis handed to Pools.redis by URL and by RedisURI.

// snippet:begin pool-test-handoff
@ExtendWith(RedisExtension.class)
class PriceCacheTest {
  @Test
  void cachesPrices(TestRedis redis, RedisURI cleanDb) {
    RedisClient byUrl = Pools.redis(redis.cleanDatabaseUrl()).build(); // redis://127.0.0.1:port/N
    RedisClient byUri = Pools.redis(cleanDb).build();
    try (StatefulRedisConnection<String, String> a = byUrl.connect();
        StatefulRedisConnection<String, String> b = byUri.connect()) {
      assertThat(a.sync().dbsize()).isZero(); // each a database of its own, just flushed
      assertThat(b.sync().dbsize()).isZero();
    } finally {
      byUrl.shutdown();
      byUri.shutdown();
    }
  }
}
// snippet:end

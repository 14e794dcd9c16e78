package dev.bulwark.timeouts;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.bulwark.testing.RedisExtension;
import dev.bulwark.testing.TestRedis;
import io.lettuce.core.ClientOptions;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisCommandTimeoutException;
import io.lettuce.core.RedisURI;
import io.lettuce.core.api.StatefulRedisConnection;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** Per-command Redis timeouts taken from the caller's deadline, against a real Redis. */
@ExtendWith(RedisExtension.class)
class RedisTimeoutsTest {

  @Test
  void aCommandGetsOnlyWhatTheDeadlineHasLeft(TestRedis redis, RedisURI uri) {
    RedisClient client = RedisClient.create(uri);
    client.setOptions(
        ClientOptions.builder()
            .timeoutOptions(RedisTimeouts.timeoutOptions(Duration.ofSeconds(10)))
            .build());
    try (StatefulRedisConnection<String, String> c = client.connect()) {
      c.sync().set("k", "v");
      redis.pause(Duration.ofMillis(1500));
      long start = System.nanoTime();
      try (Deadline.Scope scope = Deadline.after(Duration.ofMillis(200)).enter()) {
        assertThatThrownBy(() -> c.sync().get("k"))
            .isInstanceOf(RedisCommandTimeoutException.class);
      }
      // Well under the pause and the 10 s command timeout.
      assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofMillis(1400));
      // Without a deadline the command waits out the pause and succeeds.
      assertThat(c.sync().get("k")).isEqualTo("v");
    } finally {
      client.shutdown();
    }
  }

  @Test
  void commandTimeoutIsClampedToTheCurrentDeadline() {
    assertThat(RedisTimeouts.commandTimeout(Duration.ofSeconds(5)))
        .isEqualTo(Duration.ofSeconds(5));
    try (Deadline.Scope scope = Deadline.after(Duration.ofMillis(100)).enter()) {
      assertThat(RedisTimeouts.commandTimeout(Duration.ofSeconds(5)))
          .isLessThanOrEqualTo(Duration.ofMillis(100));
    }
    try (Deadline.Scope scope = Deadline.after(Duration.ZERO).enter()) {
      assertThatThrownBy(() -> RedisTimeouts.commandTimeout(Duration.ofSeconds(5)))
          .isInstanceOf(TimeoutExceededException.class);
    }
    assertThatThrownBy(() -> RedisTimeouts.timeoutOptions(Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("commandTimeout must be positive, but was 0 ms");
  }
}

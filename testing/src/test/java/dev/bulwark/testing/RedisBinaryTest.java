package dev.bulwark.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.sentinel.api.StatefulRedisSentinelConnection;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

class RedisBinaryTest {

  @Test
  @ExtendWith(RedisExtension.class)
  void theServersRunTheConfiguredBinary(TestRedis redis) {
    Path binary = RedisBinary.configured();
    assumeTrue(binary != null, "needs " + RedisBinary.VARIABLE + " or " + RedisBinary.PROPERTY);
    assumeTrue(redis.isEmbedded(), "needs a server this JVM started");
    assertThat(redis.info("server")).contains("executable:" + binary);
    RedisClient client = RedisClient.create();
    try (StatefulRedisSentinelConnection<String, String> c =
        client.connectSentinel(
            RedisURI.create(
                "redis://127.0.0.1:" + TestRedisSentinel.get().sentinelPorts().get(0)))) {
      assertThat(c.sync().info("server")).contains("executable:" + binary);
    } finally {
      client.shutdown();
    }
  }

  @Test
  void nothingSetMeansTheEmbeddedBinary() {
    assertThat(RedisBinary.resolve(null, null)).isNull();
    assertThat(RedisBinary.resolve(" ", "")).isNull();
  }

  @Test
  void thePropertyWinsOverTheVariable(@TempDir Path dir) throws IOException {
    Path property = executable(dir.resolve("redis-7"));
    Path variable = executable(dir.resolve("redis-6"));
    assertThat(RedisBinary.resolve(property.toString(), variable.toString())).isEqualTo(property);
    assertThat(RedisBinary.resolve(null, " " + variable + " ")).isEqualTo(variable);
  }

  @Test
  void aMissingOrNonExecutableFileIsRefused(@TempDir Path dir) throws IOException {
    Path plain = Files.createFile(dir.resolve("plain"));
    assertThatThrownBy(() -> RedisBinary.resolve("no-such-redis-server", null))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage(
            "bulwark.test.redis.binary must name an executable redis-server file, but was"
                + " no-such-redis-server");
    assertThatThrownBy(() -> RedisBinary.resolve(null, plain.toString()))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage(
            "BULWARK_TEST_REDIS_BINARY must name an executable redis-server file, but was "
                + plain);
    assertThatThrownBy(() -> RedisBinary.resolve(null, dir.toString()))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageStartingWith("BULWARK_TEST_REDIS_BINARY must name an executable");
  }

  private static Path executable(Path file) throws IOException {
    Files.createFile(file);
    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rwxr-xr-x"));
    return file.toAbsolutePath();
  }
}

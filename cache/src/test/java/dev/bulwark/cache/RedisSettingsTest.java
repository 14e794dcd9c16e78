package dev.bulwark.cache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;
import static org.assertj.core.api.Assertions.assertThatIllegalStateException;
import static org.assertj.core.api.Assertions.assertThatNullPointerException;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.bulwark.testing.NoSecrets;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisConnectionException;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Every refusal of the Redis tier's settings, with its text; none needs a server. */
class RedisSettingsTest {
  // Nothing listens on port 1: a build that gets as far as connecting fails.
  private final RedisClient client = RedisClient.create("redis://:hunter2@127.0.0.1:1");

  @AfterEach
  void shutDown() {
    client.shutdown(Duration.ZERO, Duration.ofSeconds(1));
  }

  private BoundedCache.Builder<String, String> builder() {
    return BoundedCache.<String, String>builder("prices").maximumSize(100);
  }

  @Test
  void aRedisTierNeedsBothCodecs() {
    assertThatNullPointerException()
        .isThrownBy(() -> builder().redis(client, null, Codecs.utf8()))
        .withMessage(
            "redis needs a key codec: Codecs.utf8() for String keys, Codecs.text(Long::valueOf)");
    assertThatNullPointerException()
        .isThrownBy(() -> builder().redis(client, Codecs.utf8(), null))
        .withMessage("redis needs a value codec: Codecs.json(Price.class), Codecs.utf8(), ...");
    assertThatNullPointerException()
        .isThrownBy(() -> builder().redis((RedisClient) null, Codecs.utf8(), Codecs.utf8()))
        .withMessage("client");
  }

  @Test
  void aRedisTierNeedsExpireAfterWrite() {
    assertThatIllegalStateException()
        .isThrownBy(() -> builder().redis(client, Codecs.utf8(), Codecs.utf8()).build())
        .withMessage(
            "cache prices has a Redis tier and needs expireAfterWrite: it bounds how long an"
                + " instance that cannot hear invalidations serves an old value");
    assertThatIllegalStateException()
        .isThrownBy(
            () ->
                builder()
                    .expireAfterAccess(Duration.ofMinutes(5))
                    .redis(client, Codecs.utf8(), Codecs.utf8())
                    .build())
        .withMessageStartingWith("cache prices has a Redis tier and needs expireAfterWrite");
  }

  @Test
  void tagsCannotBeCombinedWithRedis() {
    assertThatIllegalStateException()
        .isThrownBy(
            () ->
                builder()
                    .expireAfterWrite(Duration.ofMinutes(5))
                    .tags(k -> java.util.List.of("t"))
                    .redis(client, Codecs.utf8(), Codecs.utf8())
                    .build())
        .withMessage(
            "tags cannot be combined with redis: a tag's invalidation would not reach the values"
                + " in Redis; give each tenant its own cache or key prefix, and invalidate keys");
  }

  @Test
  void theTiersSettingsNeedATier() {
    BoundedCache.Builder<String, String> b = builder().expireAfterWrite(Duration.ofMinutes(5));
    assertThatIllegalStateException()
        .isThrownBy(() -> builder().redisTtl(Duration.ofMinutes(1)).build())
        .withMessage("redisTtl needs a Redis tier: set redis(client, keyCodec, valueCodec)");
    assertThatIllegalStateException()
        .isThrownBy(() -> builder().redisPrefix("app").build())
        .withMessage("redisPrefix needs a Redis tier: set redis(client, keyCodec, valueCodec)");
    assertThatIllegalStateException()
        .isThrownBy(() -> builder().heartbeat(Duration.ofSeconds(2)).build())
        .withMessage("heartbeat needs a Redis tier: set redis(client, keyCodec, valueCodec)");
    assertThatIllegalStateException()
        .isThrownBy(() -> builder().redisTimeout(Duration.ofSeconds(2)).build())
        .withMessage("redisTimeout needs a Redis tier: set redis(client, keyCodec, valueCodec)");
    assertThatIllegalStateException()
        .isThrownBy(() -> b.singleFlight(Duration.ofSeconds(5), Duration.ofSeconds(1)).build())
        .withMessage("singleFlight needs a Redis tier: set redis(client, keyCodec, valueCodec)");
  }

  @Test
  void outOfRangeValuesAreRefusedByName() {
    assertThatIllegalArgumentException()
        .isThrownBy(() -> builder().redisTtl(Duration.ofDays(31)))
        .withMessage("redisTtl must be between 1 ms and 2592000000 ms, but was 2678400000 ms");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> builder().redisTimeout(Duration.ZERO))
        .withMessage("redisTimeout must be between 1 ms and 10000 ms, but was 0 ms");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> builder().heartbeat(Duration.ofMillis(10)))
        .withMessage("heartbeat must be between 50 ms and 60000 ms, but was 10 ms");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> builder().singleFlight(Duration.ofMillis(1), Duration.ofSeconds(1)))
        .withMessage("singleFlight lease must be between 10 ms and 600000 ms, but was 1 ms");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> builder().singleFlight(Duration.ofSeconds(1), Duration.ofMillis(-5)))
        .withMessage("singleFlight wait must be between 1 ms and 600000 ms, but was -5 ms");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> builder().redisPrefix("a b"))
        .withMessage(
            "redisPrefix must be 1 to 63 letters, digits, '.', '_' or '-', but was \"a b\"");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> builder().serveStaleFor(Duration.ZERO))
        .withMessageStartingWith("serveStaleFor must be positive");
  }

  @Test
  void eachSettingIsGivenOnce() {
    assertThatIllegalStateException()
        .isThrownBy(
            () ->
                builder()
                    .redis(client, Codecs.utf8(), Codecs.utf8())
                    .redis(client, Codecs.utf8(), Codecs.utf8()))
        .withMessage("redis was already set to RedisClient");
    assertThatIllegalStateException()
        .isThrownBy(
            () -> builder().heartbeat(Duration.ofSeconds(1)).heartbeat(Duration.ofSeconds(2)))
        .withMessage("heartbeat was already set to 1000 ms");
  }

  @Test
  void serveStaleForNeedsExpireAfterWrite() {
    assertThatIllegalStateException()
        .isThrownBy(() -> builder().serveStaleFor(Duration.ofMinutes(1)).build())
        .withMessage("serveStaleFor needs expireAfterWrite: a value is served stale past that age");
  }

  @Test
  void anUnreachableRedisFailsTheBuildWithoutItsPassword() {
    BoundedCache.Builder<String, String> b =
        builder()
            .expireAfterWrite(Duration.ofMinutes(5))
            .redis(client, Codecs.utf8(), Codecs.utf8());
    assertThat(b.toString())
        .isEqualTo(
            "BoundedCache.Builder[prices, maximumSize=100, expireAfterWrite=300000 ms,"
                + " redis=RedisClient]");
    Throwable thrown = org.assertj.core.api.Assertions.catchThrowable(b::build);
    assertThat(thrown).isInstanceOf(RedisConnectionException.class);
    NoSecrets.assertHidden(thrown, "hunter2");
  }

  @Test
  void codecsRoundTrip() {
    assertThat(Codecs.utf8().decode(Codecs.utf8().encode("zürich"))).isEqualTo("zürich");
    assertThat(Codecs.text(Long::valueOf).decode(Codecs.text(Long::valueOf).encode(42L)))
        .isEqualTo(42L);
    byte[] raw = {1, 2, 3};
    assertThat(Codecs.bytes().decode(Codecs.bytes().encode(raw))).isSameAs(raw);
    Codec<Price> json = Codecs.json(Price.class);
    assertThat(json.decode(json.encode(new Price("EUR", 1999)))).isEqualTo(new Price("EUR", 1999));
    assertThatThrownBy(
            () -> json.decode("{\"currency\":".getBytes(java.nio.charset.StandardCharsets.UTF_8)))
        .isInstanceOf(java.io.UncheckedIOException.class)
        .hasMessage("cannot read a Price from JSON");
    assertThat(json).hasToString("Codecs.json(Price)");
  }

  record Price(String currency, long cents) {}
}

package dev.bulwark.pool;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.assertj.core.api.Assertions.tuple;

import dev.bulwark.testing.NoSecrets;
import io.lettuce.core.ClientOptions;
import io.lettuce.core.ClientOptions.DisconnectedBehavior;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisCredentials;
import io.lettuce.core.RedisURI;
import io.lettuce.core.SocketOptions;
import io.lettuce.core.SslVerifyMode;
import io.lettuce.core.cluster.ClusterClientOptions;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.resource.ClientResources;
import io.lettuce.core.resource.EpollProvider;
import io.lettuce.core.resource.ExtendedKeepAliveSupport;
import io.lettuce.core.resource.IOUringProvider;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.Test;

/** Settings of the Redis builders; none of these talks to a server. */
class RedisClientBuilderTest {

  private static final String URL = "redis://127.0.0.1:6379";

  /** A transport stand-in, so both sides of the native-transport question are covered. */
  private static RedisSettings.Transport transport(boolean nativeTransport, boolean keepAlive) {
    return new RedisSettings.Transport() {
      @Override
      public boolean tcpUserTimeout() {
        return nativeTransport;
      }

      @Override
      public boolean extendedKeepAlive() {
        return keepAlive;
      }
    };
  }

  private static RedisClientBuilder builder(RedisSettings.Transport transport) {
    return new RedisClientBuilder(
        RedisURI.create(URL), "url=" + URL, new RedisSettings(transport, "redis"));
  }

  @Test
  void defaultsBoundEveryWait() {
    RedisClient client = Pools.redis(URL).build();
    try {
      ClientOptions options = client.getOptions();
      assertThat(options.isAutoReconnect()).isTrue();
      assertThat(options.getDisconnectedBehavior()).isEqualTo(DisconnectedBehavior.REJECT_COMMANDS);
      assertThat(options.getRequestQueueSize()).isEqualTo(10_000);
      assertThat(options.getTimeoutOptions().isTimeoutCommands()).isTrue();
      SocketOptions socket = options.getSocketOptions();
      assertThat(socket.getConnectTimeout()).isEqualTo(Duration.ofSeconds(2));
      assertThat(socket.isKeepAlive()).isTrue();
      if (ExtendedKeepAliveSupport.isSupported()) {
        assertThat(socket.getKeepAlive().getIdle()).isEqualTo(Duration.ofSeconds(30));
        assertThat(socket.getKeepAlive().getInterval()).isEqualTo(Duration.ofSeconds(10));
        assertThat(socket.getKeepAlive().getCount()).isEqualTo(3);
      }
      // TCP_USER_TIMEOUT only where Netty's native transport can set it.
      assertThat(socket.isEnableTcpUserTimeout())
          .isEqualTo(EpollProvider.isAvailable() || IOUringProvider.isAvailable());
      // Reconnect attempts back off, with jitter, to 2 s at most.
      for (int attempt = 1; attempt < 40; attempt++) {
        assertThat(client.getResources().reconnectDelay().createDelay(attempt))
            .isLessThanOrEqualTo(Duration.ofSeconds(2));
      }
    } finally {
      client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
    }
  }

  @Test
  void commandTimeoutReplacesLettucesSixtySeconds() {
    assertThat(Pools.redis(URL + "?timeout=60s").uri().getTimeout())
        .isEqualTo(Duration.ofSeconds(5));
    RedisClientBuilder builder = Pools.redis(URL).commandTimeout(Duration.ofMillis(750));
    assertThat(builder.uri().getTimeout()).isEqualTo(Duration.ofMillis(750));
  }

  @Test
  void withANativeTransportTcpUserTimeoutIsApplied() {
    RedisSettings settings = new RedisSettings(transport(true, true), "redis");
    SocketOptions socket = settings.socketOptions();
    assertThat(socket.isEnableTcpUserTimeout()).isTrue();
    assertThat(socket.getTcpUserTimeout().getTcpUserTimeout()).isEqualTo(Duration.ofSeconds(30));
  }

  @Test
  void withoutANativeTransportTcpUserTimeoutIsLeftOut() {
    RedisSettings settings = new RedisSettings(transport(false, true), "redis");
    assertThat(settings.socketOptions().isEnableTcpUserTimeout()).isFalse();
  }

  @Test
  void withoutExtendedKeepAliveTheOperatingSystemsTimingsApply() {
    SocketOptions socket = new RedisSettings(transport(false, false), "redis").socketOptions();
    assertThat(socket.isKeepAlive()).isTrue();
    // Plain SO_KEEPALIVE: Lettuce's untouched keepalive options, the kernel's timings.
    assertThat(socket.getKeepAlive().getIdle())
        .isEqualTo(SocketOptions.builder().build().getKeepAlive().getIdle());
  }

  @Test
  void explicitTcpUserTimeoutWithoutANativeTransportFailsTheBuild() {
    RedisClientBuilder builder =
        builder(transport(false, true)).tcpUserTimeout(Duration.ofSeconds(20));
    assertThatThrownBy(builder::build)
        .isInstanceOf(IllegalStateException.class)
        .hasMessage(
            "tcpUserTimeout needs the epoll or io_uring transport (netty-transport-native-epoll"
                + " or netty-transport-native-io_uring with its native library), but neither is"
                + " available");
  }

  @Test
  void explicitKeepAliveWithoutSupportFailsTheBuild() {
    RedisClientBuilder builder =
        builder(transport(false, false))
            .keepAlive(Duration.ofSeconds(10), Duration.ofSeconds(5), 2);
    assertThatThrownBy(builder::build)
        .isInstanceOf(IllegalStateException.class)
        .hasMessageStartingWith("keepAlive needs a transport that can set TCP_KEEPIDLE");
  }

  @Test
  void explicitSettingsReachTheOptions() {
    RedisSettings settings = new RedisSettings(transport(true, true), "redis");
    new RedisClientBuilder(RedisURI.create(URL), "url=" + URL, settings)
        .connectTimeout(Duration.ofMillis(500))
        .keepAlive(Duration.ofSeconds(10), Duration.ofSeconds(5), 2)
        .tcpUserTimeout(Duration.ofSeconds(12))
        .requestQueueSize(100)
        .disconnectedBehavior(DisconnectedBehavior.ACCEPT_COMMANDS);
    ClientOptions options = settings.applyTo(ClientOptions.builder()).build();
    assertThat(options.getRequestQueueSize()).isEqualTo(100);
    assertThat(options.getDisconnectedBehavior()).isEqualTo(DisconnectedBehavior.ACCEPT_COMMANDS);
    SocketOptions socket = options.getSocketOptions();
    assertThat(socket.getConnectTimeout()).isEqualTo(Duration.ofMillis(500));
    assertThat(socket.getKeepAlive().getIdle()).isEqualTo(Duration.ofSeconds(10));
    assertThat(socket.getKeepAlive().getInterval()).isEqualTo(Duration.ofSeconds(5));
    assertThat(socket.getKeepAlive().getCount()).isEqualTo(2);
    assertThat(socket.getTcpUserTimeout().getTcpUserTimeout()).isEqualTo(Duration.ofSeconds(12));
  }

  @Test
  void urlCarriesPasswordDatabaseAndTls() {
    RedisURI uri = Pools.redis("rediss://:s3cret@cache.example.com:6380/2").uri();
    assertThat(uri.isSsl()).isTrue();
    assertThat(uri.getVerifyMode()).isEqualTo(SslVerifyMode.FULL);
    RedisCredentials credentials = uri.getCredentialsProvider().resolveCredentials().block();
    assertThat(new String(credentials.getPassword())).isEqualTo("s3cret");
    assertThat(uri.getDatabase()).isEqualTo(2);
    assertThat(uri.getPort()).isEqualTo(6380);

    RedisURI acl = Pools.redis("redis://app:pw@cache.example.com").uri();
    RedisCredentials user = acl.getCredentialsProvider().resolveCredentials().block();
    assertThat(user.getUsername()).isEqualTo("app");
    assertThat(new String(user.getPassword())).isEqualTo("pw");
    assertThat(acl.isSsl()).isFalse();
  }

  @Test
  void sentinelUrlsBuildAndKeepTheirSentinelsMasterIdPasswordAndDatabase() {
    for (String scheme : new String[] {"redis-sentinel", "rediss-sentinel"}) {
      RedisClientBuilder builder =
          Pools.redis(scheme + "://:pw@h1:26379,h2:26380/3#mymaster")
              .commandTimeout(Duration.ofMillis(1500));
      RedisURI uri = builder.uri();
      assertThat(uri.getSentinels())
          .extracting(RedisURI::getHost, RedisURI::getPort)
          .containsExactly(tuple("h1", 26379), tuple("h2", 26380));
      assertThat(uri.getSentinelMasterId()).isEqualTo("mymaster");
      assertThat(uri.getDatabase()).isEqualTo(3);
      assertThat(uri.isSsl()).isEqualTo(scheme.startsWith("rediss"));
      RedisCredentials credentials = uri.getCredentialsProvider().resolveCredentials().block();
      assertThat(new String(credentials.getPassword())).isEqualTo("pw");
      assertThat(uri.getTimeout()).isEqualTo(Duration.ofMillis(1500));
      // The lookup of the primary is bounded too, not by Lettuce's 60 s.
      assertThat(uri.getSentinels())
          .extracting(RedisURI::getTimeout)
          .containsOnly(Duration.ofMillis(1500));
      // build() used to fail here: "Cannot build a RedisURI. One of the following must be
      // provided Host, Socket or Sentinel".
      RedisClient client = builder.build();
      client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
    }
  }

  @Test
  void eachBuildGetsItsOwnUri() {
    RedisClientBuilder builder = Pools.redis(URL);
    RedisURI first = builder.uri();
    first.setTimeout(Duration.ofMinutes(1));
    assertThat(builder.uri().getTimeout()).isEqualTo(Duration.ofSeconds(5));
  }

  @Test
  void passwordsNeverLeakIntoExceptionsEvenWhenTheyHoldSlashesOrAts() {
    // Lettuce cannot parse these; its messages quote the URL, or the part after a '/'.
    assertSecretHidden(
        "redis://:s3c/r3t@cache.example.com:6379",
        "url must be a valid Redis URL, but was redis://***@cache.example.com:6379",
        "s3c",
        "r3t");
    assertSecretHidden(
        "redis://app:s3c@r3t@cache.example.com:6379/abc",
        "url must be a valid Redis URL, but was redis://***@cache.example.com:6379/abc",
        "s3c",
        "r3t");
    assertSecretHidden(
        "rediss://:s3cret@[::1",
        "url must be a valid Redis URL, but was rediss://***@[::1",
        "s3cret");
    assertSecretHidden(
        "http://:s3c/r3t@cache.example.com",
        "url must start with redis://, rediss://, redis-sentinel://, rediss-sentinel://, but was"
            + " http://***@cache.example.com",
        "s3c",
        "r3t");
    assertSecretHidden(
        ":s3c/r3t@cache.example.com",
        "url must start with redis://, rediss://, redis-sentinel://, rediss-sentinel://, but was"
            + " ***@cache.example.com",
        "s3c",
        "r3t");
  }

  private static void assertSecretHidden(String url, String message, String... secretParts) {
    assertRefused(() -> Pools.redis(url), message, secretParts);
  }

  private static void assertRefused(ThrowingCallable call, String message, String... secretParts) {
    Throwable thrown = catchThrowable(call);
    assertThat(thrown).isInstanceOf(IllegalArgumentException.class).hasMessage(message);
    NoSecrets.assertHidden(thrown, secretParts);
    assertThat(thrown).hasNoCause();
  }

  @Test
  void urlsLettuceWouldMisreadAreRefusedMasked() {
    String port = "url must have a port between 1 and 65535, but was ";
    // Lettuce reads "127.0.0.1:notaport" as the host, and port 0 as its default, 6379.
    assertSecretHidden(
        "redis://:S3cr3t@127.0.0.1:notaport", port + "redis://***@127.0.0.1:notaport", "S3cr3t");
    assertSecretHidden("redis://:S3cr3t@127.0.0.1:0", port + "redis://***@127.0.0.1:0", "S3cr3t");
    assertSecretHidden(
        "redis://:S3cr3t@127.0.0.1:70000", port + "redis://***@127.0.0.1:70000", "S3cr3t");
    assertSecretHidden(
        "redis-sentinel://:S3cr3t@s1:0,s2:26379#primary",
        port + "redis-sentinel://***@s1:0,s2:26379#primary",
        "S3cr3t");
    assertSecretHidden(
        "redis://:S3cr3t@:6379", "url must have a valid host, but was redis://***@:6379", "S3cr3t");
    assertSecretHidden(
        "rediss://:S3cr3t@cache%20one:6380",
        "url must have a valid host, but was rediss://***@cache%20one:6380", "S3cr3t");
    // Lettuce reads a database parameter that is not a number of 0 or more as database 0.
    assertSecretHidden(
        "redis://:S3cr3t@cache:6379?database=abc",
        "url must have a database index of 0 or more, but was redis://***@cache:6379?database=abc",
        "S3cr3t");
    assertSecretHidden(
        "redis://:S3cr3t@cache:6379/1?db=-1",
        "url must have a database index of 0 or more, but was redis://***@cache:6379/1?db=-1",
        "S3cr3t");
    assertSecretHidden(
        "redis-sentinel://:S3cr3t@s1:26379",
        "url must be a valid Redis URL, but was redis-sentinel://***@s1:26379",
        "S3cr3t");
    // What they would have read is accepted.
    assertThat(Pools.redis("redis://[::1]:6379/15?database=15").uri().getDatabase()).isEqualTo(15);
    assertThat(Pools.redis("redis://cache-1.internal:65535").uri().getPort()).isEqualTo(65535);
    assertThat(Pools.redis("redis://cache_1").uri().getHost()).isEqualTo("cache_1");
    // With a port, java.net.URI cannot read a host with '_', and Lettuce takes both as the host.
    assertSecretHidden(
        "redis://:S3cr3t@cache_1:6379",
        "url must have a host of letters, digits, '-' and '.' to give a port (java.net.URI reads"
            + " no other host with one), but was redis://***@cache_1:6379",
        "S3cr3t");
  }

  @Test
  void clusterSeedUrlsAreCheckedAlike() {
    assertRefused(
        () -> Pools.redisCluster("redis://a:7000", "redis://:S3cr3t@b:notaport"),
        "seedUrl must have a port between 1 and 65535, but was redis://***@b:notaport",
        "S3cr3t");
    assertRefused(
        () -> Pools.redisCluster("redis://:S3cr3t@:7000"),
        "seedUrl must have a valid host, but was redis://***@:7000",
        "S3cr3t");
  }

  @Test
  void aRedisUriIsUsedAsGivenCopiedAndShownWithoutItsCredentials() {
    RedisURI given =
        RedisURI.Builder.redis("cache.example.com", 6380)
            .withSsl(true)
            .withAuthentication("app", "S3cr3t".toCharArray())
            .withDatabase(2)
            .build();
    RedisClientBuilder builder = Pools.redis(given).commandTimeout(Duration.ofSeconds(1));
    assertThat(builder.toString())
        .isEqualTo(
            "RedisClientBuilder{uri=rediss://cache.example.com:6380/2, commandTimeout=1000 ms}");
    RedisURI used = builder.uri();
    assertThat(used).isNotSameAs(given);
    assertThat(used.getHost()).isEqualTo("cache.example.com");
    assertThat(used.getPort()).isEqualTo(6380);
    assertThat(used.isSsl()).isTrue();
    assertThat(used.getDatabase()).isEqualTo(2);
    assertThat(used.getTimeout()).isEqualTo(Duration.ofSeconds(1));
    RedisCredentials credentials = used.getCredentialsProvider().resolveCredentials().block();
    assertThat(credentials.getUsername()).isEqualTo("app");
    assertThat(new String(credentials.getPassword())).isEqualTo("S3cr3t");
    // Later changes to the caller's URI do not reach the builder.
    given.setHost("elsewhere");
    assertThat(builder.uri().getHost()).isEqualTo("cache.example.com");
    RedisClient client = builder.build();
    client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
  }

  @Test
  void aRedisUriIsCheckedLikeAUrl() {
    RedisURI port = RedisURI.create("redis://:S3cr3t@cache:6379");
    port.setPort(0);
    assertRefused(
        () -> Pools.redis(port),
        "uri must have a port between 1 and 65535, but was redis://cache:0/0",
        "S3cr3t");
    RedisURI host = RedisURI.create("redis://:S3cr3t@cache:6379/1");
    host.setHost("");
    assertRefused(
        () -> Pools.redis(host), "uri must have a valid host, but was redis://:6379/1", "S3cr3t");
    assertRefused(
        () -> Pools.redis(RedisURI.Builder.socket("/run/redis.sock").build()),
        "uri must name a host, not a Unix domain socket, but was redis-socket:///run/redis.sock");
    RedisURI primary = RedisURI.Builder.sentinel("s1", 26379, "primary").build();
    primary.setSentinelMasterId(null);
    assertRefused(
        () -> Pools.redis(primary),
        "uri must name the primary its Sentinels watch, but was redis-sentinel://s1:26379/0");
  }

  @Test
  void aSentinelRedisUriKeepsItsSentinelsPrimaryAndDatabase() {
    RedisURI given =
        RedisURI.Builder.sentinel("s1", 26379, "primary")
            .withSentinel("s2", 26380)
            .withPassword("S3cr3t".toCharArray())
            .withDatabase(3)
            .build();
    RedisClientBuilder builder = Pools.redis(given).commandTimeout(Duration.ofMillis(1500));
    assertThat(builder.toString())
        .isEqualTo(
            "RedisClientBuilder{uri=redis-sentinel://s1:26379,s2:26380/3#primary,"
                + " commandTimeout=1500 ms}");
    RedisURI used = builder.uri();
    assertThat(used.getSentinels())
        .extracting(RedisURI::getHost, RedisURI::getPort, RedisURI::getTimeout)
        .containsExactly(
            tuple("s1", 26379, Duration.ofMillis(1500)),
            tuple("s2", 26380, Duration.ofMillis(1500)));
    assertThat(used.getSentinelMasterId()).isEqualTo("primary");
    assertThat(used.getDatabase()).isEqualTo(3);
    RedisClient client = builder.build();
    client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
  }

  @Test
  void clusterSeedsCanBeRedisUris() {
    RedisClusterClientBuilder builder =
        Pools.redisCluster(
            RedisURI.create("redis://:S3cr3t@a:7000"), RedisURI.create("redis://:S3cr3t@b:7001"));
    assertThat(builder.toString())
        .isEqualTo("RedisClusterClientBuilder{seeds=[redis://a:7000/0, redis://b:7001/0]}");
    assertThat(builder.seeds())
        .extracting(RedisURI::getHost, RedisURI::getTimeout)
        .containsExactly(tuple("a", Duration.ofSeconds(5)), tuple("b", Duration.ofSeconds(5)));
    assertRefused(
        () -> Pools.redisCluster(RedisURI.create("redis://a:7000"), RedisURI.create("rediss://b")),
        "seed must use TLS like the first seed (false), but was rediss://b:6379/0");
    assertRefused(
        () -> Pools.redisCluster(RedisURI.Builder.sentinel("s1", 26379, "primary").build()),
        "seed must name a cluster node, not Sentinels, but was redis-sentinel://s1:26379/0#primary");
  }

  @Test
  void aCopyKeepsEverythingTheUriSays() {
    RedisURI source =
        RedisURI.create(
            "rediss-sentinel://app:S3cr3t@s1:26379,s2:26380/3?clientName=orders&libraryName=lib"
                + "&libraryVersion=9&verifyPeer=CA&timeout=7s#primary");
    source.setStartTls(true);
    RedisURI copy = RedisUris.copy(source);
    assertThat(copy).isNotSameAs(source);
    assertThat(copy.getHost()).isEqualTo(source.getHost());
    assertThat(copy.getPort()).isEqualTo(source.getPort());
    assertThat(copy.getSocket()).isEqualTo(source.getSocket());
    assertThat(copy.getSentinelMasterId()).isEqualTo("primary");
    assertThat(copy.getDatabase()).isEqualTo(3);
    assertThat(copy.getClientName()).isEqualTo("orders");
    assertThat(copy.getLibraryName()).isEqualTo("lib");
    assertThat(copy.getLibraryVersion()).isEqualTo("9");
    assertThat(copy.isSsl()).isTrue();
    assertThat(copy.getVerifyMode()).isEqualTo(SslVerifyMode.CA);
    assertThat(copy.isStartTls()).isTrue();
    assertThat(copy.getTimeout()).isEqualTo(Duration.ofSeconds(7));
    assertThat(copy.getCredentialsProvider()).isSameAs(source.getCredentialsProvider());
    assertThat(copy.getSentinels()).hasSize(2);
    for (int i = 0; i < 2; i++) {
      RedisURI copied = copy.getSentinels().get(i);
      RedisURI original = source.getSentinels().get(i);
      assertThat(copied).isNotSameAs(original);
      assertThat(copied.getHost()).isEqualTo(original.getHost());
      assertThat(copied.getPort()).isEqualTo(original.getPort());
      assertThat(copied.isSsl()).isEqualTo(original.isSsl());
      assertThat(copied.getCredentialsProvider()).isSameAs(original.getCredentialsProvider());
    }
    assertThat(copy.toString()).isEqualTo(source.toString());
  }

  @Test
  void maskingHidesEverythingUpToTheLastAt() {
    assertThat(dev.bulwark.core.Secrets.maskUrl("redis://cache:6379"))
        .isEqualTo("redis://cache:6379");
    assertThat(dev.bulwark.core.Secrets.maskUrl("redis://u:p@cache:6379/0"))
        .isEqualTo("redis://***@cache:6379/0");
    assertThat(dev.bulwark.core.Secrets.maskUrl("redis://:a@b/c#d@cache"))
        .isEqualTo("redis://***@cache");
  }

  @Test
  void toStringShowsWhatWasSetWithTheUserInfoMasked() {
    assertThat(Pools.redis("rediss://app:s3cret@cache.example.com:6380/2").toString())
        .isEqualTo("RedisClientBuilder{url=rediss://***@cache.example.com:6380/2}");
    assertThat(
            Pools.redis("redis://:s3cret@cache:6379")
                .commandTimeout(Duration.ofSeconds(1))
                .requestQueueSize(100)
                .disconnectedBehavior(DisconnectedBehavior.ACCEPT_COMMANDS)
                .toString())
        .isEqualTo(
            "RedisClientBuilder{url=redis://***@cache:6379, commandTimeout=1000 ms,"
                + " requestQueueSize=100, disconnectedBehavior=ACCEPT_COMMANDS}");
    assertThat(
            Pools.redisCluster("redis://:s3cret@a:7000", "redis://:s3cret@b:7001")
                .topologyRefreshPeriod(Duration.ofSeconds(30))
                .maxReconnectDelay(Duration.ofSeconds(1))
                .toString())
        .isEqualTo(
            "RedisClusterClientBuilder{seeds=[redis://***@a:7000, redis://***@b:7001],"
                + " topologyRefreshPeriod=30000 ms, maxReconnectDelay=1000 ms}");
  }

  @Test
  void threadsOfOwnResourcesAreNamedAfterTheModule() throws Exception {
    RedisClient client = Pools.redis(URL).build();
    try {
      ClientResources resources = client.getResources();
      String executor =
          resources
              .eventExecutorGroup()
              .submit(() -> Thread.currentThread().getName())
              .get(5, TimeUnit.SECONDS);
      assertThat(executor).matches("bulwark-pool-redis-eventExecutorLoop-\\d+");
      CompletableFuture<String> timer = new CompletableFuture<>();
      resources
          .timer()
          .newTimeout(
              t -> timer.complete(Thread.currentThread().getName()), 1, TimeUnit.MILLISECONDS);
      assertThat(timer.get(5, TimeUnit.SECONDS)).isEqualTo("bulwark-pool-redis-timer-1");
    } finally {
      client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
    }
    RedisClusterClient cluster = Pools.redisCluster("redis://127.0.0.1:7000").build();
    try {
      assertThat(
              cluster
                  .getResources()
                  .eventExecutorGroup()
                  .submit(() -> Thread.currentThread().getName())
                  .get(5, TimeUnit.SECONDS))
          .matches("bulwark-pool-redis-cluster-eventExecutorLoop-\\d+");
    } finally {
      cluster.shutdown(Duration.ZERO, Duration.ofSeconds(2));
    }
  }

  @Test
  void badUrlsAreRefusedWithoutShowingThePassword() {
    assertThatThrownBy(() -> Pools.redis("http://app:s3cret@cache.example.com"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage(
            "url must start with redis://, rediss://, redis-sentinel://, rediss-sentinel://,"
                + " but was http://***@cache.example.com");
    assertThatThrownBy(() -> Pools.redisCluster("redis://a:6379", "redis-sentinel://b"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("seedUrl must start with redis://, rediss://, but was redis-sentinel://b");
    assertThatThrownBy(() -> Pools.redisCluster("redis://a:6379", "rediss://:pw@b:6379"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage(
            "seedUrl must use TLS like the first seed (false), but was rediss://***@b:6379");
  }

  @Test
  void singleValuesAreChecked() {
    RedisClientBuilder b = Pools.redis(URL);
    assertThatThrownBy(() -> b.commandTimeout(Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("commandTimeout must be between 10 ms and 600000 ms, but was 0 ms");
    assertThatThrownBy(() -> b.connectTimeout(Duration.ofMinutes(6)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("connectTimeout must be between 10 ms and 300000 ms, but was 360000 ms");
    assertThatThrownBy(() -> b.requestQueueSize(0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("requestQueueSize must be between 1 and 1000000, but was 0");
    assertThatThrownBy(() -> b.keepAlive(Duration.ofMillis(1500), Duration.ofSeconds(1), 3))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage(
            "keepAlive idle must be a whole number of seconds between 1 s and 7200 s, but was"
                + " 1.5 s");
    assertThatThrownBy(() -> b.keepAlive(Duration.ofSeconds(30), Duration.ofSeconds(10), 0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("keepAlive count must be between 1 and 127, but was 0");
    assertThatThrownBy(() -> b.tcpUserTimeout(Duration.ofMillis(100)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("tcpUserTimeout must be between 1000 ms and 3600000 ms, but was 100 ms");
    assertThatThrownBy(() -> b.maxReconnectDelay(Duration.ofMinutes(10)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("maxReconnectDelay must be between 10 ms and 300000 ms, but was 600000 ms");
    b.commandTimeout(Duration.ofSeconds(1));
    assertThatThrownBy(() -> b.commandTimeout(Duration.ofSeconds(2)))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("commandTimeout was already set to 1000 ms");
  }

  @Test
  void ownResourcesAreReleasedWithTheClient() {
    RedisClient client = Pools.redis(URL).build();
    ClientResources resources = client.getResources();
    assertThat(resources.eventExecutorGroup().isShuttingDown()).isFalse();
    client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
    assertThat(resources.eventExecutorGroup().isTerminated()).isTrue();
    // A second shutdown is harmless.
    client.close();
  }

  @Test
  void givenResourcesAreLeftToTheirOwner() {
    ClientResources shared = ClientResources.create();
    try {
      RedisClient client = Pools.redis(URL).clientResources(shared).build();
      // The same threads and timer, with the silence detector as the Netty customizer.
      assertThat(client.getResources().eventExecutorGroup()).isSameAs(shared.eventExecutorGroup());
      assertThat(client.getResources().eventLoopGroupProvider())
          .isSameAs(shared.eventLoopGroupProvider());
      assertThat(client.getResources().timer()).isSameAs(shared.timer());
      assertThat(client.getResources().nettyCustomizer()).isInstanceOf(SilenceDetector.class);
      client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
      assertThat(shared.eventExecutorGroup().isShuttingDown()).isFalse();

      RedisClient plain =
          Pools.redis(URL).clientResources(shared).detectSilentConnections(false).build();
      assertThat(plain.getResources()).isSameAs(shared);
      plain.shutdown(Duration.ZERO, Duration.ofSeconds(2));
      assertThat(shared.eventExecutorGroup().isShuttingDown()).isFalse();
    } finally {
      shared.shutdown(0, 2, java.util.concurrent.TimeUnit.SECONDS);
    }
  }

  @Test
  void givenResourcesCannotBeCombinedWithSettingsThatNeedOurOwn() {
    ClientResources shared = ClientResources.create();
    try {
      assertThatThrownBy(
              () ->
                  Pools.redis(URL)
                      .clientResources(shared)
                      .maxReconnectDelay(Duration.ofSeconds(1))
                      .build())
          .isInstanceOf(IllegalStateException.class)
          .hasMessage(
              "maxReconnectDelay cannot be combined with clientResources: set the reconnect delay"
                  + " on the ClientResources you pass");
    } finally {
      shared.shutdown(0, 2, java.util.concurrent.TimeUnit.SECONDS);
    }
  }

  @Test
  void clusterClientGetsTheSameOptionsAndTopologyRefresh() {
    RedisClusterClient client =
        Pools.redisCluster("redis://127.0.0.1:7000", "redis://:pw@127.0.0.1:7001")
            .commandTimeout(Duration.ofSeconds(1))
            .topologyRefreshPeriod(Duration.ofSeconds(30))
            .build();
    try {
      ClusterClientOptions options = (ClusterClientOptions) client.getOptions();
      assertThat(options.getDisconnectedBehavior()).isEqualTo(DisconnectedBehavior.REJECT_COMMANDS);
      assertThat(options.getRequestQueueSize()).isEqualTo(10_000);
      assertThat(options.getTopologyRefreshOptions().isPeriodicRefreshEnabled()).isTrue();
      assertThat(options.getTopologyRefreshOptions().getRefreshPeriod())
          .isEqualTo(Duration.ofSeconds(30));
      assertThat(options.getTopologyRefreshOptions().getAdaptiveRefreshTriggers()).isNotEmpty();
      ClientResources resources = client.getResources();
      client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
      assertThat(resources.eventExecutorGroup().isTerminated()).isTrue();
    } finally {
      client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
    }
  }

  @Test
  void clusterSeedsCarryTheCommandTimeout() {
    assertThat(
            Pools.redisCluster("redis://a:7000", "redis://b:7001").seeds().stream()
                .map(RedisURI::getTimeout))
        .containsExactly(Duration.ofSeconds(5), Duration.ofSeconds(5));
  }
}

package dev.bulwark.pool;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import dev.bulwark.testing.Await;
import dev.bulwark.testing.NoSecrets;
import dev.bulwark.testing.RedisExtension;
import io.lettuce.core.AbstractRedisClient;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.resource.ClientResources;
import io.lettuce.core.resource.NettyCustomizer;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.embedded.EmbeddedChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The silent-connection settings of both Redis builders ({@code name}, {@code
 * detectSilentConnections}, {@code reconnectAfterTimeouts}, {@code idleProbe}) and what they do to
 * {@code meterRegistry} and {@code clientResources}: checks and their texts, the values a built
 * client runs with, its meters, and the caller's resources. Only the tests that take a {@link
 * RedisURI} talk to a server; the cluster client is built and never connected.
 */
@ExtendWith(RedisExtension.class)
class RedisSilenceSettingsTest {
  /** A password in every URL, so that every refusal below also shows that it stays hidden. */
  private static final String SECRET = "S3cr3t";

  private static final String RECONNECTS = "bulwark.pool.redis.reconnects";

  private final List<AbstractRedisClient> clients = new ArrayList<>();
  private final List<ClientResources> given = new ArrayList<>();

  @AfterEach
  void shutDown() {
    // Clients first: the caller's resources outlive the clients that use them.
    clients.forEach(c -> c.shutdown(Duration.ZERO, Duration.ofSeconds(2)));
    given.forEach(r -> r.shutdown(0, 2, TimeUnit.SECONDS));
  }

  /** The two builders behind one face, so that every check runs on each. */
  enum Kind {
    SINGLE("redis") {
      @Override
      Builder builder() {
        return new Single(Pools.redis("redis://:" + SECRET + "@127.0.0.1:6379"));
      }
    },
    CLUSTER("redis-cluster") {
      @Override
      Builder builder() {
        return new Cluster(
            Pools.redisCluster(
                "redis://:" + SECRET + "@127.0.0.1:7000",
                "redis://:" + SECRET + "@127.0.0.1:7001"));
      }
    };

    /** The name a client of this kind has when none is given. */
    final String defaultName;

    Kind(String defaultName) {
      this.defaultName = defaultName;
    }

    abstract Builder builder();
  }

  /** The settings under test, as both builders have them. */
  interface Builder {
    Builder name(String name);

    Builder detectSilentConnections(boolean detect);

    Builder reconnectAfterTimeouts(int timeouts);

    Builder idleProbe(Duration interval, Duration timeout);

    Builder commandTimeout(Duration timeout);

    Builder clientResources(ClientResources resources);

    Builder meterRegistry(MeterRegistry registry);

    AbstractRedisClient build();
  }

  private static final class Single implements Builder {
    private final RedisClientBuilder builder;

    Single(RedisClientBuilder builder) {
      this.builder = builder;
    }

    @Override
    public Builder name(String name) {
      builder.name(name);
      return this;
    }

    @Override
    public Builder detectSilentConnections(boolean detect) {
      builder.detectSilentConnections(detect);
      return this;
    }

    @Override
    public Builder reconnectAfterTimeouts(int timeouts) {
      builder.reconnectAfterTimeouts(timeouts);
      return this;
    }

    @Override
    public Builder idleProbe(Duration interval, Duration timeout) {
      builder.idleProbe(interval, timeout);
      return this;
    }

    @Override
    public Builder commandTimeout(Duration timeout) {
      builder.commandTimeout(timeout);
      return this;
    }

    @Override
    public Builder clientResources(ClientResources resources) {
      builder.clientResources(resources);
      return this;
    }

    @Override
    public Builder meterRegistry(MeterRegistry registry) {
      builder.meterRegistry(registry);
      return this;
    }

    @Override
    public AbstractRedisClient build() {
      return builder.build();
    }
  }

  private static final class Cluster implements Builder {
    private final RedisClusterClientBuilder builder;

    Cluster(RedisClusterClientBuilder builder) {
      this.builder = builder;
    }

    @Override
    public Builder name(String name) {
      builder.name(name);
      return this;
    }

    @Override
    public Builder detectSilentConnections(boolean detect) {
      builder.detectSilentConnections(detect);
      return this;
    }

    @Override
    public Builder reconnectAfterTimeouts(int timeouts) {
      builder.reconnectAfterTimeouts(timeouts);
      return this;
    }

    @Override
    public Builder idleProbe(Duration interval, Duration timeout) {
      builder.idleProbe(interval, timeout);
      return this;
    }

    @Override
    public Builder commandTimeout(Duration timeout) {
      builder.commandTimeout(timeout);
      return this;
    }

    @Override
    public Builder clientResources(ClientResources resources) {
      builder.clientResources(resources);
      return this;
    }

    @Override
    public Builder meterRegistry(MeterRegistry registry) {
      builder.meterRegistry(registry);
      return this;
    }

    @Override
    public AbstractRedisClient build() {
      return builder.build();
    }
  }

  /** A caller's Netty customizer that records what Lettuce hands it. */
  private static final class RecordingCustomizer implements NettyCustomizer {
    final AtomicInteger bootstraps = new AtomicInteger();
    final List<Channel> channels = new CopyOnWriteArrayList<>();

    /** Per channel: whether a silence watch was in its pipeline when this customizer saw it. */
    final List<Boolean> watchedAlready = new CopyOnWriteArrayList<>();

    @Override
    public void afterBootstrapInitialized(Bootstrap bootstrap) {
      bootstraps.incrementAndGet();
    }

    @Override
    public void afterChannelInitialized(Channel channel) {
      watchedAlready.add(channel.pipeline().get("bulwark-silence") != null);
      channels.add(channel);
    }
  }

  private AbstractRedisClient build(Builder builder) {
    AbstractRedisClient client = builder.build();
    clients.add(client);
    return client;
  }

  private RedisClient build(RedisClientBuilder builder) {
    RedisClient client = builder.build();
    clients.add(client);
    return client;
  }

  /** The caller's resources, shut down after the test's clients. */
  private ClientResources resources(NettyCustomizer customizer) {
    ClientResources resources = ClientResources.builder().nettyCustomizer(customizer).build();
    given.add(resources);
    return resources;
  }

  private static @Nullable SilenceDetector detector(AbstractRedisClient client) {
    if (client instanceof OwningRedisClient single) {
      return single.detector();
    }
    return ((OwningRedisClusterClient) client).detector();
  }

  /** What {@link SilenceDetector#toString()} shows of the built client's rule. */
  private static String rule(AbstractRedisClient client) {
    SilenceDetector detector = detector(client);
    assertThat(detector).isNotNull();
    return detector.toString();
  }

  /** The {@code cause} tags of the reconnect meters registered for a client name. */
  private static List<String> reconnectMeters(MeterRegistry registry, String name) {
    return registry.find(RECONNECTS).tag("name", name).meters().stream()
        .map(m -> m.getId().getTag("cause"))
        .toList();
  }

  private static void assertRefused(
      ThrowingCallable call, Class<? extends Exception> type, String message) {
    Throwable thrown = catchThrowable(call);
    assertThat(thrown).isInstanceOf(type).hasMessage(message).hasNoCause();
    NoSecrets.assertHidden(thrown, SECRET);
  }

  @ParameterizedTest
  @EnumSource(Kind.class)
  void theLowestAcceptedValuesReachTheClient(Kind kind) {
    AbstractRedisClient client =
        build(kind.builder().reconnectAfterTimeouts(1).idleProbe(ms(100), ms(10)));
    assertThat(rule(client))
        .isEqualTo(
            "SilenceDetector["
                + kind.defaultName
                + ", 1 timeouts, probe after 100 ms idle, probe timeout 10 ms]");
  }

  @ParameterizedTest
  @EnumSource(Kind.class)
  void theHighestAcceptedValuesReachTheClient(Kind kind) {
    AbstractRedisClient client =
        build(
            kind.builder()
                .reconnectAfterTimeouts(100)
                .idleProbe(Duration.ofHours(1), Duration.ofMinutes(10)));
    assertThat(rule(client))
        .isEqualTo(
            "SilenceDetector["
                + kind.defaultName
                + ", 100 timeouts, probe after 3600000 ms idle, probe timeout 600000 ms]");
  }

  @ParameterizedTest
  @EnumSource(Kind.class)
  void reconnectAfterTimeoutsOutsideOneToAHundredIsRefused(Kind kind) {
    Builder b = kind.builder();
    String rule = "reconnectAfterTimeouts must be between 1 and 100, but was ";
    assertRefused(() -> b.reconnectAfterTimeouts(0), IllegalArgumentException.class, rule + "0");
    assertRefused(
        () -> b.reconnectAfterTimeouts(101), IllegalArgumentException.class, rule + "101");
    assertRefused(() -> b.reconnectAfterTimeouts(-1), IllegalArgumentException.class, rule + "-1");
    assertRefused(
        () -> b.reconnectAfterTimeouts(Integer.MAX_VALUE),
        IllegalArgumentException.class,
        rule + "2147483647");
    // A refused value is not kept: the setting can still be given once.
    b.reconnectAfterTimeouts(7);
    assertThat(rule(build(b))).contains(", 7 timeouts,");
  }

  @ParameterizedTest
  @EnumSource(Kind.class)
  void idleProbeIntervalOutsideAHundredMillisecondsToAnHourIsRefused(Kind kind) {
    Builder b = kind.builder();
    String rule = "idleProbe interval must be between 100 ms and 3600000 ms, but was ";
    Duration timeout = Duration.ofSeconds(1);
    assertRefused(
        () -> b.idleProbe(ms(100).minusNanos(1), timeout),
        IllegalArgumentException.class,
        rule + "99999999 ns");
    assertRefused(
        () -> b.idleProbe(ms(99), timeout), IllegalArgumentException.class, rule + "99 ms");
    assertRefused(
        () -> b.idleProbe(Duration.ofHours(1).plusNanos(1), timeout),
        IllegalArgumentException.class,
        rule + "3600000000001 ns");
    assertRefused(
        () -> b.idleProbe(Duration.ofHours(1).plusMillis(1), timeout),
        IllegalArgumentException.class,
        rule + "3600001 ms");
    assertRefused(
        () -> b.idleProbe(Duration.ZERO, timeout), IllegalArgumentException.class, rule + "0 ms");
    assertRefused(
        () -> b.idleProbe(ms(-1), timeout), IllegalArgumentException.class, rule + "-1 ms");
    // The interval is named first when both are out of range.
    assertRefused(
        () -> b.idleProbe(Duration.ZERO, Duration.ZERO),
        IllegalArgumentException.class,
        rule + "0 ms");
    b.idleProbe(ms(250), ms(50));
    assertThat(rule(build(b))).endsWith(", probe after 250 ms idle, probe timeout 50 ms]");
  }

  @ParameterizedTest
  @EnumSource(Kind.class)
  void idleProbeTimeoutOutsideTenMillisecondsToTenMinutesIsRefused(Kind kind) {
    Builder b = kind.builder();
    String rule = "idleProbe timeout must be between 10 ms and 600000 ms, but was ";
    Duration interval = Duration.ofSeconds(1);
    assertRefused(
        () -> b.idleProbe(interval, ms(10).minusNanos(1)),
        IllegalArgumentException.class,
        rule + "9999999 ns");
    assertRefused(
        () -> b.idleProbe(interval, ms(9)), IllegalArgumentException.class, rule + "9 ms");
    assertRefused(
        () -> b.idleProbe(interval, Duration.ofMinutes(10).plusNanos(1)),
        IllegalArgumentException.class,
        rule + "600000000001 ns");
    assertRefused(
        () -> b.idleProbe(interval, Duration.ofMinutes(10).plusMillis(1)),
        IllegalArgumentException.class,
        rule + "600001 ms");
    assertRefused(
        () -> b.idleProbe(interval, Duration.ZERO), IllegalArgumentException.class, rule + "0 ms");
    // Neither half of a refused probe is kept.
    b.idleProbe(ms(300), ms(20));
    assertThat(rule(build(b))).endsWith(", probe after 300 ms idle, probe timeout 20 ms]");
  }

  @ParameterizedTest
  @EnumSource(Kind.class)
  void aNameIsOneToSixtyThreeLettersDigitsDotsUnderscoresOrHyphens(Kind kind) {
    String rule = "name must be 1 to 63 letters, digits, '.', '_' or '-', but was ";
    String longest = "n".repeat(63);
    Builder b = kind.builder();
    assertRefused(() -> b.name(""), IllegalArgumentException.class, rule + "\"\"");
    assertRefused(
        () -> b.name(longest + "n"), IllegalArgumentException.class, rule + "\"" + longest + "n\"");
    assertRefused(
        () -> b.name("orders cache"), IllegalArgumentException.class, rule + "\"orders cache\"");
    assertRefused(
        () -> b.name("orders/cache"), IllegalArgumentException.class, rule + "\"orders/cache\"");
    assertRefused(() -> b.name("käse"), IllegalArgumentException.class, rule + "\"käse\"");
    b.name(longest);
    assertThat(rule(build(b))).startsWith("SilenceDetector[" + longest + ", ");

    for (String name : new String[] {"x", "Orders.cache_2-eu"}) {
      assertThat(rule(build(kind.builder().name(name))))
          .startsWith("SilenceDetector[" + name + ", ");
    }
  }

  @ParameterizedTest
  @EnumSource(Kind.class)
  void nullArgumentsAreRefusedByName(Kind kind) {
    Builder b = kind.builder();
    assertRefused(() -> b.name(null), NullPointerException.class, "name");
    assertRefused(
        () -> b.idleProbe(null, Duration.ofSeconds(1)), NullPointerException.class, "interval");
    assertRefused(
        () -> b.idleProbe(Duration.ofSeconds(1), null), NullPointerException.class, "timeout");
    assertRefused(() -> b.clientResources(null), NullPointerException.class, "resources");
    assertRefused(() -> b.meterRegistry(null), NullPointerException.class, "registry");
    // None of them was kept.
    b.name("after-nulls").idleProbe(Duration.ofSeconds(2), ms(500));
    assertThat(rule(build(b)))
        .isEqualTo(
            "SilenceDetector[after-nulls, 3 timeouts, probe after 2000 ms idle, probe timeout"
                + " 500 ms]");
  }

  @ParameterizedTest
  @EnumSource(Kind.class)
  void eachSettingGivenTwiceIsRefused(Kind kind) {
    Builder b =
        kind.builder()
            .name("orders")
            .detectSilentConnections(true)
            .reconnectAfterTimeouts(5)
            .idleProbe(Duration.ofSeconds(1), ms(250));
    assertRefused(
        () -> b.name("orders"), IllegalStateException.class, "name was already set to orders");
    assertRefused(
        () -> b.detectSilentConnections(false),
        IllegalStateException.class,
        "detectSilentConnections was already set to true");
    assertRefused(
        () -> b.reconnectAfterTimeouts(6),
        IllegalStateException.class,
        "reconnectAfterTimeouts was already set to 5");
    // The text shows both values given first.
    assertRefused(
        () -> b.idleProbe(Duration.ofSeconds(2), ms(500)),
        IllegalStateException.class,
        "idleProbe was already set to interval 1000 ms, timeout 250 ms");
    // Repetition is found before the value is checked.
    assertRefused(
        () -> b.reconnectAfterTimeouts(0),
        IllegalStateException.class,
        "reconnectAfterTimeouts was already set to 5");
    assertRefused(
        () -> b.idleProbe(Duration.ZERO, Duration.ZERO),
        IllegalStateException.class,
        "idleProbe was already set to interval 1000 ms, timeout 250 ms");
    // The first values stand.
    assertThat(rule(build(b)))
        .isEqualTo(
            "SilenceDetector[orders, 5 timeouts, probe after 1000 ms idle, probe timeout 250 ms]");

    Builder off = kind.builder().detectSilentConnections(false);
    assertRefused(
        () -> off.detectSilentConnections(false),
        IllegalStateException.class,
        "detectSilentConnections was already set to false");
  }

  @ParameterizedTest
  @EnumSource(Kind.class)
  void byDefaultThreeTimeoutsOrAProbeAfterFiveIdleSecondsWithTheCommandTimeout(Kind kind) {
    AbstractRedisClient client = build(kind.builder());
    assertThat(rule(client))
        .isEqualTo(
            "SilenceDetector["
                + kind.defaultName
                + ", 3 timeouts, probe after 5000 ms idle, probe timeout 5000 ms]");
    // With its own resources, the detector is their Netty customizer.
    assertThat(client.getResources().nettyCustomizer()).isSameAs(detector(client));

    assertThat(rule(build(kind.builder().detectSilentConnections(true))))
        .isEqualTo(
            "SilenceDetector["
                + kind.defaultName
                + ", 3 timeouts, probe after 5000 ms idle, probe timeout 5000 ms]");
  }

  @ParameterizedTest
  @EnumSource(Kind.class)
  void theDefaultProbeTimeoutFollowsTheCommandTimeout(Kind kind) {
    assertThat(rule(build(kind.builder().commandTimeout(Duration.ofSeconds(2)))))
        .isEqualTo(
            "SilenceDetector["
                + kind.defaultName
                + ", 3 timeouts, probe after 5000 ms idle, probe timeout 2000 ms]");
    // A given probe timeout is used as given, shorter or longer than the command timeout.
    assertThat(
            rule(
                build(
                    kind.builder()
                        .commandTimeout(Duration.ofSeconds(2))
                        .idleProbe(Duration.ofSeconds(1), ms(300)))))
        .endsWith(", probe after 1000 ms idle, probe timeout 300 ms]");
    assertThat(
            rule(
                build(
                    kind.builder()
                        .idleProbe(Duration.ofSeconds(1), Duration.ofSeconds(8))
                        .commandTimeout(Duration.ofSeconds(2)))))
        .endsWith(", probe after 1000 ms idle, probe timeout 8000 ms]");
  }

  @ParameterizedTest
  @EnumSource(Kind.class)
  void turnedOffThereIsNoDetectorAndNoMeter(Kind kind) {
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    AbstractRedisClient client =
        build(kind.builder().detectSilentConnections(false).meterRegistry(registry));
    assertThat(detector(client)).isNull();
    assertThat(client.getResources().nettyCustomizer()).isNotInstanceOf(SilenceDetector.class);
    assertThat(registry.getMeters()).isEmpty();

    // It registers nothing, so it takes no name: a client of the same name may share the registry.
    build(kind.builder().meterRegistry(registry));
    assertThat(reconnectMeters(registry, kind.defaultName))
        .containsExactlyInAnyOrder("timeouts", "probe");
    assertThat(
            detector(build(kind.builder().detectSilentConnections(false).meterRegistry(registry))))
        .isNull();
    assertThat(registry.getMeters()).hasSize(2);
  }

  @ParameterizedTest
  @EnumSource(Kind.class)
  void turnedOffItsOwnSettingsAreRefusedInEitherOrder(Kind kind) {
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    String timeouts =
        "reconnectAfterTimeouts cannot be combined with detectSilentConnections(false): it"
            + " configures the detection that turns off";
    String probe =
        "idleProbe cannot be combined with detectSilentConnections(false): it configures the"
            + " detection that turns off";
    assertRefused(
        () ->
            build(
                kind.builder()
                    .detectSilentConnections(false)
                    .reconnectAfterTimeouts(3)
                    .meterRegistry(registry)),
        IllegalStateException.class,
        timeouts);
    assertRefused(
        () -> build(kind.builder().reconnectAfterTimeouts(3).detectSilentConnections(false)),
        IllegalStateException.class,
        timeouts);
    assertRefused(
        () ->
            build(
                kind.builder()
                    .detectSilentConnections(false)
                    .idleProbe(Duration.ofSeconds(5), Duration.ofSeconds(5))
                    .meterRegistry(registry)),
        IllegalStateException.class,
        probe);
    assertRefused(
        () ->
            build(
                kind.builder()
                    .idleProbe(Duration.ofSeconds(5), Duration.ofSeconds(5))
                    .detectSilentConnections(false)),
        IllegalStateException.class,
        probe);
    // Both given: the first is named.
    assertRefused(
        () ->
            build(
                kind.builder()
                    .idleProbe(Duration.ofSeconds(5), Duration.ofSeconds(5))
                    .reconnectAfterTimeouts(3)
                    .detectSilentConnections(false)),
        IllegalStateException.class,
        timeouts);
    // A refused build registers nothing.
    assertThat(registry.getMeters()).isEmpty();
    // A name is no setting of the detection: it may stay.
    assertThat(detector(build(kind.builder().name("quiet").detectSilentConnections(false))))
        .isNull();
  }

  @ParameterizedTest
  @EnumSource(Kind.class)
  void theReconnectMetersCarryTheNameAndCauseAndLeaveWithTheClient(Kind kind) {
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    AbstractRedisClient client = build(kind.builder().meterRegistry(registry));
    assertThat(registry.getMeters()).hasSize(2);
    for (String cause : new String[] {"timeouts", "probe"}) {
      Meter.Id id =
          registry
              .get(RECONNECTS)
              .tag("name", kind.defaultName)
              .tag("cause", cause)
              .functionCounter()
              .getId();
      assertThat(id.getBaseUnit()).isEqualTo("connections");
      assertThat(id.getDescription()).isNotBlank();
      assertThat(
              registry
                  .get(RECONNECTS)
                  .tag("name", kind.defaultName)
                  .tag("cause", cause)
                  .functionCounter()
                  .count())
          .isZero();
    }
    client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
    assertThat(registry.getMeters()).isEmpty();
    // The name is free again.
    build(kind.builder().meterRegistry(registry));
    assertThat(reconnectMeters(registry, kind.defaultName))
        .containsExactlyInAnyOrder("timeouts", "probe");
  }

  @ParameterizedTest
  @EnumSource(Kind.class)
  void aSecondClientOfTheSameNameInOneRegistryIsRefused(Kind kind) {
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    AbstractRedisClient first = build(kind.builder().meterRegistry(registry));
    assertRefused(
        () -> build(kind.builder().meterRegistry(registry)),
        IllegalStateException.class,
        "meterRegistry already holds the meters of a Redis client named \""
            + kind.defaultName
            + "\": give each Redis client its own name");
    assertRefused(
        () -> build(kind.builder().name(kind.defaultName).meterRegistry(registry)),
        IllegalStateException.class,
        "meterRegistry already holds the meters of a Redis client named \""
            + kind.defaultName
            + "\": give each Redis client its own name");
    // The refused builds neither added meters nor removed the first client's.
    assertThat(registry.getMeters()).hasSize(2);

    AbstractRedisClient second = build(kind.builder().name("sessions").meterRegistry(registry));
    assertThat(rule(second)).startsWith("SilenceDetector[sessions, ");
    assertRefused(
        () -> build(kind.builder().name("sessions").meterRegistry(registry)),
        IllegalStateException.class,
        "meterRegistry already holds the meters of a Redis client named \"sessions\": give each"
            + " Redis client its own name");
    // Another registry is another name space.
    build(kind.builder().meterRegistry(new SimpleMeterRegistry()));

    first.shutdown(Duration.ZERO, Duration.ofSeconds(2));
    assertThat(reconnectMeters(registry, kind.defaultName)).isEmpty();
    assertThat(reconnectMeters(registry, "sessions"))
        .containsExactlyInAnyOrder("timeouts", "probe");
    second.close();
    assertThat(registry.getMeters()).isEmpty();
  }

  @Test
  void singleAndClusterClientsShareOneNameSpace() {
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    // Their default names differ, so one of each fits in a registry.
    build(Kind.SINGLE.builder().meterRegistry(registry));
    build(Kind.CLUSTER.builder().meterRegistry(registry));
    assertThat(reconnectMeters(registry, "redis")).containsExactlyInAnyOrder("timeouts", "probe");
    assertThat(reconnectMeters(registry, "redis-cluster"))
        .containsExactlyInAnyOrder("timeouts", "probe");

    // Their meters are the same, so a name is taken for both kinds.
    assertRefused(
        () -> build(Kind.SINGLE.builder().name("redis-cluster").meterRegistry(registry)),
        IllegalStateException.class,
        "meterRegistry already holds the meters of a Redis client named \"redis-cluster\": give"
            + " each Redis client its own name");
    assertRefused(
        () -> build(Kind.CLUSTER.builder().name("redis").meterRegistry(registry)),
        IllegalStateException.class,
        "meterRegistry already holds the meters of a Redis client named \"redis\": give each"
            + " Redis client its own name");
  }

  @ParameterizedTest
  @EnumSource(Kind.class)
  void oneBuilderBuiltTwiceIntoOneRegistryIsRefusedTheSecondTime(Kind kind) {
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    Builder b = kind.builder().meterRegistry(registry);
    build(b);
    assertRefused(
        () -> build(b),
        IllegalStateException.class,
        "meterRegistry already holds the meters of a Redis client named \""
            + kind.defaultName
            + "\": give each Redis client its own name");
  }

  @ParameterizedTest
  @EnumSource(Kind.class)
  void givenResourcesTakeAMeterRegistryForTheReconnectsAlone(Kind kind) {
    RecordingCustomizer customizer = new RecordingCustomizer();
    ClientResources shared = resources(customizer);
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    AbstractRedisClient client =
        build(kind.builder().clientResources(shared).meterRegistry(registry));

    ClientResources used = client.getResources();
    assertThat(used.nettyCustomizer()).isInstanceOf(SilenceDetector.class);
    assertThat(used.nettyCustomizer()).isSameAs(detector(client));
    // The latency recorder stays the resources' own; the registry gets no Lettuce recorder.
    assertThat(used.commandLatencyRecorder()).isSameAs(shared.commandLatencyRecorder());
    assertThat(used.eventExecutorGroup()).isSameAs(shared.eventExecutorGroup());
    assertThat(used.timer()).isSameAs(shared.timer());
    assertThat(registry.getMeters())
        .extracting(m -> m.getId().getName())
        .containsOnly(RECONNECTS)
        .hasSize(2);

    client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
    assertThat(registry.getMeters()).isEmpty();
    assertThat(shared.eventExecutorGroup().isShuttingDown()).isFalse();
  }

  @Test
  void theClusterClientRunsTheCallersCustomizerBeforeItsOwn() {
    RecordingCustomizer customizer = new RecordingCustomizer();
    AbstractRedisClient client =
        build(Kind.CLUSTER.builder().clientResources(resources(customizer)));
    NettyCustomizer used = client.getResources().nettyCustomizer();
    assertThat(used).isInstanceOf(SilenceDetector.class);

    used.afterBootstrapInitialized(new Bootstrap());
    assertThat(customizer.bootstraps).hasValue(1);
    EmbeddedChannel channel = new EmbeddedChannel();
    try {
      used.afterChannelInitialized(channel);
      assertThat(customizer.channels).containsExactly(channel);
      assertThat(customizer.watchedAlready).containsExactly(false);
      assertThat(channel.pipeline().names()).contains("bulwark-idle", "bulwark-silence");
    } finally {
      channel.finishAndReleaseAll();
    }
  }

  @Test
  void aConnectionOverGivenResourcesRunsTheCallersCustomizerAndWorks(RedisURI uri)
      throws Exception {
    RecordingCustomizer customizer = new RecordingCustomizer();
    ClientResources shared = resources(customizer);
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    RedisClient client =
        build(Pools.redis(uri).clientResources(shared).meterRegistry(registry).name("given"));
    try (StatefulRedisConnection<String, String> connection = client.connect()) {
      connection.sync().set("k", "v");
      assertThat(connection.sync().get("k")).isEqualTo("v");

      assertThat(customizer.bootstraps.get()).isPositive();
      assertThat(customizer.channels).isNotEmpty();
      // The caller's customizer saw each channel before the watch was put on it ...
      assertThat(customizer.watchedAlready).containsOnly(false);
      // ... and the watch is there now.
      assertThat(customizer.channels)
          .anySatisfy(
              channel -> {
                assertThat(channel.isActive()).isTrue();
                assertThat(channel.pipeline().names()).contains("bulwark-idle", "bulwark-silence");
              });
      assertThat(registry.getMeters())
          .extracting(m -> m.getId().getName())
          .containsOnly(RECONNECTS);
    }
    client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
    assertThat(registry.getMeters()).isEmpty();
    assertThat(shared.eventExecutorGroup().isShuttingDown()).isFalse();

    // The resources still serve another client, under the freed name.
    RedisClient next =
        build(Pools.redis(uri).clientResources(shared).meterRegistry(registry).name("given"));
    try (StatefulRedisConnection<String, String> connection = next.connect()) {
      assertThat(connection.sync().get("k")).isEqualTo("v");
    }
    assertThat(customizer.channels).hasSizeGreaterThanOrEqualTo(2);
  }

  @Test
  void withItsOwnResourcesTheRegistryAlsoGetsLettucesLatencies(RedisURI uri) throws Exception {
    // The counterpart of the test above: what the registry gets when no resources are given.
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    RedisClient client = build(Pools.redis(uri).meterRegistry(registry));
    try (StatefulRedisConnection<String, String> connection = client.connect()) {
      connection.sync().set("k", "v");
      Await.until(
          Duration.ofSeconds(5),
          "a latency meter",
          () -> registry.find("lettuce.command.completion").meter() != null);
    }
    assertThat(reconnectMeters(registry, "redis")).containsExactlyInAnyOrder("timeouts", "probe");
  }

  @Test
  void toStringListsTheSilenceSettingsGivenWithoutThePassword() {
    RedisClientBuilder single =
        Pools.redis("redis://app:" + SECRET + "@cache:6379/1")
            .commandTimeout(Duration.ofSeconds(2))
            .idleProbe(Duration.ofSeconds(1), ms(250))
            .reconnectAfterTimeouts(5)
            .detectSilentConnections(true)
            .name("orders");
    assertThat(single.toString())
        .isEqualTo(
            "RedisClientBuilder{url=redis://***@cache:6379/1, name=orders,"
                + " detectSilentConnections=true, reconnectAfterTimeouts=5, idleProbe=interval"
                + " 1000 ms, timeout 250 ms, commandTimeout=2000 ms}")
        .doesNotContain(SECRET);

    RedisClusterClientBuilder cluster =
        Pools.redisCluster("redis://:" + SECRET + "@a:7000", "redis://:" + SECRET + "@b:7001")
            .name("sessions")
            .reconnectAfterTimeouts(2)
            .idleProbe(ms(100), ms(10))
            .topologyRefreshPeriod(Duration.ofSeconds(30));
    assertThat(cluster.toString())
        .isEqualTo(
            "RedisClusterClientBuilder{seeds=[redis://***@a:7000, redis://***@b:7001],"
                + " topologyRefreshPeriod=30000 ms, name=sessions, reconnectAfterTimeouts=2,"
                + " idleProbe=interval 100 ms, timeout 10 ms}")
        .doesNotContain(SECRET);

    RedisURI uri =
        RedisURI.Builder.redis("cache", 6379)
            .withAuthentication("app", SECRET.toCharArray())
            .build();
    assertThat(Pools.redis(uri).detectSilentConnections(false).toString())
        .isEqualTo("RedisClientBuilder{uri=redis://cache:6379/0, detectSilentConnections=false}")
        .doesNotContain(SECRET);
  }

  @Test
  void toStringShowsNoSilenceSettingThatWasNotGiven() {
    assertThat(Pools.redis("redis://:" + SECRET + "@cache:6379").toString())
        .isEqualTo("RedisClientBuilder{url=redis://***@cache:6379}");
    assertThat(Pools.redisCluster("redis://:" + SECRET + "@a:7000").toString())
        .isEqualTo("RedisClusterClientBuilder{seeds=[redis://***@a:7000]}");
  }

  @Test
  void toStringNamesGivenResourcesAndRegistryByTheirTypes() {
    ClientResources shared = resources(new RecordingCustomizer());
    assertThat(
            Pools.redis("redis://:" + SECRET + "@cache:6379")
                .name("orders")
                .clientResources(shared)
                .meterRegistry(new SimpleMeterRegistry())
                .toString())
        .isEqualTo(
            "RedisClientBuilder{url=redis://***@cache:6379, name=orders,"
                + " clientResources=DefaultClientResources, meterRegistry=SimpleMeterRegistry}");
  }

  private static Duration ms(long millis) {
    return Duration.ofMillis(millis);
  }
}

package dev.bulwark.pool;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

/** Defaults, single-value checks and cross-setting rules; none of these opens a connection. */
class PostgresPoolBuilderTest {

  private static final String URL = "jdbc:postgresql://127.0.0.1:1/none";

  /** A builder for a 4-core machine, so that size defaults are the same everywhere. */
  private static PostgresPoolBuilder builder() {
    return new PostgresPoolBuilder(URL, "app", "secret", 4);
  }

  @Nested
  class Defaults {
    @Test
    void apiProfileIsSmallQuickAndBounded() {
      PoolSettings r = builder().settings();
      assertThat(r.profile()).isEqualTo(PoolProfile.API);
      assertThat(r.poolName()).isEqualTo("api");
      assertThat(r.maximumPoolSize()).isEqualTo(9); // 4 cores * 2 + 1
      assertThat(r.minimumIdle()).isEqualTo(9);
      assertThat(r.connectionTimeout()).isEqualTo(Duration.ofSeconds(3));
      assertThat(r.validationTimeout()).isEqualTo(Duration.ofSeconds(1));
      assertThat(r.statementTimeout()).isEqualTo(Duration.ofSeconds(30));
      assertThat(r.idleInTransactionSessionTimeout()).isEqualTo(Duration.ofSeconds(60));
      assertThat(r.lockTimeout()).isEqualTo(Duration.ofSeconds(10));
      assertThat(r.maxLifetime()).isEqualTo(Duration.ofMinutes(30));
      assertThat(r.keepaliveTime()).isEqualTo(Duration.ofMinutes(2));
      assertThat(r.idleTimeout()).isEqualTo(Duration.ofMinutes(10));
      assertThat(r.leakDetectionThreshold()).isZero();
      assertThat(r.socketTimeout()).isEqualTo(Duration.ofSeconds(45));
      assertThat(r.connectTimeout()).isEqualTo(Duration.ofSeconds(3));
      assertThat(r.loginTimeout()).isEqualTo(Duration.ofSeconds(5));
      assertThat(r.applicationName()).isEqualTo("api");
      assertThat(r.readOnly()).isFalse();
      assertThat(r.serverSettings()).isEqualTo(ServerSettings.STARTUP_OPTIONS);
      assertThat(r.startupOptions())
          .isEqualTo(
              "-c statement_timeout=30000 -c idle_in_transaction_session_timeout=60000"
                  + " -c lock_timeout=10000");
    }

    @Test
    void workerProfileIsSeparatePatientAndAllowsLongStatements() {
      PoolSettings r = builder().profile(PoolProfile.WORKER).settings();
      assertThat(r.poolName()).isEqualTo("worker");
      assertThat(r.maximumPoolSize()).isEqualTo(4);
      assertThat(r.connectionTimeout()).isEqualTo(Duration.ofSeconds(30));
      assertThat(r.statementTimeout()).isEqualTo(Duration.ofMinutes(5));
      assertThat(r.idleInTransactionSessionTimeout()).isEqualTo(Duration.ofMinutes(5));
      assertThat(r.lockTimeout()).isEqualTo(Duration.ofSeconds(100));
      assertThat(r.socketTimeout()).isEqualTo(Duration.ofSeconds(315));
    }

    @Test
    void workerPoolHasAtLeastTwoConnectionsOnOneCore() {
      PostgresPoolBuilder one = new PostgresPoolBuilder(URL, "app", "", 1);
      assertThat(one.profile(PoolProfile.WORKER).settings().maximumPoolSize()).isEqualTo(2);
    }

    @Test
    void customProfileUsesWhatIsGiven() {
      PoolSettings r =
          builder()
              .profile(PoolProfile.CUSTOM)
              .maximumPoolSize(3)
              .connectionTimeout(Duration.ofMillis(800))
              .statementTimeout(Duration.ofSeconds(2))
              .settings();
      assertThat(r.poolName()).isEqualTo("custom");
      assertThat(r.maximumPoolSize()).isEqualTo(3);
      assertThat(r.validationTimeout()).isEqualTo(Duration.ofMillis(400));
      assertThat(r.lockTimeout()).isEqualTo(Duration.ofMillis(666));
      assertThat(r.socketTimeout()).isEqualTo(Duration.ofSeconds(17));
    }

    @Test
    void derivedDefaultsFollowTheSettingsTheyDependOn() {
      PoolSettings r =
          builder()
              .statementTimeout(Duration.ofMillis(2500))
              .connectTimeout(Duration.ofSeconds(8))
              .infrastructureIdleLimit(Duration.ofSeconds(60))
              .settings();
      assertThat(r.socketTimeout()).isEqualTo(Duration.ofSeconds(18)); // 17.5 s rounded up
      assertThat(r.lockTimeout()).isEqualTo(Duration.ofMillis(833));
      assertThat(r.loginTimeout()).isEqualTo(Duration.ofSeconds(8));
      assertThat(r.maxLifetime()).isEqualTo(Duration.ofSeconds(55));
      // Half of 55 s is under HikariCP's 30 s floor: no keepalive; the lifetime ends first.
      assertThat(r.keepaliveTime()).isZero();
      assertThat(r.idleTimeout()).isEqualTo(Duration.ofMillis(27_500));
    }

    @Test
    void defaultKeepaliveIsHalfTheLifetimeAtMostTwoMinutesAndOffBelowThirtySeconds() {
      assertThat(keepaliveFor(Duration.ofMinutes(5))).isEqualTo(Duration.ofMinutes(2));
      assertThat(keepaliveFor(Duration.ofMinutes(4))).isEqualTo(Duration.ofMinutes(2));
      assertThat(keepaliveFor(Duration.ofMinutes(3))).isEqualTo(Duration.ofSeconds(90));
      assertThat(keepaliveFor(Duration.ofSeconds(60))).isEqualTo(Duration.ofSeconds(30));
      assertThat(keepaliveFor(Duration.ofSeconds(59))).isZero();
      assertThat(keepaliveFor(Duration.ofSeconds(30))).isZero();
    }

    private Duration keepaliveFor(Duration maxLifetime) {
      return builder().maxLifetime(maxLifetime).settings().keepaliveTime();
    }

    @Test
    void documentedLowerBoundsBuild() {
      PoolSettings shortest = builder().maxLifetime(Duration.ofSeconds(30)).settings();
      assertThat(shortest.keepaliveTime()).isZero();
      assertThat(shortest.idleTimeout()).isEqualTo(Duration.ofSeconds(15));
      PoolSettings tightest = builder().infrastructureIdleLimit(Duration.ofSeconds(35)).settings();
      assertThat(tightest.maxLifetime()).isEqualTo(Duration.ofSeconds(30));
      assertThat(tightest.keepaliveTime()).isZero();
      assertThat(
              builder()
                  .maxLifetime(Duration.ofSeconds(31))
                  .keepaliveTime(Duration.ofSeconds(30))
                  .settings()
                  .keepaliveTime())
          .isEqualTo(Duration.ofSeconds(30));
      assertThat(builder().keepaliveTime(Duration.ZERO).hikariConfig().getKeepaliveTime()).isZero();
    }

    @Test
    void connectionBudgetCapsTheDefaultSize() {
      assertThat(builder().connectionBudget(100, 4).settings().maximumPoolSize()).isEqualTo(9);
      assertThat(builder().connectionBudget(30, 4).settings().maximumPoolSize()).isEqualTo(7);
      assertThat(builder().connectionBudget(30, 4, 2).settings().maximumPoolSize()).isEqualTo(3);
      PoolSettings worker =
          builder().profile(PoolProfile.WORKER).connectionBudget(12, 4, 2).settings();
      assertThat(worker.maximumPoolSize()).isEqualTo(1);
      assertThat(worker.minimumIdle()).isEqualTo(1);
    }

    @Test
    void readOnlyPoolAlsoSetsTheServersReadOnlyDefault() {
      PoolSettings r =
          builder().readOnly(true).serverSettingsVia(ServerSettings.CONNECTION_INIT_SQL).settings();
      assertThat(r.initSql())
          .isEqualTo(
              "SET statement_timeout = 30000; SET idle_in_transaction_session_timeout = 60000;"
                  + " SET lock_timeout = 10000; SET default_transaction_read_only = on");
    }

    @Test
    void hikariConfigCarriesEverySetting() {
      var config =
          builder()
              .poolName("orders")
              .applicationName("orders-api")
              .minimumIdle(3)
              .maxLifetime(Duration.ofMinutes(5))
              .leakDetectionThreshold(Duration.ofSeconds(20))
              .readOnly(true)
              .meterRegistry(new SimpleMeterRegistry())
              .hikariConfig();
      assertThat(config.getPoolName()).isEqualTo("orders");
      assertThat(config.getMaximumPoolSize()).isEqualTo(9);
      assertThat(config.getMinimumIdle()).isEqualTo(3);
      assertThat(config.getConnectionTimeout()).isEqualTo(3000);
      assertThat(config.getValidationTimeout()).isEqualTo(1000);
      assertThat(config.getMaxLifetime()).isEqualTo(300_000);
      assertThat(config.getKeepaliveTime()).isEqualTo(120_000);
      assertThat(config.getIdleTimeout()).isEqualTo(150_000); // half the lifetime, under 10 min
      assertThat(config.getLeakDetectionThreshold()).isEqualTo(20_000);
      assertThat(config.isReadOnly()).isTrue();
      assertThat(config.getMetricsTrackerFactory()).isInstanceOf(MeteredTrackerFactory.class);
      assertThat(config.getDataSourceProperties())
          .containsEntry("socketTimeout", "45")
          .containsEntry("connectTimeout", "3")
          .containsEntry("loginTimeout", "5")
          .containsEntry("ApplicationName", "orders-api")
          .containsEntry("tcpKeepAlive", "true")
          .containsEntry("readOnlyMode", "always")
          .containsEntry(
              "options",
              "-c statement_timeout=30000 -c idle_in_transaction_session_timeout=60000"
                  + " -c lock_timeout=10000 -c default_transaction_read_only=on");
      assertThat(config.getConnectionInitSql()).isNull();
      assertThat(config.getThreadFactory().newThread(() -> {}).getName())
          .isEqualTo("bulwark-pool-orders-1");
    }

    @Test
    void aFixedSizePoolLeavesHikarisIdleTimeoutAloneAndAWritablePoolHasNoReadOnlyMode() {
      var config = builder().hikariConfig();
      // HikariCP warns about an idle timeout set on a pool that never shrinks; its default stays.
      assertThat(config.getIdleTimeout()).isEqualTo(600_000);
      assertThat(config.isReadOnly()).isFalse();
      assertThat(config.getDataSourceProperties()).doesNotContainKey("readOnlyMode");
      assertThat(config.getMetricsTrackerFactory()).isNull();
    }

    @Test
    void thePasswordReachesHikariOnlyAsThePassword() {
      // HikariCP masks its password in the configuration it logs at DEBUG, and a "password"
      // data source property, but not other properties or user-info in the URL.
      var config = builder().readOnly(true).hikariConfig();
      assertThat(config.getPassword()).isEqualTo("secret");
      assertThat(config.getJdbcUrl()).isEqualTo(URL);
      assertThat(config.getDataSourceProperties().values())
          .noneMatch(v -> v.toString().contains("secret"));
    }

    @Test
    void settingsReadAsOneLogLineWithoutSecrets() {
      PoolSettings settings =
          new PostgresPoolBuilder(URL + "?sslmode=require&sslpassword=hunter3", "app", "hunter2", 4)
              .settings();
      assertThat(settings.jdbcUrl())
          .isEqualTo("jdbc:postgresql://127.0.0.1:1/none?sslmode=require&sslpassword=***");
      assertThat(settings.toString())
          .isEqualTo(
              "PoolSettings{jdbcUrl=jdbc:postgresql://127.0.0.1:1/none?sslmode=require"
                  + "&sslpassword=***, user=app, profile=API, poolName=api, maximumPoolSize=9,"
                  + " minimumIdle=9, connectionTimeout=3000 ms, validationTimeout=1000 ms,"
                  + " statementTimeout=30000 ms, idleInTransactionSessionTimeout=60000 ms,"
                  + " lockTimeout=10000 ms, maxLifetime=1800000 ms, keepaliveTime=120000 ms,"
                  + " idleTimeout=600000 ms, leakDetectionThreshold=0 ms, socketTimeout=45 s,"
                  + " connectTimeout=3 s, loginTimeout=5 s, applicationName=api, readOnly=false,"
                  + " serverSettings=STARTUP_OPTIONS}")
          .doesNotContain("hunter");
    }

    @Test
    void settingsMadeByHandMaskTheirUrlToo() {
      PoolSettings s = builder().settings();
      PoolSettings byHand =
          new PoolSettings(
              "jdbc:postgresql://app:hunter2@db/shop?password=hunter2",
              s.user(),
              s.profile(),
              s.poolName(),
              s.maximumPoolSize(),
              s.minimumIdle(),
              s.connectionTimeout(),
              s.validationTimeout(),
              s.statementTimeout(),
              s.idleInTransactionSessionTimeout(),
              s.lockTimeout(),
              s.maxLifetime(),
              s.keepaliveTime(),
              s.idleTimeout(),
              s.leakDetectionThreshold(),
              s.socketTimeout(),
              s.connectTimeout(),
              s.loginTimeout(),
              s.applicationName(),
              s.readOnly(),
              s.serverSettings());
      assertThat(byHand.jdbcUrl()).isEqualTo("jdbc:postgresql://***@db/shop?password=***");
      assertThat(byHand.toString()).doesNotContain("hunter2");
    }

    @Test
    void toStringShowsWhatWasSetButNoSecrets() {
      PostgresPoolBuilder b =
          new PostgresPoolBuilder(URL + "?sslpassword=hunter3", "app", "hunter2", 4)
              .statementTimeout(Duration.ofSeconds(30))
              .profile(PoolProfile.WORKER);
      assertThat(b.toString())
          .isEqualTo(
              "PostgresPoolBuilder{url=jdbc:postgresql://127.0.0.1:1/none, user=app,"
                  + " profile=WORKER, statementTimeout=30000 ms}");
    }
  }

  /** One test per pair of settings that contradict each other. */
  @Nested
  class InconsistentCombinations {
    @Test
    void validationTimeoutNotBelowConnectionTimeout() {
      assertRefused(
          builder()
              .connectionTimeout(Duration.ofSeconds(1))
              .validationTimeout(Duration.ofSeconds(1)),
          "validationTimeout must be less than connectionTimeout (1000 ms), but was 1000 ms");
    }

    @Test
    void keepaliveNotBelowMaxLifetime() {
      assertRefused(
          builder().maxLifetime(Duration.ofSeconds(60)).keepaliveTime(Duration.ofSeconds(60)),
          "keepaliveTime must be less than maxLifetime (60000 ms), but was 60000 ms");
    }

    @Test
    void maxLifetimeTooCloseToInfrastructureIdleLimit() {
      assertRefused(
          builder()
              .infrastructureIdleLimit(Duration.ofMinutes(5))
              .maxLifetime(Duration.ofSeconds(298)),
          "maxLifetime must be at least 5 s shorter than infrastructureIdleLimit (300000 ms),"
              + " but was 298000 ms");
    }

    @Test
    void explicitKeepaliveNotBelowTheShortestMaxLifetime() {
      // The default keepalive turns itself off here; one set explicitly is checked.
      assertRefused(
          builder().maxLifetime(Duration.ofSeconds(30)).keepaliveTime(Duration.ofSeconds(30)),
          "keepaliveTime must be less than maxLifetime (30000 ms), but was 30000 ms");
    }

    @Test
    void leakDetectionNotBelowMaxLifetime() {
      assertRefused(
          builder()
              .maxLifetime(Duration.ofSeconds(60))
              .leakDetectionThreshold(Duration.ofSeconds(60)),
          "leakDetectionThreshold must be less than maxLifetime (60000 ms), but was 60000 ms");
    }

    @Test
    void lockTimeoutAboveStatementTimeout() {
      assertRefused(
          builder().statementTimeout(Duration.ofSeconds(5)).lockTimeout(Duration.ofSeconds(6)),
          "lockTimeout must be at most statementTimeout (5000 ms), but was 6000 ms");
    }

    @Test
    void socketTimeoutWithoutMarginOverStatementTimeout() {
      assertRefused(
          builder().statementTimeout(Duration.ofSeconds(30)).socketTimeout(Duration.ofSeconds(34)),
          "socketTimeout must be at least statementTimeout (30000 ms) + 5000 ms, but was 34000"
              + " ms");
    }

    @Test
    void defaultSocketTimeoutBelowALongerStatementTimeoutIsNotPossible() {
      // Raising only the statement timeout moves the default socket timeout along with it.
      assertThat(builder().statementTimeout(Duration.ofHours(2)).settings().socketTimeout())
          .isEqualTo(Duration.ofSeconds(7215));
    }

    @Test
    void connectTimeoutAboveLoginTimeout() {
      assertRefused(
          builder().connectTimeout(Duration.ofSeconds(10)).loginTimeout(Duration.ofSeconds(5)),
          "connectTimeout must be at most loginTimeout (5 s), but was 10 s");
    }

    @Test
    void minimumIdleAboveMaximumPoolSize() {
      assertRefused(
          builder().maximumPoolSize(4).minimumIdle(5),
          "minimumIdle must be at most maximumPoolSize (4), but was 5");
    }

    @Test
    void minimumIdleAboveTheSizeTheBudgetLeaves() {
      assertRefused(
          builder().connectionBudget(30, 4).minimumIdle(9),
          "minimumIdle must be at most maximumPoolSize (7), but was 9");
    }

    @Test
    void maximumPoolSizeAboveConnectionBudget() {
      assertRefused(
          builder().connectionBudget(20, 4).maximumPoolSize(6),
          "maximumPoolSize must be at most 5 to fit connectionBudget (totalDbConnections 20 /"
              + " instances 4 / poolsPerInstance 1), but was 6");
    }

    @Test
    void connectionBudgetBelowTheProfilesSmallestPool() {
      assertRefused(
          builder().connectionBudget(12, 4, 2),
          "connectionBudget must leave at least 2 connections per pool for the API profile, but"
              + " leaves 1 (totalDbConnections 12 / instances 4 / poolsPerInstance 2)");
    }

    @Test
    void connectionBudgetThatLeavesNothing() {
      assertRefused(
          builder().profile(PoolProfile.WORKER).connectionBudget(3, 4),
          "connectionBudget must leave at least 1 connection per pool for the WORKER profile,"
              + " but leaves 0 (totalDbConnections 3 / instances 4 / poolsPerInstance 1)");
    }

    @Test
    void maximumPoolSizeBelowTheProfilesSmallestPool() {
      assertRefused(
          builder().maximumPoolSize(1),
          "maximumPoolSize must be at least 2 for the API profile, but was 1");
    }

    @Test
    void customProfileWithoutPoolSize() {
      assertThatThrownBy(() -> builder().profile(PoolProfile.CUSTOM).build())
          .isInstanceOf(IllegalStateException.class)
          .hasMessage("maximumPoolSize must be set for the CUSTOM profile, but was not set");
    }

    @Test
    void customProfileWithoutConnectionTimeout() {
      assertThatThrownBy(() -> builder().profile(PoolProfile.CUSTOM).maximumPoolSize(2).build())
          .isInstanceOf(IllegalStateException.class)
          .hasMessage("connectionTimeout must be set for the CUSTOM profile, but was not set");
    }

    @Test
    void customProfileWithoutStatementTimeout() {
      assertThatThrownBy(
              () ->
                  builder()
                      .profile(PoolProfile.CUSTOM)
                      .maximumPoolSize(2)
                      .connectionTimeout(Duration.ofSeconds(1))
                      .build())
          .isInstanceOf(IllegalStateException.class)
          .hasMessage("statementTimeout must be set for the CUSTOM profile, but was not set");
    }

    @Test
    void serverTimeoutsSetWithServerDefaultsWouldNeverReachTheServer() {
      assertConflict(
          builder()
              .serverSettingsVia(ServerSettings.SERVER_DEFAULTS)
              .lockTimeout(Duration.ofSeconds(2)),
          "lockTimeout cannot be combined with serverSettingsVia(SERVER_DEFAULTS), which sends no"
              + " server settings: set it on the server (ALTER ROLE ... SET) and leave it unset");
      assertConflict(
          builder()
              .serverSettingsVia(ServerSettings.SERVER_DEFAULTS)
              .lockTimeout(Duration.ofSeconds(2))
              .idleInTransactionSessionTimeout(Duration.ofSeconds(20)),
          "lockTimeout and idleInTransactionSessionTimeout cannot be combined with"
              + " serverSettingsVia(SERVER_DEFAULTS), which sends no server settings: set them on"
              + " the server (ALTER ROLE ... SET) and leave them unset");
      // The statement timeout is still needed: the socket timeout is checked against it.
      assertThat(
              builder()
                  .serverSettingsVia(ServerSettings.SERVER_DEFAULTS)
                  .statementTimeout(Duration.ofSeconds(7))
                  .settings()
                  .socketTimeout())
          .isEqualTo(Duration.ofSeconds(22));
    }

    @Test
    void aSecondPoolOfTheSameNameInOneRegistry() {
      SimpleMeterRegistry registry = new SimpleMeterRegistry();
      Gauge.builder(MeteredTrackerFactory.UTILIZATION, () -> 0.0)
          .tag("name", "orders")
          .register(registry);
      assertConflict(
          builder().poolName("orders").meterRegistry(registry),
          "meterRegistry already holds the meters of a pool named \"orders\": give each pool its"
              + " own poolName");
      // Another name, or another registry, is fine.
      assertThat(builder().poolName("billing").meterRegistry(registry).settings().poolName())
          .isEqualTo("billing");
      assertThat(builder().poolName("orders").meterRegistry(new SimpleMeterRegistry()).settings())
          .isNotNull();
    }

    private void assertConflict(PostgresPoolBuilder builder, String message) {
      assertThatThrownBy(builder::build)
          .isInstanceOf(IllegalStateException.class)
          .hasMessage(message);
    }

    private void assertRefused(PostgresPoolBuilder builder, String message) {
      // build() fails before it opens a connection (the URL points at a closed port).
      assertThatThrownBy(builder::build)
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessage(message);
    }
  }

  @Nested
  class SingleValues {
    @Test
    void poolSizes() {
      assertArgument(
          () -> builder().maximumPoolSize(0),
          "maximumPoolSize must be between 1 and 10000, but was 0");
      assertArgument(
          () -> builder().minimumIdle(-1), "minimumIdle must be between 0 and 10000, but was -1");
    }

    @Test
    void millisecondDurations() {
      assertArgument(
          () -> builder().connectionTimeout(Duration.ofMillis(100)),
          "connectionTimeout must be between 500 ms and 600000 ms, but was 100 ms");
      assertArgument(
          () -> builder().connectionTimeout(Duration.ofSeconds(-1)),
          "connectionTimeout must be between 500 ms and 600000 ms, but was -1000 ms");
      assertArgument(
          () -> builder().validationTimeout(Duration.ofMillis(100)),
          "validationTimeout must be between 250 ms and 60000 ms, but was 100 ms");
      assertArgument(
          () -> builder().statementTimeout(Duration.ZERO),
          "statementTimeout must be between 1 ms and 86400000 ms, but was 0 ms");
      assertArgument(
          () -> builder().idleInTransactionSessionTimeout(Duration.ofNanos(500_000)),
          "idleInTransactionSessionTimeout must be between 1 ms and 86400000 ms, but was 0.5 ms");
      assertArgument(
          () -> builder().lockTimeout(Duration.ofHours(25)),
          "lockTimeout must be between 1 ms and 86400000 ms, but was 90000000 ms");
      assertArgument(
          () -> builder().maxLifetime(Duration.ofSeconds(10)),
          "maxLifetime must be between 30000 ms and 86400000 ms, but was 10000 ms");
      assertArgument(
          () -> builder().keepaliveTime(Duration.ofSeconds(10)),
          "keepaliveTime must be between 30000 ms and 86400000 ms, but was 10000 ms");
      assertArgument(
          () -> builder().leakDetectionThreshold(Duration.ofSeconds(1)),
          "leakDetectionThreshold must be between 2000 ms and 86400000 ms, but was 1000 ms");
      assertArgument(
          () -> builder().infrastructureIdleLimit(Duration.ofSeconds(30)),
          "infrastructureIdleLimit must be between 35000 ms and 604800000 ms, but was 30000 ms");
    }

    @Test
    void zeroTurnsKeepaliveOff() {
      assertThat(builder().keepaliveTime(Duration.ZERO).settings().keepaliveTime()).isZero();
    }

    @Test
    void zeroTurnsLeakDetectionOff() {
      assertThat(
              builder().leakDetectionThreshold(Duration.ZERO).settings().leakDetectionThreshold())
          .isZero();
    }

    @Test
    void wholeSecondDurations() {
      assertArgument(
          () -> builder().socketTimeout(Duration.ofMillis(1500)),
          "socketTimeout must be a whole number of seconds between 1 s and 90000 s, but was 1.5 s");
      assertArgument(
          () -> builder().connectTimeout(Duration.ofMinutes(6)),
          "connectTimeout must be a whole number of seconds between 1 s and 300 s, but was 360 s");
      assertArgument(
          () -> builder().loginTimeout(Duration.ZERO),
          "loginTimeout must be a whole number of seconds between 1 s and 300 s, but was 0 s");
    }

    @Test
    void names() {
      assertArgument(
          () -> builder().poolName("a b"),
          "poolName must be 1 to 63 letters, digits, '.', '_' or '-', but was \"a b\"");
      // PostgreSQL keeps 63 characters of application_name, which defaults to the pool name.
      String longest = "p".repeat(63);
      assertThat(builder().poolName(longest).settings().applicationName()).isEqualTo(longest);
      assertArgument(
          () -> builder().poolName(longest + "q"),
          "poolName must be 1 to 63 letters, digits, '.', '_' or '-', but was \""
              + longest
              + "q\"");
      assertArgument(
          () -> builder().applicationName(""),
          "applicationName must be 1 to 63 printable ASCII characters, but was \"\"");
    }

    @Test
    void connectionBudget() {
      assertArgument(
          () -> builder().connectionBudget(0, 1),
          "totalDbConnections must be between 1 and 1000000, but was 0");
      assertArgument(
          () -> builder().connectionBudget(10, 0),
          "instances must be between 1 and 10000, but was 0");
      assertArgument(
          () -> builder().connectionBudget(10, 1, 0),
          "poolsPerInstance must be between 1 and 100, but was 0");
    }

    @Test
    void jdbcUrlAndUser() {
      assertArgument(
          () -> Pools.postgres("jdbc:mysql://x/db", "app", ""),
          "jdbcUrl must start with jdbc:postgresql:, but was jdbc:mysql:...");
      assertArgument(
          () -> Pools.postgres(URL + "?sslmode=require&sockettimeout=0", "app", ""),
          "jdbcUrl must not carry the socketTimeout parameter (the builder sets it), but it does");
      assertArgument(
          () -> Pools.postgres(URL + "?readOnlyMode=ignore", "app", ""),
          "jdbcUrl must not carry the readOnlyMode parameter (the builder sets it), but it does");
      assertArgument(
          () -> Pools.postgres(URL + "?password=x", "app", ""),
          "jdbcUrl must not carry the password parameter (the builder sets it), but it does");
      assertArgument(
          () -> Pools.postgres(URL, "", ""), "user must be a non-empty role name, but was \"\"");
    }

    @Test
    void jdbcUrlWithAUserOrPasswordIsRefusedMasked() {
      // A platform's DATABASE_URL with jdbc: in front: pgjdbc would take "shop:s3cr3t@db" as the
      // host name and quote it in its UnknownHostException.
      assertArgument(
          () ->
              Pools.postgres(
                  "jdbc:postgresql://shop:s3cr3t@db.internal:5432/shop", "shop", "s3cr3t"),
          "jdbcUrl must not carry a user or password (pass them to Pools.postgres(jdbcUrl, user,"
              + " password); percent-encode an '@' in a parameter as %40), but was jdbc:postgresql://***@db.internal:5432/shop");
      assertArgument(
          () -> Pools.postgres("jdbc:postgresql:shop:s3cr3t@db.internal/shop", "shop", ""),
          "jdbcUrl must not carry a user or password (pass them to Pools.postgres(jdbcUrl, user,"
              + " password); percent-encode an '@' in a parameter as %40), but was ***@db.internal/shop");
      // An @ in a parameter is not a user.
      assertThat(Pools.postgres(URL + "?sslcert=/certs/app@prod.crt", "app", "")).isNotNull();
    }

    @Test
    void jdbcUrlThatPgjdbcCannotReadIsRefusedMasked() {
      assertArgument(
          () ->
              Pools.postgres(
                  "jdbc:postgresql://db.internal:notaport/shop?sslpassword=s3cr3t", "shop", ""),
          "jdbcUrl must be a valid pgjdbc URL, jdbc:postgresql://host[:port]/database[?parameters],"
              // A "port" that is not a number may be a password whose '@' was forgotten.
              + " but was jdbc:postgresql://db.internal:***");
      assertArgument(
          () -> Pools.postgres("jdbc:postgresql://db.internal:70000/shop", "shop", ""),
          "jdbcUrl must be a valid pgjdbc URL, jdbc:postgresql://host[:port]/database[?parameters],"
              + " but was jdbc:postgresql://db.internal:70000/shop");
    }

    @Test
    void aSettingGivenTwiceIsAnError() {
      assertThatThrownBy(
              () ->
                  builder()
                      .statementTimeout(Duration.ofSeconds(30))
                      .statementTimeout(Duration.ofSeconds(5)))
          .isInstanceOf(IllegalStateException.class)
          .hasMessage("statementTimeout was already set to 30000 ms");
      assertThatThrownBy(() -> builder().profile(PoolProfile.API).profile(PoolProfile.WORKER))
          .isInstanceOf(IllegalStateException.class)
          .hasMessage("profile was already set to API");
      assertThatThrownBy(
              () ->
                  builder()
                      .socketTimeout(Duration.ofSeconds(40))
                      .socketTimeout(Duration.ofSeconds(40)))
          .isInstanceOf(IllegalStateException.class)
          .hasMessage("socketTimeout was already set to 40 s");
      assertThatThrownBy(() -> builder().connectionBudget(10, 1).connectionBudget(10, 1, 1))
          .isInstanceOf(IllegalStateException.class)
          .hasMessage(
              "connectionBudget was already set to totalDbConnections 10 / instances 1 /"
                  + " poolsPerInstance 1");
      assertThatThrownBy(() -> builder().readOnly(false).readOnly(true))
          .isInstanceOf(IllegalStateException.class)
          .hasMessage("readOnly was already set to false");
    }

    @Test
    void nullIsRefusedWithTheArgumentsName() {
      assertThatThrownBy(() -> builder().statementTimeout(null))
          .isInstanceOf(NullPointerException.class)
          .hasMessage("timeout");
    }

    private void assertArgument(Runnable call, String message) {
      assertThatThrownBy(call::run)
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessage(message);
    }
  }

  @Test
  void snapshotUtilizationIsActiveOverMax() {
    PoolSnapshot s = PoolSnapshot.of("api", 3, 1, 0, 4, 4);
    assertThat(s.utilization()).isEqualTo(0.75);
    assertThatThrownBy(() -> new PoolSnapshot("api", -1, 0, 0, 0, 1, 0.0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("counts must be at least 0, but were active -1, idle 0, pending 0, total 0");
    assertThatThrownBy(() -> new PoolSnapshot("api", 0, 0, 0, 0, 1, 1.5))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("utilization must be between 0.0 and 1.0, but was 1.5");
  }
}

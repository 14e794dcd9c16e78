package dev.bulwark.examples.pool;

import static dev.bulwark.examples.Await.awaitTrue;
import static dev.bulwark.examples.Await.sleep;
import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.zaxxer.hikari.HikariDataSource;
import dev.bulwark.examples.RecordingLogger;
import dev.bulwark.pool.PoolProfile;
import dev.bulwark.pool.PoolSettings;
import dev.bulwark.pool.PoolSnapshot;
import dev.bulwark.pool.Pools;
import dev.bulwark.pool.ServerSettings;
import dev.bulwark.testing.FaultProxy;
import dev.bulwark.testing.PostgresExtension;
import dev.bulwark.testing.RedisExtension;
import dev.bulwark.testing.TestDatabase;
import dev.bulwark.testing.TestPgBouncer;
import dev.bulwark.testing.TestPostgres;
import dev.bulwark.testing.TestRedis;
import dev.bulwark.testing.TestRole;
import io.lettuce.core.KeyValue;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisCredentials;
import io.lettuce.core.RedisCredentialsProvider;
import io.lettuce.core.RedisURI;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.cluster.api.StatefulRedisClusterConnection;
import io.lettuce.core.cluster.models.partitions.RedisClusterNode;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.net.URI;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.assertj.core.api.InstanceOfAssertFactories;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.slf4j.Logger;

/**
 * Runs each Java snippet of {@code docs/pool.md} as written, against a real PostgreSQL and Redis,
 * and checks what the page says it does. Where the page names a host the tests cannot reach ({@code
 * db.internal}, {@code pgbouncer:6432}), the snippet takes the URL from a variable that the test
 * declares.
 */
@ExtendWith({PostgresExtension.class, RedisExtension.class})
class PoolRecipesTest {
  private static final Duration WAIT = Duration.ofSeconds(20);
  private static final int CORES = Runtime.getRuntime().availableProcessors();

  private final RecordingLogger recording = new RecordingLogger();
  private final Logger log = recording;

  // The page's opening lines

  @Test
  void theOpeningLinesBuildAnApiPoolAndARedisClient(TestPostgres postgres, TestDatabase db) {
    assumeTrue(postgres.isEmbedded(), "needs a role whose password the server checks");
    // The examples' pom sets REDIS_URL for the tests; building a client connects to nothing.
    assertThat(System.getenv("REDIS_URL")).isEqualTo("rediss://:p4ssw0rd@cache.example.com:6380/0");
    try (TestRole role = postgres.newRole()) {
      String jdbcUrl = db.jdbcUrl();
      String user = role.name();
      String password = role.password();

      // snippet:begin pool-overview
      HikariDataSource api = Pools.postgres(jdbcUrl, user, password).build(); // API profile
      RedisClient redis = Pools.redis(System.getenv("REDIS_URL")).build();
      PoolSnapshot now = Pools.snapshot(api); // for health checks
      log.info("database pool: {}", Pools.settings(api)); // every timeout, masked
      // snippet:end

      try {
        assertThat(now.name()).isEqualTo("api");
        assertThat(now.max()).isEqualTo(CORES * 2 + 1);
        assertThat(recording.lines())
            .singleElement(InstanceOfAssertFactories.STRING)
            .startsWith("INFO database pool: PoolSettings{jdbcUrl=" + jdbcUrl + ", user=" + user)
            .contains("profile=API", "statementTimeout=30000 ms", "socketTimeout=45 s")
            .doesNotContain(password);
      } finally {
        redis.shutdown(Duration.ZERO, Duration.ofSeconds(2));
        api.close();
      }
    }
  }

  @Test
  void aDatabaseUrlSplitIntoItsPartsLogsIn(TestPostgres postgres, TestDatabase db)
      throws SQLException {
    assumeTrue(postgres.isEmbedded(), "needs a role whose password the server checks");
    try (TestRole role = postgres.newRole()) {
      String databaseUrl =
          "postgres://"
              + role.name()
              + ":"
              + role.password()
              + "@"
              + postgres.host()
              + ":"
              + postgres.port()
              + "/"
              + db.database();
      // Given whole, it is refused, with the password masked.
      assertThatThrownBy(
              () ->
                  Pools.postgres(
                      databaseUrl.replace("postgres://", "jdbc:postgresql://"),
                      role.name(),
                      role.password()))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageStartingWith("jdbcUrl must not carry a user or password")
          .message()
          .doesNotContain(role.password());

      // snippet:begin pool-database-url
      // databaseUrl: the platform's DATABASE_URL, postgres://shop:s3cr3t@db.internal:5432/shop
      URI uri = URI.create(databaseUrl);
      String[] credentials = uri.getUserInfo().split(":", 2);
      HikariDataSource api =
          Pools.postgres(
                  "jdbc:postgresql://" + uri.getHost() + ":" + uri.getPort() + uri.getPath(),
                  credentials[0],
                  credentials[1])
              .build();
      // snippet:end

      try (Connection c = api.getConnection()) {
        assertThat(query(c, "select current_user")).isEqualTo(role.name());
        assertThat(query(c, "select current_database()")).isEqualTo(db.database());
      } finally {
        api.close();
      }
    }
  }

  // Settings in a start-up log line

  @Test
  void theSettingsLineIsTheOneThePageShows(TestPostgres postgres, TestDatabase db) {
    assumeTrue(postgres.isEmbedded(), "needs a role whose password the server checks");
    try (TestRole role = postgres.newRole()) {
      String url = db.jdbcUrl() + "?sslmode=disable";
      String user = role.name();
      String password = role.password();

      // snippet:begin pool-settings-log
      HikariDataSource api = Pools.postgres(url, user, password).build();
      log.info("database pool: {}", Pools.settings(api));
      // snippet:end

      try {
        int size = CORES * 2 + 1;
        assertThat(recording.lines())
            .containsExactly(
                "INFO database pool: PoolSettings{jdbcUrl="
                    + url
                    + ", user="
                    + user
                    + ", profile=API, poolName=api, maximumPoolSize="
                    + size
                    + ", minimumIdle="
                    + size
                    + ", connectionTimeout=3000 ms, validationTimeout=1000 ms,"
                    + " statementTimeout=30000 ms, idleInTransactionSessionTimeout=60000 ms,"
                    + " lockTimeout=10000 ms, maxLifetime=1800000 ms, keepaliveTime=120000 ms,"
                    + " idleTimeout=600000 ms, leakDetectionThreshold=0 ms, socketTimeout=45 s,"
                    + " connectTimeout=3 s, loginTimeout=5 s, applicationName=api, readOnly=false,"
                    + " serverSettings=STARTUP_OPTIONS}");
      } finally {
        api.close();
      }
    }
  }

  // Recipe: API pool and worker pool

  @Test
  void theApiAndWorkerPoolsAreSizedByCoresAndBudget(TestDatabase db) {
    MeterRegistry registry = new SimpleMeterRegistry();
    String url = db.jdbcUrl();
    String user = db.user();
    String password = db.password();

    // snippet:begin pool-api-and-worker
    // url, user, password: from the environment; url like
    // jdbc:postgresql://db.internal:5432/shop?sslmode=require
    HikariDataSource api =
        Pools.postgres(url, user, password)
            .profile(PoolProfile.API) // cores * 2 + 1, 3 s acquire, 30 s statements
            .connectionBudget(80, 5) // at most 80 / 5 = 16 per instance
            .meterRegistry(registry)
            .build();

    HikariDataSource worker =
        Pools.postgres(url, user, password)
            .profile(PoolProfile.WORKER) // max(2, cores), 30 s acquire, 5 min statements
            .connectionBudget(20, 5) // at most 4 per instance
            .meterRegistry(registry)
            .build();

    // Requests use api; scheduled jobs and queue consumers use worker.
    // On shutdown, close both: worker.close(); api.close();
    // snippet:end

    try {
      // On 2 cores: 5 and 2.
      assertThat(api.getMaximumPoolSize()).isEqualTo(Math.min(CORES * 2 + 1, 16));
      assertThat(worker.getMaximumPoolSize()).isEqualTo(Math.min(Math.max(2, CORES), 4));
      PoolSettings apiSettings = Pools.settings(api);
      assertThat(apiSettings.connectionTimeout()).isEqualTo(Duration.ofSeconds(3));
      assertThat(apiSettings.statementTimeout()).isEqualTo(Duration.ofSeconds(30));
      PoolSettings workerSettings = Pools.settings(worker);
      assertThat(workerSettings.connectionTimeout()).isEqualTo(Duration.ofSeconds(30));
      assertThat(workerSettings.statementTimeout()).isEqualTo(Duration.ofMinutes(5));
      assertThat(registry.get("bulwark.pool.utilization").tag("name", "api").gauge()).isNotNull();
      assertThat(registry.get("bulwark.pool.utilization").tag("name", "worker").gauge())
          .isNotNull();
    } finally {
      worker.close();
      api.close();
    }
  }

  // Recipe: 30 s statement timeout

  @Test
  void everyConnectionCarriesTheThreeLimitsAndTheSocketTimeoutFollows(TestDatabase db)
      throws SQLException {
    String url = db.jdbcUrl();
    String user = db.user();
    String password = db.password();

    // snippet:begin pool-statement-timeout
    HikariDataSource api =
        Pools.postgres(url, user, password)
            .profile(PoolProfile.API)
            .statementTimeout(Duration.ofSeconds(30)) // server cancels: SQLState 57014
            .idleInTransactionSessionTimeout(Duration.ofSeconds(60))
            .lockTimeout(Duration.ofSeconds(10)) // waiting for a lock: SQLState 55P03
            // socketTimeout follows: 45 s, so the server always cancels before the client gives up
            .build();
    // snippet:end

    try (Connection c = api.getConnection()) {
      assertThat(query(c, "show statement_timeout")).isEqualTo("30s");
      assertThat(query(c, "show idle_in_transaction_session_timeout")).isEqualTo("1min");
      assertThat(query(c, "show lock_timeout")).isEqualTo("10s");
      assertThat(c.getNetworkTimeout()).isEqualTo(45_000);
    } finally {
      api.close();
    }
  }

  @Test
  void aCallerTellsAStatementTimeoutByItsSqlState(TestDatabase db) throws SQLException {
    execute(db, "create table orders(id bigint primary key, customer_id bigint not null)");
    long customerId = 3;
    // One connection, whose statements the server cancels after 1 s; the lock timeout is as long,
    // so a statement stuck behind a lock meets the statement timeout first.
    try (HikariDataSource api =
            Pools.postgres(db.jdbcUrl(), db.user(), db.password())
                .profile(PoolProfile.WORKER)
                .maximumPoolSize(1)
                .statementTimeout(Duration.ofSeconds(1))
                .lockTimeout(Duration.ofSeconds(1))
                .build();
        Connection locker = db.connect()) {
      int pid;
      try (Connection c = api.getConnection()) {
        pid = TestPostgres.backendPid(c);
      }
      locker.setAutoCommit(false);
      execute(locker, "lock table orders in access exclusive mode");

      // snippet:begin pool-statement-timeout-caller
      try (Connection c = api.getConnection();
          PreparedStatement s =
              c.prepareStatement("select count(*) from orders where customer_id = ?")) {
        s.setLong(1, customerId);
        try (ResultSet rs = s.executeQuery()) {
          while (rs.next()) {
            // read a row
          }
        }
      } catch (SQLException e) {
        if (!"57014".equals(e.getSQLState())) {
          throw e;
        }
        // cancelled by statement_timeout; the connection is still good
      }
      // snippet:end

      // The statement could not have run while the table was locked: it was cancelled (57014),
      // else the snippet would have thrown. The pool kept its one connection.
      locker.rollback();
      try (Connection c = api.getConnection()) {
        assertThat(TestPostgres.backendPid(c)).isEqualTo(pid);
        assertThat(query(c, "select count(*) from orders")).isEqualTo("0");
      }
    }
  }

  @Test
  void aLongStatementRaisesBothLimitsForOneBorrowOnly(TestDatabase db) throws SQLException {
    // One connection with the API profile's limits: 30 s statements, 45 s socket timeout.
    try (HikariDataSource api =
        Pools.postgres(db.jdbcUrl(), db.user(), db.password())
            .profile(PoolProfile.WORKER)
            .maximumPoolSize(1)
            .statementTimeout(Duration.ofSeconds(30))
            .build()) {

      // snippet:begin pool-long-statement
      try (Connection c = api.getConnection()) {
        c.setAutoCommit(false);
        // Above the raised statement timeout, so the server still cancels first. pgjdbc
        // ignores the executor, but JDBC wants one.
        c.setNetworkTimeout(Runnable::run, (int) Duration.ofMinutes(5).plusSeconds(15).toMillis());
        try (Statement s = c.createStatement()) {
          s.execute("set local statement_timeout = '5min'");
          // ... the long query ...
        }
        c.commit();
      }
      // snippet:end

      try (Connection c = api.getConnection()) {
        assertThat(query(c, "show statement_timeout")).isEqualTo("30s");
        assertThat(c.getNetworkTimeout()).isEqualTo(45_000);
      }
    }
  }

  // Recipe: pool behind PgBouncer

  @Test
  void inSessionModeTheLimitsAreSetWhenEachConnectionOpens(TestDatabase db) throws SQLException {
    String url = db.jdbcUrl();
    String user = db.user();
    String password = db.password();

    // snippet:begin pool-pgbouncer-session
    // url: jdbc:postgresql://pgbouncer:6432/shop
    HikariDataSource api =
        Pools.postgres(url, user, password)
            .serverSettingsVia(ServerSettings.CONNECTION_INIT_SQL)
            .build();
    // snippet:end

    try (Connection c = api.getConnection()) {
      assertThat(query(c, "show statement_timeout")).isEqualTo("30s");
      assertThat(query(c, "show lock_timeout")).isEqualTo("10s");
      // Set with SET, not as the session's defaults: RESET ALL takes them away.
      execute(c, "reset all");
      assertThat(query(c, "show statement_timeout")).isEqualTo("0");
    } finally {
      api.close();
    }
  }

  @Test
  void inTransactionModeThePoolSendsNothingAndTheRoleSetsTheLimits(
      TestPostgres postgres, TestDatabase db) throws SQLException {
    assumeTrue(postgres.isEmbedded(), "needs a role of its own");
    try (TestRole role = postgres.newRole()) {
      String url = db.jdbcUrl() + "?prepareThreshold=0";
      String user = role.name();
      String password = role.password();

      // snippet:begin pool-pgbouncer-transaction
      // url: jdbc:postgresql://pgbouncer:6432/shop?prepareThreshold=0
      HikariDataSource api =
          Pools.postgres(url, user, password)
              .serverSettingsVia(ServerSettings.SERVER_DEFAULTS)
              .statementTimeout(Duration.ofSeconds(30)) // what the role enforces
              // PgBouncer's client_idle_timeout, if set
              .infrastructureIdleLimit(Duration.ofMinutes(10))
              .build();
      // snippet:end

      try {
        try (Connection c = api.getConnection()) {
          // Nothing was sent: the role has no settings yet, so the server's defaults hold.
          assertThat(query(c, "show statement_timeout")).isEqualTo("0");
        }
        assertThat(Pools.settings(api).maxLifetime())
            .isEqualTo(Duration.ofMinutes(10).minusSeconds(5));
        // The page's ALTER ROLE statements, then a new session.
        try (Connection admin = postgres.connect()) {
          execute(admin, "alter role " + user + " set statement_timeout = '30s'");
          execute(admin, "alter role " + user + " set idle_in_transaction_session_timeout = '60s'");
          execute(admin, "alter role " + user + " set lock_timeout = '10s'");
        }
        api.getHikariPoolMXBean().softEvictConnections();
        try (Connection c = api.getConnection()) {
          assertThat(query(c, "show statement_timeout")).isEqualTo("30s");
          assertThat(query(c, "show idle_in_transaction_session_timeout")).isEqualTo("1min");
          assertThat(query(c, "show lock_timeout")).isEqualTo("10s");
        }
      } finally {
        api.close();
      }
    }
  }

  // The same recipe through a real PgBouncer 1.18 (skipped where there is no pgbouncer binary)

  @Test
  void behindPgBouncerTheDefaultStartupOptionsAreRefused(TestDatabase db) {
    TestPgBouncer bouncer = TestPgBouncer.get();
    String url = bouncer.sessionJdbcUrl(db.database());

    assertThatThrownBy(() -> Pools.postgres(url, bouncer.user(), bouncer.password()).build())
        .rootCause()
        .hasMessageContaining("unsupported startup parameter: options");
  }

  @Test
  void theSessionModeRecipeSetsTheLimitsThroughPgBouncer(TestDatabase db) throws SQLException {
    TestPgBouncer bouncer = TestPgBouncer.get();
    HikariDataSource api =
        Pools.postgres(bouncer.sessionJdbcUrl(db.database()), bouncer.user(), bouncer.password())
            .serverSettingsVia(ServerSettings.CONNECTION_INIT_SQL)
            .build();
    try (Connection c = api.getConnection()) {
      assertThat(query(c, "show statement_timeout")).isEqualTo("30s");
      assertThat(query(c, "show idle_in_transaction_session_timeout")).isEqualTo("1min");
      assertThat(query(c, "show lock_timeout")).isEqualTo("10s");
    } finally {
      api.close();
    }
  }

  @Test
  void theTransactionModeRecipeGetsTheLimitsFromTheServerThroughPgBouncer(TestDatabase db)
      throws SQLException {
    TestPgBouncer bouncer = TestPgBouncer.get();
    // ALTER DATABASE stands in for the page's ALTER ROLE: the test's PgBouncer logs in to the
    // server as the server's own superuser, whose settings every other test would share.
    execute(db, "alter database " + db.database() + " set statement_timeout = '30s'");
    execute(db, "alter database " + db.database() + " set lock_timeout = '10s'");
    HikariDataSource api =
        Pools.postgres(
                bouncer.transactionJdbcUrl(db.database()), bouncer.user(), bouncer.password())
            .serverSettingsVia(ServerSettings.SERVER_DEFAULTS)
            .statementTimeout(Duration.ofSeconds(30))
            .infrastructureIdleLimit(Duration.ofMinutes(10))
            .build();
    try (Connection c = api.getConnection();
        PreparedStatement select = c.prepareStatement("select ?::int")) {
      // New server connections, opened by PgBouncer after the ALTER, hold the limits.
      assertThat(query(c, "show statement_timeout")).isEqualTo("30s");
      assertThat(query(c, "show lock_timeout")).isEqualTo("10s");
      // prepareThreshold=0: a statement run more often than pgjdbc's threshold of 5 keeps working.
      for (int i = 0; i < 10; i++) {
        select.setInt(1, i);
        try (ResultSet rs = select.executeQuery()) {
          assertThat(rs.next()).isTrue();
          assertThat(rs.getInt(1)).isEqualTo(i);
        }
      }
    } finally {
      api.close();
    }
  }

  // From a RedisURI

  /** Stands in for a secret store. */
  private static final class Vault {
    RedisCredentials redisCredentials() {
      return RedisCredentials.just("app", "s3cr3t");
    }
  }

  @Test
  void aRedisUriWithACredentialsProviderIsShownWithoutCredentials() {
    Vault vault = new Vault();

    // snippet:begin pool-redis-uri
    RedisURI uri =
        RedisURI.Builder.redis("cache.internal", 6380)
            .withSsl(true)
            .withAuthentication(RedisCredentialsProvider.from(() -> vault.redisCredentials()))
            .withDatabase(2)
            .build();
    RedisClient redis = Pools.redis(uri).build();
    // Pools.redis(uri).toString(): RedisClientBuilder{uri=rediss://cache.internal:6380/2}
    // snippet:end

    try {
      assertThat(Pools.redis(uri))
          .hasToString("RedisClientBuilder{uri=rediss://cache.internal:6380/2}");
    } finally {
      redis.shutdown(Duration.ZERO, Duration.ofSeconds(2));
    }
  }

  // Recipe: Redis client from REDIS_URL

  @Test
  void aRedisUrlWithAPercentEncodedPasswordServesTheSharedConnection(TestRedis server)
      throws Exception {
    assumeTrue(server.isEmbedded(), "sets a password on the server");
    MeterRegistry registry = new SimpleMeterRegistry();
    // A password with '/' and '@', percent-encoded in the URL as it must be.
    String database = server.cleanDatabaseUrl().substring(server.url().length());
    String redisUrl = "redis://:p%2Fss%40word@" + server.host() + ":" + server.port() + database;
    // Written raw, '/' and '@' change how the URL reads, and it is refused, the password masked.
    String hostAndPort = server.host() + ":" + server.port();
    assertThatThrownBy(() -> Pools.redis("redis://:p/ss@word@" + hostAndPort))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("url must be a valid Redis URL, but was redis://***@" + hostAndPort);
    assertThatThrownBy(() -> Pools.redis("redis://:pass@word@" + hostAndPort))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage(
            "url must have a host of letters, digits, '-' and '.' to give a port (java.net.URI"
                + " reads no other host with one), but was redis://***@"
                + hostAndPort);
    RedisClient admin = RedisClient.create(server.url() + database);
    try (StatefulRedisConnection<String, String> setup = admin.connect()) {
      setup.sync().set("price:42", "9.99");
      setup.sync().configSet("requirepass", "p/ss@word");
      try {

        // snippet:begin pool-redis-url
        RedisClient redis =
            Pools.redis(redisUrl) // System.getenv("REDIS_URL")
                .meterRegistry(registry) // optional
                .build();
        StatefulRedisConnection<String, String> connection = redis.connect();

        // Any thread, any time:
        String price = connection.sync().get("price:42");

        // On shutdown:
        connection.close();
        redis.shutdown(); // also releases the client's event loops
        // snippet:end

        assertThat(price).isEqualTo("9.99");
        assertThat(registry.find("lettuce.command.completion").timers()).isNotEmpty();
      } finally {
        setup.sync().configSet("requirepass", "");
      }
    } finally {
      admin.shutdown(Duration.ZERO, Duration.ofSeconds(2));
    }
  }

  @Test
  void aClusterClientWithItsNodeConnectionsOpenServesEveryCommand() throws Exception {
    try (OneNodeRedisCluster node = OneNodeRedisCluster.start()) {
      String node1 = node.url();
      String node2 = node.url().replace("127.0.0.1", "localhost");

      // snippet:begin pool-redis-cluster
      // node1, node2: "rediss://:p4ssw0rd@node-1.example.com:6379", "rediss://...@node-2..."
      RedisClusterClient cluster = Pools.redisCluster(node1, node2).build();
      StatefulRedisClusterConnection<String, String> connection = cluster.connect();
      // Open the node connections now: commands sent while one is opened are rejected.
      for (RedisClusterNode n : cluster.getPartitions()) {
        connection.getConnection(n.getUri().getHost(), n.getUri().getPort());
      }
      // snippet:end

      try {
        // Right after the loop, no command is rejected. (Without it, the first ones may be: when
        // their node's connection is still being opened.)
        for (int i = 0; i < 20; i++) {
          connection.sync().set("key:" + i, "v" + i);
        }
        assertThat(connection.sync().get("key:7")).isEqualTo("v7");
        // The client found the node, and its slots, from the seeds.
        assertThat(cluster.getPartitions().getPartitions()).hasSize(1);
        assertThat(cluster.getPartitions().getPartitions().get(0).getSlots()).hasSize(16_384);
      } finally {
        connection.close();
        cluster.shutdown(Duration.ZERO, Duration.ofSeconds(2));
      }
    }
  }

  private final List<String> ran = new CopyOnWriteArrayList<>();

  private void run(String job) {
    ran.add(job);
  }

  @Test
  void aDedicatedConnectionWaitsPastTheCommandTimeoutForABlockingPop(TestRedis server)
      throws Exception {
    String url = server.cleanDatabaseUrl();
    RedisClient redis = Pools.redis(url).build();
    ExecutorService thread = Executors.newSingleThreadExecutor();
    try (StatefulRedisConnection<String, String> shared = redis.connect()) {
      // The job comes 5.5 s after the BLPOP is blocked: past the 5 s command timeout, so only the
      // dedicated connection's raised timeout lets the BLPOP return it.
      CompletableFuture<Void> pushed =
          CompletableFuture.runAsync(
              () -> {
                awaitTrue(() -> server.info("clients").contains("blocked_clients:1"));
                sleep(Duration.ofMillis(5_500));
                shared.sync().rpush("jobs", "job-7");
              },
              thread);

      // snippet:begin pool-redis-blocking
      try (StatefulRedisConnection<String, String> blocking = redis.connect()) {
        blocking.setTimeout(Duration.ofSeconds(15));
        KeyValue<String, String> job = blocking.sync().blpop(10, "jobs"); // waits up to 10 s
        if (job != null) {
          run(job.getValue());
        }
      }
      // snippet:end

      pushed.get(WAIT.toSeconds(), SECONDS);
      assertThat(ran).containsExactly("job-7");
      assertThat(shared.getTimeout()).isEqualTo(Duration.ofSeconds(5));
    } finally {
      thread.shutdownNow();
      redis.shutdown(Duration.ZERO, Duration.ofSeconds(2));
    }
  }

  // Recipe: replace a silent Redis connection sooner

  @Test
  void aSilentConnectionIsReplacedWithinTheRecipesBounds(TestRedis server) throws Exception {
    MeterRegistry registry = new SimpleMeterRegistry();
    try (FaultProxy proxy = FaultProxy.to(server.host(), server.port())) {
      String database = server.cleanDatabaseUrl().substring(server.url().length());
      String redisUrl = "redis://" + proxy.host() + ":" + proxy.port() + database;

      // snippet:begin pool-redis-silent
      RedisClient redis =
          Pools.redis(redisUrl)
              .name("sessions") // the name tag of its meters
              .commandTimeout(Duration.ofSeconds(1))
              .reconnectAfterTimeouts(3) // busy: replaced within 1 s; one command at a time: 3 s
              .idleProbe(Duration.ofSeconds(2), Duration.ofSeconds(1)) // idle: within 3 s
              .meterRegistry(registry)
              .build();
      StatefulRedisConnection<String, String> connection = redis.connect();
      // snippet:end

      try {
        connection.sync().set("session:1", "alice");
        long silent = System.nanoTime();
        proxy.blackholeOpenConnections(); // as after a failover that moved the server's address
        awaitTrue(
            () ->
                reconnects(registry, "sessions", "probe") == 1 && proxy.acceptedConnections() == 2);
        assertThat(Duration.ofNanos(System.nanoTime() - silent))
            .isLessThan(Duration.ofSeconds(3).plus(Duration.ofSeconds(2))); // the bound + slack
        // Idle when it went silent: the probe found it, and no command paid a timeout.
        awaitTrue(connection::isOpen);
        assertThat(connection.sync().get("session:1")).isEqualTo("alice");
        assertThat(reconnects(registry, "sessions", "timeouts")).isZero();
      } finally {
        connection.close();
        redis.shutdown(Duration.ZERO, Duration.ofSeconds(2));
      }
      assertThat(registry.find("bulwark.pool.redis.reconnects").meters()).isEmpty();
    }
  }

  private static long reconnects(MeterRegistry registry, String name, String cause) {
    return (long)
        registry
            .get("bulwark.pool.redis.reconnects")
            .tag("name", name)
            .tag("cause", cause)
            .functionCounter()
            .count();
  }

  // Helpers

  private static String query(Connection c, String sql) throws SQLException {
    try (Statement s = c.createStatement();
        ResultSet rs = s.executeQuery(sql)) {
      rs.next();
      return rs.getString(1);
    }
  }

  private static void execute(Connection c, String sql) throws SQLException {
    try (Statement s = c.createStatement()) {
      s.execute(sql);
    }
  }

  private static void execute(TestDatabase db, String sql) throws SQLException {
    try (Connection c = db.connect()) {
      execute(c, sql);
    }
  }
}

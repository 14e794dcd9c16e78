package dev.bulwark.examples;

import com.sun.net.httpserver.HttpServer;
import com.zaxxer.hikari.HikariDataSource;
import dev.bulwark.cache.BoundedCache;
import dev.bulwark.cache.Codecs;
import dev.bulwark.core.Secrets;
import dev.bulwark.examples.ratelimit.QuoteServer;
import dev.bulwark.examples.timeouts.CalculationEndpoint;
import dev.bulwark.examples.timeouts.RequestDeadline;
import dev.bulwark.health.HealthChecks;
import dev.bulwark.health.HealthRegistry;
import dev.bulwark.health.HealthResult;
import dev.bulwark.health.HealthServer;
import dev.bulwark.health.Role;
import dev.bulwark.jobs.BoundedWorker;
import dev.bulwark.jobs.JobSnapshot;
import dev.bulwark.jobs.LockingScheduler;
import dev.bulwark.jobs.Offer;
import dev.bulwark.jobs.Schedule;
import dev.bulwark.jobs.ShutdownReport;
import dev.bulwark.pool.PoolProfile;
import dev.bulwark.pool.Pools;
import dev.bulwark.queries.QueryGuard;
import dev.bulwark.queries.QueryPolicy;
import dev.bulwark.queries.QueryScope;
import dev.bulwark.ratelimit.ClientAddress;
import dev.bulwark.ratelimit.FailurePolicy;
import dev.bulwark.ratelimit.KeyResolvers;
import dev.bulwark.ratelimit.RateLimitFilter;
import dev.bulwark.ratelimit.RateLimiter;
import dev.bulwark.ratelimit.RedisRateLimiter;
import dev.bulwark.testing.Await;
import dev.bulwark.testing.FaultProxy;
import dev.bulwark.testing.TestDatabase;
import dev.bulwark.testing.TestPostgres;
import dev.bulwark.testing.TestRedis;
import dev.bulwark.timeouts.Retry;
import dev.bulwark.timeouts.RetryBudget;
import dev.bulwark.timeouts.RetryOn;
import dev.bulwark.timeouts.Timeouts;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;

/**
 * Starts a real Redis and PostgreSQL on loopback (through {@code bulwark-testing}) and walks
 * through each module against them, printing what happens.
 *
 * <p>Run it with {@code mvn -B -ntp -q -DskipTests install && mvn -B -ntp -q -pl examples
 * exec:java}.
 */
public final class Demo {
  private Demo() {}

  /**
   * Runs the demo.
   *
   * @param args ignored
   * @throws Exception if a step fails
   */
  public static void main(String[] args) throws Exception {
    // One registry for the whole service; the cancel-hook counts are bound to it once.
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    Timeouts.bindTo(registry);
    TestRedis redis = TestRedis.get();
    TestPostgres postgres = TestPostgres.get();
    System.out.println("== servers");
    System.out.println("Redis      " + Secrets.maskUrl(redis.url()) + " " + redisVersion(redis));
    System.out.println(
        "PostgreSQL " + Secrets.maskUrl(postgres.jdbcUrl()) + " " + postgresVersion(postgres));
    System.out.println(
        "(timings below are of a cold JVM: the first calls include class loading and JIT"
            + " warm-up, so they are slower than a warmed service's)");

    calculationLimit();
    try (TestDatabase db = postgres.newDatabase()) {
      try (HikariDataSource api =
          Pools.postgres(db.jdbcUrl(), db.user(), db.password())
              .profile(PoolProfile.API)
              .statementTimeout(Duration.ofSeconds(1))
              .connectionBudget(40, 4)
              .build()) {
        pooledStatementTimeout(api);
      }
      // The recipe's pool: the API profile's 30 s statement timeout and 45 s socket timeout, under
      // which the request's transaction may set a statement timeout of up to 40 s.
      try (HikariDataSource api =
          Pools.postgres(db.jdbcUrl(), db.user(), db.password()).connectionBudget(40, 4).build()) {
        requestDeadline(api);
      }
    }
    retryWithBudget(registry);
    redisClient(redis);
    silentRedisConnection(redis, registry);
    localCache(registry);
    twoLevelCache(redis, registry);
    rateLimitedRoute(redis, registry);
    try (TestDatabase db = postgres.newDatabase()) {
      scheduledJobs(db, registry);
      boundedWorker(db, registry);
      nPlusOne(db, registry);
      healthEndpoint(db, redis);
    }
    System.out.println("== metrics");
    System.out.println(
        "cancel hooks failed, dropped, overdue: "
            + hookCount(registry, "failed")
            + ", "
            + hookCount(registry, "dropped")
            + ", "
            + hookCount(registry, "overdue"));
  }

  private static long reconnects(MeterRegistry registry, String cause) {
    return (long)
        registry
            .get("bulwark.pool.redis.reconnects")
            .tag("name", "demo")
            .tag("cause", cause)
            .functionCounter()
            .count();
  }

  private static long hookCount(MeterRegistry registry, String outcome) {
    return (long)
        registry.get("bulwark.timeouts.hooks").tag("outcome", outcome).functionCounter().count();
  }

  /**
   * Finding 13: two instances of a service, each with its own pool and scheduler, on one database;
   * a 1-second job runs once per period between them.
   */
  private static void scheduledJobs(TestDatabase db, MeterRegistry registry) throws Exception {
    System.out.println(
        "== jobs: two scheduler instances on one database, a 1 s job, one run per period");
    List<AutoCloseable> closing = new ArrayList<>();
    List<LockingScheduler> instances = new ArrayList<>();
    ConcurrentLinkedQueue<String> runs = new ConcurrentLinkedQueue<>();
    try {
      for (String instance : new String[] {"instance-a", "instance-b"}) {
        HikariDataSource pool =
            Pools.postgres(db.jdbcUrl(), db.user(), db.password())
                .profile(PoolProfile.WORKER)
                .poolName(instance)
                .build();
        closing.add(pool);
        LockingScheduler scheduler =
            LockingScheduler.postgres(pool)
                .name("payments")
                .instance(instance)
                .meterRegistry(instance.equals("instance-a") ? registry : new SimpleMeterRegistry())
                .build();
        closing.add(scheduler);
        instances.add(scheduler);
        scheduler.schedule(
            "settle",
            Schedule.fixedRate(Duration.ofSeconds(1)),
            context -> runs.add(context.periodStart() + " ran on " + instance));
      }
      Await.until(Duration.ofSeconds(30), "four periods", () -> runs.size() >= 4);
    } finally {
      for (int i = closing.size() - 1; i >= 0; i--) {
        closing.get(i).close();
      }
    }
    runs.forEach(run -> System.out.println("period " + run));
    for (LockingScheduler scheduler : instances) {
      JobSnapshot settle = scheduler.snapshot("settle").orElseThrow();
      System.out.println(
          scheduler
              + ": runs "
              + settle.runs()
              + ", skipped (lock held elsewhere) "
              + settle.skippedLockHeld()
              + ", skipped (period already ran) "
              + settle.skippedAlreadyRan()
              + ", failures "
              + settle.failures());
    }
  }

  /**
   * Findings 14 and 15: a bounded queue that one thread drains into PostgreSQL in batches, and
   * whose every item is accounted for when it stops.
   */
  private static void boundedWorker(TestDatabase db, MeterRegistry registry) throws Exception {
    System.out.println(
        "== jobs: a bounded worker, capacity 100, batches of 25, draining into PostgreSQL");
    try (HikariDataSource pool =
        Pools.postgres(db.jdbcUrl(), db.user(), db.password())
            .profile(PoolProfile.WORKER)
            .poolName("activity")
            .build()) {
      try (Connection c = pool.getConnection();
          Statement s = c.createStatement()) {
        s.execute("create table activity (id bigint primary key, action text not null)");
      }
      BoundedWorker<Long> worker =
          BoundedWorker.<Long>builder("activity")
              .capacity(100)
              .batchSize(25)
              .flushEvery(Duration.ofMillis(200))
              .alertAt(50)
              .handler(
                  batch -> {
                    try (Connection c = pool.getConnection();
                        PreparedStatement insert =
                            c.prepareStatement(
                                "insert into activity values (?, 'view') on conflict do nothing")) {
                      for (long id : batch) {
                        insert.setLong(1, id);
                        insert.addBatch();
                      }
                      insert.executeBatch();
                    }
                  })
              .meterRegistry(registry)
              .build();
      Map<Offer, Integer> outcomes = new EnumMap<>(Offer.class);
      for (long id = 1; id <= 250; id++) {
        outcomes.merge(worker.offer(id), 1, Integer::sum);
      }
      System.out.println("250 offers at once: " + outcomes);
      ShutdownReport<Long> report = worker.shutdown(Duration.ofSeconds(10));
      long rows;
      try (Connection c = pool.getConnection();
          Statement s = c.createStatement();
          ResultSet r = s.executeQuery("select count(*) from activity")) {
        r.next();
        rows = r.getLong(1);
      }
      System.out.println(
          "shutdown: "
              + report.reason()
              + ", drained "
              + report.drained()
              + ", rows in the table "
              + rows);
      System.out.println(
          "ledger " + report.ledger() + ", unaccounted " + report.ledger().unaccounted());
    }
  }

  /**
   * Finding 24: a list endpoint that runs one query per row, reported as an N+1 with the line that
   * loops, then the same list with a join.
   */
  private static void nPlusOne(TestDatabase db, MeterRegistry registry) throws SQLException {
    System.out.println(
        "== queries: a customer's 20 appointments, one query per row, then one query for all");
    QueryGuard guard =
        QueryGuard.builder().name("demo").policy(QueryPolicy.COUNT).meterRegistry(registry).build();
    try (HikariDataSource pool =
        Pools.postgres(db.jdbcUrl(), db.user(), db.password()).poolName("queries").build()) {
      try (Connection c = pool.getConnection();
          Statement s = c.createStatement()) {
        s.execute("create table appointments (id bigint primary key, customer_id bigint, at date)");
        s.execute(
            "insert into appointments select g, g % 5, current_date from generate_series(1, 100) g");
      }
      DataSource guarded = guard.wrap(pool);
      QueryScope perRow = guard.begin("GET /customers/{id}/appointments");
      try (perRow;
          Connection c = guarded.getConnection()) {
        List<Long> ids = new ArrayList<>();
        try (PreparedStatement s =
            c.prepareStatement("select id from appointments where customer_id = ?")) {
          s.setLong(1, 3);
          try (ResultSet r = s.executeQuery()) {
            while (r.next()) {
              ids.add(r.getLong(1));
            }
          }
        }
        for (long id : ids) {
          try (PreparedStatement s =
              c.prepareStatement("select at from appointments where id = ?")) {
            s.setLong(1, id);
            try (ResultSet r = s.executeQuery()) {
              r.next();
            }
          }
        }
      }
      System.out.println("per row: " + perRow.recording().statements() + " statements");
      perRow.recording().events().forEach(event -> System.out.println("  " + event.describe()));
      QueryScope joined = guard.begin("GET /customers/{id}/appointments");
      try (joined;
          Connection c = guarded.getConnection();
          PreparedStatement s =
              c.prepareStatement("select id, at from appointments where customer_id = ?")) {
        s.setLong(1, 3);
        try (ResultSet r = s.executeQuery()) {
          while (r.next()) {
            r.getDate(2);
          }
        }
      }
      System.out.println(
          "one query: "
              + joined.recording().statements()
              + " statement, events "
              + joined.recording().events());
    }
  }

  /** Findings 7, 8 and 10: a bounded pool whose every connection carries a statement timeout. */
  private static void pooledStatementTimeout(HikariDataSource api) throws SQLException {
    System.out.println("== pool: API profile, statement timeout 1 s on every connection");
    System.out.println("settings " + Pools.settings(api));
    System.out.println("pool " + Pools.snapshot(api));
    try (Connection c = api.getConnection();
        Statement s = c.createStatement()) {
      s.execute("select pg_sleep(5)");
      System.out.println("pg_sleep(5) returned: the statement timeout did not hold");
    } catch (SQLException e) {
      System.out.println(
          "pg_sleep(5) stopped by the server: SQLState " + e.getSQLState() + " " + e.getMessage());
    }
  }

  /** Finding 9: a Redis client with bounded timeouts, from a URL. */
  private static void redisClient(TestRedis redis) {
    System.out.println("== pool: hardened Redis client from a URL");
    RedisClient client = Pools.redis(redis.url()).build();
    try (StatefulRedisConnection<String, String> connection = client.connect()) {
      connection.sync().set("demo:greeting", "hello");
      System.out.println(
          "GET demo:greeting -> "
              + connection.sync().get("demo:greeting")
              + " (command timeout "
              + connection.getTimeout().toMillis()
              + " ms)");
      redis.stop();
      long start = System.nanoTime();
      try {
        connection.sync().get("demo:greeting");
      } catch (RuntimeException e) {
        System.out.printf(
            "Redis stopped: GET failed in %d ms with %s%n",
            Duration.ofNanos(System.nanoTime() - start).toMillis(), e.getClass().getSimpleName());
      } finally {
        redis.start();
      }
    } finally {
      client.shutdown();
    }
  }

  /**
   * Finding 9, the outage it leads to: a connection that stays open while nothing comes back is
   * replaced after three command timeouts, not timed out command after command.
   */
  private static void silentRedisConnection(TestRedis redis, MeterRegistry registry)
      throws InterruptedException {
    System.out.println(
        "== pool: a silent Redis connection replaced after 3 timeouts in a row (timeout 500 ms)");
    try (FaultProxy proxy = FaultProxy.to(redis.host(), redis.port())) {
      RedisClient client =
          Pools.redis("redis://" + proxy.host() + ":" + proxy.port())
              .name("demo")
              .commandTimeout(Duration.ofMillis(500))
              .meterRegistry(registry)
              .build();
      try (StatefulRedisConnection<String, String> connection = client.connect()) {
        connection.sync().set("demo:greeting", "hello");
        proxy.blackholeOpenConnections();
        System.out.println(
            "the open connection now swallows every byte, as after a failover to a new address;"
                + " new connections pass");
        long outage = System.nanoTime();
        for (int attempt = 1; attempt <= 50; attempt++) {
          long start = System.nanoTime();
          try {
            String value = connection.sync().get("demo:greeting");
            System.out.printf(
                "GET %d -> %s in %d ms; %d ms after the connection went silent, on a new"
                    + " connection%n",
                attempt, value, millisSince(start), millisSince(outage));
            System.out.printf(
                "bulwark.pool.redis.reconnects{name=demo}: cause=timeouts %d, cause=probe %d%n",
                reconnects(registry, "timeouts"), reconnects(registry, "probe"));
            break;
          } catch (RuntimeException e) {
            System.out.printf(
                "GET %d failed in %d ms: %s%n",
                attempt, millisSince(start), e.getClass().getSimpleName());
            Thread.sleep(20); // a caller's pause before its next request
          }
        }
      } finally {
        client.shutdown();
      }
    }
  }

  /**
   * Findings 1 to 5, the local tier: a bounded cache where a miss loads once, a hit loads nothing,
   * and one call drops every key of a tenant.
   */
  private static void localCache(MeterRegistry registry) {
    System.out.println(
        "== cache: a bounded local cache (10,000 entries, 5 min), invalidated by tenant tag");
    AtomicInteger loads = new AtomicInteger();
    Function<String, String> loadUser =
        key -> {
          loads.incrementAndGet();
          return "profile of " + key;
        };
    try (BoundedCache<String, String> users =
        BoundedCache.<String, String>builder("demo-users")
            .maximumSize(10_000)
            .expireAfterWrite(Duration.ofMinutes(5))
            .tags(
                key -> List.of(key.substring(0, key.indexOf(':', "tenant:".length())))) // tenant:42
            .meterRegistry(registry)
            .build()) {
      users.get("tenant:42:user:7", loadUser);
      System.out.println("get tenant:42:user:7, a miss: loader calls " + loads.get());
      users.get("tenant:42:user:7", loadUser);
      users.get("tenant:7:user:1", loadUser);
      System.out.println(
          "get it again, a hit; and tenant:7:user:1, a miss: loader calls " + loads.get());
      users.invalidateTag("tenant:42");
      users.get("tenant:42:user:7", loadUser);
      users.get("tenant:7:user:1", loadUser);
      System.out.println(
          "invalidateTag(tenant:42), then both again: loader calls "
              + loads.get()
              + " (tenant 42 reloaded, tenant 7 still a hit)");
      System.out.println("snapshot " + users.snapshot());
    }
  }

  /**
   * Findings 2, 3 and 5 across instances: two instances of one cache, each on its own Redis client;
   * what one loads the other reads from Redis, and what one invalidates the other drops.
   */
  private static void twoLevelCache(TestRedis redis, MeterRegistry registry)
      throws InterruptedException {
    System.out.println(
        "== cache: two instances over Redis (L1 10,000 entries, 1 h), invalidation by pub/sub");
    AtomicInteger loads = new AtomicInteger();
    Map<String, String> table = new ConcurrentHashMap<>(Map.of("sku-1", "19.99 EUR"));
    Function<String, @Nullable String> loadPrice =
        sku -> {
          loads.incrementAndGet();
          return table.get(sku);
        };
    RedisClient clientA = Pools.redis(redis.url()).name("demo-a").build();
    RedisClient clientB = Pools.redis(redis.url()).name("demo-b").build();
    try (BoundedCache<String, String> a = twoLevel(clientA, registry);
        BoundedCache<String, String> b = twoLevel(clientB, null)) {
      a.get("sku-1", loadPrice);
      System.out.println("instance A: get sku-1, a miss in both tiers: loader calls " + loads);
      b.get("sku-1", loadPrice);
      System.out.println(
          "instance B: get sku-1, an L1 miss read from Redis: loader calls " + loads);
      table.put("sku-1", "24.99 EUR");
      long start = System.nanoTime();
      a.invalidate("sku-1");
      while (b.getIfPresent("sku-1") != null && millisSince(start) < 5_000) {
        Thread.sleep(1);
      }
      System.out.printf(
          "instance A: invalidate sku-1; instance B dropped its copy %d ms after the call%n",
          millisSince(start));
      System.out.println(
          "instance B: get sku-1 -> " + b.get("sku-1", loadPrice) + ", loader calls " + loads);
      System.out.println("instance B's Redis tier " + b.snapshot().redis());
    } finally {
      clientA.shutdown();
      clientB.shutdown();
    }
  }

  /**
   * Findings 17 to 21: the health server on its own port with every built-in check, and the
   * readiness probe failing while Redis is stopped and passing once it is back.
   */
  private static void healthEndpoint(TestDatabase db, TestRedis redis) throws Exception {
    System.out.println(
        "== health: every built-in check on a port of its own (ttl 1 s); Redis stopped, then back");
    PrometheusMeterRegistry prometheus = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    String token = "demo-health-token-0123456789";
    RedisClient client = Pools.redis(redis.url()).name("demo-health").build();
    try (HikariDataSource database =
            Pools.postgres(db.jdbcUrl(), db.user(), db.password())
                .poolName("demo-health")
                .meterRegistry(prometheus)
                .build();
        StatefulRedisConnection<String, String> connection = client.connect();
        BoundedCache<String, String> prices =
            BoundedCache.<String, String>builder("prices").maximumSize(1_000).build();
        RedisRateLimiter quotes =
            RateLimiter.redis(client)
                .name("health-quotes")
                .limits("10/minute")
                .onRedisFailure(FailurePolicy.LOCAL_FALLBACK)
                .build();
        BoundedWorker<String> activityLog =
            BoundedWorker.<String>builder("activity-log")
                .capacity(10_000)
                .handler(batch -> {})
                .build();
        LockingScheduler scheduler =
            LockingScheduler.postgres(database).name("demo-health").build()) {
      scheduler.schedule("exchange-rates", Schedule.fixedDelay(Duration.ofHours(24)), () -> {});
      for (int i = 0; i < 950; i++) {
        prices.put("sku-" + i, "9.99");
      }
      try (HealthRegistry health =
              HealthRegistry.builder()
                  .ttl(Duration.ofSeconds(1))
                  .meterRegistry(prometheus)
                  .detail("memory:utilization", HealthChecks.heap())
                  .liveness("jvm:threads", HealthChecks.threads())
                  .readiness("postgres:responseTime", HealthChecks.dataSource(database))
                  .readiness("redis:responseTime", HealthChecks.redis(connection))
                  .startup(
                      "job:exchange-rates",
                      HealthChecks.job(scheduler, "exchange-rates", Duration.ofHours(25)))
                  .detail("postgres:utilization", HealthChecks.pool(database))
                  .detail("cache:prices", HealthChecks.cache(prices))
                  .detail("ratelimit:quotes", HealthChecks.rateLimiter(quotes))
                  .detail("worker:activity-log", HealthChecks.worker(activityLog))
                  .detail("jvm:nonHeap", HealthChecks.nonHeap())
                  .detail("jvm:gc", HealthChecks.gcPause())
                  .detail("jvm:cpu", HealthChecks.processCpu())
                  .detail("jvm:uptime", HealthChecks.uptime())
                  .detail("disk:utilization", HealthChecks.diskFree(Path.of(".")))
                  .build();
          HealthServer server =
              HealthServer.builder(health, 0)
                  .host("127.0.0.1")
                  .bearerToken(token)
                  .prometheus(prometheus)
                  .start()) {
        for (Role role : Role.values()) {
          System.out.println("serving " + server.uri(role));
        }
        System.out.println("serving " + server.metricsUri() + " (with the bearer token)");
        HttpClient http = HttpClient.newHttpClient();
        System.out.println(
            "GET /health/ready, no token: " + line(http, server.uri(Role.READINESS), null));
        health.report(Role.DETAIL).results().forEach(Demo::printCheck);

        redis.stop();
        try {
          Await.until(
              Duration.ofSeconds(15),
              "readiness to fail",
              () -> status(http, server.uri(Role.READINESS)) == 503);
          System.out.println(
              "Redis stopped: GET /health/ready -> "
                  + line(http, server.uri(Role.READINESS), null));
          printCheck(
              "redis:responseTime",
              health.report(Role.READINESS).results().get("redis:responseTime"));
        } finally {
          redis.start();
        }
        Await.until(
            Duration.ofSeconds(30),
            "readiness to pass again",
            () -> status(http, server.uri(Role.READINESS)) == 200);
        System.out.println(
            "Redis back: GET /health/ready -> " + line(http, server.uri(Role.READINESS), null));
        HttpRequest scrape =
            HttpRequest.newBuilder(server.metricsUri())
                .header("Authorization", "Bearer " + token)
                .build();
        String metrics = http.send(scrape, HttpResponse.BodyHandlers.ofString()).body();
        metrics
            .lines()
            .filter(line -> line.startsWith("bulwark_health_status{"))
            .limit(3)
            .forEach(line -> System.out.println("/metrics: " + line));
      }
    } finally {
      client.shutdown();
    }
  }

  private static void printCheck(String name, @Nullable HealthResult result) {
    if (result == null) {
      return;
    }
    System.out.printf(
        "  %-22s %-4s %s %s%s%n",
        name,
        result.status().ietf(),
        result.observedValue() == null ? "" : result.observedValue(),
        result.observedUnit() == null ? "" : result.observedUnit(),
        result.output() == null ? "" : "  (" + result.output() + ")");
  }

  private static int status(HttpClient http, URI uri) throws IOException, InterruptedException {
    return http.send(HttpRequest.newBuilder(uri).build(), HttpResponse.BodyHandlers.discarding())
        .statusCode();
  }

  private static String line(HttpClient http, URI uri, @Nullable String token)
      throws IOException, InterruptedException {
    HttpRequest.Builder request = HttpRequest.newBuilder(uri);
    if (token != null) {
      request.header("Authorization", "Bearer " + token);
    }
    HttpResponse<String> response =
        http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    return response.statusCode() + " " + response.body();
  }

  /** Finding 6: a 10/minute route shared by every instance through Redis, answered with 429. */
  private static void rateLimitedRoute(TestRedis redis, MeterRegistry registry) throws Exception {
    System.out.println(
        "== ratelimit: POST /quotes/calculate at 10/minute per client address, in Redis");
    RedisClient client = Pools.redis(redis.cleanDatabaseUrl()).name("demo-ratelimit").build();
    try (RedisRateLimiter quotes =
        RateLimiter.redis(client)
            .name("quotes")
            .limits("10/minute")
            .onRedisFailure(FailurePolicy.LOCAL_FALLBACK)
            .meterRegistry(registry)
            .build()) {
      RateLimitFilter filter =
          RateLimitFilter.builder()
              .route("POST", "/quotes/calculate", quotes)
              .key(KeyResolvers.clientIp(ClientAddress.direct()))
              .build();
      try (QuoteServer server = QuoteServer.start(filter)) {
        HttpClient http = HttpClient.newHttpClient();
        for (int call = 1; call <= 11; call++) {
          HttpResponse<String> response =
              http.send(
                  HttpRequest.newBuilder(server.uri("/quotes/calculate"))
                      .POST(HttpRequest.BodyPublishers.noBody())
                      .build(),
                  HttpResponse.BodyHandlers.ofString());
          if (call == 1 || call >= 10) {
            System.out.printf(
                "call %2d -> HTTP %d  RateLimit: %s%n",
                call, response.statusCode(), response.headers().firstValue("RateLimit").orElse(""));
          }
          if (response.statusCode() == 429) {
            System.out.println(
                "         RateLimit-Policy: "
                    + response.headers().firstValue("RateLimit-Policy").orElse("")
                    + "  Retry-After: "
                    + response.headers().firstValue("Retry-After").orElse(""));
            System.out.println("         " + response.body());
          }
        }
      }
      System.out.println("limiter " + quotes.snapshot());
    } finally {
      client.shutdown();
    }
  }

  private static BoundedCache<String, String> twoLevel(
      RedisClient client, @Nullable MeterRegistry registry) {
    BoundedCache.Builder<String, String> builder =
        BoundedCache.<String, String>builder("demo-prices")
            .maximumSize(10_000)
            .expireAfterWrite(Duration.ofHours(1))
            .redis(client, Codecs.utf8(), Codecs.utf8());
    if (registry != null) {
      builder.meterRegistry(registry);
    }
    return builder.build();
  }

  private static long millisSince(long start) {
    return Duration.ofNanos(System.nanoTime() - start).toMillis();
  }

  /** Finding 11: a calculation limit answered with HTTP 408. */
  private static void calculationLimit() throws IOException, InterruptedException {
    System.out.println("== timeouts: calculation limit answered with HTTP 408 (limit 200 ms)");
    HttpServer server =
        HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    server.createContext(
        "/price", new CalculationEndpoint(Duration.ofMillis(200), Demo::busyForMillis));
    server.start();
    try {
      HttpClient client = HttpClient.newHttpClient();
      for (long millis : new long[] {20, 5_000}) {
        URI uri =
            URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/price?n=" + millis);
        long start = System.nanoTime();
        HttpResponse<String> response =
            client.send(HttpRequest.newBuilder(uri).build(), HttpResponse.BodyHandlers.ofString());
        System.out.printf(
            "calculation of %5d ms -> HTTP %d in %4d ms: %s%n",
            millis,
            response.statusCode(),
            Duration.ofNanos(System.nanoTime() - start).toMillis(),
            response.body());
      }
    } finally {
      server.stop(0);
    }
  }

  /** Busy work that stops when its thread is interrupted, as a well-behaved calculation does. */
  private static long busyForMillis(long millis) {
    long end = System.nanoTime() + Duration.ofMillis(millis).toNanos();
    long iterations = 0;
    while (System.nanoTime() < end) {
      if (Thread.currentThread().isInterrupted()) {
        throw new IllegalStateException("calculation interrupted");
      }
      iterations++;
    }
    return iterations;
  }

  /** Finding 10: a statement timeout taken from the request's deadline. */
  private static void requestDeadline(DataSource db) throws SQLException {
    System.out.println("== timeouts: statement timeout from the request's deadline");
    try (Connection c = db.getConnection();
        Statement s = c.createStatement()) {
      s.execute("create table orders(id bigint primary key, customer_id bigint not null)");
      s.execute("insert into orders select g, g % 10 from generate_series(1, 1000) g");
    }
    RequestDeadline handler = new RequestDeadline(db);
    System.out.println(
        "orders of customer 3 within a 2 s request: "
            + handler.orderCount(Duration.ofSeconds(2), 3));
  }

  /**
   * Finding 12: a retry with backoff, jitter and a budget, on what PostgreSQL reports as transient.
   */
  private static void retryWithBudget(MeterRegistry registry) throws SQLException {
    System.out.println(
        "== timeouts: retry on transient PostgreSQL failures with backoff, jitter and a budget");
    RetryBudget budget = RetryBudget.builder("demo-db").meterRegistry(registry).build();
    Retry retry =
        Retry.builder("demo-task")
            .maxAttempts(4)
            .backoff(Duration.ofMillis(10), Duration.ofMillis(100))
            .retryIf(RetryOn.postgresTransient())
            .budget(budget)
            .meterRegistry(registry)
            .build();
    AtomicInteger attempts = new AtomicInteger();
    String result =
        retry.call(
            () -> {
              // Simulated: what pgjdbc throws for a serialization failure, then for a backend
              // terminated by a failover.
              int attempt = attempts.incrementAndGet();
              SQLException failure = null;
              if (attempt == 1) {
                failure =
                    new SQLException(
                        "ERROR: could not serialize access due to concurrent update", "40001");
              } else if (attempt == 2) {
                failure =
                    new SQLException(
                        "FATAL: terminating connection due to administrator command", "57P01");
              }
              if (failure != null) {
                System.out.println(
                    "attempt "
                        + attempt
                        + " failed: SQLState "
                        + failure.getSQLState()
                        + " "
                        + failure.getMessage());
                throw failure;
              }
              return "done";
            });
    System.out.println(
        "task "
            + result
            + " after "
            + attempts.get()
            + " attempts; budget now "
            + budget.snapshot());
  }

  private static String redisVersion(TestRedis redis) {
    return redis
        .info("server")
        .lines()
        .filter(line -> line.startsWith("redis_version:"))
        .findFirst()
        .orElse("redis_version:?");
  }

  private static String postgresVersion(TestPostgres postgres) throws SQLException {
    try (Connection c = postgres.connect();
        Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("show server_version")) {
      rs.next();
      return "server_version:" + rs.getString(1);
    }
  }
}

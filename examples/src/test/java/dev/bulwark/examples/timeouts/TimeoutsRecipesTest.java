package dev.bulwark.examples.timeouts;

import static dev.bulwark.examples.Await.awaitTrue;
import static dev.bulwark.examples.Await.sleep;
import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import com.zaxxer.hikari.HikariDataSource;
import dev.bulwark.pool.PoolProfile;
import dev.bulwark.pool.Pools;
import dev.bulwark.testing.PostgresExtension;
import dev.bulwark.testing.RedisExtension;
import dev.bulwark.testing.TestDatabase;
import dev.bulwark.testing.TestPostgres;
import dev.bulwark.testing.TestRedis;
import dev.bulwark.timeouts.Bulkheads;
import dev.bulwark.timeouts.CircuitBreakers;
import dev.bulwark.timeouts.Deadline;
import dev.bulwark.timeouts.HttpTimeouts;
import dev.bulwark.timeouts.JdbcTimeouts;
import dev.bulwark.timeouts.Policies;
import dev.bulwark.timeouts.RedisTimeouts;
import dev.bulwark.timeouts.Retry;
import dev.bulwark.timeouts.RetryBudget;
import dev.bulwark.timeouts.RetryOn;
import dev.bulwark.timeouts.TimeLimiter;
import dev.bulwark.timeouts.TimeoutExceededException;
import dev.bulwark.timeouts.Timeouts;
import io.lettuce.core.ClientOptions.DisconnectedBehavior;
import io.lettuce.core.KeyValue;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisCommandTimeoutException;
import io.lettuce.core.RedisURI;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.resource.ClientResources;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.LongUnaryOperator;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Runs each Java snippet of {@code docs/timeouts.md} as written, against a real PostgreSQL and
 * Redis, and checks what the page says it does. {@code DocSnippetsTest} holds the page's blocks to
 * the regions below.
 */
@ExtendWith({PostgresExtension.class, RedisExtension.class})
class TimeoutsRecipesTest {
  private static final Duration WAIT = Duration.ofSeconds(20);

  @AfterEach
  void nothingLeaks() {
    assertThat(Thread.interrupted()).as("interrupt status leaked").isFalse();
    assertThat(Deadline.current()).isEmpty();
  }

  // ## Deadline

  record Order(long id) {}

  record Receipt(long orderId) {}

  private final BlockingQueue<Optional<Deadline>> audited = new LinkedBlockingQueue<>();
  private final AtomicReference<Deadline> checkedOutUnder = new AtomicReference<>();
  private final AtomicReference<Duration> checkoutRequestTimeout = new AtomicReference<>();

  private void audit(Order order) {
    audited.add(Deadline.current());
  }

  private Receipt checkout(Order order) {
    checkedOutUnder.set(Deadline.current().orElseThrow());
    HttpRequest request =
        HttpTimeouts.applyTo(
                HttpRequest.newBuilder(URI.create("http://payments.internal/charge")),
                Duration.ofSeconds(30))
            .build();
    checkoutRequestTimeout.set(request.timeout().orElseThrow());
    return new Receipt(order.id());
  }

  @Test
  void aDeadlineIsCurrentInTheCallAndInTheTasksItSubmits() throws Exception {
    ExecutorService executor = Executors.newSingleThreadExecutor();
    Order order = new Order(42);
    try {
      // snippet:begin timeouts-deadline
      Receipt r =
          Deadline.after(Duration.ofSeconds(2))
              .call(
                  () -> {
                    // Deadline.current() holds this deadline on this thread until call returns.
                    executor.submit(Deadline.wrap(() -> audit(order))); // carried into the task
                    return checkout(order); // client helpers clamp to it
                  });
      // snippet:end

      assertThat(r).isEqualTo(new Receipt(42));
      Deadline deadline = checkedOutUnder.get();
      assertThat(deadline.budget()).isEqualTo(Duration.ofSeconds(2));
      assertThat(audited.poll(WAIT.toSeconds(), SECONDS)).containsSame(deadline);
      // The HTTP request's 30 s were clamped to what the 2 s deadline had left, plus 1 ms.
      assertThat(checkoutRequestTimeout.get())
          .isPositive()
          .isLessThanOrEqualTo(Duration.ofMillis(2001));
      assertThat(Deadline.current()).isEmpty();
    } finally {
      executor.shutdownNow();
    }
  }

  // ### JDBC: the statement timeout stays under the network timeout

  @Test
  void aRaisedNetworkTimeoutLetsAFiveMinuteStatementTimeoutThrough(TestDatabase db)
      throws SQLException {
    try (HikariDataSource pool = onePool(db);
        Connection c = pool.getConnection()) {
      c.setAutoCommit(false);
      assertThat(c.getNetworkTimeout()).isEqualTo(45_000);
      assertThatThrownBy(() -> JdbcTimeouts.setLocalStatementTimeout(c, Duration.ofMinutes(5)))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessage(
              "timeout must be at most the connection's network timeout (45000 ms) - 5000 ms,"
                  + " but was 300000 ms");

      // snippet:begin timeouts-network-timeout
      c.setNetworkTimeout(Runnable::run, (int) Duration.ofMinutes(5).plusSeconds(15).toMillis());
      // accepted: 5 min + 5 s <= 5 min 15 s
      JdbcTimeouts.setLocalStatementTimeout(c, Duration.ofMinutes(5));
      // snippet:end

      assertThat(c.getNetworkTimeout()).isEqualTo(315_000);
      assertThat(show(c, "statement_timeout")).isEqualTo("5min");
      c.rollback();
    }
  }

  // ### Redis: on a client from Pools.redis

  @Test
  void applyToGivesEachCommandWhatTheDeadlineHasLeft(TestRedis server) {
    String url = server.url();
    String seed = server.url();

    // snippet:begin timeouts-redis-apply-to
    RedisClient redis = RedisTimeouts.applyTo(Pools.redis(url).build(), Duration.ofSeconds(5));
    RedisClusterClient cluster =
        RedisTimeouts.applyTo(Pools.redisCluster(seed).build(), Duration.ofSeconds(5));
    // snippet:end

    try (StatefulRedisConnection<String, String> c = redis.connect()) {
      // The options of Pools.redis stay; only the timeout source is new.
      assertThat(redis.getOptions().getDisconnectedBehavior())
          .isEqualTo(DisconnectedBehavior.REJECT_COMMANDS);
      assertThat(redis.getOptions().getTimeoutOptions().isApplyConnectionTimeout()).isFalse();
      assertThat(cluster.getOptions().getDisconnectedBehavior())
          .isEqualTo(DisconnectedBehavior.REJECT_COMMANDS);
      assertThat(cluster.getOptions().getTimeoutOptions().isApplyConnectionTimeout()).isFalse();

      String key = "timeouts-recipes:" + System.nanoTime();
      c.sync().set(key, "v");
      server.pause(Duration.ofMillis(1500));
      // Under a 200 ms deadline the GET gets 200 ms, not 5 s, and fails inside the pause.
      assertThatThrownBy(() -> Deadline.after(Duration.ofMillis(200)).call(() -> c.sync().get(key)))
          .isInstanceOf(RedisCommandTimeoutException.class);
      // Without a deadline it gets the 5 s and waits out the pause.
      assertThat(c.sync().get(key)).isEqualTo("v");
    } finally {
      redis.shutdown(Duration.ZERO, Duration.ofSeconds(2));
      cluster.shutdown(Duration.ZERO, Duration.ofSeconds(2));
    }
  }

  private final List<String> ran = new CopyOnWriteArrayList<>();

  private void run(String job) {
    ran.add(job);
  }

  @Test
  void blockingCommandsKeepTheirRaisedTimeoutOnAClientOfTheirOwn(TestRedis server, RedisURI cleanDb)
      throws Exception {
    String url = server.url() + "/" + cleanDb.getDatabase();
    RedisClient pusher = RedisClient.create(cleanDb);
    ExecutorService thread = Executors.newSingleThreadExecutor();
    try (StatefulRedisConnection<String, String> push = pusher.connect()) {
      // The job comes 5.5 s after the BLPOP is blocked: past the 5 s default command timeout, so
      // only the connection's raised 15 s timeout lets the BLPOP return it.
      CompletableFuture<Void> pushed =
          CompletableFuture.runAsync(
              () -> {
                awaitTrue(() -> server.info("clients").contains("blocked_clients:1"));
                sleep(Duration.ofMillis(5_500));
                push.sync().rpush("jobs", "job-1");
              },
              thread);

      // snippet:begin timeouts-redis-blocking-client
      ClientResources shared = ClientResources.create();
      RedisClient requests =
          RedisTimeouts.applyTo(
              Pools.redis(url).clientResources(shared).build(), Duration.ofSeconds(5));
      RedisClient queues = Pools.redis(url).clientResources(shared).build();
      try (StatefulRedisConnection<String, String> blocking = queues.connect()) {
        blocking.setTimeout(Duration.ofSeconds(15)); // honoured here
        KeyValue<String, String> job = blocking.sync().blpop(10, "jobs"); // null after 10 s
        if (job != null) {
          run(job.getValue());
        }
      }
      // on shutdown: requests.shutdown(); queues.shutdown(); shared.shutdown();
      // snippet:end

      try {
        pushed.get(WAIT.toSeconds(), SECONDS);
        assertThat(ran).containsExactly("job-1");
        // The requests' client takes its timeouts from the deadline, whatever the connection says.
        try (StatefulRedisConnection<String, String> c = requests.connect()) {
          c.setTimeout(Duration.ofSeconds(15));
          assertThatThrownBy(
                  () ->
                      Deadline.after(Duration.ofMillis(200)).call(() -> c.sync().blpop(2, "none")))
              .isInstanceOf(RedisCommandTimeoutException.class);
        }
      } finally {
        requests.shutdown(Duration.ZERO, Duration.ofSeconds(2));
        queues.shutdown(Duration.ZERO, Duration.ofSeconds(2));
        shared.shutdown(0, 2, TimeUnit.SECONDS);
      }
    } finally {
      thread.shutdownNow();
      pusher.shutdown(Duration.ZERO, Duration.ofSeconds(2));
    }
  }

  // ## Time limits: Timeouts.within

  record Price(long cents) {}

  record Row(String value) {}

  private final List<String> pricedOn = new CopyOnWriteArrayList<>();

  private final class Calculator {
    Price price(Order order) {
      pricedOn.add(
          Thread.currentThread().getName() + " " + Deadline.current().map(d -> "with deadline"));
      return new Price(order.id() * 100);
    }
  }

  private static List<Row> read(ResultSet rs) throws SQLException {
    List<Row> rows = new ArrayList<>();
    while (rs.next()) {
      rows.add(new Row(rs.getString(1)));
    }
    return rows;
  }

  @Test
  void withinRunsOnTheCallersThreadAndCancelsTheStatementAtTheLimit(TestDatabase db)
      throws SQLException {
    Calculator calculator = new Calculator();
    Order order = new Order(7);
    String sql = "select pg_sleep(30)";
    try (Connection connection = db.connect()) {
      int pid = TestPostgres.backendPid(connection);

      Throwable thrown =
          catchThrowable(
              () -> {
                // snippet:begin timeouts-within
                Price p = Timeouts.within(Duration.ofSeconds(60), () -> calculator.price(order));

                List<Row> rows =
                    Timeouts.within(
                        Duration.ofSeconds(2),
                        ctx -> {
                          try (PreparedStatement ps = connection.prepareStatement(sql)) {
                            // pgjdbc ignores interrupts; the cancel reaches the server
                            ctx.onTimeout(ps::cancel);
                            return read(ps.executeQuery());
                          }
                        });
                // snippet:end
              });

      assertThat(pricedOn)
          .containsExactly(Thread.currentThread().getName() + " Optional[with deadline]");
      assertThat(thrown)
          .isInstanceOf(TimeoutExceededException.class)
          .hasMessageStartingWith("call exceeded its time limit of 2000 ms after ");
      assertThat(((TimeoutExceededException) thrown).limit()).isEqualTo(Duration.ofSeconds(2));
      assertThat(thrown.getCause()).isInstanceOf(SQLException.class);
      assertThat(((SQLException) thrown.getCause()).getSQLState()).isEqualTo("57014");
      // The server cancelled the statement; the connection and its backend are still there.
      assertThat(connection.isValid(1)).isTrue();
      assertThat(TestPostgres.backendPid(connection)).isEqualTo(pid);
    }
  }

  // ### TimeLimiter

  record Request(String query) {}

  record Report(String query, String thread) {}

  private static Report build(Request request) {
    return new Report(request.query(), Thread.currentThread().getName());
  }

  @Test
  void aTimeLimiterRunsCallsOnTheCallersThreadAndSubmittedOnesOnItsOwnPool() throws Exception {
    MeterRegistry registry = new SimpleMeterRegistry();
    Request request = new Request("revenue by month");

    // snippet:begin timeouts-time-limiter
    TimeLimiter reports =
        TimeLimiter.builder("reports")
            .timeout(Duration.ofSeconds(60))
            .asyncThreads(2)
            .asyncQueueCapacity(100)
            .meterRegistry(registry)
            .build();
    Report r = reports.call(() -> build(request)); // caller's thread
    CompletableFuture<Report> f = reports.submit(() -> build(request)); // its own bounded pool
    // snippet:end

    try {
      assertThat(r).isEqualTo(new Report("revenue by month", Thread.currentThread().getName()));
      assertThat(f.get(WAIT.toSeconds(), SECONDS).thread()).isEqualTo("bulwark-timeouts-reports-1");
      awaitTrue(
          () ->
              registry
                      .get("bulwark.timeouts.timelimiter.calls")
                      .tags("name", "reports", "outcome", "success")
                      .timer()
                      .count()
                  == 2);
      assertThat(reports.snapshot().queueCapacity()).isEqualTo(100);
    } finally {
      reports.close();
    }
  }

  // ## Retry, RetryBudget

  /** Charges an order in a serializable transaction; the first attempt meets a concurrent write. */
  private static final class Repository {
    final TestDatabase db;
    final List<String> failures = new CopyOnWriteArrayList<>();
    final AtomicInteger attempts = new AtomicInteger();

    Repository(TestDatabase db) throws SQLException {
      this.db = db;
      execute(db, "create table account(id bigint primary key, balance int not null)");
      execute(db, "insert into account values (1, 100)");
    }

    Receipt charge(Order order) throws SQLException {
      try (Connection c = db.connect()) {
        c.setAutoCommit(false);
        c.setTransactionIsolation(Connection.TRANSACTION_SERIALIZABLE);
        balance(c, order.id());
        if (attempts.incrementAndGet() == 1) {
          execute(db, "update account set balance = balance - 5 where id = " + order.id());
        }
        try (Statement s = c.createStatement()) {
          s.executeUpdate("update account set balance = balance - 10 where id = " + order.id());
        } catch (SQLException e) {
          failures.add(e.getSQLState());
          throw e;
        }
        c.commit();
        return new Receipt(order.id());
      }
    }

    int balance(Connection c, long id) throws SQLException {
      try (Statement s = c.createStatement();
          ResultSet rs = s.executeQuery("select balance from account where id = " + id)) {
        rs.next();
        return rs.getInt(1);
      }
    }
  }

  @Test
  void aRetryOnPostgresTransientFailuresRetriesASerializationFailureWithinItsBudget(TestDatabase db)
      throws SQLException {
    MeterRegistry registry = new SimpleMeterRegistry();
    Repository repository = new Repository(db);
    Order order = new Order(1);

    // snippet:begin timeouts-retry-budget
    RetryBudget paymentsDb = RetryBudget.builder("payments-db").build(); // 10%, floor 3/s, 10 s
    // snippet:end

    assertThat(paymentsDb).hasToString("RetryBudget[payments-db, ratio=0.1, floor=30]");
    assertThat(paymentsDb.snapshot()).isEqualTo(new RetryBudget.Snapshot("payments-db", 0, 0, 30));

    // snippet:begin timeouts-retry
    Retry retry =
        Retry.builder("payments-db")
            .maxAttempts(3)
            .backoff(Duration.ofMillis(100), Duration.ofSeconds(10))
            .retryIf(RetryOn.postgresTransient()) // what PostgreSQL reports as transient
            .budget(paymentsDb) // the RetryBudget below
            .meterRegistry(registry)
            .build();
    Receipt r = retry.call(() -> repository.charge(order));
    // snippet:end

    assertThat(r).isEqualTo(new Receipt(1));
    // The first attempt met a real serialization failure, the second went through: the whole
    // transaction ran again, so the charge applied once.
    assertThat(repository.failures).containsExactly("40001");
    assertThat(repository.attempts).hasValue(2);
    try (Connection c = db.connect()) {
      assertThat(repository.balance(c, 1)).isEqualTo(85);
    }
    assertThat(paymentsDb.snapshot()).isEqualTo(new RetryBudget.Snapshot("payments-db", 1, 1, 30));
    assertThat(count(registry, "bulwark.timeouts.retry.calls", "success_after_retry")).isOne();
    assertThat(registry.get("bulwark.timeouts.retry.retries").counter().count()).isOne();
    // Above the floor of 30 retries per window, the budget allows 10% of the calls.
    for (int i = 0; i < 999; i++) {
      paymentsDb.recordCall();
    }
    assertThat(paymentsDb.snapshot().limit()).isEqualTo(100);
  }

  @Test
  void aRetryOnAFakeClockWaitsAtMostEachCapAndNoRealTime() {
    // snippet:begin timeouts-retry-test-clock
    AtomicLong now = new AtomicLong();
    List<Long> waits = new ArrayList<>();
    Retry retry =
        Retry.builder("payments-db")
            .maxAttempts(5)
            .backoff(Duration.ofMillis(100), Duration.ofSeconds(1))
            .maxDuration(Duration.ofSeconds(3))
            .retryOn(IOException.class)
            .ticker(now::get) // a Ticker: nanoseconds
            .sleeper(
                nanos -> {
                  waits.add(nanos);
                  now.addAndGet(nanos);
                })
            .build();
    // Call it with a call that fails, then assert on waits:
    // wait n is in [0, min(1 s, 100 ms * 2^(n-1))].
    // snippet:end

    AtomicInteger attempts = new AtomicInteger();
    Throwable thrown =
        catchThrowable(
            () ->
                retry.call(
                    () -> {
                      throw new IOException("refused, attempt " + attempts.incrementAndGet());
                    }));
    assertThat(thrown).isInstanceOf(IOException.class).hasMessage("refused, attempt 5");
    assertThat(thrown.getSuppressed()).hasSize(4);
    assertThat(waits).hasSize(4);
    for (int n = 1; n <= 4; n++) {
      long cap =
          Math.min(Duration.ofSeconds(1).toNanos(), Duration.ofMillis(100).toNanos() << (n - 1));
      assertThat(waits.get(n - 1)).as("wait %d", n).isBetween(0L, cap);
    }
    assertThat(now.get()).isEqualTo(waits.stream().mapToLong(Long::longValue).sum());

    // Each attempt that adds 1 s to the clock: the third ends past the 3 s, so there is no fourth.
    waits.clear();
    now.set(0);
    attempts.set(0);
    thrown =
        catchThrowable(
            () ->
                retry.call(
                    () -> {
                      now.addAndGet(Duration.ofSeconds(1).toNanos());
                      throw new IOException("slow, attempt " + attempts.incrementAndGet());
                    }));
    assertThat(thrown).isInstanceOf(IOException.class).hasMessage("slow, attempt 3");
    assertThat(waits).hasSize(2);
  }

  // ## Policies

  private final List<Duration> chargeTimeLeft = new CopyOnWriteArrayList<>();
  private final AtomicBoolean firstChargeInterrupted = new AtomicBoolean();

  private final class PaymentsClient {
    Receipt charge(Order order) throws InterruptedException {
      chargeTimeLeft.add(Deadline.current().orElseThrow().remaining());
      if (chargeTimeLeft.size() == 1) {
        try {
          // Hangs until the time limit interrupts it.
          new CountDownLatch(1).await(WAIT.toSeconds(), SECONDS);
        } catch (InterruptedException e) {
          firstChargeInterrupted.set(true);
          throw e;
        }
      }
      return new Receipt(order.id());
    }
  }

  @Test
  void policiesRetryAnAttemptThatRanPastItsOwnTimeLimit() throws Exception {
    MeterRegistry registry = new SimpleMeterRegistry();
    PaymentsClient client = new PaymentsClient();
    Order order = new Order(9);
    Retry retry =
        Retry.builder("payments")
            .retryOn(TimeoutExceededException.class)
            .backoff(Duration.ofMillis(1), Duration.ofMillis(10))
            .meterRegistry(registry)
            .build();

    // snippet:begin timeouts-policies
    Policies payments =
        Policies.builder()
            .retry(retry)
            .circuitBreaker(CircuitBreakers.builder("payments").build())
            .bulkhead(Bulkheads.builder("payments").maxConcurrentCalls(20).build())
            .timeLimit(Duration.ofSeconds(2))
            .build();
    Receipt r = payments.call(() -> client.charge(order));
    // snippet:end

    assertThat(r).isEqualTo(new Receipt(9));
    assertThat(firstChargeInterrupted).isTrue();
    // The time limit is inside the retry: the second attempt had a fresh 2 s of its own.
    assertThat(chargeTimeLeft).hasSize(2);
    assertThat(chargeTimeLeft.get(1))
        .isGreaterThan(Duration.ofSeconds(1))
        .isLessThanOrEqualTo(Duration.ofSeconds(2));
    assertThat(count(registry, "bulwark.timeouts.retry.calls", "success_after_retry")).isOne();
    assertThat(payments)
        .hasToString(
            "Policies[Retry[payments, maxAttempts=3] > CircuitBreaker[payments] >"
                + " Bulkhead[payments] > TimeLimit[2000 ms] > call]");
  }

  // ## Metrics

  @Test
  void bindToShowsTheHookCountsOnce() {
    MeterRegistry registry = new SimpleMeterRegistry();

    // snippet:begin timeouts-bind-to
    Timeouts.bindTo(registry); // once, where the registry is made; idempotent
    // snippet:end

    Timeouts.bindTo(registry);
    assertThat(registry.find("bulwark.timeouts.hooks").functionCounters())
        .extracting(counter -> counter.getId().getTag("outcome"))
        .containsExactlyInAnyOrder("failed", "dropped", "overdue");
    assertThat(registry.getMeters()).hasSize(3).allMatch(FunctionCounter.class::isInstance);
  }

  // ## Recipe: 60 s calculation limit answered with HTTP 408

  private final AtomicBoolean calculationInterrupted = new AtomicBoolean();

  /** Spins for {@code millis} ms, stopping when interrupted as a well-behaved calculation does. */
  private long spin(long millis) {
    long end = System.nanoTime() + Duration.ofMillis(millis).toNanos();
    while (System.nanoTime() < end) {
      if (Thread.currentThread().isInterrupted()) {
        calculationInterrupted.set(true);
        throw new IllegalStateException("calculation interrupted");
      }
    }
    return millis * 2;
  }

  private void calculationEndpoint(HttpExchange exchange) throws IOException {
    long input = Long.parseLong(exchange.getRequestURI().getQuery().replace("n=", ""));
    LongUnaryOperator calculation = this::spin;

    // snippet:begin timeouts-calculation-408
    try {
      long result = Timeouts.within(Duration.ofSeconds(60), () -> calculation.applyAsLong(input));
      respond(exchange, 200, Long.toString(result));
    } catch (TimeoutExceededException e) {
      respond(exchange, 408, "calculation took longer than " + e.limit().toMillis() + " ms");
    }
    // snippet:end
  }

  private static void respond(HttpExchange exchange, int status, String body) throws IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    exchange.sendResponseHeaders(status, bytes.length);
    try (OutputStream out = exchange.getResponseBody()) {
      out.write(bytes);
    }
  }

  @Test
  void aCalculationPastItsLimitIsInterruptedAndAnsweredWith408() throws Exception {
    HttpServer server =
        HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    // Each request has 300 ms, so that the 60 s limit, clamped to the request's deadline, runs
    // out in this test's time; the code that answers is the recipe's.
    server.createContext(
        "/price",
        exchange ->
            Deadline.after(Duration.ofMillis(300))
                .call(
                    () -> {
                      calculationEndpoint(exchange);
                      return null;
                    }));
    server.start();
    try {
      HttpClient client = HttpClient.newHttpClient();
      String base = "http://127.0.0.1:" + server.getAddress().getPort() + "/price?n=";

      HttpResponse<String> quick = get(client, base + 1);
      assertThat(quick.statusCode()).isEqualTo(200);
      assertThat(quick.body()).isEqualTo("2");
      assertThat(calculationInterrupted).isFalse();

      HttpResponse<String> slow = get(client, base + 60_000);
      assertThat(slow.statusCode()).isEqualTo(408);
      Matcher body = Pattern.compile("calculation took longer than (\\d+) ms").matcher(slow.body());
      assertThat(body.matches()).as(slow.body()).isTrue();
      assertThat(Long.parseLong(body.group(1))).isBetween(1L, 300L);
      assertThat(calculationInterrupted).isTrue();
    } finally {
      server.stop(0);
    }
  }

  private static HttpResponse<String> get(HttpClient client, String uri)
      throws IOException, InterruptedException {
    return client.send(
        HttpRequest.newBuilder(URI.create(uri)).timeout(WAIT).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  // ## Recipe: retry a background task 3 times on DB/connection errors with backoff and jitter

  interface Exporter {
    int runOnce() throws SQLException;
  }

  private static void nightlyExport(MeterRegistry registry, Exporter exporter) throws SQLException {
    // snippet:begin timeouts-background-retry
    RetryBudget exportDb =
        RetryBudget.builder("export-db")
            .window(Duration.ofHours(1)) // longer than the longest backoff
            .meterRegistry(registry)
            .build();
    Retry retry =
        Retry.builder("nightly-export")
            .maxAttempts(4) // 1 attempt + 3 retries
            // caps of 5, 10 and 20 min; each delay is uniform below its cap (full jitter)
            .backoff(Duration.ofMinutes(5), Duration.ofMinutes(20))
            .retryIf(RetryOn.postgresTransient()) // see RetryOn above
            .budget(exportDb)
            .meterRegistry(registry)
            .build();
    retry.call(() -> exporter.runOnce()); // the whole task: connection, statements, commit
    // snippet:end
  }

  @Test
  void theBackgroundTaskFailsAtOnceOnAConstraintViolation(TestDatabase db) throws SQLException {
    MeterRegistry registry = new SimpleMeterRegistry();
    execute(db, "create table export(day date primary key)");
    execute(db, "insert into export values (date '2024-01-31')");
    AtomicInteger attempts = new AtomicInteger();

    Throwable thrown =
        catchThrowable(
            () ->
                nightlyExport(
                    registry,
                    () -> {
                      attempts.incrementAndGet();
                      return execute(db, "insert into export values (date '2024-01-31')");
                    }));

    assertThat(thrown).isInstanceOf(SQLException.class);
    assertThat(((SQLException) thrown).getSQLState()).isEqualTo("23505");
    assertThat(attempts).hasValue(1);
    assertThat(count(registry, "bulwark.timeouts.retry.calls", "not_retryable")).isOne();
    assertThat(registry.get("bulwark.timeouts.retry.budget.retries").counter().count()).isZero();
  }

  @Test
  void theBackgroundTaskIsRetriedAfterASerializationFailure(TestDatabase db) throws SQLException {
    MeterRegistry registry = new SimpleMeterRegistry();
    Repository repository = new Repository(db);
    AtomicInteger attempts = new AtomicInteger();

    Throwable thrown =
        catchThrowable(
            () ->
                nightlyExport(
                    registry,
                    () -> {
                      attempts.incrementAndGet();
                      try {
                        repository.charge(new Order(1));
                        return 1;
                      } catch (SQLException e) {
                        // The first backoff is up to 5 min: the thread is interrupted, as a
                        // shutdown would, so that the retry stops in its backoff.
                        Thread.currentThread().interrupt();
                        throw e;
                      }
                    }));

    assertThat(Thread.interrupted()).as("interrupt status kept").isTrue();
    assertThat(thrown).isInstanceOf(SQLException.class);
    assertThat(((SQLException) thrown).getSQLState()).isEqualTo("40001");
    assertThat(thrown.getSuppressed()).singleElement().isInstanceOf(InterruptedException.class);
    assertThat(attempts).hasValue(1);
    // The retry was granted by the budget, and stopped in its backoff.
    assertThat(registry.get("bulwark.timeouts.retry.budget.retries").counter().count()).isOne();
    assertThat(count(registry, "bulwark.timeouts.retry.calls", "interrupted")).isOne();
  }

  // ## Recipe: statement timeout per request taken from the request's deadline

  private static final List<String> statementTimeouts = new CopyOnWriteArrayList<>();

  private static long countOrders(Connection c, long customerId) throws SQLException {
    statementTimeouts.add(show(c, "statement_timeout"));
    try (PreparedStatement ps =
        c.prepareStatement("select count(*) from orders where customer_id = ?")) {
      ps.setLong(1, customerId);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getLong(1);
      }
    }
  }

  private static long orderCount(DataSource dataSource, long customerId) throws SQLException {
    // snippet:begin timeouts-request-deadline
    long orders =
        Deadline.after(Duration.ofSeconds(2))
            .call(
                () -> {
                  try (Connection c = dataSource.getConnection()) {
                    c.setAutoCommit(false);
                    // 30 s at most, less when the deadline has less left
                    JdbcTimeouts.setLocalStatementTimeout(c, Duration.ofSeconds(30));
                    long count = countOrders(c, customerId); // the transaction's statements
                    c.commit();
                    return count;
                  }
                });
    // snippet:end
    return orders;
  }

  @Test
  void theRequestsStatementsGetWhatItsDeadlineHasLeftAndNoMore(TestDatabase db)
      throws SQLException {
    statementTimeouts.clear();
    execute(db, "create table orders(id bigint primary key, customer_id bigint not null)");
    execute(db, "insert into orders select g, g % 10 from generate_series(1, 1000) g");
    try (HikariDataSource dataSource = onePool(db)) {

      assertThat(orderCount(dataSource, 3)).isEqualTo(100);
      assertThat(statementTimeouts).singleElement().satisfies(TimeoutsRecipesTest::atMost2s);
      // SET LOCAL ended with the transaction: the pool's next borrower has the pool's 30 s.
      try (Connection c = dataSource.getConnection()) {
        assertThat(show(c, "statement_timeout")).isEqualTo("30s");
      }

      // A statement stuck behind a lock is cancelled by the server when the request's 2 s end.
      try (Connection locker = db.connect()) {
        locker.setAutoCommit(false);
        try (Statement s = locker.createStatement()) {
          s.execute("lock table orders in access exclusive mode");
        }
        Throwable thrown = catchThrowable(() -> orderCount(dataSource, 3));
        assertThat(thrown).isInstanceOf(SQLException.class);
        assertThat(((SQLException) thrown).getSQLState()).isEqualTo("57014");
        locker.rollback();
      }
      assertThat(orderCount(dataSource, 3)).isEqualTo(100);
    }
  }

  /** PostgreSQL shows 2000 ms as {@code 2s} and 1999 ms as {@code 1999ms}. */
  private static void atMost2s(String statementTimeout) {
    Matcher shown = Pattern.compile("(\\d+)(ms|s)").matcher(statementTimeout);
    assertThat(shown.matches()).as(statementTimeout).isTrue();
    long millis = Long.parseLong(shown.group(1)) * (shown.group(2).equals("s") ? 1000 : 1);
    assertThat(millis).as(statementTimeout).isBetween(1L, 2000L);
  }

  // Helpers

  /** One connection, with the API profile's 30 s statement timeout and 45 s socket timeout. */
  private static HikariDataSource onePool(TestDatabase db) {
    return Pools.postgres(db.jdbcUrl(), db.user(), db.password())
        .profile(PoolProfile.WORKER)
        .maximumPoolSize(1)
        .statementTimeout(Duration.ofSeconds(30))
        .build();
  }

  private static double count(MeterRegistry registry, String name, String outcome) {
    return registry.get(name).tag("outcome", outcome).counter().count();
  }

  private static int execute(TestDatabase db, String sql) throws SQLException {
    try (Connection c = db.connect();
        Statement s = c.createStatement()) {
      return s.executeUpdate(sql);
    }
  }

  private static String show(Connection c, String setting) throws SQLException {
    try (Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("show " + setting)) {
      rs.next();
      return rs.getString(1);
    }
  }
}

package dev.bulwark.ratelimit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.bulwark.pool.Pools;
import dev.bulwark.pool.RedisClientBuilder;
import dev.bulwark.testing.Await;
import dev.bulwark.testing.Closer;
import dev.bulwark.testing.FaultProxy;
import dev.bulwark.testing.NoSecrets;
import dev.bulwark.testing.RedisExtension;
import dev.bulwark.testing.TestRedis;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisConnectionException;
import io.lettuce.core.RedisURI;
import io.lettuce.core.api.StatefulRedisConnection;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The Redis limiter while the server fails: stopped, restarted, or silenced by a {@link FaultProxy}
 * that keeps the connection open and swallows its bytes. Every decision returns within the command
 * timeout by the configured {@link FailurePolicy}, every failure is counted, and decisions come
 * from Redis again once it answers.
 */
@ExtendWith(RedisExtension.class)
class RedisRateLimiterFailureTest {
  /** The limiters' command timeout. */
  private static final Duration TIMEOUT = Duration.ofMillis(100);

  /** What a decision may take beyond {@link #TIMEOUT} on a loaded machine. */
  private static final Duration SLACK = Duration.ofSeconds(1);

  /** The longest a decision may take. */
  private static final Duration BOUND = TIMEOUT.plus(SLACK);

  /**
   * Above a call's time on a loaded machine, for a limiter whose every answered call is counted:
   * only the outage makes a call fail.
   */
  private static final Duration LONG_TIMEOUT = Duration.ofSeconds(2);

  /**
   * The command timeout of the clients behind a proxy: above the limiters', so that a decision
   * gives up first. It is also how long the client waits for three silent commands before it
   * replaces their connection, and for a reconnect's handshake that the blackhole swallows.
   */
  private static final Duration CLIENT_TIMEOUT = Duration.ofSeconds(1);

  /** The longest wait between the clients' reconnect attempts. */
  private static final Duration RECONNECT_DELAY = Duration.ofMillis(100);

  /** A stop is seen at once; the slack is for a loaded machine. */
  private static final Duration DOWN = Duration.ofSeconds(10);

  /** Reconnects are at most 100 ms apart, and a silent connection goes after 3 timeouts. */
  private static final Duration RECOVERY = Duration.ofSeconds(20);

  private static final long T0 = 1_800_000_000_000_000L;
  private static final String SECRET = "S3cr3t-pw";
  private static final String WRONG = "Wr0ng-pw";

  private final Closer opened = new Closer();
  private final AtomicLong micros = new AtomicLong(T0);
  private final AtomicLong nanos = new AtomicLong();
  private TestRedis redis;
  private RedisURI uri;
  private TestInfo info;

  @BeforeEach
  void setUp(TestRedis redis, RedisURI uri, TestInfo info) {
    this.redis = redis;
    this.uri = uri;
    this.info = info;
  }

  @AfterEach
  void tearDown() throws Exception {
    try {
      opened.close();
    } finally {
      if (redis.isEmbedded()) {
        redis.start(); // does nothing if it runs
      }
    }
  }

  /** A limiter, the registry of its meters, and its policy. */
  private record Metered(
      RedisRateLimiter limiter, SimpleMeterRegistry registry, FailurePolicy policy) {
    double errors(String kind) {
      return registry
          .get("bulwark.ratelimit.redis.errors")
          .tag("name", limiter.name())
          .tag("kind", kind)
          .functionCounter()
          .count();
    }

    double decisions(Outcome outcome) {
      return registry
          .get("bulwark.ratelimit.decisions")
          .tag("name", limiter.name())
          .tag("outcome", outcome.tag())
          .functionCounter()
          .count();
    }

    /** Checks that the snapshot and the meters agree, and returns the failed Redis calls. */
    long failures() {
      RateLimiterSnapshot snapshot = limiter.snapshot();
      assertThat((double) snapshot.redisErrors()).isEqualTo(errors("timeout") + errors("error"));
      for (Outcome outcome : Outcome.values()) {
        assertThat((double) snapshot.decisions(outcome))
            .as(outcome.tag())
            .isEqualTo(decisions(outcome));
      }
      // Every failed call was answered by the policy, and nothing else was.
      assertThat(snapshot.fallbacks()).isEqualTo(snapshot.redisErrors());
      return snapshot.redisErrors();
    }
  }

  private RedisClient client() {
    return client(Pools.redis(uri).maxReconnectDelay(RECONNECT_DELAY));
  }

  /** A client through the proxy, with a command timeout above the limiters'. */
  private RedisClient client(FaultProxy proxy, String userInfo, SimpleMeterRegistry registry) {
    String url =
        "redis://" + userInfo + proxy.host() + ":" + proxy.port() + "/" + uri.getDatabase();
    return opened.client(
        Pools.redis(url)
            .commandTimeout(CLIENT_TIMEOUT)
            .maxReconnectDelay(RECONNECT_DELAY)
            .meterRegistry(registry)
            .build());
  }

  private RedisClient client(RedisClientBuilder builder) {
    return opened.client(builder.meterRegistry(new SimpleMeterRegistry()).build());
  }

  private FaultProxy proxy() {
    return opened.add(FaultProxy.to(redis.host(), redis.port()));
  }

  /** A limiter named after the test and {@code tag}, of 100 per minute. */
  private Metered instance(
      RedisClient client,
      String tag,
      FailurePolicy policy,
      UnaryOperator<RedisLimiterBuilder> more) {
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    RedisLimiterBuilder builder =
        RateLimiter.redis(client)
            .name(Closer.name(tag, info))
            .limits("100/minute")
            .onRedisFailure(policy)
            .meterRegistry(registry);
    return new Metered(opened.add(more.apply(builder).build()), registry, policy);
  }

  /** One limiter of each policy on {@code client}, timing out after {@link #TIMEOUT}. */
  private List<Metered> everyPolicy(RedisClient client) {
    return List.of(
        instance(client, "o-", FailurePolicy.FAIL_OPEN, b -> b.commandTimeout(TIMEOUT)),
        instance(client, "c-", FailurePolicy.FAIL_CLOSED, b -> b.commandTimeout(TIMEOUT)),
        instance(
            client,
            "l-",
            FailurePolicy.LOCAL_FALLBACK,
            b -> b.commandTimeout(TIMEOUT).expectedInstances(4).nanoTime(nanos::get)));
  }

  /** Runs one decision, and checks it took less than {@link #BOUND}. */
  private static Decision timed(Supplier<Decision> decision) {
    long start = System.nanoTime();
    Decision d = decision.get();
    assertThat(Duration.ofNanos(System.nanoTime() - start)).as("a decision").isLessThan(BOUND);
    return d;
  }

  /** Runs one asynchronous decision, and checks it completed normally within {@link #BOUND}. */
  private static Decision timedAsync(Supplier<CompletionStage<Decision>> decision) {
    long start = System.nanoTime();
    CompletableFuture<Decision> future = decision.get().toCompletableFuture();
    assertThat(future).succeedsWithin(BOUND);
    assertThat(Duration.ofNanos(System.nanoTime() - start)).as("a decision").isLessThan(BOUND);
    return future.join();
  }

  /** Checks a decision made by {@code m}'s policy for a key the fallback has not seen yet. */
  private static void byPolicy(Metered m, Decision d) {
    switch (m.policy()) {
      case FAIL_OPEN -> {
        assertThat(d.outcome()).isEqualTo(Outcome.FAILED_OPEN);
        assertThat(d.retryAfter()).isZero();
        assertThat(d.quotas()).isEmpty();
        assertThat(d.remaining()).isEqualTo(-1);
      }
      case FAIL_CLOSED -> {
        assertThat(d.outcome()).isEqualTo(Outcome.FAILED_CLOSED);
        assertThat(d.retryAfter()).isEqualTo(Duration.ofSeconds(1));
        assertThat(d.retryAfterSeconds()).isEqualTo(1);
        assertThat(d.deniedBy()).isNull();
        assertThat(d.quotas()).isEmpty();
      }
      case LOCAL_FALLBACK -> {
        assertThat(d.outcome()).isEqualTo(Outcome.FALLBACK_ALLOWED);
        assertThat(d.remaining()).isEqualTo(24); // 100/minute over 4 instances: 25, one taken
      }
    }
  }

  /**
   * Waits for an answer from Redis: the first calls on a new connection (or to a server that just
   * forgot the script) may outlast a short timeout on a loaded machine.
   */
  private static void awaitRedis(Metered m) throws Exception {
    Await.until(
        DOWN,
        "an answer from Redis",
        () -> m.limiter().tryAcquire("up").outcome() == Outcome.ALLOWED);
  }

  private static Outcome failure(FailurePolicy policy) {
    return switch (policy) {
      case FAIL_OPEN -> Outcome.FAILED_OPEN;
      case FAIL_CLOSED -> Outcome.FAILED_CLOSED;
      case LOCAL_FALLBACK -> Outcome.FALLBACK_ALLOWED;
    };
  }

  @Test
  void whileRedisIsStoppedEachPolicyDecidesWithinTheTimeoutAndCountsEveryFailure()
      throws Exception {
    assumeTrue(redis.isEmbedded(), "needs a server this JVM owns");
    List<Metered> limiters = everyPolicy(client());
    for (Metered m : limiters) {
      awaitRedis(m);
    }

    redis.stop();
    for (Metered m : limiters) {
      // Until the client has seen its connection close, a decision's command may be written and
      // wait out the timeout; once it has, commands are rejected at once, as errors.
      double errors = m.errors("error");
      Await.until(
          DOWN,
          "a rejected call",
          () -> {
            byPolicy(m, timed(() -> m.limiter().tryAcquire("warm-up-" + System.nanoTime())));
            return m.errors("error") > errors;
          });
    }
    for (Metered m : limiters) {
      long failures = m.failures();
      double allowedByRedis = m.decisions(Outcome.ALLOWED);
      double errors = m.errors("error");
      double timeouts = m.errors("timeout");
      double before = m.decisions(failure(m.policy()));
      int allowed = 0;
      for (int i = 0; i < 40; i++) {
        Decision d = timed(() -> m.limiter().tryAcquire("k"));
        switch (m.policy()) {
          case FAIL_OPEN, FAIL_CLOSED -> byPolicy(m, d);
          case LOCAL_FALLBACK -> {
            if (i < 25) {
              assertThat(d.outcome()).as("decision %d", i).isEqualTo(Outcome.FALLBACK_ALLOWED);
              assertThat(d.remaining()).isEqualTo(24 - i);
              allowed++;
            } else {
              assertThat(d.outcome()).as("decision %d", i).isEqualTo(Outcome.FALLBACK_DENIED);
              // The configured limit is named, not its share of 25.
              assertThat(d.deniedBy()).isEqualTo(Limit.perMinute(100));
              assertThat(d.retryAfter()).isEqualTo(Duration.ofMillis(2400)); // a permit's refill
            }
          }
        }
      }
      assertThat(m.failures()).isEqualTo(failures + 40);
      assertThat(m.errors("error")).isEqualTo(errors + 40);
      assertThat(m.errors("timeout")).isEqualTo(timeouts);
      if (m.policy() == FailurePolicy.LOCAL_FALLBACK) {
        // 100/minute over 4 instances: 25 of the 40 on this one, then the fallback denies.
        assertThat(allowed).isEqualTo(25);
        assertThat(m.decisions(Outcome.FALLBACK_ALLOWED)).isEqualTo(before + 25);
        assertThat(m.decisions(Outcome.FALLBACK_DENIED)).isEqualTo(15);
      } else {
        assertThat(m.decisions(failure(m.policy()))).isEqualTo(before + 40);
      }
      assertThat(m.decisions(Outcome.ALLOWED)).isEqualTo(allowedByRedis);
      assertThat(m.decisions(Outcome.DENIED)).isZero();
    }
  }

  @Test
  void whileRedisIsStoppedAnAsyncDecisionCompletesNormallyByThePolicy() throws Exception {
    assumeTrue(redis.isEmbedded(), "needs a server this JVM owns");
    List<Metered> limiters = everyPolicy(client());
    for (Metered m : limiters) {
      awaitRedis(m);
    }

    redis.stop();
    // At once: the first commands may be written before the client sees the connection close.
    for (Metered m : limiters) {
      long failures = m.failures();
      for (int i = 0; i < 30; i++) {
        Decision d = timedAsync(() -> m.limiter().tryAcquireAsync("k"));
        if (m.policy() == FailurePolicy.LOCAL_FALLBACK) {
          assertThat(d.outcome())
              .as("decision %d", i)
              .isEqualTo(i < 25 ? Outcome.FALLBACK_ALLOWED : Outcome.FALLBACK_DENIED);
        } else {
          byPolicy(m, d);
        }
      }
      assertThat(m.failures()).isEqualTo(failures + 30);
    }
  }

  /**
   * The embedded server keeps no data (persistence is off), so a restart empties every bucket: the
   * limits start over, which is what a limiter on a server without persistence accepts. The
   * server's script cache is empty too, so the first call meets {@code NOSCRIPT} and is sent again
   * whole, by {@code EVAL}, without failing the decision.
   */
  @Test
  void afterARestartDecisionsComeFromRedisAgainAndTheForgottenScriptIsSentWhole() throws Exception {
    assumeTrue(redis.isEmbedded(), "needs a server this JVM owns");
    Metered m =
        instance(
            client(),
            "r-",
            FailurePolicy.FAIL_CLOSED,
            b -> b.commandTimeout(LONG_TIMEOUT).serverMicros(micros::get).deniedCacheSize(0));
    RedisRateLimiter limiter = m.limiter();
    for (int i = 0; i < 100; i++) {
      assertThat(limiter.tryAcquire("k").outcome()).isEqualTo(Outcome.ALLOWED);
    }
    assertThat(limiter.tryAcquire("k").outcome()).isEqualTo(Outcome.DENIED);

    redis.restart();
    AtomicInteger failed = new AtomicInteger();
    Decision[] first = new Decision[1];
    Await.until(
        RECOVERY,
        "a decision from Redis after the restart",
        () -> {
          Decision d = timed(() -> limiter.tryAcquire("k"));
          if (d.outcome() == Outcome.FAILED_CLOSED) {
            failed.incrementAndGet();
            return false;
          }
          first[0] = d;
          return true;
        });

    // The bucket restarted full: the restart lost the 100 permits taken.
    assertThat(first[0].outcome()).isEqualTo(Outcome.ALLOWED);
    assertThat(first[0].remaining()).isEqualTo(99);
    for (int i = 0; i < 99; i++) {
      assertThat(limiter.tryAcquire("k").outcome()).isEqualTo(Outcome.ALLOWED);
    }
    assertThat(limiter.tryAcquire("k").outcome()).isEqualTo(Outcome.DENIED);
    // Only the decisions made while the client reconnected failed; the NOSCRIPT did not.
    assertThat(m.failures()).isEqualTo(failed.get());
    // The first call after the restart: EVALSHA, NOSCRIPT, EVAL; then EVALSHA alone.
    assertThat(calls("eval")).isEqualTo(1);
    assertThat(calls("evalsha")).isEqualTo(1 + 100);
  }

  /** The calls of a command since the server started, from {@code INFO commandstats}. */
  private long calls(String command) {
    for (String line : redis.info("commandstats").split("\r?\n", -1)) {
      if (line.startsWith("cmdstat_" + command + ":")) {
        return Long.parseLong(line.substring(line.indexOf("calls=") + 6, line.indexOf(',')));
      }
    }
    return 0;
  }

  /**
   * A blackhole keeps the connection open and swallows every byte: only the limiter's timeout ends
   * a decision. The client closes the silent connection after three timed-out commands (Pools'
   * silence detection) and reconnects; the blackhole swallows the new connection's handshake too,
   * until {@link FaultProxy#heal()}.
   */
  @Test
  void aBlackholeCostsEachDecisionTheTimeoutAndAfterTheHealDecisionsComeFromRedis()
      throws Exception {
    FaultProxy proxy = proxy();
    SimpleMeterRegistry clientMeters = new SimpleMeterRegistry();
    RedisClient client = client(proxy, "", clientMeters);
    List<Metered> limiters = everyPolicy(client);
    long[] before = new long[limiters.size()];
    for (int i = 0; i < limiters.size(); i++) {
      awaitRedis(limiters.get(i));
      before[i] = limiters.get(i).failures();
    }

    proxy.blackhole(true);
    // The client closes a silent connection only once three of its commands timed out, each after
    // the client's timeout: the first three decisions of each limiter meet the open connection.
    for (Metered m : limiters) {
      double timeouts = m.errors("timeout");
      double errors = m.errors("error");
      byPolicy(m, timed(() -> m.limiter().tryAcquire("b-0")));
      byPolicy(m, timedAsync(() -> m.limiter().tryAcquireAsync("b-1")));
      byPolicy(m, timed(() -> m.limiter().tryAcquire("b-2")));
      assertThat(m.errors("timeout")).isEqualTo(timeouts + 3);
      assertThat(m.errors("error")).isEqualTo(errors);
    }
    // Decisions go on by the policy, sync and async, while the client replaces each connection
    // (its commands are rejected, as errors, while the new one's handshake hangs).
    int[] made = new int[limiters.size()];
    Await.until(
        RECOVERY,
        "the three silent connections closed",
        () -> {
          for (int i = 0; i < limiters.size(); i++) {
            Metered m = limiters.get(i);
            String key = "b-" + (3 + made[i]);
            byPolicy(m, timed(() -> m.limiter().tryAcquire(key)));
            byPolicy(m, timedAsync(() -> m.limiter().tryAcquireAsync(key + "-async")));
            made[i] += 2;
          }
          return reconnects(clientMeters) >= limiters.size();
        });
    for (int i = 0; i < limiters.size(); i++) {
      // Every decision in the blackhole was one failure, counted once, by its kind.
      assertThat(limiters.get(i).failures()).isEqualTo(before[i] + 3 + made[i]);
    }

    proxy.heal();
    for (Metered m : limiters) {
      Await.until(
          RECOVERY,
          "a decision from Redis after the heal",
          () -> fromRedis(m, timed(() -> m.limiter().tryAcquire("healed"))));
      Await.until(
          RECOVERY,
          "an asynchronous decision from Redis after the heal",
          () -> fromRedis(m, timedAsync(() -> m.limiter().tryAcquireAsync("healed"))));
      m.failures(); // the snapshot and the meters still agree
    }
  }

  /** Whether Redis answered; if not, checks that the policy did. */
  private static boolean fromRedis(Metered m, Decision d) {
    if (d.outcome() == Outcome.ALLOWED) {
      return true;
    }
    assertThat(d.outcome()).isIn(failure(m.policy()), Outcome.FALLBACK_DENIED);
    return false;
  }

  /**
   * The client's own command timeout may be the shorter one: its {@code
   * RedisCommandTimeoutException} is a timeout as much as the limiter's, and counts as one.
   */
  @Test
  void aCommandTheClientTimesOutCountsAsATimeout() throws Exception {
    FaultProxy proxy = proxy();
    String url = "redis://" + proxy.host() + ":" + proxy.port() + "/" + uri.getDatabase();
    // Short, yet long enough for a handshake on a loaded machine: it bounds that too.
    RedisClient client = client(Pools.redis(url).commandTimeout(Duration.ofMillis(300)));
    Metered m =
        instance(client, "t-", FailurePolicy.FAIL_CLOSED, b -> b.commandTimeout(LONG_TIMEOUT));
    awaitRedis(m);
    long failures = m.failures();
    double timeouts = m.errors("timeout");
    double errors = m.errors("error");

    proxy.blackhole(true);
    // Three, as the client closes the silent connection after three timeouts.
    byPolicy(m, m.limiter().tryAcquire("k"));
    byPolicy(m, timedAsync(() -> m.limiter().tryAcquireAsync("k")));
    byPolicy(m, m.limiter().tryAcquire("k"));
    assertThat(m.errors("timeout")).isEqualTo(timeouts + 3);
    assertThat(m.errors("error")).isEqualTo(errors);
    assertThat(m.failures()).isEqualTo(failures + 3);
  }

  /**
   * A build whose connection cannot be opened throws, and leaves no meter in the registry: built
   * again with the same registry once Redis is back, it works.
   */
  @Test
  void aBuildThatCannotConnectLeavesNoMeterBehindAndCanBeRetried() throws Exception {
    assumeTrue(redis.isEmbedded(), "needs a server this JVM owns");
    RedisClient client = client();
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    Supplier<RedisLimiterBuilder> builder =
        () ->
            RateLimiter.redis(client)
                .name(Closer.name("b-", info))
                .limits("100/minute")
                .meterRegistry(registry);

    redis.stop();
    assertThat(catchThrowable(() -> builder.get().build()))
        .isInstanceOf(RedisConnectionException.class);
    assertThat(registry.getMeters()).isEmpty();

    redis.start();
    RedisRateLimiter limiter = opened.add(builder.get().build());
    Await.until(
        DOWN, "an answer from Redis", () -> limiter.tryAcquire("k").outcome() == Outcome.ALLOWED);
    assertThat(
            registry
                .get("bulwark.ratelimit.decisions")
                .tag("outcome", "allowed")
                .functionCounter()
                .count())
        .isEqualTo(1);
  }

  /**
   * An outage is logged once, at WARN: a failure that comes back before Redis has answered for 10 s
   * (on the limiter's clock) belongs to it; one after that starts a new outage, logged again.
   */
  @Test
  void anOutageIsLoggedOnceUntilRedisHasAnsweredForTenSeconds() throws Exception {
    assumeTrue(redis.isEmbedded(), "needs a server this JVM owns");
    Metered m =
        instance(
            client(),
            "w-",
            FailurePolicy.FAIL_CLOSED,
            b -> b.commandTimeout(LONG_TIMEOUT).nanoTime(nanos::get));
    awaitRedis(m);
    nanos.addAndGet(Duration.ofSeconds(11).toNanos());
    awaitRedis(m); // past any failure of the first calls
    String warning = "rate limiter " + m.limiter().name() + ": Redis failed (";
    try (Logged logged = new Logged()) {
      outage(m);
      assertThat(count(logged.text(), warning)).isOne();
      nanos.addAndGet(Duration.ofSeconds(10).minusNanos(1).toNanos());
      awaitRedis(m);
      outage(m); // Redis answered for less than 10 s: the same outage
      assertThat(count(logged.text(), warning)).isOne();
      awaitRedis(m);
      nanos.addAndGet(Duration.ofSeconds(10).toNanos());
      awaitRedis(m); // answered 10 s after the last failure: the outage is over
      outage(m);
      assertThat(count(logged.text(), warning)).isEqualTo(2);
    }
  }

  private static int count(String text, String part) {
    int count = 0;
    for (int at = text.indexOf(part); at >= 0; at = text.indexOf(part, at + part.length())) {
      count++;
    }
    return count;
  }

  /** Stops Redis until a decision fails, and starts it again. */
  private void outage(Metered m) throws Exception {
    redis.stop();
    try {
      Await.until(
          DOWN,
          "a decision by the policy",
          () -> m.limiter().tryAcquire("k").outcome() == Outcome.FAILED_CLOSED);
    } finally {
      redis.start();
    }
  }

  /** Connections the client closed because they stayed open without answering. */
  private static double reconnects(SimpleMeterRegistry clientMeters) {
    return clientMeters
        .get("bulwark.pool.redis.reconnects")
        .tag("cause", "timeouts")
        .functionCounter()
        .count();
  }

  /**
   * A password in the client's URL, through every way the limiter fails: its {@code toString}, the
   * lines logged while Redis is cut off (at the level the build logs at, WARN; the limiter's DEBUG
   * lines carry the text of its WARN line), and the exceptions of a build that cannot connect or
   * whose password is wrong. The server requires the password for the test ({@code CONFIG SET
   * requirepass}, as the testing page suggests), reset in a {@code finally}.
   */
  @Test
  void aPasswordInTheClientsUrlShowsInNoStringLogLineOrException() throws Exception {
    assumeTrue(redis.isEmbedded(), "needs a server this JVM owns");
    FaultProxy proxy = proxy();
    String name = Closer.name("p-", info);
    String lines;
    RedisClient admin = RedisClient.create(redis.uri());
    try (StatefulRedisConnection<String, String> c = admin.connect()) {
      c.sync().configSet("requirepass", SECRET);
      try (Logged logged = new Logged()) {
        RedisClient client = client(proxy, ":" + SECRET + "@", new SimpleMeterRegistry());
        RedisLimiterBuilder builder =
            RateLimiter.redis(client)
                .name(name)
                .limits("100/minute")
                .commandTimeout(TIMEOUT)
                .onRedisFailure(FailurePolicy.FAIL_CLOSED);
        NoSecrets.assertHidden(new AssertionError(builder.toString()), SECRET);
        RedisRateLimiter limiter = opened.add(builder.build());
        NoSecrets.assertHidden(new AssertionError(limiter.toString()), SECRET);
        Await.until( // authenticated
            DOWN,
            "an answer from Redis",
            () -> limiter.tryAcquire("k").outcome() == Outcome.ALLOWED);

        proxy.refuseNewConnections(true);
        assertThat(proxy.resetConnections()).isOne();
        Await.until(
            DOWN,
            "decisions by the policy",
            () -> timed(() -> limiter.tryAcquire("k")).outcome() == Outcome.FAILED_CLOSED);
        Throwable unreachable =
            catchThrowable(() -> RateLimiter.redis(client).name(name).limits("1/second").build());
        assertThat(unreachable).isInstanceOf(RedisConnectionException.class);
        NoSecrets.assertHidden(unreachable, SECRET);
        proxy.blackhole(true);
        proxy.refuseNewConnections(false);
        for (int i = 0; i < 3; i++) {
          assertThat(timed(() -> limiter.tryAcquire("k")).outcome())
              .isEqualTo(Outcome.FAILED_CLOSED);
        }

        proxy.heal();
        Await.until(
            RECOVERY,
            "a decision from Redis again",
            () -> timed(() -> limiter.tryAcquire("k")).outcome() == Outcome.ALLOWED);
        NoSecrets.assertHidden(new AssertionError(limiter.snapshot().toString()), SECRET);

        RedisClient wrong =
            client(
                Pools.redis("redis://:" + WRONG + "@" + redis.host() + ":" + redis.port())
                    .maxReconnectDelay(RECONNECT_DELAY));
        Throwable refused =
            catchThrowable(() -> RateLimiter.redis(wrong).name(name).limits("1/second").build());
        assertThat(refused).isInstanceOf(RedisConnectionException.class);
        NoSecrets.assertHidden(refused, SECRET, WRONG);
        lines = logged.text();
      } finally {
        c.sync().configSet("requirepass", "");
      }
    } finally {
      admin.shutdown(Duration.ZERO, Duration.ofSeconds(2));
    }
    // One WARN for the outage, however many decisions it failed: the capture works.
    assertThat(lines).containsOnlyOnce("rate limiter " + name + ": Redis failed (");
    NoSecrets.assertHidden(new AssertionError(lines), SECRET, WRONG);
  }

  /**
   * What is written to the standard error while it is open, where the tests' SLF4J binding
   * (slf4j-simple) writes its lines; written through to the real standard error too. Closer and
   * closed on the test's thread; lines written from any thread meanwhile are kept.
   */
  static final class Logged implements AutoCloseable {
    private final PrintStream original = System.err;
    private final ByteArrayOutputStream copy = new ByteArrayOutputStream();

    Logged() {
      OutputStream both =
          new OutputStream() {
            @Override
            public void write(int b) {
              original.write(b);
              copy.write(b);
            }

            @Override
            public void write(byte[] bytes, int offset, int length) {
              original.write(bytes, offset, length);
              copy.write(bytes, offset, length);
            }

            @Override
            public void flush() {
              original.flush();
            }
          };
      System.setErr(new PrintStream(both, true, StandardCharsets.UTF_8));
    }

    /** {@return what was written so far} */
    String text() {
      return copy.toString(StandardCharsets.UTF_8);
    }

    @Override
    public void close() {
      System.setErr(original);
    }
  }
}

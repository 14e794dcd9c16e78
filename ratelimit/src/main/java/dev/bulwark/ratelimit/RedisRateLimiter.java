package dev.bulwark.ratelimit;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Expiry;
import com.github.benmanes.caffeine.cache.RemovalCause;
import dev.bulwark.core.internal.Checks;
import io.lettuce.core.RedisCommandTimeoutException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.StringJoiner;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Function;
import java.util.function.LongSupplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A {@link RateLimiter} whose buckets live in Redis, shared by every instance: each decision is one
 * {@code EVALSHA} of bulwark's script, which reads the server's clock ({@code TIME}), checks every
 * limit of the key and takes the permits from all of them or from none, atomically. Build one with
 * {@link RateLimiter#redis(io.lettuce.core.RedisClient)}.
 *
 * <p><b>Arithmetic.</b> The script counts in integers: a bucket's state is how far it is from full,
 * in units where a permit and a microsecond both weigh a whole number, so no division rounds and
 * nothing drifts. Redis runs Lua on doubles, exact below 2^53 only, so {@link
 * RedisLimiterBuilder#build()} refuses a limit whose numbers could reach it.
 *
 * <p><b>Keys.</b> {@code <prefix>:rl:<name>:{<key>}:<permits>/<period ms>ms/<burst>}, one per
 * limit, in one hash slot (the braces; a key that holds a brace is replaced by its SHA-256 digest
 * there), each expiring when its bucket is full again: an idle key costs nothing.
 *
 * <p><b>Failures.</b> A decision waits at most the command timeout. When Redis fails or is slower,
 * the {@link FailurePolicy} decides, and the failure is counted in {@code
 * bulwark.ratelimit.redis.errors}. The first failure is logged at WARN, and the recovery at INFO
 * once Redis has answered 10 s after the last failure: failures that keep coming back while other
 * calls are answered, as a cluster's shard that is down while the others serve, are one outage,
 * logged once. A decision that gives up cancels its command, so that a client which queues commands
 * while it reconnects does not send it later: a decision answered by the policy takes no permit
 * afterwards (a command already sent cannot be recalled). A script the server has forgotten (after
 * a restart or {@code SCRIPT FLUSH}) is sent again by {@code EVAL}, once.
 *
 * <p><b>Denied keys</b> are remembered until one permit refills, and answered without Redis.
 *
 * <p>Thread-safe. {@link #close()} gives unspent batches back, closes the limiter's connection (not
 * the client) and removes its meters.
 */
public final class RedisRateLimiter implements RateLimiter {
  private static final Logger log = LoggerFactory.getLogger(RedisRateLimiter.class);
  private static final Duration CLOSED_RETRY = Duration.ofSeconds(1);

  /** How long after its last failure an answer from Redis ends an outage, for the log. */
  static final Duration QUIET = Duration.ofSeconds(10);

  private final String name;
  private final List<Limit> limits;
  private final Gcra[] gcras;
  private final long smallestBurst;
  private final boolean shadow;
  private final String keyPrefix;
  private final String[] keySuffixes;
  private final String[] limitArgs;

  /** The script's arguments for one permit on the server's clock, the usual call; never written. */
  private final String[] onePermit;

  private final long timeoutNanos;
  private final FailurePolicy policy;
  private final @Nullable LocalRateLimiter fallback;
  private final @Nullable Cache<String, Denial> denied;
  private final @Nullable Cache<String, Lease> leases;
  private final Function<String, Lease> newLease;
  private final long batch;
  private final long holdNanos;
  private final long maxKeys;
  private final LongSupplier clock;
  private final @Nullable LongSupplier serverMicros;
  private final RedisConnector.Link link;
  private final LimiterMeters meters;
  private final LongAdder timeouts = new LongAdder();
  private final LongAdder errors = new LongAdder();
  private final LongAdder deniedHits = new LongAdder();
  private final LongAdder leased = new LongAdder();
  private final LongAdder returned = new LongAdder();
  private final LongAdder lost = new LongAdder();
  private final AtomicBoolean failing = new AtomicBoolean();

  /** The last failure, on {@link #clock}; read once {@link #failing} is set. */
  private volatile long lastFailure;

  /** The failures of the outage being logged. */
  private final LongAdder outageFailures = new LongAdder();

  private final AtomicBoolean closing = new AtomicBoolean();
  private final String description;
  private volatile boolean closed;

  RedisRateLimiter(RedisLimiterBuilder builder, List<Limit> limits) {
    LimiterSettings settings = builder.settings;
    this.name = settings.name;
    this.limits = List.copyOf(limits);
    this.gcras = new Gcra[limits.size()];
    this.keySuffixes = new String[limits.size()];
    this.limitArgs = new String[limits.size() * 4];
    for (int i = 0; i < gcras.length; i++) {
      Limit limit = limits.get(i);
      Gcra gcra = Gcra.of(limit);
      gcras[i] = gcra;
      keySuffixes[i] =
          "}:" + limit.permits() + "/" + limit.period().toMillis() + "ms/" + limit.burst();
      limitArgs[4 * i] = Long.toString(gcra.w());
      limitArgs[4 * i + 1] = Long.toString(gcra.m());
      limitArgs[4 * i + 2] = Long.toString(gcra.cap());
      limitArgs[4 * i + 3] = Long.toString(gcra.full());
    }
    this.onePermit = new String[3 + limitArgs.length];
    onePermit[0] = "1";
    onePermit[1] = "1";
    onePermit[2] = "";
    System.arraycopy(limitArgs, 0, onePermit, 3, limitArgs.length);
    this.smallestBurst = LimiterSettings.smallestBurst(limits);
    this.shadow = settings.shadow;
    this.keyPrefix = builder.prefix + ":rl:" + name + ":{";
    this.timeoutNanos = builder.commandTimeout.toNanos();
    this.policy = builder.policy;
    this.clock = settings.clock();
    this.serverMicros = builder.serverMicros;
    this.maxKeys = settings.maxKeys;
    if (policy == FailurePolicy.LOCAL_FALLBACK) {
      List<Limit> shares = new ArrayList<>();
      for (Limit limit : limits) {
        shares.add(share(limit, builder.expectedInstances));
      }
      LimiterSettings local = new LimiterSettings();
      local.name = name;
      local.maxKeys = settings.maxKeys;
      local.nanoTime = settings.nanoTime;
      this.fallback = new LocalRateLimiter(local, shares, false);
    } else {
      this.fallback = null;
    }
    this.denied =
        builder.deniedCacheSize == 0
            ? null
            : Caffeine.newBuilder()
                .maximumSize(builder.deniedCacheSize)
                .expireAfter(
                    Expiry.<String, Denial>writing(
                        (key, denial) ->
                            Duration.ofNanos(Math.max(0, denial.until - clock.getAsLong()))))
                .ticker(clock::getAsLong)
                .executor(Runnable::run)
                .build();
    Duration hold = builder.maxHold;
    this.batch = builder.batch;
    this.holdNanos = hold == null ? 0 : hold.toNanos();
    this.leases =
        hold == null
            ? null
            : Caffeine.newBuilder()
                .maximumSize(settings.maxKeys)
                .expireAfterAccess(hold.multipliedBy(2))
                .ticker(clock::getAsLong)
                .executor(Runnable::run)
                .removalListener(
                    (@Nullable String key, @Nullable Lease lease, RemovalCause cause) -> {
                      if (lease != null) {
                        var unused = lease.giveBackAll();
                      }
                    })
                .build();
    this.newLease = Lease::new;
    StringJoiner out = new StringJoiner(", ", "RedisRateLimiter[", "]");
    settings.describe(out);
    builder.describe(out);
    this.description = out.toString();
    this.link = builder.connector.connect();
    try {
      this.meters = meters(settings, hold != null);
    } catch (RuntimeException e) {
      link.connection().close();
      throw e;
    }
  }

  private LimiterMeters meters(LimiterSettings settings, boolean batches) {
    LimiterMeters meters = new LimiterMeters(name, settings.registry);
    try {
      meters.counter(
          LimiterMeters.REDIS_ERRORS, timeouts, "Redis calls that timed out", "kind", "timeout");
      meters.counter(
          LimiterMeters.REDIS_ERRORS, errors, "Redis calls that failed", "kind", "error");
      meters.counter(
          LimiterMeters.DENIED_CACHE_HITS, deniedHits, "Denials answered without a Redis call");
      meters.gauge(LimiterMeters.KEYS, this, RedisRateLimiter::keys, "Keys held in this process");
      if (batches) {
        meters.counter(
            LimiterMeters.BATCH_PERMITS,
            leased,
            "Permits taken from Redis in batches",
            "state",
            "leased");
        meters.counter(
            LimiterMeters.BATCH_PERMITS,
            returned,
            "Batch permits given back to Redis unspent",
            "state",
            "returned");
        meters.counter(
            LimiterMeters.BATCH_PERMITS,
            lost,
            "Batch permits unspent whose return to Redis failed",
            "state",
            "lost");
      }
      return meters;
    } catch (RuntimeException e) {
      meters.close();
      throw e;
    }
  }

  /** A limit divided among {@code instances}, rounded up. */
  static Limit share(Limit limit, int instances) {
    return new Limit(
        Gcra.ceilDiv(limit.permits(), instances),
        limit.period(),
        Gcra.ceilDiv(limit.burst(), instances));
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public List<Limit> limits() {
    return limits;
  }

  /**
   * {@inheritDoc}
   *
   * <p>Blocks for at most the command timeout; an interrupt while waiting for Redis follows the
   * failure policy and keeps the thread's interrupt status.
   */
  @Override
  public Decision tryAcquire(String key, long permits) {
    check(key, permits);
    Decision early = beforeRedis(key, permits);
    if (early != null) {
      return finish(early);
    }
    Lease lease = fetching(key);
    try {
      RedisScript.Call call;
      try {
        call = acquire(key, lease == null ? permits : Math.max(batch, permits), permits);
      } catch (RuntimeException e) {
        return failed(key, permits, e);
      }
      List<Object> answer;
      try {
        answer = call.reply.get(timeoutNanos, TimeUnit.NANOSECONDS);
      } catch (TimeoutException e) {
        call.cancel();
        return failed(key, permits, e);
      } catch (ExecutionException e) {
        Throwable cause = e.getCause();
        return failed(key, permits, cause == null ? e : cause);
      } catch (InterruptedException e) {
        call.cancel();
        Thread.currentThread().interrupt();
        return failed(key, permits, e);
      }
      return answered(key, permits, lease, answer);
    } finally {
      if (lease != null) {
        lease.fetched();
      }
    }
  }

  /**
   * Asks for one permit without blocking.
   *
   * @param key the key, 1 to {@value RateLimiter#MAX_KEY_LENGTH} characters
   * @return the decision, completed within the command timeout; it never completes exceptionally
   *     for a Redis failure, which the failure policy answers
   * @throws IllegalArgumentException if {@code key} is empty or too long
   * @throws IllegalStateException if the limiter is closed
   */
  public CompletionStage<Decision> tryAcquireAsync(String key) {
    return tryAcquireAsync(key, 1);
  }

  /**
   * Asks for {@code permits} permits, all or none, without blocking. The decision completes on
   * Lettuce's event loop, or on the JDK's shared timer thread when Redis is late: keep the
   * callbacks short, or move them to an executor of your own.
   *
   * @param key the key, 1 to {@value RateLimiter#MAX_KEY_LENGTH} characters
   * @param permits 1 to the smallest burst of the limits
   * @return the decision, completed within the command timeout; it never completes exceptionally
   *     for a Redis failure, which the failure policy answers
   * @throws IllegalArgumentException if {@code key} is empty or too long, or {@code permits} is
   *     outside its range
   * @throws IllegalStateException if the limiter is closed
   */
  public CompletionStage<Decision> tryAcquireAsync(String key, long permits) {
    check(key, permits);
    Decision early = beforeRedis(key, permits);
    if (early != null) {
      return CompletableFuture.completedFuture(finish(early));
    }
    Lease lease = fetching(key);
    RedisScript.Call call;
    try {
      call = acquire(key, lease == null ? permits : Math.max(batch, permits), permits);
    } catch (RuntimeException e) {
      if (lease != null) {
        lease.fetched();
      }
      return CompletableFuture.completedFuture(failed(key, permits, e));
    }
    return call.reply
        .orTimeout(timeoutNanos, TimeUnit.NANOSECONDS)
        .handle(
            (answer, e) -> {
              try {
                if (e != null) {
                  Throwable cause = e instanceof CompletionException ? e.getCause() : e;
                  if (cause instanceof TimeoutException) {
                    call.cancel();
                  }
                  return failed(key, permits, cause == null ? e : cause);
                }
                return answered(key, permits, lease, answer);
              } finally {
                if (lease != null) {
                  lease.fetched();
                }
              }
            });
  }

  private void check(String key, long permits) {
    if (closed) {
      throw new IllegalStateException("rate limiter " + name + " is closed");
    }
    LimiterSettings.checkKey(key);
    LimiterSettings.checkPermits(permits, smallestBurst);
  }

  /** A decision made without Redis: a remembered denial or a batch's permits; else null. */
  private @Nullable Decision beforeRedis(String key, long permits) {
    Cache<String, Denial> deniedKeys = denied;
    if (deniedKeys != null) {
      Denial denial = deniedKeys.getIfPresent(key);
      if (denial != null) {
        long now = clock.getAsLong();
        if (denial.until - now > 0) {
          deniedHits.increment();
          return denial.decide(permits, now);
        }
      }
    }
    Cache<String, Lease> held = leases;
    if (held != null) {
      Lease lease = held.get(key, newLease);
      Grant grant = lease.take(permits, clock.getAsLong());
      if (grant != null) {
        return new Decision(Outcome.ALLOWED, permits, grant.quotas, Duration.ZERO, null);
      }
    }
    return null;
  }

  /** The key's lease if this decision is the one to take a new batch for it; else null. */
  private @Nullable Lease fetching(String key) {
    Cache<String, Lease> held = leases;
    if (held == null) {
      return null;
    }
    Lease lease = held.get(key, newLease);
    return lease.startFetch() ? lease : null;
  }

  /** The Redis keys of {@code key}, one per limit, in one hash slot. */
  private String[] keysOf(String key) {
    // A key that holds a brace would break the hash tag: its digest stands for it.
    String tag = key.indexOf('{') < 0 && key.indexOf('}') < 0 ? key : "#" + Route.sha256(key);
    String[] keys = new String[keySuffixes.length];
    for (int i = 0; i < keys.length; i++) {
      keys[i] = keyPrefix + tag + keySuffixes[i];
    }
    return keys;
  }

  private RedisScript.Call acquire(String key, long want, long need) {
    LongSupplier time = serverMicros;
    if (want == 1 && need == 1 && time == null) {
      return RedisScript.ACQUIRE.run(link.commands(), keysOf(key), onePermit);
    }
    String[] args = new String[3 + limitArgs.length];
    args[0] = Long.toString(want);
    args[1] = Long.toString(need);
    args[2] = time == null ? "" : Long.toString(time.getAsLong());
    System.arraycopy(limitArgs, 0, args, 3, limitArgs.length);
    return RedisScript.ACQUIRE.run(link.commands(), keysOf(key), args);
  }

  private Decision answered(
      String key, long permits, @Nullable Lease lease, @Nullable List<Object> answer) {
    long[] reply;
    try {
      reply = decode(answer);
    } catch (RuntimeException e) {
      return failed(key, permits, e);
    }
    recovered();
    long granted = reply[0];
    long[] debts = new long[gcras.length];
    System.arraycopy(reply, 2, debts, 0, debts.length);
    List<Quota> quotas = quotas(debts);
    if (granted >= permits) {
      if (lease != null) {
        leased.add(granted);
        lease.refill(granted - permits, clock.getAsLong() + holdNanos, quotas);
      }
      return finish(new Decision(Outcome.ALLOWED, permits, quotas, Duration.ZERO, null));
    }
    Duration single = waitFor(debts, 1);
    Denial denial = new Denial(clock.getAsLong(), debts, single);
    Cache<String, Denial> deniedKeys = denied;
    if (deniedKeys != null && !single.isZero()) {
      deniedKeys.put(key, denial);
    }
    return finish(denial.decide(permits, denial.read));
  }

  private List<Quota> quotas(long[] debts) {
    List<Quota> quotas = new ArrayList<>(gcras.length);
    for (int i = 0; i < gcras.length; i++) {
      quotas.add(gcras[i].quota(debts[i]));
    }
    return List.copyOf(quotas);
  }

  /** The longest wait, over the limits, until {@code permits} fit. */
  private Duration waitFor(long[] debts, long permits) {
    Duration longest = Duration.ZERO;
    for (int i = 0; i < gcras.length; i++) {
      Duration wait = gcras[i].waitFor(debts[i], permits);
      if (wait.compareTo(longest) > 0) {
        longest = wait;
      }
    }
    return longest;
  }

  private long[] decode(@Nullable List<Object> answer) {
    if (answer == null || answer.size() != 2 + gcras.length) {
      throw new IllegalStateException(
          "the rate limit script answered "
              + (answer == null ? "nothing" : answer.size() + " values")
              + ", not "
              + (2 + gcras.length));
    }
    long[] values = new long[answer.size()];
    for (int i = 0; i < values.length; i++) {
      Object value = answer.get(i);
      if (!(value instanceof Long)) {
        throw new IllegalStateException("the rate limit script answered a non-integer: " + value);
      }
      values[i] = (Long) value;
    }
    return values;
  }

  private Decision failed(String key, long permits, Throwable cause) {
    if (cause instanceof TimeoutException || cause instanceof RedisCommandTimeoutException) {
      timeouts.increment();
    } else {
      errors.increment();
    }
    warn(cause);
    switch (policy) {
      case FAIL_OPEN:
        return finish(new Decision(Outcome.FAILED_OPEN, permits, List.of(), Duration.ZERO, null));
      case FAIL_CLOSED:
        return finish(new Decision(Outcome.FAILED_CLOSED, permits, List.of(), CLOSED_RETRY, null));
      case LOCAL_FALLBACK:
      default:
        return finish(fallBack(key, permits));
    }
  }

  /** Decides on the local fallback, answering with the configured limits, not their shares. */
  private Decision fallBack(String key, long permits) {
    LocalRateLimiter local = fallback;
    if (local == null) {
      throw new IllegalStateException("a local fallback is built for LOCAL_FALLBACK");
    }
    List<Limit> shares = local.limits();
    int smallest = 0;
    for (int i = 1; i < shares.size(); i++) {
      if (shares.get(i).burst() < shares.get(smallest).burst()) {
        smallest = i;
      }
    }
    if (permits > shares.get(smallest).burst()) {
      return new Decision(
          Outcome.FALLBACK_DENIED, permits, List.of(), CLOSED_RETRY, limits.get(smallest));
    }
    Decision d = local.decide(key, permits);
    List<Quota> given = d.quotas();
    List<Quota> quotas = new ArrayList<>(given.size());
    for (int i = 0; i < given.size(); i++) {
      Quota share = given.get(i);
      quotas.add(new Quota(limits.get(i), share.remaining(), share.reset()));
    }
    Limit deniedBy = d.deniedBy();
    return new Decision(
        d.allowed() ? Outcome.FALLBACK_ALLOWED : Outcome.FALLBACK_DENIED,
        permits,
        quotas,
        d.retryAfter(),
        deniedBy == null ? null : limits.get(shares.indexOf(deniedBy)));
  }

  /**
   * Logs the first failure of an outage at WARN; the others at DEBUG. Failures that keep coming
   * while other calls are answered (a cluster's shard down while the others serve) are one outage.
   */
  private void warn(Throwable cause) {
    lastFailure = clock.getAsLong();
    outageFailures.increment();
    if (!failing.get() && failing.compareAndSet(false, true)) {
      log.warn(
          "rate limiter {}: Redis failed ({}); deciding by {} until it answers",
          name,
          describe(cause),
          policy);
    } else if (log.isDebugEnabled()) {
      log.debug("rate limiter {}: Redis failed: {}", name, describe(cause));
    }
  }

  /** Ends an outage, in the log, once Redis answers {@link #QUIET} after its last failure. */
  private void recovered() {
    if (failing.get()
        && clock.getAsLong() - lastFailure >= QUIET.toNanos()
        && failing.compareAndSet(true, false)) {
      log.info(
          "rate limiter {}: Redis answers again, {} after the last failure; {} decisions failed",
          name,
          Checks.seconds(QUIET),
          outageFailures.sumThenReset());
    }
  }

  private static String describe(Throwable e) {
    if (e instanceof TimeoutException) {
      return "no answer in time";
    }
    String message = e.getMessage();
    return e.getClass().getSimpleName() + (message == null ? "" : ": " + message);
  }

  /** Applies shadow mode, and counts the decision. */
  private Decision finish(Decision decision) {
    Decision result = shadow ? LimiterSettings.shadowed(decision) : decision;
    meters.record(result.outcome());
    return result;
  }

  long keys() {
    long count = 0;
    LocalRateLimiter local = fallback;
    if (local != null) {
      count += local.keys();
    }
    Cache<String, Lease> held = leases;
    if (held != null) {
      count += held.estimatedSize();
    }
    return count;
  }

  /** The Redis keys of {@code key}, one per limit, for tests and operators. */
  List<String> redisKeys(String key) {
    return List.of(keysOf(key));
  }

  long leased() {
    return leased.sum();
  }

  long returned() {
    return returned.sum();
  }

  long lost() {
    return lost.sum();
  }

  @Override
  public RateLimiterSnapshot snapshot() {
    Map<Outcome, Long> decisions = meters.decisions();
    return new RateLimiterSnapshot(
        name,
        true,
        limits,
        decisions,
        keys(),
        maxKeys,
        timeouts.sum() + errors.sum(),
        deniedHits.sum());
  }

  /**
   * Gives unspent batches back to Redis (waiting at most the command timeout for them), closes the
   * limiter's connection and removes its meters; idempotent.
   */
  @Override
  public void close() {
    closed = true;
    if (!closing.compareAndSet(false, true)) {
      return;
    }
    meters.close();
    Cache<String, Lease> held = leases;
    if (held != null) {
      List<CompletableFuture<?>> returns = new ArrayList<>();
      for (Lease lease : held.asMap().values()) {
        returns.add(lease.giveBackAll());
      }
      held.invalidateAll();
      try {
        CompletableFuture.allOf(returns.toArray(new CompletableFuture<?>[0]))
            .get(timeoutNanos, TimeUnit.NANOSECONDS);
      } catch (ExecutionException | TimeoutException e) {
        log.debug("rate limiter {}: batches not given back at close: {}", name, describe(e));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    try {
      link.connection().close();
    } catch (RuntimeException e) {
      log.debug("rate limiter {}: closing its connection failed: {}", name, describe(e));
    }
  }

  @Override
  public String toString() {
    return description;
  }

  /** What a denial read of each limit, on the local clock, and until when one permit lacks. */
  private final class Denial {
    final long read;
    final long until;
    private final long[] debts;

    Denial(long read, long[] debts, Duration single) {
      this.read = read;
      this.debts = debts;
      this.until = read + single.toNanos();
    }

    /** The denial of {@code permits} at {@code now}: the debts as they have refilled since. */
    Decision decide(long permits, long now) {
      long elapsedMicros = Math.max(0, (now - read) / 1_000);
      long[] current = new long[debts.length];
      for (int i = 0; i < debts.length; i++) {
        Gcra gcra = gcras[i];
        current[i] =
            elapsedMicros >= gcra.full() ? 0 : Math.max(0, debts[i] - elapsedMicros * gcra.m());
      }
      Duration retry = Duration.ZERO;
      Limit deniedBy = null;
      for (int i = 0; i < current.length; i++) {
        Duration wait = gcras[i].waitFor(current[i], permits);
        if (wait.compareTo(retry) > 0) {
          retry = wait;
          deniedBy = gcras[i].limit();
        }
      }
      return new Decision(Outcome.DENIED, permits, quotas(current), retry, deniedBy);
    }
  }

  /** Permits taken in one round trip, spent locally until {@code expires}. */
  private record Grant(long left, long expires, List<Quota> quotas) {}

  /**
   * A key's batch on this instance: at most one round trip takes a new one at a time, and what is
   * left of a batch that expires or is replaced goes back to Redis.
   */
  private final class Lease {
    private final String key;
    private final AtomicReference<@Nullable Grant> grant = new AtomicReference<>();
    private final AtomicBoolean fetching = new AtomicBoolean();

    Lease(String key) {
      this.key = key;
    }

    /** Takes {@code permits} from the batch, or returns null when it lacks them or expired. */
    @Nullable Grant take(long permits, long now) {
      while (true) {
        Grant current = grant.get();
        if (current == null) {
          return null;
        }
        if (now - current.expires >= 0) {
          if (grant.compareAndSet(current, null)) {
            var unused = giveBack(current.left);
          }
          return null;
        }
        if (current.left < permits) {
          return null;
        }
        Grant next = new Grant(current.left - permits, current.expires, current.quotas);
        if (grant.compareAndSet(current, next)) {
          return next;
        }
      }
    }

    boolean startFetch() {
      return fetching.compareAndSet(false, true);
    }

    void fetched() {
      fetching.set(false);
    }

    /** Replaces the batch; what was left of the old one goes back to Redis. */
    void refill(long left, long expires, List<Quota> quotas) {
      Cache<String, Lease> held = leases;
      if (closed || held == null || held.asMap().get(key) != this) {
        // Evicted while its round trip ran, or the limiter is closing: nobody can spend it.
        var unused = giveBack(left);
        return;
      }
      Grant old = grant.getAndSet(left == 0 ? null : new Grant(left, expires, quotas));
      if (old != null) {
        var unused = giveBack(old.left);
      }
    }

    CompletableFuture<?> giveBackAll() {
      Grant old = grant.getAndSet(null);
      return old == null ? CompletableFuture.completedFuture(null) : giveBack(old.left);
    }

    /** Gives {@code permits} back to every limit of the key, exactly as if never taken. */
    CompletableFuture<?> giveBack(long permits) {
      if (permits <= 0) {
        return CompletableFuture.completedFuture(null);
      }
      String[] args = new String[1 + gcras.length];
      args[0] = Long.toString(permits);
      for (int i = 0; i < gcras.length; i++) {
        args[1 + i] = Long.toString(gcras[i].w());
      }
      CompletableFuture<List<Object>> reply;
      try {
        reply = RedisScript.GIVE_BACK.run(link.commands(), keysOf(key), args).reply;
      } catch (RuntimeException e) {
        lost.add(permits);
        return CompletableFuture.completedFuture(null);
      }
      return reply.whenComplete(
          (value, e) -> {
            if (e == null) {
              returned.add(permits);
            } else {
              lost.add(permits);
            }
          });
    }
  }
}

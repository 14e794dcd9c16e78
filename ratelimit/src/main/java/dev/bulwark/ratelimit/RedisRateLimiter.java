package dev.bulwark.ratelimit;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Expiry;
import com.github.benmanes.caffeine.cache.RemovalCause;
import dev.bulwark.core.internal.Checks;
import io.lettuce.core.RedisCommandTimeoutException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
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
 * limit, in one hash slot (the braces), each expiring when its bucket is full again: an idle key
 * costs nothing. A key holding {@code '}'} would end the hash tag early, or leave it empty and the
 * limits in different slots: its tag is then 16 hex digits of its SHA-256, followed by the key
 * itself, {@code <prefix>:rl:<name>:{<digest>}:<key>:<limit>}.
 *
 * <p><b>Failures.</b> A decision waits at most the command timeout. When Redis fails or is slower,
 * the {@link FailurePolicy} decides, and the failure is counted in {@code
 * bulwark.ratelimit.redis.errors}. The first failure is logged at WARN, and the recovery at INFO
 * once Redis has answered 10 s after the last failure: failures that keep coming back while other
 * calls are answered, as a cluster's shard that is down while the others serve, are one outage,
 * logged once, not once per decision. A script the server has forgotten (after a restart or {@code
 * SCRIPT FLUSH}) is sent again by {@code EVAL}, once.
 *
 * <p><b>Denied keys</b> are remembered until their retry-after, and answered without Redis.
 *
 * <p>Thread-safe. {@link #close()} closes the limiter's connection (not the client) and removes its
 * meters.
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
  private final long timeoutNanos;
  private final FailurePolicy policy;
  private final @Nullable LocalRateLimiter fallback;
  private final long fallbackBurst;
  private final @Nullable Cache<String, Denial> denied;
  private final @Nullable Cache<String, Lease> leases;
  private final Function<String, Lease> newLease;
  private final long batch;
  private final long holdNanos;
  private final long maxKeys;
  private final LongSupplier clock;
  private final @Nullable LongSupplier serverMicros;
  private final RedisConnector.Link link;
  private final RedisScript script;
  private final LimiterMeters meters;
  private final LongAdder timeouts = new LongAdder();
  private final LongAdder errors = new LongAdder();
  private final LongAdder deniedHits = new LongAdder();
  private final LongAdder leased = new LongAdder();
  private final LongAdder unspent = new LongAdder();
  private final AtomicBoolean failing = new AtomicBoolean();

  /** The last failure, on {@link #clock}; read once {@link #failing} is set. */
  private volatile long lastFailure;

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
          ":" + limit.permits() + "/" + limit.period().toMillis() + "ms/" + limit.burst();
      limitArgs[4 * i] = Long.toString(gcra.w());
      limitArgs[4 * i + 1] = Long.toString(gcra.m());
      limitArgs[4 * i + 2] = Long.toString(gcra.cap());
      limitArgs[4 * i + 3] = Long.toString(gcra.full());
    }
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
      this.fallbackBurst = LimiterSettings.smallestBurst(shares);
    } else {
      this.fallback = null;
      this.fallbackBurst = 0;
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
                        lease.drop();
                      }
                    })
                .build();
    this.newLease = key -> new Lease();
    StringJoiner out = new StringJoiner(", ", "RedisRateLimiter[", "]");
    settings.describe(out);
    builder.describe(out);
    this.description = out.toString();
    this.script = RedisScript.ACQUIRE;
    // The meters first, so that a registry holding this name's fails the build before a
    // connection is opened; a connection that cannot be opened takes them away again, so that the
    // build can be retried with the same registry.
    this.meters = new LimiterMeters(name, settings.registry);
    try {
      this.link = builder.connector.connect();
    } catch (RuntimeException e) {
      meters.close();
      throw e;
    }
    meters.counter(
        LimiterMeters.REDIS_ERRORS, timeouts, "Redis calls that timed out", "kind", "timeout");
    meters.counter(LimiterMeters.REDIS_ERRORS, errors, "Redis calls that failed", "kind", "error");
    meters.counter(
        LimiterMeters.DENIED_CACHE_HITS, deniedHits, "Denials answered without a Redis call");
    meters.gauge(LimiterMeters.KEYS, this, RedisRateLimiter::keys, "Keys held in this process");
    if (hold != null) {
      meters.counter(
          LimiterMeters.BATCH_PERMITS,
          leased,
          "Permits taken from Redis in batches",
          "state",
          "leased");
      meters.counter(
          LimiterMeters.BATCH_PERMITS,
          unspent,
          "Permits taken in batches and dropped unspent",
          "state",
          "unspent");
    }
  }

  /** A limit divided among {@code instances}, rounded up. */
  static Limit share(Limit limit, int instances) {
    return new Limit(
        ceilDiv(limit.permits(), instances), limit.period(), ceilDiv(limit.burst(), instances));
  }

  private static long ceilDiv(long a, long b) {
    return -Math.floorDiv(-a, b);
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public List<Limit> limits() {
    return limits;
  }

  @Override
  public Decision tryAcquire(String key) {
    return tryAcquire(key, 1);
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
    long want = lease == null ? permits : Math.max(batch, permits);
    try {
      CompletableFuture<List<Object>> reply = call(key, want, permits);
      List<Object> answer;
      try {
        answer = reply.get(timeoutNanos, TimeUnit.NANOSECONDS);
      } catch (TimeoutException e) {
        reply.cancel(false);
        return failed(key, permits, e);
      } catch (ExecutionException e) {
        Throwable cause = e.getCause();
        return failed(key, permits, cause == null ? e : cause);
      } catch (InterruptedException e) {
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
   * Asks for {@code permits} permits, all or none, without blocking. Callbacks run on Lettuce's
   * event loop or on the timer that ends the wait: keep them short.
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
    long want = lease == null ? permits : Math.max(batch, permits);
    CompletableFuture<List<Object>> reply;
    try {
      reply = call(key, want, permits);
    } catch (RuntimeException e) {
      if (lease != null) {
        lease.fetched();
      }
      return CompletableFuture.completedFuture(failed(key, permits, e));
    }
    return reply
        .orTimeout(timeoutNanos, TimeUnit.NANOSECONDS)
        .handle(
            (answer, e) -> {
              try {
                if (e != null) {
                  Throwable cause = e instanceof CompletionException ? e.getCause() : e;
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
        long left = denial.until - clock.getAsLong();
        if (left > 0) {
          deniedHits.increment();
          return new Decision(
              Outcome.DENIED, permits, denial.quotas, Duration.ofNanos(left), denial.deniedBy);
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

  private CompletableFuture<List<Object>> call(String key, long want, long need) {
    String tagged = tagged(key);
    String[] keys = new String[keySuffixes.length];
    for (int i = 0; i < keys.length; i++) {
      keys[i] = tagged + keySuffixes[i];
    }
    String[] args = new String[3 + limitArgs.length];
    args[0] = Long.toString(want);
    args[1] = Long.toString(need);
    LongSupplier time = serverMicros;
    args[2] = time == null ? "" : Long.toString(time.getAsLong());
    System.arraycopy(limitArgs, 0, args, 3, limitArgs.length);
    return script.run(link.commands(), keys, args);
  }

  private Decision answered(
      String key, long permits, @Nullable Lease lease, @Nullable List<Object> answer) {
    long[] reply;
    try {
      reply = decode(answer);
    } catch (RuntimeException e) {
      return failed(key, permits, e);
    }
    if (failing.get()
        && clock.getAsLong() - lastFailure >= QUIET.toNanos()
        && failing.compareAndSet(true, false)) {
      log.info(
          "rate limiter {}: Redis answers again, {} after the last failure",
          name,
          Checks.seconds(QUIET));
    }
    long granted = reply[0];
    List<Quota> quotas = new ArrayList<>(gcras.length);
    for (int i = 0; i < gcras.length; i++) {
      quotas.add(gcras[i].quota(reply[2 + i]));
    }
    List<Quota> fixed = List.copyOf(quotas);
    if (granted >= permits) {
      if (lease != null) {
        leased.add(granted);
        lease.refill(granted - permits, clock.getAsLong() + holdNanos, fixed);
      }
      return finish(new Decision(Outcome.ALLOWED, permits, fixed, Duration.ZERO, null));
    }
    Duration retry = Duration.ZERO;
    Duration single = Duration.ZERO;
    Limit deniedBy = null;
    for (int i = 0; i < gcras.length; i++) {
      Duration wait = gcras[i].waitFor(reply[2 + i], permits);
      if (wait.compareTo(retry) > 0) {
        retry = wait;
        deniedBy = gcras[i].limit();
      }
      Duration one = gcras[i].waitFor(reply[2 + i], 1);
      if (one.compareTo(single) > 0) {
        single = one;
      }
    }
    Cache<String, Denial> deniedKeys = denied;
    if (deniedKeys != null && !single.isZero()) {
      deniedKeys.put(key, new Denial(clock.getAsLong() + single.toNanos(), fixed, deniedBy));
    }
    return finish(new Decision(Outcome.DENIED, permits, fixed, retry, deniedBy));
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
    // The limiter's own wait, or the client's command timeout when that is the shorter one.
    if (cause instanceof TimeoutException || cause instanceof RedisCommandTimeoutException) {
      timeouts.increment();
    } else {
      errors.increment();
    }
    lastFailure = clock.getAsLong();
    if (!failing.get() && failing.compareAndSet(false, true)) {
      log.warn(
          "rate limiter {}: Redis failed ({}); deciding by {} until it answers",
          name,
          describe(cause),
          policy);
    } else if (log.isDebugEnabled()) {
      log.debug("rate limiter {}: Redis failed: {}", name, describe(cause));
    }
    switch (policy) {
      case FAIL_OPEN:
        return finish(new Decision(Outcome.FAILED_OPEN, permits, List.of(), Duration.ZERO, null));
      case FAIL_CLOSED:
        return finish(new Decision(Outcome.FAILED_CLOSED, permits, List.of(), CLOSED_RETRY, null));
      case LOCAL_FALLBACK:
      default:
        LocalRateLimiter local = fallback;
        if (local == null) {
          throw new IllegalStateException("a local fallback is built for LOCAL_FALLBACK");
        }
        if (permits > fallbackBurst) {
          return finish(
              new Decision(
                  Outcome.FALLBACK_DENIED, permits, List.of(), CLOSED_RETRY, limits.get(0)));
        }
        Decision d = local.decide(key, permits);
        return finish(
            new Decision(
                d.allowed() ? Outcome.FALLBACK_ALLOWED : Outcome.FALLBACK_DENIED,
                permits,
                d.quotas(),
                d.retryAfter(),
                d.deniedBy()));
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
    Decision result = decision;
    if (shadow && !decision.allowed()) {
      result =
          new Decision(
              Outcome.SHADOW_DENIED,
              decision.permits(),
              decision.quotas(),
              decision.retryAfter(),
              decision.deniedBy());
    }
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
    String tagged = tagged(key);
    List<String> keys = new ArrayList<>();
    for (String suffix : keySuffixes) {
      keys.add(tagged + suffix);
    }
    return keys;
  }

  /**
   * The Redis keys' common start, up to the limit: {@code <prefix>:rl:<name>:{<key>}}, or for a key
   * holding {@code '}'}, which would end the hash tag inside the key (or, first, leave it empty),
   * {@code <prefix>:rl:<name>:{<digest>}:<key>}.
   */
  private String tagged(String key) {
    if (key.indexOf('}') < 0) {
      return keyPrefix + key + "}";
    }
    try {
      byte[] sha =
          MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8));
      return keyPrefix + HexFormat.of().formatHex(sha, 0, 8) + "}:" + key;
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this JVM", e);
    }
  }

  long unspent() {
    return unspent.sum();
  }

  long leased() {
    return leased.sum();
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

  /** Closes the limiter's connection and removes its meters; idempotent. */
  @Override
  public void close() {
    closed = true;
    if (!closing.compareAndSet(false, true)) {
      return;
    }
    meters.close();
    Cache<String, Lease> held = leases;
    if (held != null) {
      held.invalidateAll();
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

  /** A key denied until {@code until} on the local clock. */
  private record Denial(long until, List<Quota> quotas, @Nullable Limit deniedBy) {}

  /** Permits taken in one round trip, spent locally until {@code expires}. */
  private record Grant(long left, long expires, List<Quota> quotas) {}

  /** A key's batch on this instance: at most one round trip takes a new one at a time. */
  private final class Lease {
    private final AtomicReference<@Nullable Grant> grant = new AtomicReference<>();
    private final AtomicBoolean fetching = new AtomicBoolean();

    /** Takes {@code permits} from the batch, or returns null when it lacks them or expired. */
    @Nullable Grant take(long permits, long now) {
      while (true) {
        Grant current = grant.get();
        if (current == null) {
          return null;
        }
        if (now - current.expires >= 0) {
          if (grant.compareAndSet(current, null)) {
            unspent.add(current.left);
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

    /** Replaces the batch: what was left of the old one is dropped, unspent. */
    void refill(long left, long expires, List<Quota> quotas) {
      Grant old = grant.getAndSet(left == 0 ? null : new Grant(left, expires, quotas));
      if (old != null) {
        unspent.add(old.left);
      }
    }

    void drop() {
      Grant old = grant.getAndSet(null);
      if (old != null) {
        unspent.add(old.left);
      }
    }
  }
}

package dev.bulwark.health;

import dev.bulwark.core.internal.Checks;
import dev.bulwark.core.internal.Meters;
import dev.bulwark.timeouts.Ticker;
import dev.bulwark.timeouts.TimeLimiter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.StringJoiner;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * Health checks, each registered for a {@link Role}, run in parallel under their own timeouts with
 * their results cached, and reported as {@link HealthReport}s or as HTTP responses.
 *
 * <pre>{@code
 * HealthRegistry health = HealthRegistry.builder()
 *     .liveness("jvm:heap", HealthChecks.heap())
 *     .readiness("postgres:responseTime", HealthChecks.dataSource(dataSource))
 *     .readiness("redis:responseTime", HealthChecks.redis(connection))
 *     .detail("cache:prices", HealthChecks.cache(prices))
 *     .build();
 * HealthResponse response = health.respond(Role.READINESS, false);
 * }</pre>
 *
 * <p><b>Running.</b> A report asks every check of its role for its result at once; the checks run
 * in parallel on the registry's {@code threads} (a {@link TimeLimiter} named after the registry,
 * threads {@code bulwark-timeouts-<name>-<n>}). Each run is cut off at its check's {@code timeout}:
 * its thread is interrupted and the result is {@code onTimeout} (FAIL by default) with the elapsed
 * time as its observed value. A check whose code ignores the interrupt keeps its thread and is not
 * called again until it returns, so a hung check holds one thread, not one per refresh.
 *
 * <p><b>Caching.</b> A result is fresh for its check's {@code ttl} after the run that made it
 * ended. A report takes a fresh result as it is, and a stale one too while a refresh runs in the
 * background (stale-while-revalidate); only a check that has no result yet (the first report after
 * start) is waited for, at most its timeout. So a report answers at once from the cache, a hung
 * dependency never delays it beyond that dependency's timeout, and no request rate calls a check
 * more than once per {@code ttl} plus its duration.
 *
 * <p><b>Output.</b> {@link #respond} writes a report as JSON (the IETF draft's {@code
 * application/health+json} or MicroProfile Health's) with the HTTP status its {@link Status} maps
 * to (200, 200, 503 by default) and {@code Cache-Control: max-age} of the shortest ttl. Only an
 * authorized caller sees the checks; others see the status alone. Outputs never carry secrets: a
 * check's output and string values, and the message of an exception a check throws, have URL
 * credentials and secret parameters masked, and host names and addresses too unless {@link
 * Builder#exposeHostnames} allows them.
 *
 * <p><b>Meters</b>, when a registry is given: a timer {@code bulwark.health.checks} of the runs,
 * tagged {@code name} (the registry), {@code check} and {@code outcome} ({@code pass}, {@code
 * warn}, {@code fail}, {@code timeout}, {@code error}: the check threw); and a gauge {@code
 * bulwark.health.status} per check, 0 for pass, 1 for warn, 2 for fail, NaN before its first
 * result; and the time limiter's {@code bulwark.timeouts.timelimiter.calls}, tagged with the
 * registry's name.
 *
 * <p>Thread-safe. {@link #close()} stops the threads; a report after it fails every check with
 * {@code "the health registry is closed"}, which takes the instance out of service while it shuts
 * down.
 */
public final class HealthRegistry implements AutoCloseable {

  /** Default name: {@code health}. */
  static final String DEFAULT_NAME = "health";

  /** Default timeout of a check: 500 ms, so that a first report fits Kubernetes' 1 s probe. */
  static final Duration DEFAULT_TIMEOUT = Duration.ofMillis(500);

  /** Default time a result is fresh: 5 s. */
  static final Duration DEFAULT_TTL = Duration.ofSeconds(5);

  /** Default number of threads that run checks: one per check, at least 4 and at most 16. */
  static final int DEFAULT_THREADS = 4;

  static final int MAX_DEFAULT_THREADS = 16;

  /** How long past a check's timeout a report waits for the run's own verdict. */
  static final Duration AWAIT_MARGIN = Duration.ofMillis(50);

  private static final String CHECKS_METER = Meters.name("health", "checks");

  /** Marks a check whose result came from the cache, in a report's list of runs to await. */
  private static final CompletableFuture<HealthResult> NOT_PENDING = new CompletableFuture<>();

  private static final String STATUS_METER = Meters.name("health", "status");
  private static final Pattern CHECK_NAME =
      Pattern.compile("[A-Za-z0-9._-]{1,63}(:[A-Za-z0-9._-]{1,63})?");

  private final String name;
  private final List<CheckEntry> entries;
  private final Map<Role, List<CheckEntry>> byRole = new EnumMap<>(Role.class);
  private final Map<Status, Integer> httpStatus;
  private final Shared runtime;
  private final @Nullable MeterRegistry meterRegistry;
  private final List<Meter> meters = new ArrayList<>();

  /** The last response by role, format, and whether the caller was authorized (index 1). */
  private final Map<Role, Map<HealthFormat, AtomicReferenceArray<@Nullable Rendered>>> rendered =
      new EnumMap<>(Role.class);

  private HealthRegistry(Builder builder) {
    this.name = builder.name;
    this.httpStatus = new EnumMap<>(builder.httpStatus);
    Duration longest = Duration.ZERO;
    for (Registration registration : builder.registrations.values()) {
      Duration timeout = registration.options.timeoutOr(builder.timeout());
      longest = timeout.compareTo(longest) > 0 ? timeout : longest;
    }
    TimeLimiter.Builder limiter =
        TimeLimiter.builder(name)
            .timeout(longest)
            .asyncThreads(
                builder.threads < 0
                    ? Math.min(
                        MAX_DEFAULT_THREADS,
                        Math.max(DEFAULT_THREADS, builder.registrations.size()))
                    : builder.threads)
            .asyncQueueCapacity(builder.registrations.size());
    this.meterRegistry = builder.meterRegistry;
    if (meterRegistry != null) {
      limiter.meterRegistry(meterRegistry);
    }
    this.runtime =
        new Shared(
            limiter.build(),
            builder.ticker,
            builder.clock,
            new Sanitizer(builder.exposeHostnames),
            meterRegistry,
            name);
    List<CheckEntry> all = new ArrayList<>();
    for (Role role : Role.values()) {
      byRole.put(role, new ArrayList<>());
      Map<HealthFormat, AtomicReferenceArray<@Nullable Rendered>> kinds =
          new EnumMap<>(HealthFormat.class);
      for (HealthFormat format : HealthFormat.values()) {
        kinds.put(format, new AtomicReferenceArray<>(2));
      }
      rendered.put(role, kinds);
    }
    for (Map.Entry<String, Registration> registration : builder.registrations.entrySet()) {
      CheckOptions options = registration.getValue().options;
      CheckEntry entry =
          new CheckEntry(
              registration.getKey(),
              registration.getValue().check,
              options.roles,
              options.timeoutOr(builder.timeout()),
              options.ttlOr(builder.ttl()),
              options.onTimeoutOr(builder.onTimeout()),
              runtime);
      all.add(entry);
      for (Role role : options.roles) {
        checks(role).add(entry);
      }
    }
    byRole.put(Role.DETAIL, all);
    this.entries = List.copyOf(all);
    if (meterRegistry != null) {
      for (CheckEntry entry : entries) {
        meters.add(
            Gauge.builder(STATUS_METER, entry, HealthRegistry::statusValue)
                .description("A health check's latest status: 0 pass, 1 warn, 2 fail")
                .tag(Meters.NAME_TAG, name)
                .tag("check", entry.name)
                .register(meterRegistry));
      }
    }
  }

  private List<CheckEntry> checks(Role role) {
    return Objects.requireNonNull(byRole.get(role), "role");
  }

  private static double statusValue(CheckEntry entry) {
    HealthResult latest = entry.latest();
    if (latest == null) {
      return Double.NaN;
    }
    return switch (latest.status()) {
      case PASS -> 0;
      case WARN -> 1;
      case FAIL -> 2;
    };
  }

  /**
   * Returns a builder.
   *
   * @return a new builder
   */
  public static Builder builder() {
    return new Builder();
  }

  /** {@return the registry's name} */
  public String name() {
    return name;
  }

  /**
   * Reports on the checks of a role, from the cache: fresh and stale results as they are (a stale
   * one is refreshed in the background), and, for a check with no result yet, its first run, waited
   * for at most its timeout.
   *
   * @param role the role; {@link Role#DETAIL} reports on every check
   * @return the report; every check {@link Status#FAIL} once the registry is closed
   */
  public HealthReport report(Role role) {
    Objects.requireNonNull(role, "role");
    List<CheckEntry> checks = checks(role);
    return HealthReport.of(role, byName(checks, results(checks)));
  }

  /**
   * The results of {@code checks}, in their order: a fresh one from the cache, a stale one from the
   * cache while its refresh runs, and for a check with no result yet, its first run, started before
   * any is awaited and awaited at most its timeout and the margin.
   */
  private HealthResult[] results(List<CheckEntry> checks) {
    HealthResult[] results = new HealthResult[checks.size()];
    if (runtime.isClosed()) {
      for (int i = 0; i < results.length; i++) {
        results[i] = HealthResult.fail("the health registry is closed");
      }
      return results;
    }
    long start = runtime.ticker.read();
    List<CompletableFuture<HealthResult>> pending = null;
    for (int i = 0; i < results.length; i++) {
      HealthResult fresh = checks.get(i).fresh(start);
      if (fresh != null) {
        results[i] = fresh;
      } else { // start every run before waiting for any
        if (pending == null) {
          pending = new ArrayList<>(Collections.nCopies(results.length, NOT_PENDING));
        }
        pending.set(i, checks.get(i).result());
      }
    }
    if (pending != null) {
      for (int i = 0; i < results.length; i++) {
        CompletableFuture<HealthResult> run = pending.get(i);
        if (run != NOT_PENDING) {
          CheckEntry entry = checks.get(i);
          results[i] = entry.await(run, start + entry.awaitNanos);
        }
      }
    }
    return results;
  }

  private static Map<String, HealthResult> byName(List<CheckEntry> checks, HealthResult[] results) {
    Map<String, HealthResult> named = new LinkedHashMap<>();
    for (int i = 0; i < results.length; i++) {
      named.put(checks.get(i).name, results[i]);
    }
    return named;
  }

  /**
   * Answers an HTTP request for a role's report in the IETF format: see {@link #respond(Role,
   * boolean, HealthFormat)}.
   *
   * @param role the role
   * @param authorized whether the caller may see the checks
   * @return the response
   */
  public HealthResponse respond(Role role, boolean authorized) {
    return respond(role, authorized, HealthFormat.IETF);
  }

  /**
   * Answers an HTTP request for a role's report, for any framework: the caller writes the status,
   * headers and body it returns.
   *
   * <p>The body holds the status alone for a caller that is not authorized, and every check with
   * its values and output for one that is. The headers are {@code Content-Type}, {@code
   * Cache-Control: max-age=<s>} (the shortest ttl of the role's checks in whole seconds; {@code
   * private} for an authorized caller, whose answer a shared cache must not keep) and {@code Vary:
   * Authorization}.
   *
   * <p>While every result of the role is the cached one the last response of the same role, format
   * and authorization was made from, that response is returned again: within a ttl, a request
   * writes no JSON. (Two requests that make a response at once may each return their own, equal.)
   *
   * @param role the role
   * @param authorized whether the caller may see the checks: it showed the bearer token, or it came
   *     in on the port for details
   * @param format the JSON format
   * @return the response
   */
  public HealthResponse respond(Role role, boolean authorized, HealthFormat format) {
    return rendered(role, authorized, format).response;
  }

  /**
   * The response to a request, with its body's bytes. While every result of the role is the one the
   * last response of the same kind was made from (the cache's, unchanged within its ttl), that
   * response is answered again, so that a request writes no JSON.
   */
  Rendered rendered(Role role, boolean authorized, HealthFormat format) {
    Objects.requireNonNull(role, "role");
    Objects.requireNonNull(format, "format");
    List<CheckEntry> checks = checks(role);
    HealthResult[] results = results(checks);
    AtomicReferenceArray<@Nullable Rendered> kinds =
        Objects.requireNonNull(Objects.requireNonNull(rendered.get(role)).get(format));
    int slot = authorized ? 1 : 0;
    Rendered last = kinds.get(slot);
    if (last != null && last.madeFrom(results)) {
      return last;
    }
    HealthReport report = HealthReport.of(role, byName(checks, results));
    Map<String, String> headers = new LinkedHashMap<>();
    headers.put("Content-Type", format.contentType());
    long maxAge = maxAgeSeconds(role);
    headers.put("Cache-Control", (authorized ? "private, " : "") + "max-age=" + maxAge);
    headers.put("Vary", "Authorization");
    HealthResponse response =
        new HealthResponse(
            httpStatus(report.status()), headers, HealthJson.write(report, format, authorized));
    Rendered made = new Rendered(results, response);
    kinds.set(slot, made);
    return made;
  }

  /** A response, its body's bytes, and the results it was made from. Immutable. */
  static final class Rendered {
    private final HealthResult[] results;
    final HealthResponse response;
    private final byte[] body;

    Rendered(HealthResult[] results, HealthResponse response) {
      this.results = results;
      this.response = response;
      this.body = response.bodyBytes();
    }

    /** {@return whether {@code others} are the very results this was made from} */
    @SuppressWarnings("ReferenceEquality") // the same objects: results made anew differ in time
    boolean madeFrom(HealthResult[] others) {
      if (others.length != results.length) {
        return false;
      }
      for (int i = 0; i < results.length; i++) {
        if (others[i] != results[i]) {
          return false;
        }
      }
      return true;
    }

    /** The body, UTF-8: the caller writes it and must not change it. */
    byte[] body() {
      return body;
    }
  }

  private int httpStatus(Status status) {
    Integer code = httpStatus.get(status);
    return code == null ? 503 : code;
  }

  private long maxAgeSeconds(Role role) {
    Duration shortest = null;
    for (CheckEntry entry : checks(role)) {
      shortest = shortest == null || entry.ttl.compareTo(shortest) < 0 ? entry.ttl : shortest;
    }
    return shortest == null ? 0 : shortest.getSeconds();
  }

  /** {@return the names of the checks of a role, in the order they were registered} */
  List<String> names(Role role) {
    List<String> names = new ArrayList<>();
    for (CheckEntry entry : checks(role)) {
      names.add(entry.name);
    }
    return names;
  }

  /** How often a check's code was entered, for tests. */
  long calls(String check) {
    for (CheckEntry entry : entries) {
      if (entry.name.equals(check)) {
        return entry.calls();
      }
    }
    throw new IllegalArgumentException("no check named " + check);
  }

  /**
   * Stops the threads that run checks, interrupting running ones, and removes the registry's
   * meters. Reports after it fail every check. Calling it again does nothing more.
   */
  @Override
  public void close() {
    runtime.close();
    MeterRegistry registry = meterRegistry;
    if (registry != null) {
      synchronized (meters) {
        for (Meter meter : meters) {
          registry.remove(meter);
        }
        meters.clear();
      }
      runtime.removeTimers();
    }
  }

  @Override
  public String toString() {
    return "HealthRegistry[" + name + ", " + entries.size() + " checks]";
  }

  /** What every check of one registry shares. Thread-safe. */
  static final class Shared {
    final TimeLimiter limiter;
    final Ticker ticker;
    final Clock clock;
    final Sanitizer sanitizer;
    private final @Nullable MeterRegistry registry;
    private final String name;
    private final Map<String, Timer> timers = new ConcurrentHashMap<>();
    private volatile boolean closed;

    Shared(
        TimeLimiter limiter,
        Ticker ticker,
        Clock clock,
        Sanitizer sanitizer,
        @Nullable MeterRegistry registry,
        String name) {
      this.limiter = limiter;
      this.ticker = ticker;
      this.clock = clock;
      this.sanitizer = sanitizer;
      this.registry = registry;
      this.name = name;
    }

    boolean isClosed() {
      return closed;
    }

    @Nullable Timer timer(String check, CheckEntry.Outcome outcome) {
      MeterRegistry meters = registry;
      if (meters == null) {
        return null;
      }
      synchronized (timers) { // with removeTimers: none is registered once close() removed them
        if (closed) {
          return null;
        }
        return timers.computeIfAbsent(
            check + '\n' + outcome.tag(),
            key ->
                Timer.builder(CHECKS_METER)
                    .description("Runs of a health check, by outcome")
                    .tag(Meters.NAME_TAG, name)
                    .tag("check", check)
                    .tag("outcome", outcome.tag())
                    .register(meters));
      }
    }

    void close() {
      closed = true;
      limiter.close();
    }

    void removeTimers() {
      MeterRegistry meters = registry;
      if (meters != null) {
        synchronized (timers) {
          for (Timer timer : timers.values()) {
            meters.remove(timer);
          }
          timers.clear();
        }
      }
    }
  }

  /**
   * The settings of one check: its roles, and its timeout, time-to-live and timeout status when
   * they differ from the registry's. Immutable; each method returns a copy.
   */
  public static final class CheckOptions {
    private final Set<Role> roles;
    private final @Nullable Duration timeout;
    private final @Nullable Duration ttl;
    private final @Nullable Status onTimeout;

    private CheckOptions(
        Set<Role> roles,
        @Nullable Duration timeout,
        @Nullable Duration ttl,
        @Nullable Status onTimeout) {
      this.roles = roles;
      this.timeout = timeout;
      this.ttl = ttl;
      this.onTimeout = onTimeout;
    }

    /**
     * Options for a check of these roles, with the registry's timeout, ttl and timeout status.
     *
     * @param role a role
     * @param more more roles; a check may answer several probes
     * @return the options
     */
    public static CheckOptions roles(Role role, Role... more) {
      EnumSet<Role> roles = EnumSet.of(Objects.requireNonNull(role, "role"));
      for (Role other : more) {
        roles.add(Objects.requireNonNull(other, "role"));
      }
      return new CheckOptions(Collections.unmodifiableSet(roles), null, null, null);
    }

    /**
     * Returns a copy with the check's own timeout.
     *
     * @param timeout between 1 ms and 5 minutes
     * @return the copy
     * @throws IllegalArgumentException if out of range
     */
    public CheckOptions timeout(Duration timeout) {
      return new CheckOptions(roles, checkTimeout("timeout", timeout), ttl, onTimeout);
    }

    /**
     * Returns a copy with the check's own time-to-live: how long a result is served before it is
     * refreshed.
     *
     * @param ttl between 1 ms and 1 day
     * @return the copy
     * @throws IllegalArgumentException if out of range
     */
    public CheckOptions ttl(Duration ttl) {
      return new CheckOptions(roles, timeout, checkTtl("ttl", ttl), onTimeout);
    }

    /**
     * Returns a copy with the status a run that times out reports.
     *
     * @param status {@link Status#WARN} or {@link Status#FAIL}
     * @return the copy
     * @throws IllegalArgumentException if {@code status} is {@link Status#PASS}
     */
    public CheckOptions onTimeout(Status status) {
      return new CheckOptions(roles, timeout, ttl, checkOnTimeout("onTimeout", status));
    }

    Duration timeoutOr(Duration fallback) {
      return timeout == null ? fallback : timeout;
    }

    Duration ttlOr(Duration fallback) {
      return ttl == null ? fallback : ttl;
    }

    Status onTimeoutOr(Status fallback) {
      return onTimeout == null ? fallback : onTimeout;
    }

    @Override
    public String toString() {
      StringJoiner out = new StringJoiner(", ", "CheckOptions[", "]");
      out.add("roles=" + roles);
      Checks.addSetting(out, "timeout", timeout);
      Checks.addSetting(out, "ttl", ttl);
      Checks.addSetting(out, "onTimeout", onTimeout);
      return out.toString();
    }
  }

  private record Registration(HealthCheck check, CheckOptions options) {}

  private static Duration checkTimeout(String setting, Duration timeout) {
    return Checks.between(setting, timeout, Duration.ofMillis(1), Duration.ofMinutes(5));
  }

  private static Duration checkTtl(String setting, Duration ttl) {
    return Checks.between(setting, ttl, Duration.ofMillis(1), Duration.ofDays(1));
  }

  private static Status checkOnTimeout(String setting, Status status) {
    Objects.requireNonNull(status, setting);
    if (status == Status.PASS) {
      throw Checks.invalid("%s must be WARN or FAIL, but was PASS", setting);
    }
    return status;
  }

  /**
   * Configures a {@link HealthRegistry}. Each setting may be given once; each check name once. Not
   * thread-safe.
   */
  public static final class Builder {
    private String name = DEFAULT_NAME;
    private boolean nameSet;
    private @Nullable Duration timeout;
    private @Nullable Duration ttl;
    private @Nullable Status onTimeout;
    private int threads = -1;
    private boolean exposeHostnames;
    private boolean exposeHostnamesSet;
    private @Nullable MeterRegistry meterRegistry;
    private final Map<Status, Integer> httpStatus = new EnumMap<>(Status.class);
    private final Set<Status> httpStatusSet = EnumSet.noneOf(Status.class);
    private final Map<String, Registration> registrations = new LinkedHashMap<>();
    private Ticker ticker = Ticker.system();
    private Clock clock = Clock.systemUTC();

    private Builder() {
      httpStatus.put(Status.PASS, 200);
      httpStatus.put(Status.WARN, 200);
      httpStatus.put(Status.FAIL, 503);
    }

    /**
     * Sets the registry's name: the {@code name} tag of its meters and part of its threads' names.
     * Default: {@code health}.
     *
     * @param name 1 to 63 letters, digits, {@code '.'}, {@code '_'} or {@code '-'}, and neither
     *     {@code watchdog} nor {@code cancel}, which name threads every time limiter shares
     * @return this builder
     * @throws IllegalArgumentException if not such a name
     * @throws IllegalStateException if already set
     */
    public Builder name(String name) {
      Checks.requireUnset("name", nameSet, this.name);
      // The registry's time limiter takes this name: refuse here what it would refuse at build.
      var unused = TimeLimiter.builder(Checks.identifier("name", name));
      this.name = name;
      this.nameSet = true;
      return this;
    }

    /**
     * Sets the timeout of every check that sets none of its own. Default: 500 ms.
     *
     * @param timeout between 1 ms and 5 minutes
     * @return this builder
     * @throws IllegalArgumentException if out of range
     * @throws IllegalStateException if already set
     */
    public Builder timeout(Duration timeout) {
      Checks.requireUnset("timeout", this.timeout);
      this.timeout = checkTimeout("timeout", timeout);
      return this;
    }

    /**
     * Sets how long a result is served before it is refreshed, for every check that sets none of
     * its own. Default: 5 s.
     *
     * @param ttl between 1 ms and 1 day
     * @return this builder
     * @throws IllegalArgumentException if out of range
     * @throws IllegalStateException if already set
     */
    public Builder ttl(Duration ttl) {
      Checks.requireUnset("ttl", this.ttl);
      this.ttl = checkTtl("ttl", ttl);
      return this;
    }

    /**
     * Sets the status of a run that times out, for every check that sets none of its own. Default:
     * {@link Status#FAIL}.
     *
     * @param status {@link Status#WARN} or {@link Status#FAIL}
     * @return this builder
     * @throws IllegalArgumentException if {@link Status#PASS}
     * @throws IllegalStateException if already set
     */
    public Builder onTimeout(Status status) {
      Checks.requireUnset("onTimeout", this.onTimeout);
      this.onTimeout = checkOnTimeout("onTimeout", status);
      return this;
    }

    /**
     * Sets how many checks run at once. A check that hangs past its timeout holds one of them until
     * it returns. Default: 4.
     *
     * @param threads between 1 and 64
     * @return this builder
     * @throws IllegalArgumentException if out of range
     * @throws IllegalStateException if already set
     */
    public Builder threads(int threads) {
      Checks.requireUnset("threads", this.threads >= 0, this.threads);
      this.threads = Checks.between("threads", threads, 1, 64);
      return this;
    }

    /**
     * Sets the HTTP status {@link HealthRegistry#respond} answers for a report's status. Default:
     * 200 for pass and warn, 503 for fail.
     *
     * @param status the report's status
     * @param code between 200 and 599
     * @return this builder
     * @throws IllegalArgumentException if out of range
     * @throws IllegalStateException if already set for this status
     */
    public Builder httpStatus(Status status, int code) {
      Objects.requireNonNull(status, "status");
      String setting = "httpStatus(" + status + ")";
      Checks.requireUnset(setting, httpStatusSet.contains(status), httpStatus.get(status));
      httpStatus.put(status, Checks.between(setting, code, 200, 599));
      httpStatusSet.add(status);
      return this;
    }

    /**
     * Lets outputs show host names and addresses, which they mask by default. Secrets (URL
     * credentials, passwords, tokens) stay masked either way. Default: false.
     *
     * @param expose whether host names are shown
     * @return this builder
     * @throws IllegalStateException if already set
     */
    public Builder exposeHostnames(boolean expose) {
      Checks.requireUnset("exposeHostnames", exposeHostnamesSet, exposeHostnames);
      this.exposeHostnames = expose;
      this.exposeHostnamesSet = true;
      return this;
    }

    /**
     * Registers the registry's meters, and its time limiter's, in {@code registry}; {@link
     * HealthRegistry#close()} removes them. Default: no meters.
     *
     * @param registry the registry
     * @return this builder
     * @throws IllegalStateException if already set
     */
    public Builder meterRegistry(MeterRegistry registry) {
      Checks.requireUnset("meterRegistry", meterRegistry);
      this.meterRegistry = Objects.requireNonNull(registry, "registry");
      return this;
    }

    /**
     * Registers a liveness check, served at {@code /health/live}.
     *
     * @param name the check's name, {@code component} or {@code component:measurement}, each part 1
     *     to 63 letters, digits, {@code '.'}, {@code '_'} or {@code '-'}
     * @param check the check; not a built-in check of a system outside the process
     * @return this builder
     * @throws IllegalArgumentException if the name is malformed or taken, or the check is a
     *     built-in check of an external system
     */
    public Builder liveness(String name, HealthCheck check) {
      return check(name, check, CheckOptions.roles(Role.LIVENESS));
    }

    /**
     * Registers a readiness check, served at {@code /health/ready}.
     *
     * @param name the check's name, as for {@link #liveness}
     * @param check the check
     * @return this builder
     * @throws IllegalArgumentException if the name is malformed or taken
     */
    public Builder readiness(String name, HealthCheck check) {
      return check(name, check, CheckOptions.roles(Role.READINESS));
    }

    /**
     * Registers a startup check, served at {@code /health/started}.
     *
     * @param name the check's name, as for {@link #liveness}
     * @param check the check
     * @return this builder
     * @throws IllegalArgumentException if the name is malformed or taken
     */
    public Builder startup(String name, HealthCheck check) {
      return check(name, check, CheckOptions.roles(Role.STARTUP));
    }

    /**
     * Registers a check that only the detailed report, {@code /health}, shows.
     *
     * @param name the check's name, as for {@link #liveness}
     * @param check the check
     * @return this builder
     * @throws IllegalArgumentException if the name is malformed or taken
     */
    public Builder detail(String name, HealthCheck check) {
      return check(name, check, CheckOptions.roles(Role.DETAIL));
    }

    /**
     * Registers a check with its own roles, and its own timeout, ttl or timeout status.
     *
     * @param name the check's name, as for {@link #liveness}
     * @param check the check
     * @param options its roles and settings
     * @return this builder
     * @throws IllegalArgumentException if the name is malformed or taken, or the check is a
     *     built-in check of an external system registered for liveness
     */
    public Builder check(String name, HealthCheck check, CheckOptions options) {
      Objects.requireNonNull(name, "name");
      Objects.requireNonNull(check, "check");
      Objects.requireNonNull(options, "options");
      if (!CHECK_NAME.matcher(name).matches()) {
        throw Checks.invalid(
            "check name must be component or component:measurement, each 1 to 63 letters, digits,"
                + " '.', '_' or '-', but was \"%s\"",
            name);
      }
      if (registrations.containsKey(name)) {
        throw Checks.invalid("check name must be unique, but \"%s\" is already registered", name);
      }
      if (options.roles.contains(Role.LIVENESS)
          && check instanceof BuiltInCheck
          && ((BuiltInCheck) check).isExternal()) {
        throw Checks.invalid(
            "liveness check \"%s\" must not depend on a system outside the process, but %s does:"
                + " a restart does not fix it; register it for readiness",
            name, ((BuiltInCheck) check).description());
      }
      registrations.put(name, new Registration(check, options));
      return this;
    }

    /** Sets the ticker that times results' freshness, for tests. */
    Builder ticker(Ticker ticker) {
      this.ticker = Objects.requireNonNull(ticker, "ticker");
      return this;
    }

    /** Sets the clock that stamps results, for tests. */
    Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    Duration timeout() {
      return timeout == null ? DEFAULT_TIMEOUT : timeout;
    }

    Duration ttl() {
      return ttl == null ? DEFAULT_TTL : ttl;
    }

    Status onTimeout() {
      return onTimeout == null ? Status.FAIL : onTimeout;
    }

    /**
     * Builds the registry. Its threads start with the first report.
     *
     * @return the registry
     * @throws IllegalStateException if no check is registered, or {@code meterRegistry} holds the
     *     meters of an open registry, or of an open time limiter, of this name
     */
    public HealthRegistry build() {
      if (registrations.isEmpty()) {
        throw new IllegalStateException("no check is registered: register at least one");
      }
      if (meterRegistry != null) {
        Meters.requireUnused(meterRegistry, STATUS_METER, "health registry", name, "name");
      }
      return new HealthRegistry(this);
    }

    @Override
    public String toString() {
      StringJoiner out = new StringJoiner(", ", "HealthRegistry.Builder[", "]");
      out.add("name=" + name);
      Checks.addSetting(out, "timeout", timeout);
      Checks.addSetting(out, "ttl", ttl);
      Checks.addSetting(out, "onTimeout", onTimeout);
      out.add("checks=" + registrations.keySet());
      return out.toString();
    }
  }
}

package dev.bulwark.health;

import dev.bulwark.cache.BoundedCache;
import dev.bulwark.cache.CacheSnapshot;
import dev.bulwark.cache.RedisTierSnapshot;
import dev.bulwark.core.internal.Checks;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * {@link HealthChecks#cache(BoundedCache, Threshold)}: how full a cache is, and its Redis tier's
 * state. A class of its own, so that bulwark-cache is loaded only when a cache is checked.
 * Stateless and thread-safe.
 */
final class CacheCheck implements HealthCheck {
  static final String NOT_CONNECTED =
      "Redis tier not connected: misses go to the loader, and writes throw"
          + " CachePropagationException";
  static final String NOT_SYNCED =
      "Redis tier not synced: only expireAfterWrite bounds how stale the first tier can be";

  private final BoundedCache<?, ?> cache;
  private final Threshold percentFull;

  CacheCheck(BoundedCache<?, ?> cache, Threshold percentFull) {
    this.cache = cache;
    this.percentFull = percentFull;
  }

  @Override
  public HealthResult check() {
    return rate(cache.snapshot(), percentFull);
  }

  static HealthResult rate(CacheSnapshot snapshot, Threshold percentFull) {
    double percent = HealthChecks.round1(snapshot.fill() * 100);
    Status full = percentFull.rate(percent);
    Findings findings = new Findings();
    findings.add(
        full,
        Checks.format(
            "cache %s %s%% full (%s), %s",
            snapshot.name(),
            HealthChecks.plain(percent),
            snapshot.weighted()
                ? Checks.format("weight %d of %d", snapshot.weight(), snapshot.bound())
                : Checks.format("%d of %d entries", snapshot.size(), snapshot.bound()),
            HealthChecks.level(full, percentFull, HealthChecks.PERCENT)));
    Map<String, Object> details = new LinkedHashMap<>();
    details.put("size", snapshot.size());
    details.put("bound", snapshot.bound());
    details.put("weighted", snapshot.weighted());
    if (snapshot.weighted()) {
      details.put("weight", snapshot.weight());
    }
    details.put("hitRatio", Math.round(snapshot.hitRatio() * 10_000) / 10_000.0);
    details.put("hits", snapshot.hits());
    details.put("misses", snapshot.misses());
    details.put("evictions", snapshot.evictions());
    details.put("loadFailures", snapshot.loadFailures());
    details.put("staleServed", snapshot.staleServed());
    RedisTierSnapshot redis = snapshot.redis();
    if (redis != null) {
      if (!redis.connected()) {
        findings.add(Status.WARN, NOT_CONNECTED);
      } else if (!redis.synced()) {
        findings.add(Status.WARN, NOT_SYNCED);
      }
      details.put("redisConnected", redis.connected());
      details.put("redisSynced", redis.synced());
      details.put("redisErrors", redis.errors());
      details.put("redisClears", redis.clears());
      details.put("redisPropagationFailures", redis.propagationFailures());
    }
    return HealthChecks.result(
        findings.status(),
        findings.output(),
        percent,
        HealthChecks.PERCENT,
        HealthChecks.COMPONENT,
        details);
  }
}

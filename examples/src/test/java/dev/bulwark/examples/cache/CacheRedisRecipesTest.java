package dev.bulwark.examples.cache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.bulwark.cache.BoundedCache;
import dev.bulwark.cache.CachePropagationException;
import dev.bulwark.cache.Codecs;
import dev.bulwark.pool.Pools;
import dev.bulwark.testing.Await;
import dev.bulwark.testing.FaultProxy;
import dev.bulwark.testing.RedisExtension;
import dev.bulwark.testing.TestRedis;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The Redis tier's recipes of {@code docs/cache.md}, run as written against the embedded Redis,
 * each with a second instance of the cache on its own client where the text speaks of the others.
 */
@ExtendWith(RedisExtension.class)
class CacheRedisRecipesTest {
  private static final Duration PROPAGATION = Duration.ofSeconds(5);

  private final MeterRegistry registry = new SimpleMeterRegistry();
  private final AtomicInteger queries = new AtomicInteger();
  private final Map<String, Long> table = new ConcurrentHashMap<>();
  private final List<Runnable> closing = new ArrayList<>();
  private final List<String> retryLater = new ArrayList<>();
  private RedisURI uri;
  private RedisClient redisClient;

  record Price(String sku, long cents) {}

  record Report(String name, long rows) {}

  /** Stands in for the service's database. */
  final class Db {
    Price price(String sku) {
      queries.incrementAndGet();
      return new Price(sku, table.getOrDefault(sku, 1999L));
    }

    void updatePrice(String sku, long cents) {
      table.put(sku, cents);
    }

    Report expensiveReport(String name) {
      queries.incrementAndGet();
      return new Report(name, 1_000_000);
    }
  }

  private final Db db = new Db();

  @BeforeEach
  void connect(RedisURI uri) {
    this.uri = uri;
    this.redisClient = client(uri);
  }

  private RedisClient client(RedisURI to) {
    RedisClient client = Pools.redis(to).build();
    closing.add(() -> client.shutdown(Duration.ZERO, Duration.ofSeconds(2)));
    return client;
  }

  @AfterEach
  void close() {
    for (int i = closing.size() - 1; i >= 0; i--) {
      closing.get(i).run();
    }
  }

  private <V> BoundedCache<String, V> closed(BoundedCache<String, V> cache) {
    closing.add(cache::close);
    return cache;
  }

  private BoundedCache<String, Price> pricesOn(RedisClient client) {
    return closed(
        BoundedCache.<String, Price>builder("prices")
            .maximumSize(10_000)
            .expireAfterWrite(Duration.ofHours(1))
            .redis(client, Codecs.utf8(), Codecs.json(Price.class))
            .build());
  }

  @Test
  void aTwoLevelCache() throws Exception {
    String sku = "sku-1";
    // snippet:begin cache-two-level
    BoundedCache<String, Price> prices =
        BoundedCache.<String, Price>builder("prices")
            .maximumSize(10_000)
            .expireAfterWrite(Duration.ofHours(1)) // L1 and, by default, Redis
            .redis(redisClient, Codecs.utf8(), Codecs.json(Price.class))
            .meterRegistry(registry)
            .build();
    Price p = prices.get(sku, k -> db.price(k)); // L1, then Redis, then the database
    // snippet:end
    closed(prices);
    BoundedCache<String, Price> other = pricesOn(client(uri));
    assertThat(other.get(sku, k -> db.price(k))).isEqualTo(p);
    assertThat(queries).as("the second instance read Redis").hasValue(1);
    assertThat(
            registry
                .get("bulwark.cache.redis.gets")
                .tag("result", "miss")
                .functionCounter()
                .count())
        .isEqualTo(1);
  }

  /** The update handler of the two-level recipe. */
  final class PriceService {
    private final BoundedCache<String, Price> prices;

    PriceService(BoundedCache<String, Price> prices) {
      this.prices = prices;
    }

    // snippet:begin cache-prices-two-level
    void updatePrice(String sku, long cents) {
      db.updatePrice(sku, cents); // commit first
      try {
        prices.invalidate(sku); // Redis and every instance drop it
      } catch (CachePropagationException e) {
        retryLater.add(sku); // the others keep the old price until they hear, or for 1 hour
      }
    }
    // snippet:end
  }

  @Test
  void pricesInvalidatedOnUpdateOnEveryInstance() throws Exception {
    BoundedCache<String, Price> here = pricesOn(redisClient);
    BoundedCache<String, Price> there = pricesOn(client(uri));
    assertThat(there.get("sku-1", k -> db.price(k)).cents()).isEqualTo(1999);

    new PriceService(here).updatePrice("sku-1", 2499);

    Await.until(
        PROPAGATION,
        "the other instance dropping sku-1",
        () -> there.getIfPresent("sku-1") == null);
    assertThat(there.get("sku-1", k -> db.price(k)).cents()).isEqualTo(2499);
    assertThat(retryLater).isEmpty();
  }

  @Test
  void anUpdateThatCannotReachRedisIsKeptForARetry(TestRedis redis) {
    try (FaultProxy proxy = FaultProxy.to(redis.host(), redis.port())) {
      RedisClient throughProxy =
          client(
              RedisURI.create(
                  "redis://" + proxy.host() + ":" + proxy.port() + "/" + uri.getDatabase()));
      BoundedCache<String, Price> prices = pricesOn(throughProxy);
      prices.get("sku-1", k -> db.price(k));
      proxy.blackhole(true);

      new PriceService(prices).updatePrice("sku-1", 2499);

      assertThat(retryLater).containsExactly("sku-1");
      assertThat(prices.getIfPresent("sku-1")).as("this instance dropped it anyway").isNull();
      proxy.blackhole(false);
    }
  }

  @Test
  void oneDatabaseLoadAcrossAllInstances() {
    // snippet:begin cache-single-flight
    BoundedCache<String, Report> reports =
        BoundedCache.<String, Report>builder("reports")
            .maximumSize(1_000)
            .expireAfterWrite(Duration.ofMinutes(10))
            .redis(redisClient, Codecs.utf8(), Codecs.json(Report.class))
            .singleFlight(Duration.ofSeconds(30), Duration.ofSeconds(5))
            .build();
    Report r = reports.get("daily", k -> db.expensiveReport(k));
    // snippet:end
    closed(reports);
    assertThat(r.rows()).isEqualTo(1_000_000);
    assertThat(queries).hasValue(1);
  }

  @Test
  void serveTheLastValueWhileTheDatabaseIsDown() {
    // snippet:begin cache-serve-stale
    BoundedCache<String, Price> resilient =
        BoundedCache.<String, Price>builder("resilient-prices")
            .maximumSize(10_000)
            .expireAfterWrite(Duration.ofMinutes(5)) // reload after 5 minutes
            .serveStaleFor(Duration.ofMinutes(30)) // if the reload fails, serve up to 30 min more
            .meterRegistry(registry)
            .build();
    // snippet:end
    closed(resilient);
    assertThat(resilient.get("sku-1", k -> db.price(k)).cents()).isEqualTo(1999);
    assertThat(resilient.toString()).contains("serveStaleFor=1800000 ms");
  }

  @Test
  void sharedShortLivedStateAcrossInstances() throws Exception {
    String state = "st-8f14e45f";
    String returnUrl = "/orders/42";
    BoundedCache<String, String> callbackSide =
        closed(
            BoundedCache.<String, String>builder("oauth-state")
                .maximumSize(10_000)
                .expireAfterWrite(Duration.ofMinutes(10))
                .redis(client(uri), Codecs.utf8(), Codecs.utf8())
                .build());
    // snippet:begin cache-oauth-state
    BoundedCache<String, String> oauthStates =
        BoundedCache.<String, String>builder("oauth-state")
            .maximumSize(10_000)
            .expireAfterWrite(Duration.ofMinutes(10)) // a login must finish within 10 minutes
            .redis(redisClient, Codecs.utf8(), Codecs.utf8())
            .build();
    oauthStates.put(state, returnUrl); // on the instance that redirects to the provider
    // ... the provider's callback lands on any instance:
    String back = oauthStates.get(state, s -> null); // null: unknown or expired state, refuse
    oauthStates.invalidate(state); // one use only
    // snippet:end
    closed(oauthStates);
    assertThat(back).isEqualTo(returnUrl);
    assertThat(callbackSide.get("st-unknown", s -> null)).isNull();
    oauthStates.put("st-2", "/cart");
    assertThat(callbackSide.get("st-2", s -> null)).as("read from Redis").isEqualTo("/cart");
    oauthStates.invalidate("st-2");
    Await.until(
        PROPAGATION, "the state used once", () -> callbackSide.getIfPresent("st-2") == null);
    assertThat(callbackSide.get("st-2", s -> null)).isNull();
    assertThatThrownBy(() -> callbackSide.get("st-3")).isInstanceOf(IllegalStateException.class);
  }
}

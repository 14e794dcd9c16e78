package dev.bulwark.examples.cache;

import static org.assertj.core.api.Assertions.assertThat;

import dev.bulwark.cache.BoundedCache;
import dev.bulwark.cache.CacheSnapshot;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * The recipes of {@code docs/cache.md}, run as written. The names a snippet uses but does not make
 * ({@code registry}, {@code loadPrice}, {@code db}, ...) are declared here, and each test checks
 * what the text around its snippet says.
 */
class CacheRecipesTest {
  private final MeterRegistry registry = new SimpleMeterRegistry();
  private final AtomicInteger queries = new AtomicInteger();

  record Price(String sku, long cents) {}

  record User(long id, String name, Set<String> roles) {}

  record Product(String sku) {}

  record Dashboard(String orgId, int widgets) {}

  private Price loadPrice(String sku) {
    queries.incrementAndGet();
    return new Price(sku, 1999);
  }

  /** Stands in for the service's database access. */
  final class Db {
    User findUser(long id) {
      queries.incrementAndGet();
      return id == 404 ? null : new User(id, "user-" + id, Set.of("reader"));
    }

    List<Product> search(String query) {
      queries.incrementAndGet();
      return List.of(new Product(query + "-1"), new Product(query + "-2"));
    }

    Dashboard dashboard(String orgId) {
      queries.incrementAndGet();
      return new Dashboard(orgId, 12);
    }

    Map<String, Price> pricesOf(Set<String> skus) {
      queries.incrementAndGet();
      Map<String, Price> prices = new HashMap<>();
      skus.forEach(sku -> prices.put(sku, new Price(sku, 500)));
      return prices;
    }

    void updatePrice(String sku, long cents) {
      queries.incrementAndGet();
    }
  }

  private final Db db = new Db();

  @Test
  void prices() {
    String key = "sku-1";
    // snippet:begin cache-prices
    BoundedCache<String, Price> prices =
        BoundedCache.<String, Price>builder("prices")
            .maximumSize(10_000)
            .expireAfterWrite(Duration.ofHours(1))
            .meterRegistry(registry)
            .build();
    Price p = prices.get(key, k -> loadPrice(k)); // one load per key at a time
    prices.invalidate(key); // this instance drops it
    // snippet:end
    assertThat(p).isEqualTo(new Price("sku-1", 1999));
    assertThat(prices.get(key, k -> loadPrice(k))).isEqualTo(p);
    assertThat(queries).hasValue(2);
    assertThat(registry.get("bulwark.cache.invalidations").tag("scope", "key").counter().count())
        .isEqualTo(1);
    prices.close();
  }

  @Test
  void userAndAuthDataForFiveMinutes() {
    long userId = 7;
    // snippet:begin cache-users
    BoundedCache<Long, User> users =
        BoundedCache.<Long, User>builder("users")
            .maximumSize(10_000)
            .expireAfterWrite(Duration.ofMinutes(5)) // a role change shows within 5 minutes
            .cacheMissingFor(Duration.ofSeconds(30)) // unknown ids do not reach the database
            .meterRegistry(registry)
            .build();
    User user = users.get(userId, id -> db.findUser(id)); // null for an unknown id
    // snippet:end
    assertThat(user).isEqualTo(new User(7, "user-7", Set.of("reader")));
    assertThat(users.get(404L, id -> db.findUser(id))).isNull();
    assertThat(users.get(404L, id -> db.findUser(id))).isNull();
    assertThat(users.get(userId, id -> db.findUser(id))).isEqualTo(user);
    assertThat(queries).hasValue(2);
    users.close();
  }

  @Test
  void productSearchForThirtyMinutes() {
    String query = "red shoes";
    // snippet:begin cache-search
    BoundedCache<String, List<Product>> search =
        BoundedCache.<String, List<Product>>builder("product-search")
            .maximumWeight(50_000, (q, results) -> 1 + results.size()) // about 50,000 products
            .expireAfterWrite(Duration.ofMinutes(30))
            .meterRegistry(registry)
            .build();
    List<Product> results = search.get(query, q -> db.search(q));
    // snippet:end
    assertThat(results).hasSize(2);
    assertThat(search.get(query, q -> db.search(q))).isSameAs(results);
    assertThat(queries).hasValue(1);
    assertThat(search.snapshot().weight()).isEqualTo(3);
    search.close();
  }

  @Test
  void dashboardLruOfAHundredEntriesForFiveMinutes() {
    // snippet:begin cache-dashboard
    BoundedCache<String, Dashboard> dashboards =
        BoundedCache.<String, Dashboard>builder("dashboards")
            .maximumSize(100) // the audit's fix; raise to 500 past 1,000 organisations
            .expireAfterWrite(Duration.ofMinutes(5))
            .meterRegistry(registry)
            .build();
    Dashboard dashboard = dashboards.get("org-42", org -> db.dashboard(org));
    // snippet:end
    assertThat(dashboard.widgets()).isEqualTo(12);
    for (int org = 0; org < 10_000; org++) {
      dashboards.get("org-" + org, o -> db.dashboard(o));
    }
    CacheSnapshot snapshot = dashboards.snapshot();
    assertThat(snapshot.bound()).isEqualTo(100);
    assertThat(snapshot.misses()).isEqualTo(10_000);
    dashboards.close();
  }

  @Test
  void everyKeyOfTenantFortyTwoByTag() {
    // snippet:begin cache-tenant-tag
    // Keys are "<tenant>:<sku>"; every key carries its tenant as a tag.
    BoundedCache<String, Price> tenantPrices =
        BoundedCache.<String, Price>builder("tenant-prices")
            .maximumSize(100_000)
            .expireAfterWrite(Duration.ofHours(1))
            .tags(key -> List.of("tenant:" + key.substring(0, key.indexOf(':'))))
            .meterRegistry(registry)
            .build();
    tenantPrices.get("42:sku-1", k -> loadPrice(k));
    tenantPrices.get("7:sku-1", k -> loadPrice(k));

    tenantPrices.invalidateTag("tenant:42"); // constant time: no entry is visited
    // snippet:end
    assertThat(tenantPrices.getIfPresent("42:sku-1")).isNull();
    assertThat(tenantPrices.getIfPresent("7:sku-1")).isNotNull();
    tenantPrices.close();
  }

  /** The update handler of the recipe: the write, then the invalidation. */
  final class PriceService {
    private final BoundedCache<String, Price> prices;

    PriceService(BoundedCache<String, Price> prices) {
      this.prices = prices;
    }

    // snippet:begin cache-invalidate-on-update
    void updatePrice(String sku, long cents) {
      db.updatePrice(sku, cents); // commit first
      prices.invalidate(sku); // then drop the cached copy: the next read loads the new price
    }
    // snippet:end
  }

  @Test
  void invalidateOnUpdate() {
    try (BoundedCache<String, Price> prices =
        BoundedCache.<String, Price>builder("prices").maximumSize(10_000).build()) {
      prices.get("sku-1", k -> loadPrice(k));
      new PriceService(prices).updatePrice("sku-1", 2499);
      assertThat(prices.getIfPresent("sku-1")).isNull();
    }
  }

  @Test
  void warmTheHotKeysAtStartUp() {
    List<String> topSkus = new ArrayList<>(List.of("sku-1", "sku-2", "sku-3"));
    try (BoundedCache<String, Price> prices =
        BoundedCache.<String, Price>builder("prices").maximumSize(10_000).build()) {
      // snippet:begin cache-warm
      int loaded = prices.warm(topSkus, skus -> db.pricesOf(skus)); // one query for all
      // snippet:end
      assertThat(loaded).isEqualTo(3);
      assertThat(queries).hasValue(1);
      assertThat(prices.getAll(topSkus, skus -> db.pricesOf(skus))).hasSize(3);
      assertThat(queries).hasValue(1);
      assertThat(prices.snapshot().hitRatio()).isEqualTo(1.0);
    }
  }

  @Test
  void aSnapshotForAHealthCheck() {
    try (BoundedCache<String, Price> prices =
        BoundedCache.<String, Price>builder("prices").maximumSize(10_000).build()) {
      prices.get("sku-1", k -> loadPrice(k));
      prices.get("sku-1", k -> loadPrice(k));
      // snippet:begin cache-snapshot
      CacheSnapshot s = prices.snapshot();
      boolean nearlyFull = s.fill() > 0.9; // the audits' alert: cache more than 90 % full
      boolean cold = s.hitRatio() < 0.9; // target after warm-up: above 90 % hits
      // snippet:end
      assertThat(nearlyFull).isFalse();
      assertThat(cold).isTrue();
      assertThat(s.size()).isEqualTo(1);
    }
  }
}

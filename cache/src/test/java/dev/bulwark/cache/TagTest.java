package dev.bulwark.cache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalStateException;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** Invalidating every key of a tag without visiting them. */
class TagTest {
  private final AtomicInteger tagCalls = new AtomicInteger();

  /** Keys are {@code "<tenant>:<id>"}; each key's tags are its tenant and, for ids 0-9, "top". */
  private BoundedCache<String, String> cache() {
    return BoundedCache.<String, String>builder("tagged")
        .maximumSize(100_000)
        .expireAfterWrite(Duration.ofMinutes(5))
        .executor(Runnable::run)
        .tags(
            key -> {
              tagCalls.incrementAndGet();
              String[] parts = key.split(":");
              return Integer.parseInt(parts[1]) < 10
                  ? List.of("tenant:" + parts[0], "top")
                  : List.of("tenant:" + parts[0]);
            })
        .build();
  }

  @Test
  void invalidateTagDropsEveryKeyOfTheTagAndNoOther() {
    int perTenant = 20_000;
    try (BoundedCache<String, String> cache = cache()) {
      for (int i = 0; i < perTenant; i++) {
        cache.put("42:" + i, "a" + i);
        cache.put("7:" + i, "b" + i);
      }
      cache.cleanUp();
      long size = cache.snapshot().size();
      int calls = tagCalls.get();

      cache.invalidateTag("tenant:42");

      // Nothing was visited: no entry removed, no tag computed. The cost does not grow with size.
      cache.cleanUp();
      assertThat(cache.snapshot().size()).isEqualTo(size);
      assertThat(tagCalls).hasValue(calls);

      for (int i = 0; i < perTenant; i++) {
        assertThat(cache.getIfPresent("42:" + i)).isNull();
        assertThat(cache.getIfPresent("7:" + i)).isEqualTo("b" + i);
      }
      assertThat(cache.snapshot().size()).isEqualTo(perTenant); // the reads removed tenant 42
      assertThat(cache.get("42:1", k -> "reloaded")).isEqualTo("reloaded");

      // Entries written after the invalidation are not affected by it.
      cache.put("42:2", "new");
      assertThat(cache.getIfPresent("42:2")).isEqualTo("new");

      // An entry with two tags goes when either moves on.
      cache.invalidateTag("top");
      assertThat(cache.getIfPresent("7:3")).isNull();
      assertThat(cache.getIfPresent("42:2")).isNull();
      assertThat(cache.getIfPresent("42:1")).isNull();
      assertThat(cache.getIfPresent("7:10")).isEqualTo("b10");
    }
  }

  @Test
  void getReloadsAnEntryOfAnInvalidatedTag() {
    try (BoundedCache<String, String> cache = cache()) {
      assertThat(cache.get("42:100", k -> "old")).isEqualTo("old");
      cache.invalidateTag("tenant:42");
      assertThat(cache.get("42:100", k -> "new")).isEqualTo("new");
      assertThat(cache.get("42:100", k -> "newer")).isEqualTo("new");
      assertThat(cache.getAll(List.of("42:100"), keys -> Map.of())).containsEntry("42:100", "new");
      cache.invalidateTag("tenant:42");
      assertThat(cache.getAll(List.of("42:100"), keys -> Map.of("42:100", "bulk")))
          .containsEntry("42:100", "bulk");
      assertThat(cache.getIfPresent("42:100")).isEqualTo("bulk");
    }
  }

  @Test
  void aLoadOverlappingItsTagsInvalidationIsAnsweredButNotKept() {
    try (BoundedCache<String, String> cache = cache()) {
      String value =
          cache.get(
              "42:100",
              k -> {
                cache.invalidateTag("tenant:42"); // an update handler, while the load runs
                return "old";
              });
      assertThat(value).isEqualTo("old");
      assertThat(cache.getIfPresent("42:100")).isNull();
      assertThat(cache.snapshot().size()).isZero();

      cache.warm(
          List.of("42:200", "7:200"),
          keys -> {
            cache.invalidateTag("tenant:42");
            return Map.of("42:200", "old", "7:200", "kept");
          });
      assertThat(cache.getIfPresent("42:200")).isNull();
      assertThat(cache.getIfPresent("7:200")).isEqualTo("kept");
    }
  }

  @Test
  void forgottenTagsInvalidateMoreNeverLess() {
    try (BoundedCache<String, String> cache = cache()) {
      cache.put("42:100", "v");
      cache.invalidateTag("tenant:42");
      // Far more tags invalidated than the cache remembers: tenant 42's is forgotten.
      for (long i = 0; i < Invalidations.MAX_REMEMBERED_TAGS + 1_000; i++) {
        cache.invalidateTag("other:" + i);
      }
      cache.cleanUp();
      assertThat(cache.getIfPresent("42:100")).isNull();
      cache.put("42:100", "written after");
      assertThat(cache.getIfPresent("42:100")).isEqualTo("written after");
    }
  }

  @Test
  void invalidateTagNeedsTags() {
    try (BoundedCache<String, String> cache =
        BoundedCache.<String, String>builder("plain").maximumSize(10).build()) {
      assertThatIllegalStateException()
          .isThrownBy(() -> cache.invalidateTag("tenant:42"))
          .withMessage("cache plain has no tags: set tags on the builder to invalidate by tag");
    }
  }
}

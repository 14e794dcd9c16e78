package dev.bulwark.cache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;
import static org.assertj.core.api.Assertions.assertThatIllegalStateException;
import static org.assertj.core.api.Assertions.assertThatNullPointerException;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Every refusal of the builder, with its text: the texts are API. */
class BuilderTest {

  private static BoundedCache.Builder<String, String> builder() {
    return BoundedCache.builder("prices");
  }

  @Test
  void aNameMustBeSafeInAMeterTag() {
    assertThatIllegalArgumentException()
        .isThrownBy(() -> BoundedCache.builder("two words"))
        .withMessage(
            "name must be 1 to 63 letters, digits, '.', '_' or '-', but was \"two words\"");
    assertThatNullPointerException()
        .isThrownBy(() -> BoundedCache.builder(null))
        .withMessage("name");
  }

  @Test
  void aBoundIsRequired() {
    assertThatIllegalStateException()
        .isThrownBy(() -> builder().expireAfterWrite(Duration.ofMinutes(5)).build())
        .withMessage(
            "cache prices needs a bound: set maximumSize or maximumWeight, so that it cannot grow"
                + " without limit");
  }

  @Test
  void boundsOutOfRangeAreRefused() {
    assertThatIllegalArgumentException()
        .isThrownBy(() -> builder().maximumSize(0))
        .withMessage("maximumSize must be between 1 and 1000000000, but was 0");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> builder().maximumSize(1_000_000_001L))
        .withMessage("maximumSize must be between 1 and 1000000000, but was 1000000001");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> builder().maximumWeight(-1, (k, v) -> v.length()))
        .withMessage("maximumWeight must be between 1 and 9223372036854775807, but was -1");
    assertThatNullPointerException()
        .isThrownBy(() -> builder().maximumWeight(10, null))
        .withMessage("weigher");
  }

  @Test
  void aCacheHasOneBound() {
    assertThatIllegalStateException()
        .isThrownBy(() -> builder().maximumSize(100).maximumWeight(1000, (k, v) -> 1))
        .withMessage(
            "maximumWeight cannot be combined with maximumSize, which was already set to 100");
    assertThatIllegalStateException()
        .isThrownBy(() -> builder().maximumWeight(1000, (k, v) -> 1).maximumSize(100))
        .withMessage(
            "maximumSize cannot be combined with maximumWeight, which was already set to 1000");
  }

  @Test
  void anEntryHasOneExpiry() {
    assertThatIllegalStateException()
        .isThrownBy(
            () ->
                builder()
                    .expireAfterWrite(Duration.ofMinutes(5))
                    .expireAfterAccess(Duration.ofMinutes(1)))
        .withMessage(
            "expireAfterAccess cannot be combined with expireAfterWrite, which was already set to"
                + " 300000 ms");
    assertThatIllegalStateException()
        .isThrownBy(
            () ->
                builder()
                    .expireAfterAccess(Duration.ofMillis(1500))
                    .expireAfterWrite(Duration.ofMinutes(1)))
        .withMessage(
            "expireAfterWrite cannot be combined with expireAfterAccess, which was already set to"
                + " 1500 ms");
  }

  @Test
  void durationsMustBePositive() {
    assertThatIllegalArgumentException()
        .isThrownBy(() -> builder().expireAfterWrite(Duration.ZERO))
        .withMessage("expireAfterWrite must be positive, but was 0 ms");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> builder().expireAfterAccess(Duration.ofNanos(-1)))
        .withMessage("expireAfterAccess must be positive, but was -1 ns");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> builder().refreshAfterWrite(Duration.ofSeconds(-1)))
        .withMessage("refreshAfterWrite must be positive, but was -1000 ms");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> builder().cacheMissingFor(Duration.ZERO))
        .withMessage("cacheMissingFor must be positive, but was 0 ms");
    assertThatNullPointerException()
        .isThrownBy(() -> builder().expireAfterWrite(null))
        .withMessage("expireAfterWrite");
  }

  @Test
  void aSettingGivenTwiceIsRefused() {
    assertThatIllegalStateException()
        .isThrownBy(() -> builder().maximumSize(100).maximumSize(200))
        .withMessage("maximumSize was already set to 100");
    assertThatIllegalStateException()
        .isThrownBy(() -> builder().maximumWeight(100, (k, v) -> 1).maximumWeight(200, (k, v) -> 1))
        .withMessage("maximumWeight was already set to 100");
    assertThatIllegalStateException()
        .isThrownBy(
            () ->
                builder()
                    .expireAfterWrite(Duration.ofHours(1))
                    .expireAfterWrite(Duration.ofHours(2)))
        .withMessage("expireAfterWrite was already set to 3600000 ms");
    assertThatIllegalStateException()
        .isThrownBy(
            () ->
                builder()
                    .expireAfterAccess(Duration.ofSeconds(1))
                    .expireAfterAccess(Duration.ofSeconds(2)))
        .withMessage("expireAfterAccess was already set to 1000 ms");
    assertThatIllegalStateException()
        .isThrownBy(
            () ->
                builder()
                    .refreshAfterWrite(Duration.ofSeconds(1))
                    .refreshAfterWrite(Duration.ofSeconds(2)))
        .withMessage("refreshAfterWrite was already set to 1000 ms");
    assertThatIllegalStateException()
        .isThrownBy(
            () ->
                builder()
                    .cacheMissingFor(Duration.ofSeconds(1))
                    .cacheMissingFor(Duration.ofSeconds(2)))
        .withMessage("cacheMissingFor was already set to 1000 ms");
    assertThatIllegalStateException()
        .isThrownBy(() -> builder().loader(k -> k).loader(k -> k))
        .withMessage("loader was already set to a function");
    assertThatIllegalStateException()
        .isThrownBy(() -> builder().tags(k -> List.of()).tags(k -> List.of()))
        .withMessage("tags was already set to a function");
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    assertThatIllegalStateException()
        .isThrownBy(() -> builder().meterRegistry(registry).meterRegistry(registry))
        .withMessage("meterRegistry was already set to " + registry);
    assertThatIllegalStateException()
        .isThrownBy(() -> builder().ticker(new FakeTicker()).ticker(new FakeTicker()))
        .withMessageStartingWith("ticker was already set to ");
    assertThatIllegalStateException()
        .isThrownBy(() -> builder().executor(Runnable::run).executor(Runnable::run))
        .withMessageStartingWith("executor was already set to ");
  }

  @Test
  void refreshNeedsALoaderAndMustComeBeforeExpiry() {
    assertThatIllegalStateException()
        .isThrownBy(
            () -> builder().maximumSize(10).refreshAfterWrite(Duration.ofMinutes(1)).build())
        .withMessage("refreshAfterWrite needs a loader: set loader, which the refresh calls");
    assertThatIllegalStateException()
        .isThrownBy(
            () ->
                builder()
                    .maximumSize(10)
                    .loader(k -> k)
                    .expireAfterWrite(Duration.ofHours(1))
                    .refreshAfterWrite(Duration.ofHours(1))
                    .build())
        .withMessage(
            "refreshAfterWrite must be shorter than expireAfterWrite (3600000 ms), but was 3600000"
                + " ms: an entry would expire before it is refreshed");
    assertThatIllegalStateException()
        .isThrownBy(
            () ->
                builder()
                    .maximumSize(10)
                    .loader(k -> k)
                    .expireAfterAccess(Duration.ofMinutes(1))
                    .refreshAfterWrite(Duration.ofMinutes(2))
                    .build())
        .withMessage(
            "refreshAfterWrite must be shorter than expireAfterAccess (60000 ms), but was 120000"
                + " ms: an entry would expire before it is refreshed");
  }

  @Test
  void absencesMustBeRememberedShorterThanValues() {
    assertThatIllegalStateException()
        .isThrownBy(
            () ->
                builder()
                    .maximumSize(10)
                    .expireAfterWrite(Duration.ofMinutes(5))
                    .cacheMissingFor(Duration.ofMinutes(5))
                    .build())
        .withMessage(
            "cacheMissingFor must be shorter than expireAfterWrite (300000 ms), but was 300000 ms:"
                + " an absent key would be remembered as long as a value");
    assertThatIllegalStateException()
        .isThrownBy(
            () ->
                builder()
                    .maximumSize(10)
                    .expireAfterAccess(Duration.ofMinutes(5))
                    .cacheMissingFor(Duration.ofMinutes(10))
                    .build())
        .withMessage(
            "cacheMissingFor must be shorter than expireAfterAccess (300000 ms), but was 600000 ms:"
                + " an absent key would be remembered as long as a value");
    // Without an expiry of values, any time is shorter.
    try (BoundedCache<String, String> cache =
        builder().maximumSize(10).cacheMissingFor(Duration.ofDays(1)).build()) {
      assertThat(cache.get("a", k -> null)).isNull();
    }
  }

  @Test
  void toStringShowsTheNameAndOnlyTheSettingsGiven() {
    assertThat(builder()).hasToString("BoundedCache.Builder[prices]");
    BoundedCache.Builder<String, String> builder =
        builder()
            .maximumSize(10_000)
            .expireAfterWrite(Duration.ofHours(1))
            .refreshAfterWrite(Duration.ofMinutes(10))
            .cacheMissingFor(Duration.ofSeconds(30))
            .loader(k -> k)
            .tags(k -> List.of())
            .meterRegistry(new SimpleMeterRegistry());
    String settings =
        "[prices, maximumSize=10000, expireAfterWrite=3600000 ms, refreshAfterWrite=600000 ms,"
            + " cacheMissingFor=30000 ms, loader, tags, meters]";
    assertThat(builder).hasToString("BoundedCache.Builder" + settings);
    try (BoundedCache<String, String> cache = builder.build()) {
      assertThat(cache).hasToString("BoundedCache" + settings);
      assertThat(cache.name()).isEqualTo("prices");
    }
    assertThat(
            BoundedCache.<String, String>builder("sessions")
                .maximumWeight(1 << 20, (k, v) -> v.length())
                .expireAfterAccess(Duration.ofMinutes(5)))
        .hasToString(
            "BoundedCache.Builder[sessions, maximumWeight=1048576, expireAfterAccess=300000 ms]");
  }
}

package dev.bulwark.core.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.StringJoiner;
import org.junit.jupiter.api.Test;

class ChecksTest {

  @Test
  void oneDurationFormatForTheWholeLibrary() {
    assertThat(Checks.duration(Duration.ofMillis(1500))).isEqualTo("1500 ms");
    assertThat(Checks.duration(Duration.ofMillis(0))).isEqualTo("0 ms");
    assertThat(Checks.duration(Duration.ofNanos(500_000))).isEqualTo("0.5 ms");
    assertThat(Checks.duration(Duration.ofNanos(1_000))).isEqualTo("0.001 ms");
    assertThat(Checks.duration(Duration.ofNanos(-1))).isEqualTo("-1 ns");
    assertThat(Checks.duration(Duration.ofNanos(1_500))).isEqualTo("1500 ns");
    assertThat(Checks.duration(Duration.ofDays(1))).isEqualTo("86400000 ms");
    assertThat(Checks.seconds(Duration.ofMillis(1500))).isEqualTo("1.5 s");
    assertThat(Checks.seconds(Duration.ofSeconds(30))).isEqualTo("30 s");
  }

  @Test
  void saturatesInsteadOfOverflowing() {
    assertThat(Checks.saturatedNanos(Duration.ofSeconds(Long.MAX_VALUE))).isEqualTo(Long.MAX_VALUE);
    assertThat(Checks.saturatedNanos(Duration.ofSeconds(Long.MIN_VALUE))).isEqualTo(Long.MIN_VALUE);
    assertThat(Checks.saturatedNanos(Duration.ofMillis(3))).isEqualTo(3_000_000);
  }

  @Test
  void durationChecksNameTheSettingTheRuleAndTheValue() {
    assertThatThrownBy(() -> Checks.positive("timeout", Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("timeout must be positive, but was 0 ms");
    assertThatThrownBy(() -> Checks.notNegative("delay", Duration.ofNanos(-1)))
        .hasMessage("delay must not be negative, but was -1 ns");
    assertThatThrownBy(
            () ->
                Checks.between(
                    "idle", Duration.ofNanos(500_000), Duration.ofMillis(1), Duration.ofDays(1)))
        .hasMessage("idle must be between 1 ms and 86400000 ms, but was 0.5 ms");
    assertThatThrownBy(
            () ->
                Checks.wholeSecondsBetween(
                    "keepAlive",
                    Duration.ofMillis(1500),
                    Duration.ofSeconds(1),
                    Duration.ofHours(2)))
        .hasMessage(
            "keepAlive must be a whole number of seconds between 1 s and 7200 s, but was 1.5 s");
    assertThatThrownBy(() -> Checks.positive("timeout", null))
        .isInstanceOf(NullPointerException.class)
        .hasMessage("timeout");
    Duration ok = Duration.ofSeconds(2);
    assertThat(Checks.positive("t", ok)).isSameAs(ok);
    assertThat(Checks.notNegative("t", Duration.ZERO)).isEqualTo(Duration.ZERO);
    assertThat(Checks.between("t", ok, ok, ok)).isSameAs(ok);
    assertThat(Checks.wholeSecondsBetween("t", ok, ok, ok)).isSameAs(ok);
  }

  @Test
  void numberChecksIncludeBothBounds() {
    assertThat(Checks.between("n", 1, 1, 3)).isEqualTo(1);
    assertThat(Checks.between("n", 3, 1, 3)).isEqualTo(3);
    assertThatThrownBy(() -> Checks.between("maxAttempts", 0, 1, 100))
        .hasMessage("maxAttempts must be between 1 and 100, but was 0");
    assertThatThrownBy(() -> Checks.between("size", 5_000_000_000L, 1L, 4_000_000_000L))
        .hasMessage("size must be between 1 and 4000000000, but was 5000000000");
  }

  @Test
  void namesAreCheckedByOneOfTwoRules() {
    assertThat(Checks.notBlank("name", "payments api")).isEqualTo("payments api");
    assertThatThrownBy(() -> Checks.notBlank("name", " "))
        .hasMessage("name must not be blank, but was \" \"");
    assertThat(Checks.identifier("poolName", "orders-api_1.2")).isEqualTo("orders-api_1.2");
    assertThatThrownBy(() -> Checks.identifier("poolName", "orders api"))
        .hasMessage(
            "poolName must be 1 to 63 letters, digits, '.', '_' or '-', but was \"orders api\"");
    assertThatThrownBy(() -> Checks.identifier("poolName", "x".repeat(64)))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void aSettingGivenTwiceIsAnIllegalState() {
    Checks.requireUnset("timeout", false, null);
    assertThatThrownBy(() -> Checks.requireUnset("timeout", true, Duration.ofMillis(250)))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("timeout was already set to 250 ms");
    assertThatThrownBy(() -> Checks.requireUnset("maxAttempts", true, 3))
        .hasMessage("maxAttempts was already set to 3");
  }

  @Test
  void toStringShowsOnlyWhatWasSet() {
    StringJoiner out = new StringJoiner(", ", "[", "]");
    Checks.addSetting(out, "timeout", Duration.ofSeconds(30));
    Checks.addSetting(out, "unset", null);
    Checks.addSetting(out, "size", 10);
    assertThat(out).hasToString("[timeout=30000 ms, size=10]");
  }

  @Test
  void formatsWithTheRootLocale() {
    assertThat(Checks.format("%.1f", 1.5)).isEqualTo("1.5");
    assertThat(Checks.invalid("%s must be %s", "x", "y")).hasMessage("x must be y");
  }
}

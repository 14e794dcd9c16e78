package dev.bulwark.timeouts;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.URI;
import java.net.http.HttpRequest;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class HttpTimeoutsTest {
  private static HttpRequest.Builder request() {
    return HttpRequest.newBuilder(URI.create("http://127.0.0.1:1/"));
  }

  @Test
  void withoutADeadlineTheTimeoutIsUsedAsGiven() {
    HttpRequest r = HttpTimeouts.applyTo(request(), Duration.ofSeconds(5)).build();
    assertThat(r.timeout()).contains(Duration.ofSeconds(5));
  }

  @Test
  void theDeadlineShortensTheTimeout() {
    HttpRequest r =
        Deadline.after(Duration.ofMillis(300))
            .call(() -> HttpTimeouts.applyTo(request(), Duration.ofSeconds(5)).build());
    assertThat(r.timeout().orElseThrow()).isLessThanOrEqualTo(Duration.ofMillis(301));
    assertThat(r.timeout().orElseThrow()).isPositive();
  }

  @Test
  void theTimeLeftIsRoundedUpToMillisecondsPlusOneSoTheClientNeverGivesUpEarly() {
    // The JDK client fires its timers up to 1 ms early.
    FakeTicker ticker = new FakeTicker();
    Deadline deadline = Deadline.after(Duration.ofMillis(300), ticker);
    ticker.advanceNanos(500_000); // 299.5 ms left
    HttpRequest r =
        deadline.call(() -> HttpTimeouts.applyTo(request(), Duration.ofSeconds(5)).build());
    assertThat(r.timeout()).contains(Duration.ofMillis(301));
    ticker.advanceNanos(299_499_999); // 1 ns left
    r = deadline.call(() -> HttpTimeouts.applyTo(request(), Duration.ofSeconds(5)).build());
    assertThat(r.timeout()).contains(Duration.ofMillis(2));
    // A timeout shorter than what is left is the caller's own: used as given.
    Deadline far = Deadline.after(Duration.ofSeconds(10), ticker);
    r = far.call(() -> HttpTimeouts.applyTo(request(), Duration.ofMillis(1500)).build());
    assertThat(r.timeout()).contains(Duration.ofMillis(1500));
  }

  @Test
  void anExpiredDeadlineFailsBeforeSending() {
    try (Deadline.Scope scope = Deadline.after(Duration.ZERO).enter()) {
      assertThatThrownBy(() -> HttpTimeouts.applyTo(request(), Duration.ofSeconds(5)))
          .isInstanceOf(TimeoutExceededException.class);
    }
  }
}

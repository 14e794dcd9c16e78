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
    try (Deadline.Scope scope = Deadline.after(Duration.ofMillis(300)).enter()) {
      HttpRequest r = HttpTimeouts.applyTo(request(), Duration.ofSeconds(5)).build();
      assertThat(r.timeout().orElseThrow()).isLessThanOrEqualTo(Duration.ofMillis(300));
      assertThat(r.timeout().orElseThrow()).isPositive();
    }
  }

  @Test
  void anExpiredDeadlineFailsBeforeSending() {
    try (Deadline.Scope scope = Deadline.after(Duration.ZERO).enter()) {
      assertThatThrownBy(() -> HttpTimeouts.applyTo(request(), Duration.ofSeconds(5)))
          .isInstanceOf(TimeoutExceededException.class);
    }
  }
}

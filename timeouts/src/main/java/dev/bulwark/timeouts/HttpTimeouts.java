package dev.bulwark.timeouts;

import dev.bulwark.core.internal.Checks;
import java.net.http.HttpRequest;
import java.time.Duration;
import java.util.Objects;

/**
 * Clamps a {@link java.net.http.HttpRequest}'s timeout to the time the thread's current {@link
 * Deadline} has left.
 *
 * <p>The clamped request times out at about the deadline, with the client's {@link
 * java.net.http.HttpTimeoutException}. Inside a limited call ({@link Timeouts#within}, {@link
 * TimeLimiter}) the caller does not see that exception but a {@link TimeoutExceededException} with
 * it as the cause, whether the client's timer or the limit's watchdog came first:
 *
 * <pre>{@code
 * HttpResponse<String> r = Timeouts.within(Duration.ofSeconds(2), () -> http.send(
 *     HttpTimeouts.applyTo(HttpRequest.newBuilder(uri), Duration.ofSeconds(10)).build(),
 *     BodyHandlers.ofString()));
 * }</pre>
 *
 * <p>Stateless and thread-safe.
 */
public final class HttpTimeouts {
  private HttpTimeouts() {}

  /**
   * Sets the request's timeout to {@code timeout}, or, if the current deadline leaves less, to the
   * time it leaves rounded up to whole milliseconds plus 1 ms. The JDK client's timer compares its
   * deadlines in whole milliseconds and gives up to 1 ms early; the extra millisecond makes the
   * request time out at or just after the deadline, never before it, so that inside a limited call
   * its {@code HttpTimeoutException} is always a {@link TimeoutExceededException}.
   *
   * @param request the request builder
   * @param timeout the per-request timeout when the deadline allows it; positive
   * @return {@code request}
   * @throws TimeoutExceededException if the current deadline has passed
   * @throws IllegalArgumentException if {@code timeout} is not positive
   */
  public static HttpRequest.Builder applyTo(HttpRequest.Builder request, Duration timeout) {
    Objects.requireNonNull(request, "request");
    Duration effective = Deadline.clampToCurrentOrFail(Checks.positive("timeout", timeout));
    if (effective.equals(timeout)) {
      return request.timeout(timeout);
    }
    long millis = -Math.floorDiv(-Checks.saturatedNanos(effective), 1_000_000);
    return request.timeout(Duration.ofMillis(millis + 1));
  }
}

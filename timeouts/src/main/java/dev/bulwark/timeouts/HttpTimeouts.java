package dev.bulwark.timeouts;

import dev.bulwark.core.internal.Checks;
import java.net.http.HttpRequest;
import java.time.Duration;
import java.util.Objects;

/**
 * Clamps a {@link java.net.http.HttpRequest}'s timeout to the time the thread's current {@link
 * Deadline} has left. Stateless and thread-safe.
 */
public final class HttpTimeouts {
  private HttpTimeouts() {}

  /**
   * Sets the request's timeout to {@code timeout}, or to the time the current deadline has left if
   * that is shorter (at least 1 ms).
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
    Duration floor = Duration.ofMillis(1);
    return request.timeout(effective.compareTo(floor) < 0 ? floor : effective);
  }
}

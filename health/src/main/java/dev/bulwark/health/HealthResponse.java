package dev.bulwark.health;

import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * An HTTP response for a health report, for any framework: write the status, the headers and the
 * body as they are. {@link HealthRegistry#respond} makes one. Immutable.
 *
 * @param status the HTTP status: 200 for pass and warn, 503 for fail, unless the registry maps them
 *     otherwise
 * @param headers the headers to send, {@code Content-Type} and {@code Cache-Control} among them
 * @param body the JSON body, UTF-8 when sent
 */
public record HealthResponse(int status, Map<String, String> headers, String body) {

  /**
   * Copies the headers.
   *
   * @param status the HTTP status
   * @param headers the headers
   * @param body the body
   * @throws NullPointerException if an argument is null
   */
  public HealthResponse {
    headers = Collections.unmodifiableMap(new LinkedHashMap<>(headers));
    Objects.requireNonNull(body, "body");
  }

  /** {@return the body's bytes, UTF-8} */
  public byte[] bodyBytes() {
    return body.getBytes(StandardCharsets.UTF_8);
  }
}

package dev.bulwark.examples.timeouts;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import dev.bulwark.timeouts.TimeoutExceededException;
import dev.bulwark.timeouts.Timeouts;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.function.LongUnaryOperator;

/**
 * Recipe "60 s calculation limit answered with HTTP 408": the calculation runs on the request's own
 * thread under {@link Timeouts#within}; at the limit it is interrupted and the client gets 408.
 */
public final class CalculationEndpoint implements HttpHandler {
  private final Duration limit;
  private final LongUnaryOperator calculation;

  /**
   * Creates the endpoint.
   *
   * @param limit the calculation limit, 60 s in the recipe
   * @param calculation the expensive work; it must stop when its thread is interrupted
   */
  public CalculationEndpoint(Duration limit, LongUnaryOperator calculation) {
    this.limit = limit;
    this.calculation = calculation;
  }

  @Override
  public void handle(HttpExchange exchange) throws IOException {
    long input = Long.parseLong(exchange.getRequestURI().getQuery().replace("n=", ""));
    try {
      long result = Timeouts.within(limit, () -> calculation.applyAsLong(input));
      respond(exchange, 200, Long.toString(result));
    } catch (TimeoutExceededException e) {
      respond(exchange, 408, "calculation took longer than " + e.limit().toMillis() + " ms");
    }
  }

  private static void respond(HttpExchange exchange, int status, String body) throws IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    exchange.sendResponseHeaders(status, bytes.length);
    try (OutputStream out = exchange.getResponseBody()) {
      out.write(bytes);
    }
  }
}

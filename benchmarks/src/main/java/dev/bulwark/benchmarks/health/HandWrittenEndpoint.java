package dev.bulwark.benchmarks.health;

import com.sun.net.httpserver.HttpServer;
import dev.bulwark.health.HealthCheck;
import dev.bulwark.health.Status;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * The readiness endpoint services write by hand: every check run one after another on the request's
 * thread, with no cache and no timeout, on the JDK's HTTP server with 64 threads, so that it never
 * queues a request behind another (the most it can have). {@code /health/ready} only.
 */
final class HandWrittenEndpoint implements AutoCloseable {
  private final HttpServer server;
  private final ExecutorService threads;

  HandWrittenEndpoint(List<HealthCheck> checks) throws IOException {
    threads = Executors.newFixedThreadPool(64);
    server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    server.setExecutor(threads);
    server.createContext(
        "/health/ready",
        exchange -> {
          boolean up = true;
          for (HealthCheck check : checks) {
            try {
              up &= check.check().status() != Status.FAIL;
            } catch (Exception e) {
              up = false;
            }
          }
          byte[] body =
              (up ? "{\"status\":\"pass\"}" : "{\"status\":\"fail\"}")
                  .getBytes(StandardCharsets.UTF_8);
          exchange.getResponseHeaders().set("Content-Type", "application/health+json");
          exchange.sendResponseHeaders(up ? 200 : 503, body.length);
          try (OutputStream out = exchange.getResponseBody()) {
            out.write(body);
          }
        });
    server.start();
  }

  int port() {
    return server.getAddress().getPort();
  }

  @Override
  public void close() {
    server.stop(0);
    threads.shutdownNow();
  }
}

package dev.bulwark.benchmarks.health;

import dev.bulwark.health.HealthCheck;
import dev.bulwark.health.HealthRegistry;
import dev.bulwark.health.HealthResult;
import dev.bulwark.health.HealthServer;
import dev.bulwark.health.Role;
import java.io.IOException;
import java.net.SocketTimeoutException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;

/**
 * The latency of a readiness request over loopback HTTP, 64 clients at once, with ten checks of
 * which one hangs: {@link HealthServer} against the endpoint services write by hand, which runs its
 * checks one after another on the request's thread, with no cache. Read the p50 and p99 of the
 * sample-time mode.
 *
 * <p>The checks are the same code on both sides:
 *
 * <ul>
 *   <li>nine that take 1 ms each (a parked thread: a round trip to a dependency);
 *   <li>one whose dependency hangs: it waits {@value #HANG_MS} ms, its client's read timeout, and
 *       throws {@link SocketTimeoutException}. bulwark cuts it off at its own 500 ms timeout, on
 *       its own thread; the hand-written endpoint waits for it.
 * </ul>
 *
 * <p>Both answer on the JDK's HTTP server. The hand-written one gets 64 threads, one per client, so
 * that it never queues a request behind another: the most it can have. bulwark's server runs its
 * default 2 threads and the registry its defaults (500 ms timeout, 5 s ttl, 4 threads). Both are
 * called by one {@link HttpClient} (HTTP/1.1, kept-alive connections).
 */
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Threads(64)
public class HealthEndpointBenchmark {
  static final int CHECKS = 10;
  static final long HANG_MS = 2_000;

  /** The two servers and the client, shared by every benchmark thread. */
  @State(Scope.Benchmark)
  public static class Servers {
    /** The threads of bulwark's server: its default, 2, unless a run sets another. */
    @Param("2")
    public int serverThreads;

    HealthRegistry registry;
    HealthServer bulwark;
    HandWrittenEndpoint handWritten;
    HttpClient client;
    HttpRequest bulwarkRequest;

    @Setup
    public void start() throws IOException {
      List<HealthCheck> checks = checks();
      HealthRegistry.Builder builder = HealthRegistry.builder();
      for (int i = 0; i < checks.size(); i++) {
        builder.readiness("check-" + i, checks.get(i));
      }
      registry = builder.build();
      bulwark = HealthServer.builder(registry, 0).host("127.0.0.1").threads(serverThreads).start();

      handWritten = new HandWrittenEndpoint(checks);

      client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
      bulwarkRequest =
          HttpRequest.newBuilder(bulwark.uri(Role.READINESS))
              .timeout(Duration.ofMinutes(1))
              .build();
    }

    @TearDown
    public void stop() {
      bulwark.close();
      registry.close();
      handWritten.close();
    }
  }

  /**
   * One kept-alive HTTP/1.1 connection per benchmark thread to each server, written and read by
   * hand: a request line and a {@code Host} header out, the status line, the headers and a {@code
   * Content-Length} body in. {@link HttpClient}'s own cost per request (its selector thread, its
   * futures) is larger than either server's and would be most of what is measured; a load tool such
   * as wrk calls the same way.
   */
  @State(Scope.Thread)
  public static class Connections {
    RawHttp bulwark;
    RawHttp handWritten;

    @Setup
    public void open(Servers servers) throws IOException {
      bulwark = new RawHttp(servers.bulwark.port(), "/health/ready");
      handWritten = new RawHttp(servers.handWritten.port(), "/health/ready");
    }

    @TearDown
    public void close() throws IOException {
      bulwark.close();
      handWritten.close();
    }
  }

  static List<HealthCheck> checks() {
    List<HealthCheck> checks = new ArrayList<>(CHECKS);
    for (int i = 0; i < CHECKS - 1; i++) {
      checks.add(
          () -> {
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
            return HealthResult.pass().withObserved(1, "ms");
          });
    }
    checks.add(
        () -> {
          Thread.sleep(HANG_MS);
          throw new SocketTimeoutException("Read timed out");
        });
    return checks;
  }

  /**
   * One readiness request to bulwark, on the thread's kept-alive connection.
   *
   * @param connections the thread's connections
   * @return the HTTP status
   * @throws IOException if the request fails
   */
  @Benchmark
  public int bulwark(Connections connections) throws IOException {
    return connections.bulwark.get();
  }

  /**
   * One readiness request to the hand-written endpoint, on the thread's kept-alive connection.
   *
   * @param connections the thread's connections
   * @return the HTTP status
   * @throws IOException if the request fails
   */
  @Benchmark
  public int sequential(Connections connections) throws IOException {
    return connections.handWritten.get();
  }

  /**
   * One readiness request to bulwark through {@link HttpClient}, for comparison with the raw
   * connection: what a JDK client adds.
   *
   * @param servers the servers
   * @return the HTTP status
   * @throws Exception if the request fails
   */
  @Benchmark
  public int bulwarkHttpClient(Servers servers) throws Exception {
    return servers
        .client
        .send(servers.bulwarkRequest, HttpResponse.BodyHandlers.discarding())
        .statusCode();
  }
}

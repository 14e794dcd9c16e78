package dev.bulwark.queries;

import jakarta.servlet.DispatcherType;
import jakarta.servlet.Filter;
import jakarta.servlet.http.HttpServlet;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.EnumSet;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import org.eclipse.jetty.ee10.servlet.FilterHolder;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;

/**
 * A real Jetty 12 (EE10, Servlet 6.0) on a free loopback port, context {@code /app}, with the
 * filter under test in front of the servlet under test for every dispatcher type. The servlet is
 * mapped to {@code /} (its path is in {@code getServletPath()}) and to {@code /api/*} (in {@code
 * getPathInfo()}). A filter before the one under test records what the chain throws, and throws it
 * on to the container.
 */
final class JettyServer implements AutoCloseable {
  private final Server server;
  private final HttpClient client;
  private final URI base;
  private final List<Throwable> thrown = new CopyOnWriteArrayList<>();

  private JettyServer(Filter filter, HttpServlet servlet) throws Exception {
    server = new Server();
    ServerConnector connector = new ServerConnector(server);
    connector.setHost("127.0.0.1");
    connector.setPort(0);
    server.addConnector(connector);
    ServletContextHandler context = new ServletContextHandler("/app");
    context.addFilter(
        new FilterHolder(
            (request, response, chain) -> {
              try {
                chain.doFilter(request, response);
              } catch (Exception | Error e) {
                thrown.add(e);
                throw e;
              }
            }),
        "/*",
        EnumSet.of(DispatcherType.REQUEST));
    context.addFilter(new FilterHolder(filter), "/*", EnumSet.allOf(DispatcherType.class));
    ServletHolder holder = new ServletHolder(servlet);
    context.addServlet(holder, "/");
    context.addServlet(holder, "/api/*");
    server.setHandler(context);
    server.start();
    base = URI.create("http://127.0.0.1:" + connector.getLocalPort() + "/app");
    client =
        HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(10))
            .build();
  }

  static JettyServer start(Filter filter, HttpServlet servlet) throws Exception {
    return new JettyServer(filter, servlet);
  }

  private HttpRequest request(String method, String path) {
    return HttpRequest.newBuilder(URI.create(base + path))
        .timeout(Duration.ofSeconds(30))
        .method(method, HttpRequest.BodyPublishers.noBody())
        .build();
  }

  HttpResponse<String> send(String method, String path) throws Exception {
    return client.send(request(method, path), HttpResponse.BodyHandlers.ofString());
  }

  HttpResponse<String> get(String path) throws Exception {
    return send("GET", path);
  }

  CompletableFuture<HttpResponse<String>> getAsync(String path) {
    return client.sendAsync(request("GET", path), HttpResponse.BodyHandlers.ofString());
  }

  /** What the chain threw, in order. */
  List<Throwable> thrown() {
    return thrown;
  }

  @Override
  public void close() throws Exception {
    server.stop();
  }
}

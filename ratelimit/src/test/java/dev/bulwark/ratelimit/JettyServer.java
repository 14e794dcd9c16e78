package dev.bulwark.ratelimit;

import jakarta.servlet.DispatcherType;
import jakarta.servlet.Filter;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletRequestWrapper;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.Principal;
import java.time.Duration;
import java.util.EnumSet;
import java.util.concurrent.atomic.AtomicInteger;
import org.eclipse.jetty.ee10.servlet.FilterHolder;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;

/**
 * A real Jetty 12 (EE10, Servlet 6.0) on a free loopback port, with the filters under test in front
 * of a servlet that answers {@code 200 ok} and counts its calls. A request with {@code X-Test-User}
 * is authenticated as that user by a filter before the others, as a security filter would. Paths
 * under {@code /api/} go to a servlet mapped {@code /api/*} (its path is in {@code getPathInfo()}),
 * the rest to the default servlet; under {@code /commit/} the servlet commits the response before
 * it finishes.
 */
final class JettyServer implements AutoCloseable {
  private final Server server;
  private final HttpClient client;
  private final URI base;
  private final AtomicInteger served = new AtomicInteger();

  private JettyServer(Filter... filters) throws Exception {
    server = new Server();
    ServerConnector connector = new ServerConnector(server);
    connector.setHost("127.0.0.1");
    connector.setPort(0);
    server.addConnector(connector);
    ServletContextHandler context = new ServletContextHandler("/app");
    context.addFilter(
        new FilterHolder(
            (request, response, chain) -> {
              HttpServletRequest http = (HttpServletRequest) request;
              String user = http.getHeader("X-Test-User");
              chain.doFilter(user == null ? request : authenticated(http, user), response);
            }),
        "/*",
        EnumSet.of(DispatcherType.REQUEST));
    for (Filter filter : filters) {
      context.addFilter(new FilterHolder(filter), "/*", EnumSet.allOf(DispatcherType.class));
    }
    HttpServlet ok =
        new HttpServlet() {
          private static final long serialVersionUID = 1L;

          @Override
          protected void service(HttpServletRequest request, HttpServletResponse response)
              throws IOException {
            served.incrementAndGet();
            String path = request.getServletPath() + nonNull(request.getPathInfo());
            if (path.startsWith("/forward/")) {
              try {
                request
                    .getRequestDispatcher(path.substring("/forward".length()))
                    .forward(request, response);
              } catch (jakarta.servlet.ServletException e) {
                throw new IOException(e);
              }
              return;
            }
            response.setContentType("text/plain");
            response.getOutputStream().write("ok".getBytes(StandardCharsets.UTF_8));
            if (path.startsWith("/commit/")) {
              response.flushBuffer();
              response.getOutputStream().write(" and more".getBytes(StandardCharsets.UTF_8));
            }
          }
        };
    context.addServlet(new ServletHolder(ok), "/");
    context.addServlet(new ServletHolder(ok), "/api/*");
    server.setHandler(context);
    server.start();
    base = URI.create("http://127.0.0.1:" + connector.getLocalPort() + "/app");
    client =
        HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(10))
            .build();
  }

  static JettyServer start(Filter... filters) throws Exception {
    return new JettyServer(filters);
  }

  private static String nonNull(String text) {
    return text == null ? "" : text;
  }

  private static HttpServletRequest authenticated(HttpServletRequest request, String user) {
    return new HttpServletRequestWrapper(request) {
      @Override
      public Principal getUserPrincipal() {
        return () -> user;
      }
    };
  }

  /** Sends a request; {@code headers} are name, value, name, value... */
  HttpResponse<String> send(String method, String path, String... headers) throws Exception {
    HttpRequest.Builder request =
        HttpRequest.newBuilder(URI.create(base + path))
            .timeout(Duration.ofSeconds(30))
            .method(method, HttpRequest.BodyPublishers.noBody());
    for (int i = 0; i < headers.length; i += 2) {
      request.header(headers[i], headers[i + 1]);
    }
    return client.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  HttpResponse<String> get(String path, String... headers) throws Exception {
    return send("GET", path, headers);
  }

  /** How many requests reached the servlet. */
  int served() {
    return served.get();
  }

  @Override
  public void close() throws Exception {
    server.stop();
  }
}

package dev.bulwark.examples.ratelimit;

import jakarta.servlet.DispatcherType;
import jakarta.servlet.Filter;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.net.URI;
import java.util.EnumSet;
import org.eclipse.jetty.ee10.servlet.FilterHolder;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;

/**
 * A Jetty 12 server on a free loopback port whose one servlet answers a quote, behind the filter it
 * is given: the demo's rate-limited route.
 */
public final class QuoteServer implements AutoCloseable {
  private final Server server;
  private final URI base;

  private QuoteServer(Server server, URI base) {
    this.server = server;
    this.base = base;
  }

  /**
   * Starts the server.
   *
   * @param filter the filter in front of every request
   * @return the running server
   * @throws Exception if Jetty does not start
   */
  public static QuoteServer start(Filter filter) throws Exception {
    Server server = new Server();
    ServerConnector connector = new ServerConnector(server);
    connector.setHost("127.0.0.1");
    connector.setPort(0);
    server.addConnector(connector);
    ServletContextHandler context = new ServletContextHandler("/");
    context.addFilter(new FilterHolder(filter), "/*", EnumSet.of(DispatcherType.REQUEST));
    context.addServlet(new ServletHolder(new Quotes()), "/");
    server.setHandler(context);
    server.start();
    return new QuoteServer(server, URI.create("http://127.0.0.1:" + connector.getLocalPort()));
  }

  /**
   * The address of a path on this server.
   *
   * @param path an absolute path
   * @return its URI
   */
  public URI uri(String path) {
    return base.resolve(path);
  }

  /**
   * Stops the server.
   *
   * @throws IllegalStateException if Jetty does not stop
   */
  @Override
  public void close() {
    try {
      server.stop();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while Jetty stopped", e);
    } catch (Exception e) {
      throw new IllegalStateException("Jetty did not stop", e);
    }
  }

  /** The quote endpoint. */
  private static final class Quotes extends HttpServlet {
    private static final long serialVersionUID = 1L;

    @Override
    protected void service(HttpServletRequest request, HttpServletResponse response)
        throws IOException {
      response.setContentType("application/json");
      response.getWriter().write("{\"quote\":\"19.99 EUR\"}");
    }
  }
}

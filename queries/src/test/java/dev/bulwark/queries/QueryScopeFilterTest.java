package dev.bulwark.queries;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalStateException;

import com.zaxxer.hikari.HikariDataSource;
import dev.bulwark.pool.Pools;
import dev.bulwark.testing.Await;
import dev.bulwark.testing.PostgresExtension;
import dev.bulwark.testing.TestDatabase;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import org.assertj.core.api.InstanceOfAssertFactories;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The filter in a real Jetty 12, in front of a servlet that runs an N+1 through the guard's data
 * source on a real PostgreSQL, called by a real HTTP client.
 */
@ExtendWith(PostgresExtension.class)
class QueryScopeFilterTest {
  private static final Duration WAIT = Duration.ofSeconds(10);
  private static final String BY_ID = "select name from customers where id = ?";

  private HikariDataSource pool;
  private JettyServer server;
  private CustomersServlet servlet;

  @BeforeEach
  void schema(TestDatabase db) throws SQLException {
    pool = Pools.postgres(db.jdbcUrl(), db.user(), db.password()).maximumPoolSize(4).build();
    try (Connection c = pool.getConnection();
        Statement s = c.createStatement()) {
      s.execute("create table customers (id bigint primary key, name text not null)");
      s.execute("insert into customers select g, 'customer ' || g from generate_series(1, 20) g");
    }
  }

  @AfterEach
  void stop() throws Exception {
    if (server != null) {
      server.close();
    }
    pool.close();
  }

  private void start(QueryGuard guard, QueryScopeFilter filter) throws Exception {
    servlet = new CustomersServlet(guard, guard.wrap(pool));
    server = JettyServer.start(filter, servlet);
  }

  private void start(QueryGuard guard) throws Exception {
    start(guard, QueryScopeFilter.builder(guard).build());
  }

  /** Waits for the scope to close: the filter closes it when the chain has returned. */
  private static QueryScope closed(QueryScope scope) throws Exception {
    Await.until(WAIT, "closed " + scope, scope::isClosed);
    return scope;
  }

  /**
   * For {@code /customers/<n>} (under {@code /} or {@code /api/}): reads the first n customers,
   * then each one's name by its id, an N+1 of n. For {@code /forward/<path>}: forwards to the path.
   * For {@code /fail}: throws. For the rest: answers {@code ok}. Each request's scope, as the
   * servlet saw it, is kept by path.
   */
  static final class CustomersServlet extends HttpServlet {
    private static final long serialVersionUID = 1L;

    final transient QueryGuard guard;
    final transient DataSource db;
    final transient ConcurrentHashMap<String, List<QueryScope>> scopes = new ConcurrentHashMap<>();
    transient volatile CyclicBarrier together;

    CustomersServlet(QueryGuard guard, DataSource db) {
      this.guard = guard;
      this.db = db;
    }

    /** The scope each pass of the request to {@code path} ran in. */
    List<QueryScope> scopes(String path) {
      return scopes.getOrDefault(path, List.of());
    }

    QueryScope scope(String path) {
      List<QueryScope> seen = scopes(path);
      assertThat(seen).as("scopes of %s", path).hasSize(1);
      return seen.get(0);
    }

    @Override
    protected void service(HttpServletRequest request, HttpServletResponse response)
        throws IOException, ServletException {
      String path =
          request.getServletPath() + (request.getPathInfo() == null ? "" : request.getPathInfo());
      scopes
          .computeIfAbsent(path, p -> new java.util.concurrent.CopyOnWriteArrayList<>())
          .add(guard.current().orElseThrow(() -> new IllegalStateException("no scope")));
      if (path.startsWith("/forward/")) {
        request
            .getRequestDispatcher(path.substring("/forward".length()))
            .forward(request, response);
        return;
      }
      if (path.equals("/fail")) {
        throw new IllegalStateException("the servlet failed");
      }
      int read = 0;
      String tail = path.startsWith("/api/") ? path.substring("/api".length()) : path;
      if (tail.startsWith("/customers/")) {
        CyclicBarrier barrier = together;
        if (barrier != null) {
          try {
            barrier.await(10, TimeUnit.SECONDS);
          } catch (Exception e) {
            throw new ServletException(e);
          }
        }
        try {
          read = customers(Integer.parseInt(tail.substring("/customers/".length())));
        } catch (SQLException e) {
          throw new ServletException(e);
        }
      }
      response.setContentType("text/plain");
      response.getOutputStream().write(("ok " + read).getBytes(StandardCharsets.UTF_8));
    }

    private int customers(int n) throws SQLException {
      List<Long> ids = new ArrayList<>();
      try (Connection c = db.getConnection()) {
        try (PreparedStatement s =
            c.prepareStatement("select id from customers where id <= ? order by id")) {
          s.setLong(1, n);
          try (ResultSet r = s.executeQuery()) {
            while (r.next()) {
              ids.add(r.getLong(1));
            }
          }
        }
        for (long id : ids) {
          try (PreparedStatement s = c.prepareStatement(BY_ID)) {
            s.setLong(1, id);
            try (ResultSet r = s.executeQuery()) {
              r.next();
            }
          }
        }
      }
      return ids.size();
    }
  }

  @Test
  void theNPlusOneOfARequestNamesItsRouteWithTheIdTakenOut() throws Exception {
    QueryGuard guard = QueryGuard.builder().policy(QueryPolicy.COUNT).build();
    start(guard);

    HttpResponse<String> response = server.get("/customers/7");
    assertThat(response.statusCode()).isEqualTo(200);
    assertThat(response.body()).isEqualTo("ok 7");

    QueryRecording recording = closed(servlet.scope("/customers/7")).recording();
    assertThat(recording.scope()).isEqualTo("GET /customers/{id}");
    assertThat(recording.statements()).isEqualTo(8);
    List<QueryEvent> nPlusOne = recording.events(QueryEvent.Kind.N_PLUS_ONE);
    assertThat(nPlusOne).hasSize(1);
    assertThat(nPlusOne.get(0).scope()).isEqualTo("GET /customers/{id}");
    assertThat(nPlusOne.get(0).shape()).isEqualTo(BY_ID);
    assertThat(nPlusOne.get(0).count()).isEqualTo(7);
    assertThat(nPlusOne.get(0).callSite())
        .startsWith(
            "dev.bulwark.queries.QueryScopeFilterTest$CustomersServlet.customers("
                + "QueryScopeFilterTest.java:");

    // The next request has a scope of its own, under the same name.
    assertThat(server.get("/customers/3").statusCode()).isEqualTo(200);
    QueryScope next = closed(servlet.scope("/customers/3"));
    assertThat(next).isNotSameAs(servlet.scope("/customers/7"));
    assertThat(next.name()).isEqualTo("GET /customers/{id}");
    assertThat(next.statements()).isEqualTo(4);
    assertThat(next.recording().events()).isEmpty();
    assertThat(server.thrown()).isEmpty();
  }

  @Test
  void twoRequestsAtOnceRunInScopesOfTheirOwn() throws Exception {
    QueryGuard guard = QueryGuard.builder().policy(QueryPolicy.COUNT).build();
    start(guard);
    // Neither request reads until both are in the servlet, each on its own thread.
    servlet.together = new CyclicBarrier(2);

    CompletableFuture<HttpResponse<String>> three = server.getAsync("/customers/3");
    CompletableFuture<HttpResponse<String>> eight = server.getAsync("/customers/8");
    assertThat(three.get(30, TimeUnit.SECONDS).body()).isEqualTo("ok 3");
    assertThat(eight.get(30, TimeUnit.SECONDS).body()).isEqualTo("ok 8");

    QueryScope small = closed(servlet.scope("/customers/3"));
    QueryScope large = closed(servlet.scope("/customers/8"));
    assertThat(small).isNotSameAs(large);
    assertThat(small.name()).isEqualTo("GET /customers/{id}");
    assertThat(large.name()).isEqualTo("GET /customers/{id}");
    // Each counted its own statements only: 1 + 3 and 1 + 8, not 13 in one.
    assertThat(small.statements()).isEqualTo(4);
    assertThat(large.statements()).isEqualTo(9);
    assertThat(small.recording().events()).isEmpty();
    assertThat(large.recording().events(QueryEvent.Kind.N_PLUS_ONE))
        .extracting(QueryEvent::count)
        .containsExactly(8L);
  }

  @Test
  void underThrowTheLimitGoesOnToTheContainerAndTheScopeIsClosed() throws Exception {
    QueryGuard guard = QueryGuard.builder().policy(QueryPolicy.THROW).build();
    start(guard);

    HttpResponse<String> response = server.get("/customers/8");
    assertThat(response.statusCode()).isEqualTo(500);

    QueryScope scope = closed(servlet.scope("/customers/8"));
    // Stopped at the sixth run of the shape: 1 + 6 statements, the sixth refused.
    assertThat(scope.statements()).isEqualTo(7);
    assertThat(server.thrown()).hasSize(1);
    assertThat(server.thrown().get(0))
        .isInstanceOf(QueryLimitExceededException.class)
        .hasMessageStartingWith(
            "N+1 in GET /customers/{id}: 6 executions (threshold 5) of " + BY_ID + " at");
  }

  @Test
  void anExceptionInTheServletStillClosesTheScope() throws Exception {
    QueryGuard guard = QueryGuard.builder().build();
    start(guard);

    assertThat(server.get("/fail").statusCode()).isEqualTo(500);
    QueryScope scope = closed(servlet.scope("/fail"));
    assertThat(scope.name()).isEqualTo("GET /fail");
    assertThat(server.thrown())
        .singleElement(InstanceOfAssertFactories.THROWABLE)
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("the servlet failed");
    // The next request is served, in a scope of its own.
    assertThat(server.get("/customers/1").statusCode()).isEqualTo(200);
    assertThat(closed(servlet.scope("/customers/1")).name()).isEqualTo("GET /customers/{id}");
  }

  @Test
  void aForwardedRequestRunsInTheScopeOfItsFirstPass() throws Exception {
    QueryGuard guard = QueryGuard.builder().policy(QueryPolicy.COUNT).build();
    start(guard);

    assertThat(server.get("/forward/customers/2").body()).isEqualTo("ok 2");
    QueryScope first = closed(servlet.scope("/forward/customers/2"));
    assertThat(first.name()).isEqualTo("GET /forward/customers/{id}");
    assertThat(servlet.scope("/customers/2")).isSameAs(first);
    assertThat(first.statements()).isEqualTo(3);
  }

  @Test
  void theDefaultNameTakesThePathUnderTheServletsMappingAndBoundsTheMethod() throws Exception {
    QueryGuard guard = QueryGuard.builder().build();
    start(guard);

    String order = "/api/orders/550E8400-e29b-41d4-a716-446655440000/lines/12/";
    assertThat(server.get(order + "?page=2").statusCode()).isEqualTo(200);
    assertThat(closed(servlet.scope(order)).name()).isEqualTo("GET /api/orders/{id}/lines/{id}");

    assertThat(server.send("DELETE", "/api/customers/4").statusCode()).isEqualTo(200);
    assertThat(closed(servlet.scope("/api/customers/4")).name())
        .isEqualTo("DELETE /api/customers/{id}");

    assertThat(server.send("PROPFIND", "/files/a").statusCode()).isEqualTo(200);
    assertThat(closed(servlet.scope("/files/a")).name()).isEqualTo("_OTHER /files/a");
  }

  @Test
  void aScopeNameFunctionNamesTheScope() throws Exception {
    QueryGuard guard = QueryGuard.builder().build();
    start(
        guard,
        QueryScopeFilter.builder(guard)
            .scopeName(request -> request.getMethod() + " customers")
            .build());

    assertThat(server.get("/customers/2").statusCode()).isEqualTo(200);
    assertThat(closed(servlet.scope("/customers/2")).name()).isEqualTo("GET customers");
  }

  @Test
  void aScopeNameFunctionThatNamesNothingFailsTheRequestBeforeTheChain() throws Exception {
    QueryGuard guard = QueryGuard.builder().build();
    start(guard, QueryScopeFilter.builder(guard).scopeName(request -> " ").build());

    assertThat(server.get("/customers/2").statusCode()).isEqualTo(500);
    assertThat(servlet.scopes("/customers/2")).isEmpty();
    assertThat(server.thrown())
        .singleElement(InstanceOfAssertFactories.THROWABLE)
        .isInstanceOf(IllegalStateException.class)
        .hasMessageStartingWith("the scopeName function ")
        .hasMessageEndingWith(" returned no name for a request");
  }

  @Test
  void theDefaultRoute() {
    assertThat(QueryScopeFilter.route("/customers/7")).isEqualTo("/customers/{id}");
    assertThat(QueryScopeFilter.route("/customers/7/")).isEqualTo("/customers/{id}");
    assertThat(QueryScopeFilter.route("//customers//7")).isEqualTo("/customers/{id}");
    assertThat(QueryScopeFilter.route("/customers/7/appointments/0042"))
        .isEqualTo("/customers/{id}/appointments/{id}");
    assertThat(QueryScopeFilter.route("/orders/550e8400-e29b-41d4-a716-446655440000"))
        .isEqualTo("/orders/{id}");
    assertThat(QueryScopeFilter.route("/orders/550E8400-E29B-41D4-A716-446655440000"))
        .isEqualTo("/orders/{id}");
    assertThat(QueryScopeFilter.route("/2024/report")).isEqualTo("/{id}/report");
    assertThat(QueryScopeFilter.route("")).isEqualTo("/");
    assertThat(QueryScopeFilter.route("/")).isEqualTo("/");
    // Not ids: kept as they are.
    assertThat(QueryScopeFilter.route("/v2/customers/7a/-7/1.5"))
        .isEqualTo("/v2/customers/7a/-7/1.5");
    assertThat(QueryScopeFilter.route("/orders/550e8400e29b41d4a716446655440000"))
        .isEqualTo("/orders/550e8400e29b41d4a716446655440000");
    assertThat(QueryScopeFilter.route("/orders/550e8400-e29b-41d4-a716-44665544000g"))
        .isEqualTo("/orders/550e8400-e29b-41d4-a716-44665544000g");
    assertThat(QueryScopeFilter.route("/orders/550e8400-e29b-41d4-a716_446655440000"))
        .isEqualTo("/orders/550e8400-e29b-41d4-a716_446655440000");
    assertThat(QueryScopeFilter.route("/articles/how-to-x")).isEqualTo("/articles/how-to-x");
  }

  @Test
  void theDefaultName() {
    assertThat(QueryScopeFilter.defaultScopeName("GET", "/api", "/customers/7"))
        .isEqualTo("GET /api/customers/{id}");
    assertThat(QueryScopeFilter.defaultScopeName("PATCH", "/customers/7", null))
        .isEqualTo("PATCH /customers/{id}");
    assertThat(QueryScopeFilter.defaultScopeName("HEAD", "", "/")).isEqualTo("HEAD /");
    assertThat(QueryScopeFilter.defaultScopeName("GET", null, null)).isEqualTo("GET /");
    // Methods are case-sensitive, and a client may send any token.
    assertThat(QueryScopeFilter.defaultScopeName("get", "/x", null)).isEqualTo("_OTHER /x");
    assertThat(QueryScopeFilter.defaultScopeName("BREW", "/x", null)).isEqualTo("_OTHER /x");
    assertThat(QueryScopeFilter.defaultScopeName(null, "/x", null)).isEqualTo("_OTHER /x");
  }

  @Test
  void theBuilderAndTheFilterSayWhatTheyAre() {
    QueryGuard guard = QueryGuard.builder().name("orders").build();
    assertThat(QueryScopeFilter.builder(guard))
        .hasToString("QueryScopeFilter.Builder{guard=orders}");
    assertThat(QueryScopeFilter.builder(guard).build())
        .hasToString("QueryScopeFilter[guard=orders, scopeName=method and path, ids as {id}]");
    java.util.function.Function<HttpServletRequest, String> name =
        new java.util.function.Function<>() {
          @Override
          public String apply(HttpServletRequest request) {
            return "x";
          }

          @Override
          public String toString() {
            return "routes";
          }
        };
    assertThat(QueryScopeFilter.builder(guard).scopeName(name))
        .hasToString("QueryScopeFilter.Builder{guard=orders, scopeName=routes}");
    assertThat(QueryScopeFilter.builder(guard).scopeName(name).build())
        .hasToString("QueryScopeFilter[guard=orders, scopeName=routes]");
    assertThatIllegalStateException()
        .isThrownBy(() -> QueryScopeFilter.builder(guard).scopeName(name).scopeName(name))
        .withMessage("scopeName was already set to routes");
  }
}

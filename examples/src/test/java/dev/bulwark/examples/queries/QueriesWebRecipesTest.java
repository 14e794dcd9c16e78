package dev.bulwark.examples.queries;

import static org.assertj.core.api.Assertions.assertThat;

import com.zaxxer.hikari.HikariDataSource;
import dev.bulwark.pool.Pools;
import dev.bulwark.queries.QueryAssert;
import dev.bulwark.queries.QueryEvent;
import dev.bulwark.queries.QueryGuard;
import dev.bulwark.queries.QueryPolicy;
import dev.bulwark.queries.QueryRecorder;
import dev.bulwark.queries.QueryScopeFilter;
import dev.bulwark.testing.PostgresExtension;
import dev.bulwark.testing.TestDatabase;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import jakarta.servlet.DispatcherType;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.EnumSet;
import javax.sql.DataSource;
import org.eclipse.jetty.ee10.servlet.FilterHolder;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The servlet filter and the JUnit extension of {@code docs/queries.md}, run as written. */
@ExtendWith(PostgresExtension.class)
class QueriesWebRecipesTest {
  private static HikariDataSource pool;
  private static final SimpleMeterRegistry registry = new SimpleMeterRegistry();

  // snippet:begin queries-recorder
  static final QueryGuard guard = QueryGuard.builder().policy(QueryPolicy.THROW).build();

  @RegisterExtension static final QueryRecorder queries = QueryRecorder.of(guard);

  // snippet:end

  @BeforeAll
  static void schema(TestDatabase db) throws SQLException {
    pool = Pools.postgres(db.jdbcUrl(), db.user(), db.password()).build();
    try (Connection c = pool.getConnection();
        Statement s = c.createStatement()) {
      s.execute(
          "create table appointments (id bigint primary key, customer_id bigint not null,"
              + " at timestamptz not null)");
      s.execute(
          "insert into appointments select g, 1 + g % 50, now() from generate_series(1, 1000) g");
    }
  }

  @AfterAll
  static void close() {
    pool.close();
  }

  @Test
  void eachTestRunsInAScopeOfItsOwn() throws SQLException {
    QueriesRecipesTest.AppointmentsRepository repository =
        new QueriesRecipesTest.AppointmentsRepository(guard.wrap(pool));
    // snippet:begin queries-recorder-assert
    assertThat(repository.joined(7)).hasSize(20);
    QueryAssert.assertThat(queries.recording()).hasNoNPlusOne().hasStatementCount(1);
    // snippet:end
    assertThat(queries.recording().scope())
        .isEqualTo("QueriesWebRecipesTest.eachTestRunsInAScopeOfItsOwn");
  }

  @Test
  void theFilterNamesEachRequestsScopeByItsRoute() throws Exception {
    QueryGuard production =
        QueryGuard.builder().name("web").policy(QueryPolicy.COUNT).meterRegistry(registry).build();
    DataSource dataSource = production.wrap(pool);
    QueriesRecipesTest.AppointmentsRepository repository =
        new QueriesRecipesTest.AppointmentsRepository(dataSource);
    Server server = new Server();
    ServerConnector connector = new ServerConnector(server);
    connector.setHost("127.0.0.1");
    connector.setPort(0);
    server.addConnector(connector);
    ServletContextHandler context = new ServletContextHandler("/");
    // snippet:begin queries-filter
    QueryScopeFilter filter = QueryScopeFilter.builder(production).build();
    // GET /customers/7/appointments runs in the scope "GET /customers/{id}/appointments"
    context.addFilter(new FilterHolder(filter), "/*", EnumSet.of(DispatcherType.REQUEST));
    // snippet:end
    context.addServlet(
        new ServletHolder(
            new HttpServlet() {
              private static final long serialVersionUID = 1L;

              @Override
              protected void service(HttpServletRequest request, HttpServletResponse response)
                  throws IOException {
                try {
                  response.getWriter().write(String.valueOf(repository.perRow(7).size()));
                } catch (SQLException e) {
                  throw new IOException(e);
                }
              }
            }),
        "/");
    server.setHandler(context);
    server.start();
    try {
      HttpResponse<String> response =
          HttpClient.newHttpClient()
              .send(
                  HttpRequest.newBuilder(
                          URI.create(
                              "http://127.0.0.1:"
                                  + connector.getLocalPort()
                                  + "/customers/7/appointments"))
                      .timeout(Duration.ofSeconds(30))
                      .build(),
                  HttpResponse.BodyHandlers.ofString());
      assertThat(response.body()).isEqualTo("20");
    } finally {
      server.stop();
    }
    assertThat(
            registry
                .get("bulwark.queries.events")
                .tags("name", "web", "kind", QueryEvent.Kind.N_PLUS_ONE.tag())
                .counter()
                .count())
        .isEqualTo(1);
  }
}

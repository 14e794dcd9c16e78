package dev.bulwark.examples.testing;

import static org.assertj.core.api.Assertions.assertThat;

import dev.bulwark.testing.PgBouncerExtension;
import dev.bulwark.testing.PostgresExtension;
import dev.bulwark.testing.TestDatabase;
import dev.bulwark.testing.TestPgBouncer;
import dev.bulwark.testing.TestPostgres;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The PgBouncer snippet of {@code docs/testing.md}, run as written. */
// snippet:begin testing-pgbouncer
@ExtendWith({PgBouncerExtension.class, PostgresExtension.class})
class BehindPgBouncerTest {

  @Test
  void transactionModeMovesTheSession(TestPgBouncer bouncer, TestDatabase db) throws SQLException {
    // jdbc:postgresql://127.0.0.1:<port>/<db>?prepareThreshold=0
    String url = bouncer.transactionJdbcUrl(db.database());
    try (Connection client = DriverManager.getConnection(url, bouncer.user(), bouncer.password());
        Connection other = DriverManager.getConnection(url, bouncer.user(), bouncer.password())) {
      other.setAutoCommit(false);
      int held = TestPostgres.backendPid(other); // other's open transaction holds this backend
      assertThat(TestPostgres.backendPid(client)).isNotEqualTo(held);
      other.commit();
    }
  }

  @Test
  void sessionModeKeepsOneBackend(TestPgBouncer bouncer, TestDatabase db) throws SQLException {
    String url = bouncer.sessionJdbcUrl(db.database());
    try (Connection client = DriverManager.getConnection(url, bouncer.user(), bouncer.password())) {
      int pid = TestPostgres.backendPid(client);
      assertThat(TestPostgres.backendPid(client)).isEqualTo(pid);
    }
  }
}
// snippet:end

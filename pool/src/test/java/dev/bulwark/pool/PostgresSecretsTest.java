package dev.bulwark.pool;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.zaxxer.hikari.HikariDataSource;
import com.zaxxer.hikari.pool.HikariPool.PoolInitializationException;
import dev.bulwark.testing.NoSecrets;
import dev.bulwark.testing.PostgresExtension;
import dev.bulwark.testing.TestPostgres;
import dev.bulwark.testing.TestRole;
import java.net.ConnectException;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.SQLTransientConnectionException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.postgresql.util.PSQLException;

/**
 * A password given to {@link Pools#postgres} (in the URL by mistake, or as the argument) goes
 * through every way a pool can fail, against the real server, and shows up in no message, cause,
 * suppressed or chained exception, or {@code toString}. The wrong-password cases need a role whose
 * password the server checks ({@link TestPostgres#newRole()}): the embedded server trusts loopback.
 */
@ExtendWith(PostgresExtension.class)
class PostgresSecretsTest {

  private static final String SECRET = "S3cr3t-pw";
  private static final String WRONG = "Wr0ng-pw";

  @Test
  void aUrlThatCarriesOrMangledASecretIsRefusedWithoutShowingIt() {
    for (String url :
        new String[] {
          "postgresql://shop:" + SECRET + "@db.internal:5432/shop",
          "jdbc:postgresql://shop:" + SECRET + "@db.internal:5432/shop",
          "jdbc:postgresql:shop:" + SECRET + "@db.internal/shop",
          "jdbc:postgresql://db.internal:5432/shop?password=" + SECRET,
          "jdbc:postgresql://db.internal:notaport/shop?sslpassword=" + SECRET,
          "jdbc:postgresql://db.internal:70000/shop?sslpassword=" + SECRET,
        }) {
      Throwable thrown = catchThrowable(() -> Pools.postgres(url, "shop", SECRET));
      assertThat(thrown).as(url).isInstanceOf(IllegalArgumentException.class).hasNoCause();
      NoSecrets.assertHidden(thrown, SECRET);
    }
  }

  @Test
  void aUrlTheBuilderCannotReadShowsNoSecretInItsMessageNorInPgjdbcsLog() {
    Logger pgjdbc = Logger.getLogger("org.postgresql");
    List<String> logged = new CopyOnWriteArrayList<>();
    Handler capture =
        new Handler() {
          @Override
          public void publish(LogRecord record) {
            logged.add(
                record.getMessage() + " " + java.util.Arrays.toString(record.getParameters()));
          }

          @Override
          public void flush() {}

          @Override
          public void close() {}
        };
    Level before = pgjdbc.getLevel();
    pgjdbc.setLevel(Level.ALL);
    pgjdbc.addHandler(capture);
    try {
      for (String url :
          new String[] {
            // A password, or a URL whose user-info has no scheme, passed where the URL goes.
            SECRET,
            "shop:" + SECRET + "@db.internal:5432/shop",
            "//shop:" + SECRET + "@db.internal:5432/shop",
            // An unencoded '?' or '/' in the password.
            "jdbc:postgresql://shop:a?" + SECRET + "@db.internal/shop",
            "jdbc:postgresql://shop:a/" + SECRET + "@db.internal/shop",
            // No database: pgjdbc refuses it and logs the URL it was given.
            "jdbc:postgresql://db.internal:5432?sslpassword=" + SECRET,
            "jdbc:postgresql://db.internal:5432/shop/extra?sslpassword=" + SECRET,
            "jdbc:postgresql://db.internal/shop?user=app@tenant&sslpassword=" + SECRET,
          }) {
        Throwable thrown = catchThrowable(() -> Pools.postgres(url, "shop", "pw"));
        assertThat(thrown).as(url).isInstanceOf(IllegalArgumentException.class).hasNoCause();
        NoSecrets.assertHidden(thrown, SECRET);
      }
      assertThat(catchThrowable(() -> Pools.postgres("s3cr3t", "shop", "pw")))
          .hasMessage("jdbcUrl must start with jdbc:postgresql:, but was a text of 6 characters");
      assertThat(logged).noneMatch(line -> line.contains(SECRET));
    } finally {
      pgjdbc.removeHandler(capture);
      pgjdbc.setLevel(before);
    }
  }

  @Test
  void anUnreachableServerFailsTheBuildWithoutShowingThePassword() {
    PostgresPoolBuilder builder =
        Pools.postgres(
                "jdbc:postgresql://127.0.0.1:" + Loopback.closedPort() + "/shop?sslmode=disable",
                "shop",
                SECRET)
            .connectTimeout(Duration.ofSeconds(1));
    NoSecrets.assertHidden(new AssertionError(builder.toString()), SECRET);
    NoSecrets.assertHidden(new AssertionError(builder.settings().toString()), SECRET);
    Throwable thrown = catchThrowable(builder::build);
    assertThat(thrown)
        .isInstanceOf(PoolInitializationException.class)
        .hasRootCauseInstanceOf(ConnectException.class);
    NoSecrets.assertHidden(thrown, SECRET);
  }

  @Test
  void aWrongPasswordFailsTheBuildWithoutShowingEitherPassword(TestPostgres postgres) {
    assumeTrue(postgres.isEmbedded(), "needs a server this JVM owns");
    try (TestRole role = postgres.newRole()) {
      Throwable thrown =
          catchThrowable(() -> Pools.postgres(postgres.jdbcUrl(), role.name(), WRONG).build());
      assertThat(thrown)
          .isInstanceOf(PoolInitializationException.class)
          .rootCause()
          .isInstanceOf(PSQLException.class)
          .hasMessageContaining("password authentication failed");
      assertThat(((SQLException) thrown.getCause()).getSQLState()).isEqualTo("28P01");
      NoSecrets.assertHidden(thrown, WRONG, role.password());
    }
  }

  @Test
  void aPasswordThatStopsWorkingFailsBorrowersWithoutShowingIt(TestPostgres postgres)
      throws SQLException {
    assumeTrue(postgres.isEmbedded(), "needs a server this JVM owns");
    try (TestRole role = postgres.newRole();
        HikariDataSource pool =
            Pools.postgres(postgres.jdbcUrl(), role.name(), role.password())
                .profile(PoolProfile.WORKER)
                .maximumPoolSize(1)
                .connectionTimeout(Duration.ofSeconds(1))
                .build()) {
      try (Connection c = pool.getConnection()) {
        assertThat(c.isValid(1)).isTrue();
      }
      NoSecrets.assertHidden(new AssertionError(pool.toString()), role.password());
      NoSecrets.assertHidden(new AssertionError(Pools.settings(pool).toString()), role.password());
      // The password changes on the server; the pool's next connection is refused.
      try (Connection admin = postgres.connect()) {
        Sql.execute(admin, "alter role " + role.name() + " password '" + WRONG + "'");
      }
      pool.getHikariPoolMXBean().softEvictConnections();
      Throwable thrown = catchThrowable(pool::getConnection);
      // HikariCP chains the last failure of its attempts to connect: pgjdbc's 28P01.
      assertThat(thrown)
          .isInstanceOf(SQLTransientConnectionException.class)
          .rootCause()
          .hasMessageContaining("password authentication failed");
      NoSecrets.assertHidden(thrown, role.password(), WRONG);
    }
  }
}

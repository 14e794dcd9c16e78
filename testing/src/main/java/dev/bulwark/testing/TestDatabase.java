package dev.bulwark.testing;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;

/**
 * A database or schema made for one test by {@link TestPostgres#newDatabase()} or {@link
 * TestPostgres#newSchema()}. {@link #close()} drops it. Thread-safe.
 */
public final class TestDatabase implements AutoCloseable {
  private final TestPostgres server;
  private final String database;
  private final @Nullable String schema;

  TestDatabase(TestPostgres server, String database, @Nullable String schema) {
    this.server = server;
    this.database = database;
    this.schema = schema;
  }

  /** {@return the database name} */
  public String database() {
    return database;
  }

  /** {@return the schema name, or null when this is a whole database} */
  public @Nullable String schema() {
    return schema;
  }

  /**
   * Returns a pgjdbc URL, without credentials, whose connections use this database and, for a
   * schema, have it first on their search path.
   *
   * @return the URL
   */
  public String jdbcUrl() {
    String url = server.jdbcUrl(database);
    return schema == null ? url : url + "?currentSchema=" + schema;
  }

  /** {@return the user name to connect with} */
  public String user() {
    return server.user();
  }

  /** {@return the password to connect with} */
  public String password() {
    return server.password();
  }

  /** {@return the server this database lives on} */
  public TestPostgres server() {
    return server;
  }

  /** {@return an unpooled data source; each connection is a new backend} */
  public DataSource dataSource() {
    return server.dataSource(jdbcUrl());
  }

  /**
   * Opens a new connection. The caller closes it.
   *
   * @return a new connection
   * @throws SQLException if the server refuses it
   */
  public Connection connect() throws SQLException {
    return DriverManager.getConnection(jdbcUrl(), user(), password());
  }

  /**
   * Drops the database (ending its sessions first) or the schema with everything in it.
   *
   * @throws IllegalStateException if the server refuses
   */
  @Override
  public void close() {
    if (schema == null) {
      server.execute("drop database if exists " + database + " with (force)");
    } else {
      server.execute("drop schema if exists " + schema + " cascade");
    }
  }

  @Override
  public String toString() {
    return schema == null ? "database " + database : "schema " + database + "." + schema;
  }
}

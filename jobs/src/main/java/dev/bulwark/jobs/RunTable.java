package dev.bulwark.jobs;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import org.jspecify.annotations.Nullable;

/**
 * The table of the periods that ran, one row per {@code (scheduler, job, period_start)}: the fence
 * that keeps a period from running twice, whichever instance holds the lock when. The scheduler's
 * name is part of every row's key, as it is of the lock keys, so that schedulers of different names
 * that share the table never see each other's runs. Every statement reads the database's clock with
 * {@code clock_timestamp()}, never {@code now()}, which is the start of the transaction. Immutable;
 * each method runs on the connection it is given.
 */
final class RunTable {
  private final String table;
  private final String scheduler;
  private final String insertPeriod;
  private final String insertIfDelayPassed;
  private final String lastEnd;
  private final String finish;
  private final String prune;

  /** The table {@code table} of the runs of scheduler {@code scheduler}'s jobs. */
  RunTable(String table, String scheduler) {
    this.table = table;
    this.scheduler = scheduler;
    this.insertPeriod =
        "insert into "
            + table
            + " (scheduler, job, period_start, owner, started_at)"
            + " values (?, ?, ?, ?, clock_timestamp()) on conflict do nothing";
    this.insertIfDelayPassed =
        "insert into "
            + table
            + " (scheduler, job, period_start, owner, started_at)"
            + " select ?, ?, date_trunc('milliseconds', clock_timestamp()), ?, clock_timestamp()"
            + " where not exists (select 1 from "
            + table
            + " where scheduler = ? and job = ?"
            + " and coalesce(finished_at, period_start) + make_interval(secs => ?)"
            + " > clock_timestamp())"
            + " on conflict do nothing returning period_start";
    this.lastEnd =
        "select max(coalesce(finished_at, period_start)) from "
            + table
            + " where scheduler = ? and job = ?";
    this.finish =
        "update "
            + table
            + " set finished_at = clock_timestamp(), outcome = ?"
            + " where scheduler = ? and job = ? and period_start = ?";
    this.prune = "delete from " + table + " where scheduler = ? and job = ? and period_start < ?";
  }

  String name() {
    return table;
  }

  /**
   * Creates the table unless it exists. {@code create table if not exists} alone can fail when two
   * instances run it at once, so it runs under a transaction-level advisory lock.
   */
  void migrate(Connection c) throws SQLException {
    boolean autoCommit = c.getAutoCommit();
    c.setAutoCommit(false);
    try (Statement s = c.createStatement()) {
      s.execute("select pg_advisory_xact_lock(" + LockKeys.migration(table) + ")");
      s.execute(
          "create table if not exists "
              + table
              + " (scheduler text not null, job text not null, period_start timestamptz not null,"
              + " owner text not null, started_at timestamptz not null, finished_at timestamptz,"
              + " outcome text, primary key (scheduler, job, period_start))");
      c.commit();
    } catch (SQLException | RuntimeException e) {
      c.rollback();
      throw e;
    } finally {
      c.setAutoCommit(autoCommit);
    }
  }

  /** Records a fixed period; true if this call recorded it, false if it was already there. */
  boolean claim(Connection c, String job, Instant periodStart, String owner) throws SQLException {
    try (PreparedStatement s = c.prepareStatement(insertPeriod)) {
      s.setString(1, scheduler);
      s.setString(2, job);
      s.setObject(3, timestamp(periodStart));
      s.setString(4, owner);
      return s.executeUpdate() == 1;
    }
  }

  /**
   * Records a run of a fixed-delay job if the delay has passed since the last run ended; returns
   * the recorded period's start, or null if the delay has not passed yet.
   */
  @Nullable Instant claimAfterDelay(Connection c, String job, Duration delay, String owner)
      throws SQLException {
    try (PreparedStatement s = c.prepareStatement(insertIfDelayPassed)) {
      s.setString(1, scheduler);
      s.setString(2, job);
      s.setString(3, owner);
      s.setString(4, scheduler);
      s.setString(5, job);
      s.setLong(6, delay.getSeconds());
      try (ResultSet r = s.executeQuery()) {
        return r.next() ? instant(r, 1) : null;
      }
    }
  }

  /** When the last run of a job ended (or started, if it never ended), or null if none ran. */
  @Nullable Instant lastEnd(Connection c, String job) throws SQLException {
    try (PreparedStatement s = c.prepareStatement(lastEnd)) {
      s.setString(1, scheduler);
      s.setString(2, job);
      try (ResultSet r = s.executeQuery()) {
        return r.next() ? instant(r, 1) : null;
      }
    }
  }

  /** Records how a run ended. */
  void finish(Connection c, String job, Instant periodStart, String outcome) throws SQLException {
    try (PreparedStatement s = c.prepareStatement(finish)) {
      s.setString(1, outcome);
      s.setString(2, scheduler);
      s.setString(3, job);
      s.setObject(4, timestamp(periodStart));
      s.executeUpdate();
    }
  }

  /** Deletes a job's rows of periods that started before {@code before}. */
  int prune(Connection c, String job, Instant before) throws SQLException {
    try (PreparedStatement s = c.prepareStatement(prune)) {
      s.setString(1, scheduler);
      s.setString(2, job);
      s.setObject(3, timestamp(before));
      return s.executeUpdate();
    }
  }

  static OffsetDateTime timestamp(Instant instant) {
    return OffsetDateTime.ofInstant(instant, ZoneOffset.UTC);
  }

  static @Nullable Instant instant(ResultSet r, int column) throws SQLException {
    OffsetDateTime value = r.getObject(column, OffsetDateTime.class);
    return value == null ? null : value.toInstant();
  }
}

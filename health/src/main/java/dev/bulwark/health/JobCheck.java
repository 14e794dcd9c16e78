package dev.bulwark.health;

import dev.bulwark.core.internal.Checks;
import dev.bulwark.jobs.JobSnapshot;
import dev.bulwark.jobs.LockingScheduler;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * {@link HealthChecks#job(LockingScheduler, String, Duration)}: the age of a job's last success
 * against a maximum. A class of its own, so that bulwark-jobs is loaded only when a job is checked.
 * Immutable and thread-safe.
 */
final class JobCheck implements HealthCheck {
  static final String NO_SUCCESS_YET = "no successful run yet";

  private final LockingScheduler scheduler;
  private final String job;
  private final Duration maxAge;
  private final InstantSource clock;

  /** When the check was made: what the age of a job that never succeeded is counted from. */
  private final Instant created;

  JobCheck(LockingScheduler scheduler, String job, Duration maxAge, InstantSource clock) {
    this.scheduler = scheduler;
    this.job = job;
    this.maxAge = maxAge;
    this.clock = clock;
    this.created = clock.instant();
  }

  @Override
  public HealthResult check() {
    Optional<JobSnapshot> found = scheduler.snapshot(job);
    if (found.isEmpty()) {
      return HealthChecks.result(
          Status.FAIL,
          Checks.format("scheduler %s has no job named %s", scheduler.name(), job),
          null,
          null,
          HealthChecks.COMPONENT,
          Map.of());
    }
    return rate(found.get(), maxAge, created, clock.instant());
  }

  static HealthResult rate(JobSnapshot snapshot, Duration maxAge, Instant created, Instant now) {
    Instant success = snapshot.lastSuccess();
    Instant failure = snapshot.lastFailure();
    boolean lastFailed = failure != null && (success == null || failure.isAfter(success));
    Duration age = Duration.between(success == null ? created : success, now);
    Findings findings = new Findings();
    if (age.compareTo(maxAge) > 0) {
      String failed = lastFailed ? "; " + failed(snapshot, failure) : "";
      findings.add(
          Status.FAIL,
          success == null
              ? Checks.format(
                  "job %s has not succeeded in the %s since the check was made, max age %s%s",
                  snapshot.name(), seconds(age), seconds(maxAge), failed)
              : Checks.format(
                  "job %s last succeeded %s ago, at %s, max age %s%s",
                  snapshot.name(), seconds(age), success, seconds(maxAge), failed));
    } else if (lastFailed) {
      findings.add(Status.WARN, "job " + snapshot.name() + ": " + failed(snapshot, failure));
    }
    Map<String, Object> details = new LinkedHashMap<>();
    details.put("schedule", snapshot.schedule());
    details.put("running", snapshot.running());
    details.put("maxAgeSeconds", maxAge.getSeconds());
    putInstant(details, "lastSuccess", success);
    putInstant(details, "lastFailure", failure);
    String message = snapshot.lastFailureMessage();
    if (message != null) {
      details.put("lastFailureMessage", message);
    }
    putInstant(details, "nextRun", snapshot.nextRun());
    details.put("runs", snapshot.runs());
    details.put("successes", snapshot.successes());
    details.put("failures", snapshot.failures());
    details.put("missed", snapshot.missed());
    details.put("errors", snapshot.errors());
    String output = findings.output();
    if (output == null && success == null) {
      output = NO_SUCCESS_YET;
    }
    return HealthChecks.result(
        findings.status(),
        output,
        success == null ? null : Math.max(0, age.getSeconds()),
        success == null ? null : "s",
        HealthChecks.COMPONENT,
        details);
  }

  private static String failed(JobSnapshot snapshot, @Nullable Instant failure) {
    String message = snapshot.lastFailureMessage();
    return "last attempt failed at " + failure + (message == null ? "" : ": " + message);
  }

  /** Whole seconds, {@code "90000 s"}. */
  private static String seconds(Duration value) {
    return Checks.seconds(Duration.ofSeconds(value.getSeconds()));
  }

  private static void putInstant(Map<String, Object> details, String name, @Nullable Instant at) {
    if (at != null) {
      details.put(name, at.toString());
    }
  }
}

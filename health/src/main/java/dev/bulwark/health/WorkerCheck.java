package dev.bulwark.health;

import dev.bulwark.core.internal.Checks;
import dev.bulwark.jobs.BoundedWorker;
import dev.bulwark.jobs.StopReason;
import dev.bulwark.jobs.WorkerLedger;
import dev.bulwark.jobs.WorkerSnapshot;
import dev.bulwark.jobs.WorkerState;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * {@link HealthChecks#worker(BoundedWorker, Threshold)}: a worker's queue depth, state and ledger.
 * A class of its own, so that bulwark-jobs is loaded only when a worker is checked. Stateless and
 * thread-safe.
 */
final class WorkerCheck implements HealthCheck {
  private final BoundedWorker<?> worker;
  private final Threshold depth;

  WorkerCheck(BoundedWorker<?> worker, Threshold depth) {
    this.worker = worker;
    this.depth = depth;
  }

  @Override
  public HealthResult check() {
    return rate(worker.snapshot(), depth);
  }

  static HealthResult rate(WorkerSnapshot snapshot, Threshold depth) {
    Findings findings = new Findings();
    StopReason reason = snapshot.stopReason();
    String why = reason == null ? "" : " (" + reason + ")";
    if (snapshot.state() == WorkerState.STOPPED) {
      findings.add(Status.FAIL, "worker " + snapshot.name() + " is stopped" + why);
    } else if (snapshot.state() == WorkerState.STOPPING) {
      findings.add(
          Status.FAIL, "worker " + snapshot.name() + " is stopping" + why + ": intake is closed");
    } else if (snapshot.state() == WorkerState.PAUSED) {
      findings.add(
          Status.WARN,
          "worker " + snapshot.name() + " paused its intake: the heap is above its memory ceiling");
    }
    WorkerLedger ledger = snapshot.ledger();
    if (ledger.unaccounted() != 0) {
      findings.add(
          Status.FAIL,
          Checks.format(
              "worker %s's ledger does not balance: %s unaccounted",
              snapshot.name(), HealthChecks.count(ledger.unaccounted(), "item")));
    }
    Status queued = depth.rate(snapshot.depth());
    findings.add(
        queued,
        Checks.format(
            "worker %s has %s queued (capacity %d), %s",
            snapshot.name(),
            HealthChecks.count(snapshot.depth(), "item"),
            snapshot.capacity(),
            HealthChecks.level(queued, depth, " items")));
    Map<String, Object> details = new LinkedHashMap<>();
    details.put("state", snapshot.state().name());
    if (reason != null) {
      details.put("stopReason", reason.name());
    }
    details.put("capacity", snapshot.capacity());
    details.put("inHandler", snapshot.inHandler());
    details.put("submitted", ledger.submitted());
    details.put("processed", ledger.processed());
    details.put("deadLettered", ledger.deadLettered());
    details.put("rejected", ledger.rejected());
    details.put("dropped", ledger.dropped());
    details.put("returned", ledger.returned());
    details.put("inFlight", ledger.inFlight());
    details.put("unaccounted", ledger.unaccounted());
    details.put("batches", snapshot.batches());
    details.put("failedAttempts", snapshot.failedAttempts());
    String lastFailure = snapshot.lastFailure();
    if (lastFailure != null) {
      details.put("lastFailure", lastFailure);
    }
    return HealthChecks.result(
        findings.status(),
        findings.output(),
        snapshot.depth(),
        "items",
        HealthChecks.COMPONENT,
        details);
  }
}

package dev.bulwark.jobs;

/**
 * What {@link BoundedWorker#offer(Object)} did with an item. Two outcomes take the item ({@link
 * #accepted()}); the others leave it with the caller, who still holds it. Every outcome is counted:
 * in {@link WorkerSnapshot#offers()}, and in the meters {@code bulwark.jobs.worker.submitted} (all
 * of them) and {@code bulwark.jobs.worker.rejected} (the rejections, tagged {@code reason} with
 * {@link #tag()}).
 */
public enum Offer {
  /** The item was queued. */
  ACCEPTED(true, "accepted"),
  /**
   * The item was queued, and the queue being full, its oldest item was dropped to make room (only
   * with {@link BoundedWorker.Builder#dropOldestWhenFull()}). The dropped item is counted in {@link
   * WorkerLedger#dropped()} and handed to the {@linkplain BoundedWorker.Builder#onDrop drop
   * callback}, or logged when there is none.
   */
  ACCEPTED_DROPPED_OLDEST(true, "accepted_dropped_oldest"),
  /** The queue was full (the default policy, {@link BoundedWorker.Builder#rejectWhenFull()}). */
  REJECTED_FULL(false, "full"),
  /** The queue stayed full for the whole wait of {@link BoundedWorker.Builder#blockWhenFull}. */
  REJECTED_TIMEOUT(false, "timeout"),
  /**
   * The caller's thread was interrupted while it waited for room ({@link
   * BoundedWorker.Builder#blockWhenFull}); its interrupt status is kept.
   */
  REJECTED_INTERRUPTED(false, "interrupted"),
  /**
   * Intake is paused because the heap is above the {@linkplain BoundedWorker.Builder#memoryCeiling
   * memory ceiling}; it resumes when the heap is below it again.
   */
  REJECTED_MEMORY(false, "memory"),
  /** The worker is stopping or has stopped: {@code close()}, {@code shutdown} or a limit. */
  REJECTED_CLOSED(false, "closed");

  private final boolean accepted;
  private final String tag;

  Offer(boolean accepted, String tag) {
    this.accepted = accepted;
    this.tag = tag;
  }

  /**
   * Whether the worker took the item.
   *
   * @return true for {@link #ACCEPTED} and {@link #ACCEPTED_DROPPED_OLDEST}
   */
  public boolean accepted() {
    return accepted;
  }

  /**
   * The outcome as a meter tag: the {@code reason} of {@code bulwark.jobs.worker.rejected} for a
   * rejection, and the key of {@link WorkerSnapshot#offers()} in logs.
   *
   * @return {@code "accepted"}, {@code "accepted_dropped_oldest"}, {@code "full"}, {@code
   *     "timeout"}, {@code "interrupted"}, {@code "memory"} or {@code "closed"}
   */
  public String tag() {
    return tag;
  }
}

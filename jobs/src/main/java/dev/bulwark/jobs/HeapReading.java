package dev.bulwark.jobs;

import com.sun.management.GarbageCollectionNotificationInfo;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.lang.management.MemoryUsage;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.DoubleSupplier;
import javax.management.ListenerNotFoundException;
import javax.management.Notification;
import javax.management.NotificationEmitter;
import javax.management.NotificationListener;
import javax.management.openmbean.CompositeData;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The heap in use, as a fraction of the most it may grow to, for the memory ceiling.
 *
 * <p>The reading is the heap in use just after the last garbage collection, summed over the heap's
 * pools from the collectors' notifications ({@code com.sun.management}, on HotSpot and OpenJ9): the
 * live data and what the collector could not free, without the garbage that fills the young
 * generation between two collections. The heap's current usage would count that garbage, and cross
 * a ceiling of 0.9 before most young collections of a busy heap; the usage after a collection is
 * what a ceiling means to bound. It is updated at every collection, young ones included, for every
 * pool; the listener then tells the worker at once. The notifications of the pauses within a
 * concurrent collector's cycle (ZGC's, Shenandoah's), which end no collection and give zero bytes
 * used, are not readings.
 *
 * <p>Before the first notification, or where the JVM sends none, the reading is the heap's current
 * usage ({@link MemoryMXBean#getHeapMemoryUsage()}), which errs high, never low. Usage thresholds
 * ({@link MemoryPoolMXBean#setUsageThreshold}) are not used: they are one setting per pool for the
 * whole JVM, which two workers, or a monitoring agent, would overwrite for each other.
 *
 * <p>The maximum is the heap's {@code -Xmx} ({@link MemoryUsage#getMax()}), or its committed size
 * where no maximum is defined. Thread-safe.
 */
final class HeapReading implements DoubleSupplier {
  private static final Logger LOG = LoggerFactory.getLogger(HeapReading.class);

  private final MemoryMXBean memory = ManagementFactory.getMemoryMXBean();
  private final Set<String> heapPools = new HashSet<>();
  private final List<NotificationEmitter> emitters = new ArrayList<>();
  private final NotificationListener listener = this::collected;
  private final Runnable onReading;
  private volatile double afterCollection = Double.NaN;

  /** A reading that listens to nothing yet: {@link #start} listens; tests feed it. */
  HeapReading(Runnable onReading) {
    this.onReading = onReading;
    for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
      if (pool.getType() == MemoryType.HEAP) {
        heapPools.add(pool.getName());
      }
    }
  }

  /**
   * Starts reading.
   *
   * @param onReading run on the JVM's notification thread after each collection's new reading
   */
  static HeapReading start(Runnable onReading) {
    HeapReading reading = new HeapReading(onReading);
    reading.listen();
    return reading;
  }

  private synchronized void listen() {
    try {
      for (GarbageCollectorMXBean collector : ManagementFactory.getGarbageCollectorMXBeans()) {
        if (collector instanceof NotificationEmitter) {
          NotificationEmitter emitter = (NotificationEmitter) collector;
          emitter.addNotificationListener(listener, null, null);
          emitters.add(emitter);
        }
      }
    } catch (LinkageError | RuntimeException e) {
      LOG.debug("no garbage collection notifications; reading the heap's current usage", e);
    }
  }

  /** {@return true once a collection's notification has given a reading} */
  boolean notified() {
    return !Double.isNaN(afterCollection);
  }

  @Override
  public double getAsDouble() {
    double after = afterCollection;
    if (!Double.isNaN(after)) {
      return after;
    }
    MemoryUsage heap = memory.getHeapMemoryUsage();
    return heap.getUsed() / (double) max(heap);
  }

  private static long max(MemoryUsage heap) {
    long max = heap.getMax() > 0 ? heap.getMax() : heap.getCommitted();
    return Math.max(1, max);
  }

  private void collected(Notification notification, @Nullable Object handback) {
    if (!GarbageCollectionNotificationInfo.GARBAGE_COLLECTION_NOTIFICATION.equals(
        notification.getType())) {
      return;
    }
    try {
      GarbageCollectionNotificationInfo info =
          GarbageCollectionNotificationInfo.from((CompositeData) notification.getUserData());
      collected(info.getGcName(), info.getGcInfo().getMemoryUsageAfterGc());
    } catch (RuntimeException e) {
      LOG.debug("could not read a garbage collection notification", e);
    }
  }

  /**
   * Takes the reading of one collector's notification, unless it does not end a collection.
   *
   * <p>The concurrent collectors have a bean for their cycles and one for the pauses within a cycle
   * ({@code ZGC Pauses}, {@code ZGC Minor Pauses}, {@code ZGC Major Pauses}, {@code Shenandoah
   * Pauses}). A pause ends no collection, and its notification gives zero bytes used in every pool:
   * taken as a reading, it would resume a paused intake several times per cycle. Those, and any
   * notification that gives no heap pool a byte in use (a heap is never empty after a collection),
   * are ignored; the cycle's own notification gives the reading.
   *
   * @param collector the collector bean's name
   * @param afterGc the pools' usage after the collection, by pool name
   */
  void collected(String collector, Map<String, MemoryUsage> afterGc) {
    if (collector.endsWith(" Pauses")) {
      return;
    }
    long used = 0;
    for (Map.Entry<String, MemoryUsage> pool : afterGc.entrySet()) {
      if (heapPools.contains(pool.getKey())) {
        used += pool.getValue().getUsed();
      }
    }
    if (used <= 0) {
      return;
    }
    afterCollection = used / (double) max(memory.getHeapMemoryUsage());
    onReading.run();
  }

  /** Stops listening. Calling it again does nothing. */
  synchronized void close() {
    for (NotificationEmitter emitter : emitters) {
      try {
        emitter.removeNotificationListener(listener);
      } catch (ListenerNotFoundException e) {
        // removed already
      }
    }
    emitters.clear();
  }
}

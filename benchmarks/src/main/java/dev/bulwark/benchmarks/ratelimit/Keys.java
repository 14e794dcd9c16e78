package dev.bulwark.benchmarks.ratelimit;

import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Keys built before a run, and a random walk over them, so that no benchmark times building a key
 * or drawing a random number: a decision reads {@code keys[walk[i]]} and advances {@code i}.
 */
final class Keys {
  /** The length of a walk, a power of two. */
  static final int WALK = 1 << 16;

  private static final AtomicInteger THREADS = new AtomicInteger();

  private Keys() {}

  /** {@code prefix + 0} to {@code prefix + (count - 1)}. */
  static String[] named(String prefix, int count) {
    String[] keys = new String[count];
    for (int i = 0; i < count; i++) {
      keys[i] = prefix + i;
    }
    return keys;
  }

  /** {@value #WALK} indices drawn uniformly below {@code count}, the same in every run. */
  static int[] walk(int count) {
    SplittableRandom random = new SplittableRandom(42);
    int[] walk = new int[WALK];
    for (int i = 0; i < WALK; i++) {
      walk[i] = random.nextInt(count);
    }
    return walk;
  }

  /** A start in the walk for each new thread, far from the other threads' starts. */
  static int start() {
    return THREADS.incrementAndGet() * 0x9E3779B9;
  }
}

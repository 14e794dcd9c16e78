package dev.bulwark.cache;

import org.jspecify.annotations.Nullable;

/**
 * One cached value, or the remembered absence of one ({@code value == null}), with the invalidation
 * clock's reading taken before it was loaded or put the tags its key had then, and the ticker's
 * reading when it was written. Immutable.
 */
final class Entry<V> {
  private static final String[] NO_TAGS = new String[0];

  final @Nullable V value;
  final long stamp;
  final String[] tags;
  final long written;

  Entry(@Nullable V value, long stamp, String[] tags, long written) {
    this.value = value;
    this.stamp = stamp;
    this.written = written;
    this.tags = tags.length == 0 ? NO_TAGS : tags;
  }

  static String[] noTags() {
    return NO_TAGS;
  }

  boolean isAbsent() {
    return value == null;
  }
}

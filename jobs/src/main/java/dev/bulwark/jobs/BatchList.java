package dev.bulwark.jobs;

import java.util.AbstractList;
import java.util.RandomAccess;

/**
 * A batch as its handler sees it: an unmodifiable list over the array the queue filled, which
 * nothing else holds, so the handler may keep it. No copy is made.
 */
final class BatchList<T> extends AbstractList<T> implements RandomAccess {
  private final Object[] items;

  BatchList(Object[] items) {
    this.items = items;
  }

  // Only items of type T are ever offered to the queue that filled the array.
  @SuppressWarnings("unchecked")
  @Override
  public T get(int index) {
    return (T) items[index];
  }

  @Override
  public int size() {
    return items.length;
  }

  @Override
  public Object[] toArray() {
    return items.clone();
  }
}

package dev.bulwark.cache;

/**
 * Thrown by a write of a cache with a Redis tier ({@link BoundedCache#put}, {@link
 * BoundedCache#invalidate}, {@link BoundedCache#invalidateAll}) that reached this instance but not
 * Redis, or Redis but not the invalidation channel: the other instances may still hold the old
 * value, for at most their {@code expireAfterWrite}. This instance's copy was already updated or
 * dropped when it is thrown.
 *
 * <p>What to do: retry the write (it is idempotent), or accept the bound. The failure is counted in
 * {@code bulwark.cache.propagation.failures}. The message names the cache and the operation, never
 * the key or the value.
 */
public final class CachePropagationException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** The cache's name. */
  private final String cache;

  CachePropagationException(String cache, String message, Throwable cause) {
    super(message, cause);
    this.cache = cache;
  }

  /** {@return the name of the cache whose write did not propagate} */
  public String cache() {
    return cache;
  }
}

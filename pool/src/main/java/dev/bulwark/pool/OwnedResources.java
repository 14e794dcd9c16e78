package dev.bulwark.pool;

import io.lettuce.core.resource.ClientResources;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Shuts down the {@link ClientResources} a builder created, once, after the client that uses them
 * has shut down, and first runs the client's own clean-up (its meters). Resources the caller passed
 * in are left alone.
 */
final class OwnedResources {
  private final ClientResources resources;
  private final boolean owned;
  private final Runnable afterShutdown;
  private final AtomicBoolean released = new AtomicBoolean();

  /**
   * @param afterShutdown run once the client has shut down, before the resources are; must not
   *     throw, and may run more than once
   */
  OwnedResources(ClientResources resources, boolean owned, Runnable afterShutdown) {
    this.resources = resources;
    this.owned = owned;
    this.afterShutdown = afterShutdown;
  }

  /**
   * Returns a future that completes when the client has shut down and, if they are owned, the
   * resources have too. A client failure is reported after the resources are released.
   */
  CompletableFuture<Void> releaseAfter(
      CompletableFuture<Void> shutdown, long quietPeriod, long timeout, TimeUnit unit) {
    CompletableFuture<Void> clientShutdown = shutdown.whenComplete((v, e) -> afterShutdown.run());
    if (!owned || !released.compareAndSet(false, true)) {
      return clientShutdown;
    }
    CompletableFuture<Void> done = new CompletableFuture<>();
    // The stage whenComplete returns only repeats clientShutdown's outcome; done reports both.
    CompletableFuture<Void> unused =
        clientShutdown.whenComplete(
            (ignored, clientFailure) -> {
              try {
                resources
                    .shutdown(quietPeriod, timeout, unit)
                    .addListener(
                        released -> {
                          if (clientFailure != null) {
                            done.completeExceptionally(clientFailure);
                          } else if (!released.isSuccess()) {
                            done.completeExceptionally(released.cause());
                          } else {
                            done.complete(null);
                          }
                        });
              } catch (RuntimeException e) {
                // The ignored stage would swallow this and leave done pending for ever.
                if (clientFailure != null) {
                  clientFailure.addSuppressed(e);
                  done.completeExceptionally(clientFailure);
                } else {
                  done.completeExceptionally(e);
                }
              }
            });
    return done;
  }
}

package dev.bulwark.pool;

import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.resource.ClientResources;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;

/**
 * A {@link RedisClient} that also shuts down the {@link ClientResources} its builder created, and
 * removes the meters of its {@link SilenceDetector}. Every shutdown method of Lettuce's client ends
 * in {@link #shutdownAsync(long, long, TimeUnit)}.
 */
final class OwningRedisClient extends RedisClient {
  private final OwnedResources resources;
  private final @Nullable SilenceDetector detector;

  OwningRedisClient(
      ClientResources resources, RedisURI uri, boolean owned, @Nullable SilenceDetector detector) {
    super(resources, uri);
    this.detector = detector;
    this.resources =
        new OwnedResources(
            resources,
            owned,
            () -> {
              if (detector != null) {
                detector.close();
              }
            });
  }

  @Override
  public CompletableFuture<Void> shutdownAsync(long quietPeriod, long timeout, TimeUnit timeUnit) {
    return resources.releaseAfter(
        super.shutdownAsync(quietPeriod, timeout, timeUnit), quietPeriod, timeout, timeUnit);
  }

  /** {@return the client's silence detector, null when it is off; for tests} */
  @Nullable SilenceDetector detector() {
    return detector;
  }
}

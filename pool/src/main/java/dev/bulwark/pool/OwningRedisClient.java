package dev.bulwark.pool;

import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.resource.ClientResources;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * A {@link RedisClient} that also shuts down the {@link ClientResources} its builder created. Every
 * shutdown method of Lettuce's client ends in {@link #shutdownAsync(long, long, TimeUnit)}.
 */
final class OwningRedisClient extends RedisClient {
  private final OwnedResources resources;

  OwningRedisClient(ClientResources resources, RedisURI uri, boolean owned) {
    super(resources, uri);
    this.resources = new OwnedResources(resources, owned);
  }

  @Override
  public CompletableFuture<Void> shutdownAsync(long quietPeriod, long timeout, TimeUnit timeUnit) {
    return resources.releaseAfter(
        super.shutdownAsync(quietPeriod, timeout, timeUnit), quietPeriod, timeout, timeUnit);
  }
}

package dev.bulwark.pool;

import io.lettuce.core.RedisURI;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.resource.ClientResources;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * A {@link RedisClusterClient} that also shuts down the {@link ClientResources} its builder
 * created. Every shutdown method of Lettuce's client ends in {@link #shutdownAsync(long, long,
 * TimeUnit)}.
 */
final class OwningRedisClusterClient extends RedisClusterClient {
  private final OwnedResources resources;

  OwningRedisClusterClient(ClientResources resources, List<RedisURI> seeds, boolean owned) {
    super(resources, seeds);
    this.resources = new OwnedResources(resources, owned);
  }

  @Override
  public CompletableFuture<Void> shutdownAsync(long quietPeriod, long timeout, TimeUnit timeUnit) {
    return resources.releaseAfter(
        super.shutdownAsync(quietPeriod, timeout, timeUnit), quietPeriod, timeout, timeUnit);
  }
}

package dev.bulwark.pool;

import io.lettuce.core.event.EventBus;
import io.lettuce.core.event.EventPublisherOptions;
import io.lettuce.core.metrics.CommandLatencyRecorder;
import io.lettuce.core.resource.ClientResources;
import io.lettuce.core.resource.Delay;
import io.lettuce.core.resource.EventLoopGroupProvider;
import io.lettuce.core.resource.NettyCustomizer;
import io.lettuce.core.resource.SocketAddressResolver;
import io.lettuce.core.tracing.Tracing;
import io.netty.resolver.AddressResolverGroup;
import io.netty.util.Timer;
import io.netty.util.concurrent.EventExecutorGroup;
import io.netty.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * The caller's {@link ClientResources}, with the client's {@link SilenceDetector} as their {@link
 * NettyCustomizer} (which runs the caller's own customizer first). Everything else is the caller's:
 * the same event loops, timer and recorder, so nothing here needs shutting down, and {@link
 * #shutdown()} shuts down the caller's resources. {@code ClientResources.mutate()} is not used for
 * this: the copy it builds starts a second latency publisher and warns when it is collected without
 * a shutdown that would also stop the caller's threads.
 */
final class CustomizedResources implements ClientResources {
  private final ClientResources resources;
  private final NettyCustomizer customizer;

  CustomizedResources(ClientResources resources, NettyCustomizer customizer) {
    this.resources = resources;
    this.customizer = customizer;
  }

  /** {@return a builder of the caller's resources: without the silence detector} */
  @Override
  public Builder mutate() {
    return resources.mutate();
  }

  @Override
  public Future<Boolean> shutdown() {
    return resources.shutdown();
  }

  @Override
  public Future<Boolean> shutdown(long quietPeriod, long timeout, TimeUnit timeUnit) {
    return resources.shutdown(quietPeriod, timeout, timeUnit);
  }

  @Override
  public AddressResolverGroup<?> addressResolverGroup() {
    return resources.addressResolverGroup();
  }

  @Override
  public EventPublisherOptions commandLatencyPublisherOptions() {
    return resources.commandLatencyPublisherOptions();
  }

  @Override
  public CommandLatencyRecorder commandLatencyRecorder() {
    return resources.commandLatencyRecorder();
  }

  @Override
  public int computationThreadPoolSize() {
    return resources.computationThreadPoolSize();
  }

  @Override
  public EventBus eventBus() {
    return resources.eventBus();
  }

  @Override
  public EventLoopGroupProvider eventLoopGroupProvider() {
    return resources.eventLoopGroupProvider();
  }

  @Override
  public EventExecutorGroup eventExecutorGroup() {
    return resources.eventExecutorGroup();
  }

  @Override
  public int ioThreadPoolSize() {
    return resources.ioThreadPoolSize();
  }

  @Override
  public NettyCustomizer nettyCustomizer() {
    return customizer;
  }

  @Override
  public Delay reconnectDelay() {
    return resources.reconnectDelay();
  }

  @Override
  public SocketAddressResolver socketAddressResolver() {
    return resources.socketAddressResolver();
  }

  @Override
  public Timer timer() {
    return resources.timer();
  }

  @Override
  public Tracing tracing() {
    return resources.tracing();
  }
}

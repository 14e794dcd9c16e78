package dev.bulwark.pool;

import dev.bulwark.core.internal.NamedThreads;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Daemon threads named {@code bulwark-pool-<name>-<n>}, n counting from 1, for the event loops and
 * timer of the Lettuce resources a builder creates. It extends Netty's factory so that the threads
 * stay {@code FastThreadLocalThread}s, which Netty's event loops are tuned for.
 */
final class NettyThreadFactory extends DefaultThreadFactory {
  private final String prefix;
  private final AtomicInteger next = new AtomicInteger(1);

  NettyThreadFactory(String name) {
    super(NamedThreads.prefix("pool", name), true);
    this.prefix = NamedThreads.prefix("pool", name);
  }

  @Override
  protected Thread newThread(Runnable task, String nettyName) {
    return super.newThread(task, prefix + next.getAndIncrement());
  }
}

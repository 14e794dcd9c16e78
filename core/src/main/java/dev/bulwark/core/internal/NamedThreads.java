package dev.bulwark.core.internal;

import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Daemon threads named {@code bulwark-<module>-<name>-<n>}, {@code n} counting from 1 per factory,
 * so that a thread dump says which bulwark object owns each thread.
 *
 * <p>The threads inherit no thread-locals from the thread that happens to create them (a request's
 * context must not stick to a pool thread), and their context class loader is bulwark's own, not
 * the creator's, so that a pool thread started during one web application's request does not pin
 * that application's class loader.
 *
 * <p>Internal: not part of the API. Thread-safe.
 */
public final class NamedThreads implements ThreadFactory {
  private final String prefix;
  private final AtomicInteger next = new AtomicInteger(1);

  private NamedThreads(String prefix) {
    this.prefix = prefix;
  }

  /**
   * A factory of daemon threads named {@code bulwark-<module>-<name>-<n>}.
   *
   * @param module the module, as in {@code pool} or {@code timeouts}
   * @param name the owner's name
   * @return a new factory, its count starting at 1
   */
  public static NamedThreads daemon(String module, String name) {
    return new NamedThreads(prefix(module, name));
  }

  /**
   * The prefix of the threads' names, {@code bulwark-<module>-<name>-}, for factories of other
   * libraries (Netty's) that must name their threads the same way.
   *
   * @param module the module
   * @param name the owner's name
   * @return the prefix, ending with {@code '-'}
   */
  public static String prefix(String module, String name) {
    return "bulwark-" + module + "-" + name + "-";
  }

  /**
   * Creates a daemon thread named {@code <prefix><n>}.
   *
   * @param task what the thread runs
   * @return the thread, not started
   */
  @Override
  public Thread newThread(Runnable task) {
    Thread thread = new Thread(null, task, prefix + next.getAndIncrement(), 0, false);
    thread.setDaemon(true);
    thread.setContextClassLoader(NamedThreads.class.getClassLoader());
    return thread;
  }
}

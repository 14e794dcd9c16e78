package dev.bulwark.core.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class NamedThreadsTest {
  private static final InheritableThreadLocal<String> CONTEXT = new InheritableThreadLocal<>();

  @Test
  void daemonThreadsNamedByModuleAndOwnerCountingFromOne() {
    NamedThreads threads = NamedThreads.daemon("pool", "orders");
    Thread first = threads.newThread(() -> {});
    Thread second = threads.newThread(() -> {});
    assertThat(first.getName()).isEqualTo("bulwark-pool-orders-1");
    assertThat(second.getName()).isEqualTo("bulwark-pool-orders-2");
    assertThat(first.isDaemon()).isTrue();
    assertThat(NamedThreads.daemon("pool", "orders").newThread(() -> {}).getName())
        .isEqualTo("bulwark-pool-orders-1");
    assertThat(NamedThreads.prefix("timeouts", "watchdog")).isEqualTo("bulwark-timeouts-watchdog-");
  }

  @Test
  void threadsInheritNoThreadLocalsAndNotTheCreatorsClassLoader() throws Exception {
    ClassLoader creators = new ClassLoader(getClass().getClassLoader()) {};
    ClassLoader before = Thread.currentThread().getContextClassLoader();
    CONTEXT.set("request-42");
    Thread.currentThread().setContextClassLoader(creators);
    try {
      CompletableFuture<String> seen = new CompletableFuture<>();
      Thread thread =
          NamedThreads.daemon("core", "test")
              .newThread(
                  () ->
                      seen.complete(
                          CONTEXT.get()
                              + " "
                              + (Thread.currentThread().getContextClassLoader() == creators)));
      thread.start();
      assertThat(seen.get(10, TimeUnit.SECONDS)).isEqualTo("null false");
    } finally {
      CONTEXT.remove();
      Thread.currentThread().setContextClassLoader(before);
    }
  }
}

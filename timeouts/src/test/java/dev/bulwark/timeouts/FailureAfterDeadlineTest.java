package dev.bulwark.timeouts;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse.BodyHandlers;
import java.net.http.HttpTimeoutException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A limited call that fails once its deadline has passed fails with {@link
 * TimeoutExceededException}, the failure as its cause, whichever came first: the watchdog, or a
 * client timeout clamped to the same deadline. The PostgreSQL and Redis races are in {@link
 * JdbcTimeoutsPoolTest} and {@link RedisTimeoutsTest}.
 */
class FailureAfterDeadlineTest {

  @AfterEach
  void nothingLeaks() {
    assertThat(Thread.interrupted()).as("interrupt status leaked").isFalse();
    assertThat(Deadline.current()).isEmpty();
  }

  @Test
  void aFailureTheMomentTheDeadlinePassesIsATimeoutEveryTime() {
    // A client whose own timeout is the deadline: it gives up the moment the deadline passes,
    // racing the watchdog, which fires at the same moment. Limits of 20 µs to 200 µs let either
    // side win; the outcome must not depend on which did.
    IOException clientTimeout = new IOException("client timed out");
    long[] limitsNanos = {20_000, 50_000, 100_000, 200_000};
    int calls = 10_000;
    int watchdogFirst = 0;
    for (int i = 0; i < calls; i++) {
      Duration limit = Duration.ofNanos(limitsNanos[i % limitsNanos.length]);
      boolean[] ran = new boolean[1];
      boolean[] interrupted = new boolean[1];
      Throwable thrown =
          catchThrowable(
              () ->
                  Timeouts.within(
                      limit,
                      ctx -> {
                        ran[0] = true;
                        Deadline deadline = ctx.deadline();
                        while (!deadline.isExpired()) {
                          Thread.onSpinWait();
                        }
                        interrupted[0] = Thread.currentThread().isInterrupted();
                        throw clientTimeout;
                      }));
      // A limit this short may be over before the call starts; then the call does not run.
      Throwable expectedCause = ran[0] ? clientTimeout : null;
      if (!(thrown instanceof TimeoutExceededException) || thrown.getCause() != expectedCause) {
        throw new AssertionError(
            "call "
                + i
                + " failed with "
                + thrown
                + " instead of a timeout caused by "
                + expectedCause,
            thrown);
      }
      if (Thread.interrupted()) {
        throw new AssertionError("interrupt status leaked after call " + i);
      }
      if (interrupted[0]) {
        watchdogFirst++;
      }
    }
    // Which side won is the machine's business; both counts are in range by construction.
    assertThat(watchdogFirst).isBetween(0, calls);
  }

  @Test
  void aFailureBeforeTheDeadlineStaysWhatItWas() {
    IOException early = new IOException("refused");
    for (int i = 0; i < 1_000; i++) {
      Throwable thrown =
          catchThrowable(
              () ->
                  Timeouts.within(
                      Duration.ofSeconds(10),
                      () -> {
                        throw early;
                      }));
      assertThat(thrown).isSameAs(early);
    }
  }

  @Test
  void aSuccessJustPastTheDeadlineIsStillASuccessIfTheWatchdogHasNotFired() {
    // Only failures are turned into timeouts: a result is never thrown away for being a little
    // late, as long as the watchdog has not fired.
    for (int i = 0; i < 1_000; i++) {
      try {
        String result =
            Timeouts.within(
                Duration.ofNanos(20_000),
                ctx -> {
                  while (!ctx.deadline().isExpired()) {
                    Thread.onSpinWait();
                  }
                  return "late";
                });
        assertThat(result).isEqualTo("late");
      } catch (TimeoutExceededException e) {
        assertThat(e).hasNoCause(); // the watchdog came first
      }
      assertThat(Thread.interrupted()).isFalse();
    }
  }

  @Test
  void anHttpRequestClampedToTheDeadlineFailsTheLimitedCallAsATimeoutEveryTime() throws Exception {
    List<Socket> held = new ArrayList<>();
    try (ServerSocket server = new ServerSocket(0, 200, InetAddress.getLoopbackAddress())) {
      // A server that accepts and never answers.
      Thread acceptor =
          new Thread(
              () -> {
                while (true) {
                  try {
                    Socket s = server.accept();
                    synchronized (held) {
                      held.add(s);
                    }
                  } catch (IOException closed) {
                    return;
                  }
                }
              },
              "silent-http-server");
      acceptor.setDaemon(true);
      acceptor.start();
      HttpClient http = HttpClient.newHttpClient();
      URI uri = URI.create("http://127.0.0.1:" + server.getLocalPort() + "/");
      Call<Object, Exception> request =
          () ->
              http.send(
                  HttpTimeouts.applyTo(HttpRequest.newBuilder(uri), Duration.ofSeconds(10)).build(),
                  BodyHandlers.discarding());
      // Warm up, so that class loading does not spend the first limits.
      catchThrowable(() -> Deadline.after(Duration.ofMillis(50)).call(request));
      for (int i = 0; i < 100; i++) {
        Throwable thrown = catchThrowable(() -> Timeouts.within(Duration.ofMillis(10), request));
        assertThat(thrown).as("call %d", i).isInstanceOf(TimeoutExceededException.class);
        // The client's timeout, the watchdog's interrupt of send(), or, on a slow machine, the
        // helper failing fast because the 10 ms were gone before the request was built.
        assertThat(thrown.getCause())
            .as("cause of call %d", i)
            .isInstanceOfAny(
                HttpTimeoutException.class,
                InterruptedException.class,
                TimeoutExceededException.class);
        assertThat(Thread.interrupted()).as("interrupt leaked after call %d", i).isFalse();
      }
    } finally {
      synchronized (held) {
        for (Socket s : held) {
          s.close();
        }
      }
    }
  }
}

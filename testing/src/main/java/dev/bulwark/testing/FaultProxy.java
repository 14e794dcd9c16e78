package dev.bulwark.testing;

import dev.bulwark.core.internal.Checks;
import dev.bulwark.core.internal.NamedThreads;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A TCP proxy on the loopback interface between a client and a server (the test Redis, the test
 * PostgreSQL, any other), whose network breaks on command: latency in either direction, a
 * blackhole, reset connections, refused connections.
 *
 * <pre>{@code
 * try (FaultProxy proxy = FaultProxy.to(redis.host(), redis.port())) {
 *   RedisClient client = RedisClient.create(RedisURI.create(proxy.host(), proxy.port()));
 *   ...
 *   proxy.blackhole(true); // the connection stays open and nothing is answered
 * }
 * }</pre>
 *
 * <p>Faults:
 *
 * <ul>
 *   <li>{@link #latencyToServer(Duration)}, {@link #latencyToClient(Duration)}: each chunk of bytes
 *       read from one side is held at least that long before it is written to the other. Chunks
 *       keep their order and a direction forwards one chunk at a time, so bytes that arrive while a
 *       chunk waits wait again after it: a delay added per chunk, not a wire of fixed length.
 *   <li>{@link #blackhole(boolean)}: open connections stay open and new ones are accepted and
 *       connected to the server, but every byte read from either side is swallowed. This is the
 *       half-open failure (a peer gone without a FIN or RST, a dropped route) that stopping,
 *       pausing or restarting the server does not reproduce: only the client's own timeouts end the
 *       wait. Bytes swallowed are gone; after {@link #heal()} a connection that lost some is out of
 *       step with its server, so a test that heals should use new connections.
 *   <li>{@link #blackholeOpenConnections()}: the same, for the connections open now only; new
 *       connections pass. This is a failover that moved the server's address, or a NAT or firewall
 *       that forgot the flows: the old connections go silent while a reconnect would work.
 *   <li>{@link #resetConnections()}: every open connection is closed with a TCP RST ({@code
 *       SO_LINGER} 0) on both sides; the client's next read or write fails with a connection reset.
 *   <li>{@link #refuseNewConnections(boolean)}: each new connection is accepted and reset at once,
 *       before any byte is read, so the client's handshake fails with a reset or an end of stream;
 *       open connections are left alone. (The listening socket stays open, so the port cannot be
 *       taken by another process meanwhile.)
 * </ul>
 *
 * <p>Bounds: at most {@value #MAX_CONNECTIONS} connections are open at once (more are reset like
 * refused ones and counted in {@link #refusedConnections()}); each direction of a connection has
 * one {@value #BUFFER_BYTES}-byte buffer and one thread, so a slow side pushes back on the other
 * through TCP rather than filling memory. Connecting to the server waits at most {@value
 * #CONNECT_TIMEOUT_MILLIS} ms; when it fails, the client's connection is reset. When either side
 * ends its connection, or a read or write fails, both sides are closed.
 *
 * <p>Threads are daemons named {@code bulwark-testing-fault-proxy-<n>}: one accepts, two serve each
 * connection. {@link #close()} closes the listening socket and every connection and waits for those
 * threads to end.
 *
 * <p>Thread-safe: faults may be switched from any thread while connections are served; a change
 * applies to bytes read after it (latency also to chunks still waiting).
 */
public final class FaultProxy implements AutoCloseable {

  /** The most connections open at once through one proxy. */
  public static final int MAX_CONNECTIONS = 256;

  /** The size of the buffer of each direction of each connection, in bytes. */
  public static final int BUFFER_BYTES = 16 * 1024;

  /** How long connecting to the server may take, in milliseconds. */
  public static final int CONNECT_TIMEOUT_MILLIS = 5_000;

  /** The largest latency accepted per direction. */
  private static final Duration MAX_LATENCY = Duration.ofMinutes(1);

  private static final Duration CLOSE_WAIT = Duration.ofSeconds(10);
  private static final NamedThreads THREADS = NamedThreads.daemon("testing", "fault-proxy");

  private final String targetHost;
  private final int targetPort;
  private final ServerSocket listener;
  private final Thread acceptor;

  /** Guards the faults' changes and wakes the chunks that wait out a latency. */
  private final Object lock = new Object();

  private volatile long latencyToServerNanos;
  private volatile long latencyToClientNanos;
  private volatile boolean blackholed;
  private volatile boolean refusing;
  private volatile boolean closed;

  private final Set<Link> links = ConcurrentHashMap.newKeySet();
  private final Set<Thread> threads = ConcurrentHashMap.newKeySet();
  private final AtomicInteger open = new AtomicInteger();
  private final AtomicLong accepted = new AtomicLong();
  private final AtomicLong refused = new AtomicLong();
  private final AtomicLong bytesToServer = new AtomicLong();
  private final AtomicLong bytesToClient = new AtomicLong();
  private final AtomicLong bytesSwallowed = new AtomicLong();

  private FaultProxy(String targetHost, int targetPort) {
    this.targetHost = targetHost;
    this.targetPort = targetPort;
    try {
      listener = new ServerSocket();
      listener.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), MAX_CONNECTIONS);
    } catch (IOException e) {
      throw new UncheckedIOException("FaultProxy could not listen on a loopback port", e);
    }
    acceptor = THREADS.newThread(this::accept);
    threads.add(acceptor);
    acceptor.start();
  }

  /**
   * Starts a proxy to a server, listening on a free port of {@code 127.0.0.1}, with no faults.
   *
   * @param host the server's host name or address
   * @param port the server's TCP port, 1 to 65535
   * @return the running proxy; the caller closes it
   * @throws NullPointerException if {@code host} is null
   * @throws IllegalArgumentException {@code "host must not be blank, but was "<host>""} or {@code
   *     "port must be between 1 and 65535, but was <port>"}
   * @throws UncheckedIOException if no loopback port can be bound
   */
  public static FaultProxy to(String host, int port) {
    Checks.notBlank("host", host);
    Checks.between("port", port, 1, 65_535);
    return new FaultProxy(host, port);
  }

  /** {@return the address clients connect to: {@code 127.0.0.1}, the loopback address} */
  public String host() {
    return InetAddress.getLoopbackAddress().getHostAddress();
  }

  /** {@return the port clients connect to, chosen free when the proxy started} */
  public int port() {
    return listener.getLocalPort();
  }

  /**
   * Holds each chunk of bytes from the client at least {@code latency} before it is sent to the
   * server; zero ends the delay.
   *
   * @param latency the delay, 0 to 1 minute
   * @return this proxy
   * @throws NullPointerException if {@code latency} is null
   * @throws IllegalArgumentException {@code "latencyToServer must be between 0 ms and 60000 ms, but
   *     was <value> ms"}
   */
  public FaultProxy latencyToServer(Duration latency) {
    Checks.between("latencyToServer", latency, Duration.ZERO, MAX_LATENCY);
    synchronized (lock) {
      latencyToServerNanos = latency.toNanos();
      lock.notifyAll();
    }
    return this;
  }

  /**
   * Holds each chunk of bytes from the server at least {@code latency} before it is sent to the
   * client; zero ends the delay.
   *
   * @param latency the delay, 0 to 1 minute
   * @return this proxy
   * @throws NullPointerException if {@code latency} is null
   * @throws IllegalArgumentException {@code "latencyToClient must be between 0 ms and 60000 ms, but
   *     was <value> ms"}
   */
  public FaultProxy latencyToClient(Duration latency) {
    Checks.between("latencyToClient", latency, Duration.ZERO, MAX_LATENCY);
    synchronized (lock) {
      latencyToClientNanos = latency.toNanos();
      lock.notifyAll();
    }
    return this;
  }

  /**
   * Swallows, while {@code on}, every byte read from either side, leaving the connections open;
   * {@code false} forwards again the bytes read after it.
   *
   * @param on whether bytes are swallowed
   * @return this proxy
   */
  public FaultProxy blackhole(boolean on) {
    synchronized (lock) {
      blackholed = on;
      lock.notifyAll();
    }
    return this;
  }

  /**
   * Swallows, from now on, every byte read from either side of each connection open now, and leaves
   * the connections open; connections accepted later are served as before. {@link #heal()} does not
   * undo it: the silenced connections stay silent until either side closes them.
   *
   * @return the number of connections silenced
   */
  public int blackholeOpenConnections() {
    int count = 0;
    for (Link link : List.copyOf(links)) {
      if (link.silence()) {
        count++;
      }
    }
    return count;
  }

  /**
   * Resets, while {@code on}, each new connection as soon as it is accepted; open connections are
   * left alone.
   *
   * @param on whether new connections are refused
   * @return this proxy
   */
  public FaultProxy refuseNewConnections(boolean on) {
    refusing = on;
    return this;
  }

  /**
   * Closes every open connection with a TCP RST on both sides. New connections are served as before
   * (unless refused).
   *
   * @return the number of connections reset
   */
  public int resetConnections() {
    int count = 0;
    for (Link link : List.copyOf(links)) {
      if (link.close(true)) {
        count++;
      }
    }
    return count;
  }

  /**
   * Clears every fault: no latency, no blackhole, new connections served. Connections already reset
   * stay closed, and bytes already swallowed stay lost.
   *
   * @return this proxy
   */
  public FaultProxy heal() {
    synchronized (lock) {
      latencyToServerNanos = 0;
      latencyToClientNanos = 0;
      blackholed = false;
      refusing = false;
      lock.notifyAll();
    }
    return this;
  }

  /** {@return the number of connections open now, at most {@value #MAX_CONNECTIONS}} */
  public int connections() {
    return open.get();
  }

  /** {@return the number of connections accepted and connected to the server since the start} */
  public long acceptedConnections() {
    return accepted.get();
  }

  /**
   * {@return the number of connections reset on arrival: refused, over the bound or unconnected}
   */
  public long refusedConnections() {
    return refused.get();
  }

  /**
   * {@return the number of bytes forwarded to the server since the start, counted as each write to
   * it begins}
   */
  public long bytesToServer() {
    return bytesToServer.get();
  }

  /**
   * {@return the number of bytes forwarded to clients since the start, counted as each write to
   * them begins}
   */
  public long bytesToClient() {
    return bytesToClient.get();
  }

  /** {@return the number of bytes swallowed by the blackhole since the start, both directions} */
  public long bytesSwallowed() {
    return bytesSwallowed.get();
  }

  /**
   * Stops the proxy: closes the listening socket and every connection (plainly, with a FIN), and
   * waits up to 10 s for its threads to end. Idempotent.
   */
  @Override
  public void close() {
    synchronized (lock) {
      closed = true;
      lock.notifyAll();
    }
    closeQuietly(listener);
    for (Link link : List.copyOf(links)) {
      link.close(false);
    }
    long deadline = System.nanoTime() + CLOSE_WAIT.toNanos();
    for (Thread thread : List.copyOf(threads)) {
      long left = deadline - System.nanoTime();
      if (thread == Thread.currentThread() || left <= 0) {
        continue;
      }
      try {
        TimeUnit.NANOSECONDS.timedJoin(thread, left);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }

  /** {@return the proxy's address, its server's and the faults switched on} */
  @Override
  public String toString() {
    StringBuilder out =
        new StringBuilder("FaultProxy[")
            .append(host())
            .append(':')
            .append(port())
            .append(" -> ")
            .append(targetHost)
            .append(':')
            .append(targetPort);
    if (latencyToServerNanos > 0) {
      out.append(", latencyToServer=")
          .append(Checks.duration(Duration.ofNanos(latencyToServerNanos)));
    }
    if (latencyToClientNanos > 0) {
      out.append(", latencyToClient=")
          .append(Checks.duration(Duration.ofNanos(latencyToClientNanos)));
    }
    if (blackholed) {
      out.append(", blackhole");
    }
    if (refusing) {
      out.append(", refusing");
    }
    if (closed) {
      out.append(", closed");
    }
    return out.append(']').toString();
  }

  private void accept() {
    try {
      while (!closed) {
        Socket client = listener.accept();
        if (refusing || closed || open.get() >= MAX_CONNECTIONS) {
          refused.incrementAndGet();
          reset(client);
          continue;
        }
        Link link = new Link(client);
        links.add(link);
        open.incrementAndGet();
        if (closed) {
          link.close(false);
          continue;
        }
        start(link::connectAndServe);
      }
    } catch (IOException e) {
      // The listener was closed by close(), or failed: either way no more connections.
    } finally {
      closeQuietly(listener);
      threads.remove(Thread.currentThread());
    }
  }

  private void start(Runnable task) {
    Thread thread =
        THREADS.newThread(
            () -> {
              try {
                task.run();
              } finally {
                threads.remove(Thread.currentThread());
              }
            });
    threads.add(thread);
    thread.start();
  }

  /**
   * Waits until the chunk read at {@code readAt} has waited out the direction's latency.
   *
   * @return false if the proxy closed meanwhile
   */
  private boolean awaitLatency(boolean toServer, long readAt) {
    if ((toServer ? latencyToServerNanos : latencyToClientNanos) == 0) {
      return !closed;
    }
    synchronized (lock) {
      while (!closed) {
        long latency = toServer ? latencyToServerNanos : latencyToClientNanos;
        long left = readAt + latency - System.nanoTime();
        if (left <= 0) {
          return true;
        }
        try {
          TimeUnit.NANOSECONDS.timedWait(lock, left);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return false;
        }
      }
      return false;
    }
  }

  private static void reset(Socket socket) {
    try {
      socket.setSoLinger(true, 0);
    } catch (IOException e) {
      // Already closed: nothing to reset.
    }
    closeQuietly(socket);
  }

  private static void closeQuietly(AutoCloseable closeable) {
    try {
      closeable.close();
    } catch (Exception e) {
      // Closing is best effort: the socket is unusable either way.
    }
  }

  /** One client's connection and its connection to the server. */
  private final class Link {
    private final Socket client;
    private final Socket server = new Socket();
    private final AtomicBoolean done = new AtomicBoolean();
    private volatile boolean silenced;

    Link(Socket client) {
      this.client = client;
    }

    /** Runs in the connection's first thread, which then forwards the client's bytes. */
    void connectAndServe() {
      try {
        server.connect(new InetSocketAddress(targetHost, targetPort), CONNECT_TIMEOUT_MILLIS);
      } catch (IOException e) {
        if (!done.get()) {
          refused.incrementAndGet();
        }
        close(true);
        return;
      }
      accepted.incrementAndGet();
      start(() -> pump(server, client, false));
      pump(client, server, true);
    }

    private void pump(Socket from, Socket to, boolean toServer) {
      byte[] buffer = new byte[BUFFER_BYTES];
      AtomicLong forwarded = toServer ? bytesToServer : bytesToClient;
      try {
        InputStream in = from.getInputStream();
        OutputStream out = to.getOutputStream();
        int read;
        while ((read = in.read(buffer)) >= 0) {
          long readAt = System.nanoTime();
          if (!awaitLatency(toServer, readAt)) {
            break;
          }
          if (blackholed || silenced) {
            bytesSwallowed.addAndGet(read);
            continue;
          }
          // Counted first: the other side may act on the bytes before write() returns here.
          forwarded.addAndGet(read);
          out.write(buffer, 0, read);
        }
      } catch (IOException e) {
        // A side reset, or the proxy closed the sockets: the connection is over.
      }
      close(false);
    }

    /**
     * Swallows every byte read from now on, in both directions.
     *
     * @return true if the connection was open and not yet silenced
     */
    boolean silence() {
      if (done.get() || silenced) {
        return false;
      }
      silenced = true;
      return true;
    }

    /**
     * Closes both sides, with an RST if {@code reset}.
     *
     * @return true if this call closed the connection, false if it was closed already
     */
    boolean close(boolean reset) {
      if (!done.compareAndSet(false, true)) {
        return false;
      }
      if (reset) {
        reset(client);
        reset(server);
      } else {
        closeQuietly(client);
        closeQuietly(server);
      }
      links.remove(this);
      open.decrementAndGet();
      return true;
    }
  }
}

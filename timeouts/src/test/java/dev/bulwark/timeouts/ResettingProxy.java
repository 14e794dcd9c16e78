package dev.bulwark.timeouts;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A TCP proxy on 127.0.0.1 in front of one server, whose {@link #reset()} aborts every client
 * connection with a TCP reset, as a crashed host or a middlebox would: the client reads "Connection
 * reset", not an orderly close. Thread-safe.
 */
final class ResettingProxy implements AutoCloseable {
  private final ServerSocket listener;
  private final String targetHost;
  private final int targetPort;
  private final List<Socket> clients = new CopyOnWriteArrayList<>();
  private final List<Socket> upstreams = new CopyOnWriteArrayList<>();
  private final Thread acceptor;

  ResettingProxy(String targetHost, int targetPort) {
    this.targetHost = targetHost;
    this.targetPort = targetPort;
    try {
      listener = new ServerSocket(0, 16, InetAddress.getLoopbackAddress());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot listen on a loopback port", e);
    }
    acceptor = daemon("resetting-proxy-accept", this::accept);
    acceptor.start();
  }

  /** {@return the port clients connect to} */
  int port() {
    return listener.getLocalPort();
  }

  /** Resets every client connection open now; new connections are still accepted. */
  void reset() throws IOException {
    for (Socket client : clients) {
      client.setSoLinger(true, 0); // close() then sends RST instead of FIN
      client.close();
      clients.remove(client);
    }
  }

  private void accept() {
    while (!listener.isClosed()) {
      try {
        Socket client = listener.accept();
        Socket upstream = new Socket(targetHost, targetPort);
        clients.add(client);
        upstreams.add(upstream);
        daemon("resetting-proxy-up", () -> pump(client, upstream)).start();
        daemon("resetting-proxy-down", () -> pump(upstream, client)).start();
      } catch (IOException e) {
        // Closed: the loop ends.
      }
    }
  }

  private static void pump(Socket from, Socket to) {
    byte[] buffer = new byte[8192];
    try {
      InputStream in = from.getInputStream();
      OutputStream out = to.getOutputStream();
      for (int n; (n = in.read(buffer)) >= 0; ) {
        out.write(buffer, 0, n);
        out.flush();
      }
    } catch (IOException e) {
      // One side went away: close both below.
    } finally {
      closeQuietly(from);
      closeQuietly(to);
    }
  }

  private static Thread daemon(String name, Runnable task) {
    Thread thread = new Thread(task, name);
    thread.setDaemon(true);
    return thread;
  }

  private static void closeQuietly(Socket socket) {
    try {
      socket.close();
    } catch (IOException e) {
      // Already reset or closed: nothing left to do with it.
    }
  }

  @Override
  public void close() throws Exception {
    listener.close();
    for (Socket socket : clients) {
      closeQuietly(socket);
    }
    for (Socket socket : upstreams) {
      closeQuietly(socket);
    }
    acceptor.join(5_000);
  }
}

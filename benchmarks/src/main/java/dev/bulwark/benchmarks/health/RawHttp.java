package dev.bulwark.benchmarks.health;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import org.jspecify.annotations.Nullable;

/**
 * A kept-alive HTTP/1.1 connection that sends one GET at a time and reads the answer whole: the
 * status line, the headers up to the blank line, and a body of {@code Content-Length} bytes. Only
 * what the benchmark's two servers answer is understood. Not thread-safe: one per thread.
 */
final class RawHttp implements AutoCloseable {
  private final Socket socket;
  private final OutputStream out;
  private final InputStream in;
  private final byte[] request;
  private final byte[] line = new byte[8192];
  private final byte[] body = new byte[65536];

  RawHttp(int port, String path) throws IOException {
    socket = new Socket(InetAddress.getLoopbackAddress(), port);
    socket.setTcpNoDelay(true);
    out = socket.getOutputStream();
    in = new BufferedInputStream(socket.getInputStream(), 16384);
    request =
        ("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + port + "\r\n\r\n")
            .getBytes(StandardCharsets.US_ASCII);
  }

  /** Sends the request and reads the response; returns the status code. */
  int get() throws IOException {
    out.write(request);
    out.flush();
    String status = readLine();
    if (status == null || status.length() < 12) {
      throw new IOException("no status line: " + status);
    }
    int code = Integer.parseInt(status.substring(9, 12));
    int length = -1;
    for (String header = readLine(); header != null && !header.isEmpty(); header = readLine()) {
      int colon = header.indexOf(':');
      if (colon > 0 && header.regionMatches(true, 0, "content-length", 0, colon)) {
        length = Integer.parseInt(header.substring(colon + 1).trim());
      }
    }
    if (length < 0) {
      throw new IOException("no Content-Length in the response");
    }
    int read = 0;
    while (read < length) {
      int n = in.read(body, 0, Math.min(body.length, length - read));
      if (n < 0) {
        throw new IOException("connection closed in the body");
      }
      read += n;
    }
    return code;
  }

  private @Nullable String readLine() throws IOException {
    int size = 0;
    int b;
    while ((b = in.read()) >= 0) {
      if (b == '\n') {
        int end = size > 0 && line[size - 1] == '\r' ? size - 1 : size;
        return new String(line, 0, end, StandardCharsets.ISO_8859_1);
      }
      line[size++] = (byte) b;
    }
    return null;
  }

  @Override
  public void close() throws IOException {
    socket.close();
  }
}

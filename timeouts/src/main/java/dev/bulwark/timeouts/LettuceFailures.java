package dev.bulwark.timeouts;

import io.lettuce.core.RedisCommandExecutionException;
import io.lettuce.core.RedisCommandTimeoutException;
import io.lettuce.core.RedisConnectionException;
import io.lettuce.core.RedisException;
import io.lettuce.core.RedisLoadingException;
import java.io.IOException;
import java.util.Set;

/**
 * The Lettuce half of {@link RetryOn}. The only class of this module besides {@link RedisTimeouts}
 * that links to Lettuce types: {@link RetryOn} touches it only from its Redis methods, after
 * checking that Lettuce is on the class path, so {@link RetryOn} loads without Lettuce.
 */
final class LettuceFailures {
  private LettuceFailures() {}

  /**
   * The texts of the plain {@link RedisException}s Lettuce (checked against 7.7) raises for a
   * connection that dropped ({@code DefaultEndpoint}): commands in flight when it was closed or
   * disconnected, and commands rejected while it reconnects ({@code
   * DisconnectedBehavior.REJECT_COMMANDS}, or no auto-reconnect). Not "Connection is closed", which
   * is a command on a connection the application closed itself.
   */
  private static final Set<String> DROPPED_CONNECTION =
      Set.of(
          "Connection closed",
          "Connection disconnected",
          "Currently not connected. Commands are rejected.");

  static final Classifier CONNECTION_FAILURE =
      new Classifier("RetryOn.redisConnectionFailure()", LettuceFailures::isConnectionFailure);

  static final Classifier COMMAND_TIMEOUT =
      new Classifier(
          "RetryOn.redisCommandTimeout()", t -> t instanceof RedisCommandTimeoutException);

  static final Classifier TRANSIENT =
      new Classifier(
          "RetryOn.redisTransient()",
          t -> t instanceof RedisCommandTimeoutException || isConnectionFailure(t));

  private static boolean isConnectionFailure(Throwable t) {
    if (t instanceof RedisConnectionException) {
      // Protected mode: the server answered DENIED to a non-loopback client and hung up.
      return !answeredWithError(t) && !RedisConnectionException.isProtectedMode(t.getMessage());
    }
    if (t instanceof RedisLoadingException) {
      return true;
    }
    if (t instanceof RedisException && !(t instanceof RedisCommandExecutionException)) {
      // The sync API wraps an I/O failure of the connection ("Connection reset") this way. Set.of
      // refuses to look up null, and a RedisException may have no message.
      String message = t.getMessage();
      return (message != null && DROPPED_CONNECTION.contains(message))
          || t.getCause() instanceof IOException;
    }
    return false;
  }

  /**
   * Whether the server answered the connection's handshake with an error (wrong password, unknown
   * database): configuration, not an outage. A {@code LOADING} answer is an outage.
   */
  private static boolean answeredWithError(Throwable connectionFailure) {
    Throwable t = connectionFailure.getCause();
    for (int depth = 0; t != null && depth < Classifier.MAX_EXAMINED; depth++, t = t.getCause()) {
      if (t instanceof RedisCommandExecutionException) {
        return !(t instanceof RedisLoadingException);
      }
    }
    return false;
  }
}

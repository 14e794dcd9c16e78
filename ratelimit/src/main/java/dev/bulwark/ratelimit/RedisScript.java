package dev.bulwark.ratelimit;

import io.lettuce.core.RedisFuture;
import io.lettuce.core.RedisNoScriptException;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import org.jspecify.annotations.Nullable;

/**
 * A Lua script run by its digest ({@code EVALSHA}), sent whole ({@code EVAL}) when the server
 * answers {@code NOSCRIPT}: one round trip while the server knows it, two the first time after a
 * restart. Immutable.
 */
final class RedisScript {
  static final RedisScript ACQUIRE = load("acquire.lua");
  static final RedisScript GIVE_BACK = load("give-back.lua");

  private final String source;
  private final String sha;

  RedisScript(String source) {
    this.source = source;
    try {
      this.sha =
          HexFormat.of()
              .formatHex(
                  MessageDigest.getInstance("SHA-1")
                      .digest(source.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-1 is missing from this JVM", e);
    }
  }

  private static RedisScript load(String resource) {
    try (InputStream in = RedisScript.class.getResourceAsStream(resource)) {
      Objects.requireNonNull(in, resource);
      return new RedisScript(new String(in.readAllBytes(), StandardCharsets.UTF_8));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  String sha() {
    return sha;
  }

  /**
   * Runs the script. The call can be given up: {@link Call#cancel()} cancels its commands, so that
   * a command still queued in Lettuce (while it reconnects) is never sent, and a decision that gave
   * up takes no permit later.
   */
  Call run(RedisClusterAsyncCommands<String, String> commands, String[] keys, String... args) {
    return new Call(commands, keys, args);
  }

  /** One run of the script: its reply, and the commands it sent. */
  final class Call {
    final CompletableFuture<List<Object>> reply;
    private final RedisFuture<List<Object>> first;
    private volatile @Nullable RedisFuture<List<Object>> second;
    private volatile boolean cancelled;

    Call(RedisClusterAsyncCommands<String, String> commands, String[] keys, String[] args) {
      this.reply = new CompletableFuture<>();
      this.first = commands.evalsha(sha, ScriptOutputType.MULTI, keys, args);
      // One completion stage on the usual path: the reply is completed by the EVALSHA itself.
      first.whenComplete(
          (value, e) -> {
            if (e == null) {
              reply.complete(value);
              return;
            }
            Throwable cause = e instanceof CompletionException ? e.getCause() : e;
            if (!(cause instanceof RedisNoScriptException)) {
              reply.completeExceptionally(cause == null ? e : cause);
            } else if (cancelled) {
              reply.completeExceptionally(new CancellationException("the decision gave up"));
            } else {
              RedisFuture<List<Object>> again =
                  commands.eval(source, ScriptOutputType.MULTI, keys, args);
              second = again;
              if (cancelled) {
                again.cancel(false);
              }
              again.whenComplete(
                  (retried, failure) -> {
                    if (failure == null) {
                      reply.complete(retried);
                    } else {
                      reply.completeExceptionally(failure);
                    }
                  });
            }
          });
    }

    /** Gives the call up: its commands are cancelled, so that Lettuce sends none still queued. */
    void cancel() {
      cancelled = true;
      first.cancel(false);
      RedisFuture<List<Object>> again = second;
      if (again != null) {
        again.cancel(false);
      }
      reply.cancel(false);
    }
  }
}

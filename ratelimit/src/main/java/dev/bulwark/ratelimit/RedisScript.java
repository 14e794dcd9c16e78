package dev.bulwark.ratelimit;

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
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/**
 * A Lua script run by its digest ({@code EVALSHA}), sent whole ({@code EVAL}) when the server
 * answers {@code NOSCRIPT}: one round trip while the server knows it, two the first time after a
 * restart. Immutable.
 */
final class RedisScript {
  static final RedisScript ACQUIRE = load("acquire.lua");

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

  String source() {
    return source;
  }

  CompletableFuture<List<Object>> run(
      RedisClusterAsyncCommands<String, String> commands, String[] keys, String... args) {
    return commands
        .<List<Object>>evalsha(sha, ScriptOutputType.MULTI, keys, args)
        .handle(
            (value, e) -> {
              Throwable cause = e instanceof CompletionException ? e.getCause() : e;
              if (cause instanceof RedisNoScriptException) {
                return commands.<List<Object>>eval(source, ScriptOutputType.MULTI, keys, args);
              }
              return e == null
                  ? CompletableFuture.completedFuture(value)
                  : CompletableFuture.<List<Object>>failedFuture(cause == null ? e : cause);
            })
        .thenCompose(stage -> stage)
        .toCompletableFuture();
  }
}

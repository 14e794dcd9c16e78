package dev.bulwark.pool;

import dev.bulwark.core.internal.Checks;
import io.lettuce.core.RedisCommandExecutionException;
import io.lettuce.core.RedisCommandTimeoutException;
import io.lettuce.core.RedisException;
import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.output.StatusOutput;
import io.lettuce.core.protocol.AsyncCommand;
import io.lettuce.core.protocol.Command;
import io.lettuce.core.protocol.CommandType;
import io.lettuce.core.protocol.CompleteableCommand;
import io.lettuce.core.protocol.RedisCommand;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.handler.timeout.IdleState;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.handler.timeout.IdleStateHandler;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Collection;
import java.util.concurrent.CancellationException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.BiConsumer;
import org.jspecify.annotations.Nullable;

/**
 * Watches one Redis channel for silence and closes it, so that Lettuce reconnects, when it finds
 * some. One per channel, from {@link SilenceDetector}.
 *
 * <ul>
 *   <li><b>Command timeouts.</b> Last in the pipeline, it sees every command the client writes, in
 *       order, and keeps it in a queue until it is done. An answer (a value or an error reply, with
 *       bytes read since the command was written) resets the count of consecutive timeouts; a
 *       timeout that shows silence adds one (see {@link #silentTimeout}); anything else (a lost
 *       connection, a fire-and-forget command) leaves it alone. At the threshold the channel is
 *       closed. A command is judged by its completion callback or, if that never comes (a reactive
 *       subscription cancelled inside Lettuce's command wrapper), when the queue finds it done.
 *   <li><b>Idle probe.</b> An {@link IdleStateHandler} first in the pipeline, so that it sees the
 *       bytes, calls {@link #idle} once nothing was read or written for the probe interval. A
 *       {@code PING} is then written through Lettuce's command handler, unless a command is still
 *       awaited (a blocking {@code BLPOP} waits its own time, and a {@code PING} would queue behind
 *       it), a {@code MULTI} is open (the {@code PING} would join the transaction) or a probe is
 *       already out. No answer within the probe timeout closes the channel, unless bytes arrived
 *       meanwhile (answers owed to earlier, timed-out commands, which the {@code PING} queues
 *       behind): the probe then waits again, up to {@value #PROBE_EXTENSIONS} times. The probe's
 *       own bytes restart the idle timer, so an idle connection is probed once per interval, and
 *       one with traffic never is.
 * </ul>
 *
 * <p>Thread-safety: everything runs on the channel's event loop. Completion callbacks, which may
 * come from Lettuce's timer or a user's thread, hand their command back to the event loop.
 */
final class SilenceWatch extends ChannelOutboundHandlerAdapter {
  /** How many times a probe waits again because bytes arrived while it was out. */
  static final int PROBE_EXTENSIONS = 10;

  private static final long NOT_OWING = Long.MIN_VALUE;

  private final SilenceDetector detector;
  private final int threshold;
  private final long probeTimeoutNanos;
  private final long commandTimeoutNanos;
  private final long fullTimeoutNanos;

  /** Commands written and not yet found done, oldest first. */
  private final ArrayDeque<Written> written = new ArrayDeque<>();

  /** Reads seen by the idle timer. */
  private long reads;

  /**
   * Since when the connection has owed an answer and read nothing, on {@link System#nanoTime()}:
   * set by a read while commands are awaited (the read may answer them all), and by a command
   * written when nothing is owed; {@link #NOT_OWING} after a read that leaves none awaited.
   */
  private long owingSince = NOT_OWING;

  /** A command timed out and nothing was read since: its answer is still owed. */
  private boolean timedOutUnanswered;

  private int consecutiveTimeouts;

  /** A {@code MULTI} was written and its {@code EXEC}, {@code DISCARD} or {@code RESET} not. */
  private boolean inTransaction;

  private boolean closing;
  private @Nullable ChannelHandlerContext context;
  private @Nullable AsyncCommand<String, String, String> probe;
  private @Nullable ScheduledFuture<?> probeTimer;

  /**
   * @param threshold consecutive silent timeouts that close the channel, at least 1
   * @param probeTimeoutNanos how long a probe waits for its answer
   * @param commandTimeoutNanos the client's command timeout, which {@link #silentTimeout} measures
   *     silence against
   */
  SilenceWatch(
      SilenceDetector detector, int threshold, long probeTimeoutNanos, long commandTimeoutNanos) {
    this.detector = detector;
    this.threshold = threshold;
    this.probeTimeoutNanos = probeTimeoutNanos;
    this.commandTimeoutNanos = commandTimeoutNanos;
    this.fullTimeoutNanos = commandTimeoutNanos - commandTimeoutNanos / 10;
  }

  /** {@return the idle timer to put first in the pipeline, which reports reads and idleness} */
  IdleStateHandler idleTrigger(long intervalNanos) {
    return new IdleStateHandler(0, 0, intervalNanos, TimeUnit.NANOSECONDS) {
      @Override
      public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
        bytesRead();
        super.channelRead(ctx, msg);
      }

      @Override
      public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        // Before Lettuce's command handler drains its stack: a probe it would replay on the new
        // channel (when commands are buffered while disconnected) ends here, with its timer.
        AsyncCommand<String, String, String> out = probe;
        if (out != null) {
          out.completeExceptionally(new RedisException("Connection closed while probed"));
        }
        super.channelInactive(ctx);
      }

      @Override
      protected void channelIdle(ChannelHandlerContext ctx, IdleStateEvent evt) {
        if (evt.state() == IdleState.ALL_IDLE) {
          idle();
        }
      }
    };
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    context = ctx;
  }

  @Override
  public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise)
      throws Exception {
    if (msg instanceof RedisCommand<?, ?, ?> command) {
      follow(command);
    } else if (msg instanceof Collection<?> commands) {
      for (Object each : commands) {
        if (each instanceof RedisCommand<?, ?, ?> command) {
          follow(command);
        }
      }
    }
    super.write(ctx, msg, promise);
  }

  private void follow(RedisCommand<?, ?, ?> command) {
    sweep();
    if (command.isDone() || !(command instanceof CompleteableCommand<?> completeable)) {
      return;
    }
    String type = command.getType().toString();
    if (type.equals("MULTI")) {
      inTransaction = true;
    } else if (type.equals("EXEC") || type.equals("DISCARD") || type.equals("RESET")) {
      inTransaction = false;
    }
    long now = System.nanoTime();
    if (written.isEmpty() && !timedOutUnanswered) {
      owingSince = now; // nothing was owed: the silence, if any, starts with this command
    }
    Written entry = new Written(command, type.equals("MULTI"), now, reads);
    written.add(entry);
    completeable.onComplete(entry);
  }

  /** One command written: where it stood when it was written, and whether it was judged. */
  private final class Written implements BiConsumer<Object, Throwable> {
    final RedisCommand<?, ?, ?> command;
    final boolean multi;
    final long writtenAt;
    final long readsAtWrite;
    boolean judged; // event loop only

    Written(RedisCommand<?, ?, ?> command, boolean multi, long writtenAt, long readsAtWrite) {
      this.command = command;
      this.multi = multi;
      this.writtenAt = writtenAt;
      this.readsAtWrite = readsAtWrite;
    }

    /** The completion callback, on whichever thread completed the command. */
    @Override
    public void accept(@Nullable Object value, @Nullable Throwable failure) {
      ChannelHandlerContext ctx = context;
      if (ctx == null) {
        return;
      }
      if (ctx.executor().inEventLoop()) {
        judged(this, failure);
      } else {
        try {
          ctx.executor().execute(() -> judged(this, failure));
        } catch (RejectedExecutionException e) {
          // The event loop shut down with the client: nothing left to watch.
        }
      }
    }
  }

  private void judged(Written entry, @Nullable Throwable failure) {
    judge(entry, failure);
    sweep();
  }

  /** Pops the commands that are done from the head of the queue, judging any not judged yet. */
  private void sweep() {
    Written head;
    while ((head = written.peek()) != null && head.command.isDone()) {
      written.poll();
      if (!head.judged) {
        // No callback came: a reactive subscription cancelled inside Lettuce's command wrapper.
        judge(head, new CancellationException());
      }
    }
  }

  /** Judges one command's completion, once; on the event loop. */
  private void judge(Written entry, @Nullable Throwable failure) {
    if (entry.judged) {
      return;
    }
    entry.judged = true;
    if (entry.multi && failure != null) {
      inTransaction = false; // refused: Lettuce forgets the transaction too
    }
    boolean readSince = reads != entry.readsAtWrite;
    if ((failure == null || failure instanceof RedisCommandExecutionException) && readSince) {
      consecutiveTimeouts = 0;
    } else if (silentTimeout(failure, entry)) {
      consecutiveTimeouts++;
      if (consecutiveTimeouts >= threshold) {
        close(
            SilenceDetector.Cause.TIMEOUTS,
            Checks.format("%d consecutive commands timed out", consecutiveTimeouts));
      }
    }
  }

  /**
   * Whether a command's failure shows a silent connection: it timed out (a {@link
   * RedisCommandTimeoutException}, a cancel, a {@link TimeoutException}), nothing was read on the
   * connection since it was written, and either it waited at least 90 % of the client's command
   * timeout or the connection has owed an answer, reading nothing, for the full command timeout.
   *
   * <ul>
   *   <li>Lettuce's synchronous API cancels a command that outlived its timeout, usually before the
   *       command's own timeout fires, so a cancel counts like a timeout; the 10 % absorb the lag
   *       between the caller's dispatch and the write.
   *   <li>A command that times out sooner (clamped to what a request's deadline has left, by
   *       bulwark-timeouts' {@code RedisTimeouts}, or cancelled early by its caller) counts only
   *       once the connection has been silent for a whole command timeout: before, it says more
   *       about the caller's budget than about the connection. So a server that answers within the
   *       command timeout is never taken for silent because of short timeouts, and a silent one is
   *       found even when every command runs under a short deadline.
   *   <li>Bytes read since the write mean the server answers, if late: a slow server whose
   *       pipelined answers still arrive is not silent.
   * </ul>
   */
  private boolean silentTimeout(@Nullable Throwable failure, Written entry) {
    if (!(failure instanceof RedisCommandTimeoutException
            || failure instanceof CancellationException
            || failure instanceof TimeoutException)
        || reads != entry.readsAtWrite) {
      return false;
    }
    timedOutUnanswered = true;
    long now = System.nanoTime();
    return now - entry.writtenAt >= fullTimeoutNanos
        || (owingSince != NOT_OWING && now - owingSince >= commandTimeoutNanos);
  }

  /** A read, seen first in the pipeline, before Lettuce decodes it. */
  private void bytesRead() {
    reads++;
    timedOutUnanswered = false;
    sweep();
    owingSince = written.isEmpty() ? NOT_OWING : System.nanoTime();
  }

  /** Called on the event loop once the channel has been idle for the probe interval. */
  private void idle() {
    sweep();
    ChannelHandlerContext ctx = context;
    if (ctx == null
        || probe != null
        || !written.isEmpty()
        || inTransaction
        || closing
        || !ctx.channel().isActive()) {
      return;
    }
    AsyncCommand<String, String, String> ping =
        new AsyncCommand<>(new Command<>(CommandType.PING, new StatusOutput<>(StringCodec.UTF8)));
    probe = ping;
    detector.probed();
    armProbeTimer(ctx, ping, reads, PROBE_EXTENSIONS);
    ping.onComplete(
        (String value, @Nullable Throwable failure) -> {
          if (ctx.executor().inEventLoop()) {
            probeDone(ping, failure);
          } else {
            try {
              ctx.executor().execute(() -> probeDone(ping, failure));
            } catch (RejectedExecutionException e) {
              // The event loop shut down with the client.
            }
          }
        });
    // From this handler toward the head: through Lettuce's command handler, which matches the
    // answer to it, but not through this handler's own write.
    ctx.writeAndFlush(ping)
        .addListener(
            sent -> {
              if (!sent.isSuccess()) {
                ping.completeExceptionally(sent.cause()); // not counted: no silence shown
              }
            });
  }

  private void armProbeTimer(
      ChannelHandlerContext ctx,
      AsyncCommand<String, String, String> ping,
      long readsBefore,
      int extensions) {
    probeTimer =
        ctx.executor()
            .schedule(
                () -> {
                  if (ping.isDone()) {
                    return;
                  }
                  if (reads != readsBefore && extensions > 0) {
                    armProbeTimer(ctx, ping, reads, extensions - 1); // answers still arrive
                    return;
                  }
                  if (ping.completeExceptionally(
                          new RedisCommandTimeoutException("probe PING timed out"))
                      && ctx.channel().isActive()) {
                    close(
                        SilenceDetector.Cause.PROBE,
                        Checks.format(
                            "no answer to PING within %s",
                            Checks.duration(Duration.ofNanos(probeTimeoutNanos))));
                  }
                },
                probeTimeoutNanos,
                TimeUnit.NANOSECONDS);
  }

  @SuppressWarnings("ReferenceEquality") // this very probe, not an equal one
  private void probeDone(AsyncCommand<String, String, String> ping, @Nullable Throwable failure) {
    if (probe == ping) {
      ScheduledFuture<?> timer = probeTimer;
      if (timer != null) {
        timer.cancel(false);
      }
      probe = null;
      probeTimer = null;
    }
    if (failure == null) {
      consecutiveTimeouts = 0;
    }
  }

  private void close(SilenceDetector.Cause cause, String why) {
    ChannelHandlerContext ctx = context;
    // A channel that closed meanwhile is being replaced already.
    if (ctx == null || closing || !ctx.channel().isActive()) {
      return;
    }
    closing = true;
    detector.replaced(cause, ctx.channel().remoteAddress(), why);
    // Lettuce's watchdog sees the channel go inactive and reconnects; nothing to wait for here.
    ChannelFuture unused = ctx.channel().close();
  }
}

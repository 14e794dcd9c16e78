package dev.bulwark.pool;

import dev.bulwark.core.internal.Checks;
import io.lettuce.core.RedisCommandExecutionException;
import io.lettuce.core.RedisCommandTimeoutException;
import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.output.StatusOutput;
import io.lettuce.core.protocol.AsyncCommand;
import io.lettuce.core.protocol.Command;
import io.lettuce.core.protocol.CommandType;
import io.lettuce.core.protocol.CompleteableCommand;
import io.lettuce.core.protocol.ProtocolKeyword;
import io.lettuce.core.protocol.RedisCommand;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.handler.timeout.IdleState;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.handler.timeout.IdleStateHandler;
import java.time.Duration;
import java.util.Collection;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BiConsumer;
import org.jspecify.annotations.Nullable;

/**
 * Watches one Redis channel for silence and closes it, so that Lettuce reconnects, when it finds
 * some. One per channel, from {@link SilenceDetector}.
 *
 * <ul>
 *   <li><b>Command timeouts.</b> Last in the pipeline, it sees every command the client writes and
 *       follows its completion: an answer (a value or an error reply) resets the count of
 *       consecutive timeouts, a timeout that shows silence adds one (see {@link #silentTimeout}),
 *       anything else (a short or early timeout, a cancel, a lost connection) leaves it alone. At
 *       the threshold the channel is closed.
 *   <li><b>Idle probe.</b> An {@link IdleStateHandler} first in the pipeline, so that it sees the
 *       bytes, calls {@link #idle} once nothing was read or written for the probe interval. A
 *       {@code PING} is then written through Lettuce's command handler, unless a command is still
 *       awaited (a blocking {@code BLPOP} waits its own time, and a {@code PING} would queue behind
 *       it), a {@code MULTI} is open (the {@code PING} would join the transaction) or a probe is
 *       already out. No answer within the probe timeout closes the channel. The probe's own bytes
 *       restart the idle timer, so an idle connection is probed once per interval, and one with
 *       traffic never is.
 * </ul>
 *
 * <p>Thread-safe: writes, idle events and probe timeouts run on the channel's event loop;
 * completions may come from any thread and touch only atomics.
 */
final class SilenceWatch extends ChannelOutboundHandlerAdapter {
  private final SilenceDetector detector;
  private final int threshold;
  private final long probeTimeoutNanos;
  private final long silentTimeoutNanos;

  /** Reads seen by the idle timer (event loop only, read from any thread). */
  private volatile long reads;

  /**
   * Since when the connection has owed an answer and read nothing, on {@link System#nanoTime()}:
   * set by a read while commands are awaited (the read may answer them all), and by a command
   * written when nothing is owed (none awaited, none timed out unanswered); {@link #NOT_OWING}
   * after a read that leaves none awaited. Event loop only, read from any thread.
   */
  private volatile long owingSince = NOT_OWING;

  private static final long NOT_OWING = Long.MIN_VALUE;

  /**
   * A command timed out and nothing was read since: its answer is still owed, though no command is
   * awaited. Cleared by a read.
   */
  private volatile boolean timedOutUnanswered;

  /** Commands written and not yet completed. */
  private final AtomicInteger awaited = new AtomicInteger();

  private final AtomicInteger consecutiveTimeouts = new AtomicInteger();
  private final AtomicBoolean closing = new AtomicBoolean();

  /** Event loop only: a {@code MULTI} was written and its {@code EXEC} or {@code DISCARD} not. */
  private boolean inTransaction;

  private volatile @Nullable ChannelHandlerContext context;
  private volatile @Nullable AsyncCommand<String, String, String> probe;

  /**
   * @param commandTimeoutNanos the client's command timeout, which {@link #silentTimeout} measures
   *     silence against
   */
  SilenceWatch(
      SilenceDetector detector, int threshold, long probeTimeoutNanos, long commandTimeoutNanos) {
    this.detector = detector;
    this.threshold = threshold;
    this.probeTimeoutNanos = probeTimeoutNanos;
    this.silentTimeoutNanos = commandTimeoutNanos - commandTimeoutNanos / 10;
  }

  /** {@return the idle timer to put first in the pipeline, which calls {@link #idle}} */
  IdleStateHandler idleTrigger(long intervalNanos) {
    return new IdleStateHandler(0, 0, intervalNanos, TimeUnit.NANOSECONDS) {
      @Override
      @SuppressWarnings("NonAtomicVolatileUpdate") // the event loop is the only writer
      public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
        reads++;
        timedOutUnanswered = false;
        owingSince = awaited.get() > 0 ? System.nanoTime() : NOT_OWING;
        super.channelRead(ctx, msg);
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
    ProtocolKeyword type = command.getType();
    if (type == CommandType.MULTI) {
      inTransaction = true;
    } else if (type == CommandType.EXEC || type == CommandType.DISCARD) {
      inTransaction = false;
    }
    if (!(command instanceof CompleteableCommand<?> completeable) || command.isDone()) {
      return;
    }
    if (owingSince == NOT_OWING || (awaited.get() == 0 && !timedOutUnanswered)) {
      // Nothing owed: the read that set owingSince may have been the answer to the last command.
      owingSince = System.nanoTime();
    }
    Completion completion = new Completion(reads);
    awaited.incrementAndGet();
    completeable.onComplete(completion);
    // A CommandWrapper that completed between the two checks drops callbacks added after it.
    if (command.isDone()) {
      completion.settle(null, false);
    }
  }

  /** The completion of one command: counted once, whoever reports it first. */
  @SuppressWarnings("serial") // never serialized: an AtomicBoolean only for its compare-and-set
  private final class Completion extends AtomicBoolean implements BiConsumer<Object, Throwable> {
    private final long readsAtWrite;

    Completion(long readsAtWrite) {
      this.readsAtWrite = readsAtWrite;
    }

    @Override
    public void accept(@Nullable Object value, @Nullable Throwable failure) {
      settle(failure, true);
    }

    void settle(@Nullable Throwable failure, boolean known) {
      if (!compareAndSet(false, true)) {
        return;
      }
      awaited.decrementAndGet();
      if (!known) {
        return;
      }
      if (failure == null || failure instanceof RedisCommandExecutionException) {
        consecutiveTimeouts.set(0);
      } else if (silentTimeout(failure, readsAtWrite)) {
        int count = consecutiveTimeouts.incrementAndGet();
        if (count >= threshold) {
          close(
              SilenceDetector.Cause.TIMEOUTS,
              Checks.format("%d consecutive commands timed out", count));
        }
      }
    }
  }

  /**
   * Whether a command's failure shows a silent connection: it timed out, nothing was read on the
   * connection since it was written, and the connection has owed an answer, reading nothing, for at
   * least 90 % of the client's command timeout.
   *
   * <ul>
   *   <li>A timeout is a {@link RedisCommandTimeoutException}, or a cancel: Lettuce's synchronous
   *       API cancels a command that outlived its timeout, usually before the command's own timeout
   *       fires.
   *   <li>A command with the full timeout that times out meets the rest by itself (the 10 % absorb
   *       the lag between its dispatch and its write).
   *   <li>One that times out sooner (clamped to what a request's deadline has left, by
   *       bulwark-timeouts' {@code RedisTimeouts}, or cancelled early by its caller) counts only
   *       once the connection has been silent that long: before, it says more about the caller's
   *       budget than about the connection. So a server that answers within 90 % of the command
   *       timeout is never taken for silent, and a silent one is found even when every command runs
   *       under a short deadline.
   *   <li>Bytes read since the write mean the server answers, if late: a slow server whose
   *       pipelined answers still arrive is not silent.
   * </ul>
   */
  private boolean silentTimeout(Throwable failure, long readsAtWrite) {
    if (!(failure instanceof RedisCommandTimeoutException
            || failure instanceof CancellationException)
        || reads != readsAtWrite) {
      return false;
    }
    timedOutUnanswered = true;
    long since = owingSince;
    return since != NOT_OWING && System.nanoTime() - since >= silentTimeoutNanos;
  }

  /** Called on the event loop once the channel has been idle for the probe interval. */
  private void idle() {
    ChannelHandlerContext ctx = context;
    if (ctx == null
        || probe != null
        || awaited.get() > 0
        || inTransaction
        || closing.get()
        || !ctx.channel().isActive()) {
      return;
    }
    AsyncCommand<String, String, String> ping =
        new AsyncCommand<>(new Command<>(CommandType.PING, new StatusOutput<>(StringCodec.UTF8)));
    probe = ping;
    detector.probed();
    ScheduledFuture<?> timer =
        ctx.executor()
            .schedule(
                () -> {
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
    ping.onComplete(
        (String value, @Nullable Throwable failure) -> {
          timer.cancel(false);
          probe = null;
          if (failure == null) {
            consecutiveTimeouts.set(0);
          }
        });
    // From this handler toward the head: through Lettuce's command handler, which matches the
    // answer to it, but not through this handler's own write.
    ctx.writeAndFlush(ping)
        .addListener(
            written -> {
              if (!written.isSuccess()) {
                ping.completeExceptionally(written.cause()); // not counted: no silence shown
              }
            });
  }

  private void close(SilenceDetector.Cause cause, String why) {
    ChannelHandlerContext ctx = context;
    // A channel that closed meanwhile is being replaced already; its late timeouts (of commands
    // Lettuce moved to the new channel) are not this one's silence.
    if (ctx == null || !ctx.channel().isActive() || !closing.compareAndSet(false, true)) {
      return;
    }
    detector.replaced(cause, ctx.channel().remoteAddress(), why);
    // Lettuce's watchdog sees the channel go inactive and reconnects; nothing to wait for here.
    ChannelFuture unused = ctx.channel().close();
  }
}

package dev.bulwark.ratelimit;

import dev.bulwark.core.internal.Checks;
import java.math.BigInteger;
import java.time.Duration;
import java.time.temporal.ChronoUnit;

/**
 * One limit in the Redis script's integer arithmetic. A bucket's state is its debt: how far it is
 * from full, in units where a permit weighs {@code w} and a microsecond refills {@code m} ({@code w
 * / m} is the period per permit in microseconds, reduced to lowest terms, so that no division
 * rounds). A bucket holds {@code cap = burst * w}; a request for {@code n} permits fits while
 * {@code debt + n * w <= cap}.
 *
 * <p>Redis runs Lua with double-precision numbers, exact for integers below 2^53 only. Every value
 * the script computes is at most {@code 2 * cap + m} or a time in microseconds since the epoch
 * (about 1.8 * 10^15 now, 2^53 in the year 2255): {@link #of(Limit)} refuses a limit whose {@code 2
 * * cap + m} reaches 2^53.
 */
record Gcra(Limit limit, long w, long m, long cap, long full) {
  /** Every integer below it is exact as a double. */
  static final long EXACT = 1L << 53;

  static Gcra of(Limit limit) {
    long periodMicros = limit.period().toNanos() / 1_000;
    long gcd =
        BigInteger.valueOf(periodMicros).gcd(BigInteger.valueOf(limit.permits())).longValue();
    long w = periodMicros / gcd;
    long m = limit.permits() / gcd;
    BigInteger cap = BigInteger.valueOf(limit.burst()).multiply(BigInteger.valueOf(w));
    BigInteger largest = cap.shiftLeft(1).add(BigInteger.valueOf(m));
    if (largest.compareTo(BigInteger.valueOf(EXACT)) >= 0) {
      throw Checks.invalid(
          "limits must be exact in the Redis script's arithmetic (integers below 2^53), but %s"
              + " reaches %s there: a period of %d microseconds per %d permits does not reduce below %d/%d;"
              + " a rounder count (such as 1000000000/day) or a smaller burst fits",
          limit, largest, periodMicros, limit.permits(), w, m);
    }
    long capacity = cap.longValueExact();
    return new Gcra(limit, w, m, capacity, ceilDiv(capacity, m));
  }

  /** The permits left at this debt. */
  long remaining(long debt) {
    return Math.max(0, cap - debt) / w;
  }

  /** The time until this debt is paid off: the bucket is full again. */
  Duration reset(long debt) {
    return micros(ceilDiv(Math.max(0, debt), m));
  }

  /** The time until {@code permits} fit at this debt; zero if they fit now. */
  Duration waitFor(long debt, long permits) {
    long over = debt + permits * w - cap;
    return over <= 0 ? Duration.ZERO : micros(ceilDiv(over, m));
  }

  Quota quota(long debt) {
    return new Quota(limit, remaining(debt), reset(debt));
  }

  private static Duration micros(long micros) {
    return Duration.of(micros, ChronoUnit.MICROS);
  }

  static long ceilDiv(long a, long b) {
    return -Math.floorDiv(-a, b);
  }
}

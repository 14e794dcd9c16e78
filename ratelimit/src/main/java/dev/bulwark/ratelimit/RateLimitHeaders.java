package dev.bulwark.ratelimit;

import dev.bulwark.core.internal.Checks;
import java.math.BigInteger;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.StringJoiner;

/**
 * The values of the {@code RateLimit-Policy} and {@code RateLimit} fields of
 * draft-ietf-httpapi-ratelimit-headers-12, for one limiter: Structured Field Lists (RFC 8941) with
 * one String member per limit, named {@code "<limiter name>-<n>"} for the limiter's n-th limit.
 *
 * <pre>
 * RateLimit-Policy: "api-1";q=10;w=1, "api-2";q=1000;w=3600
 * RateLimit: "api-1";r=9;t=1, "api-2";r=999;t=4
 * </pre>
 *
 * <p>In {@code RateLimit-Policy}, {@code q} is the limit's permits and {@code w} its period in
 * seconds. A period that is not a whole number of seconds is advertised over the next whole number,
 * with the permits that fit in it rounded down ({@code 3/1500 milliseconds} is {@code q=4;w=2}), so
 * that the rate advertised is never above the real one. In {@code RateLimit}, {@code r} is the
 * permits left to the key after this request ({@link Quota#remaining()}) and {@code t} the seconds,
 * rounded up, until the limit is whole again ({@link Quota#reset()}); when the request was refused,
 * {@code t} is at most the {@code Retry-After} seconds, when a request is admitted again. Integers
 * are capped at RFC 8941's largest, 999,999,999,999,999. Immutable.
 */
final class RateLimitHeaders {
  static final String POLICY_FIELD = "RateLimit-Policy";
  static final String RATE_LIMIT_FIELD = "RateLimit";

  /** The quota parameter of a policy. */
  static final String QUOTA = "q";

  /** The window parameter of a policy, in seconds. */
  static final String WINDOW = "w";

  /** The remaining quota parameter of a service limit. */
  static final String REMAINING = "r";

  /** The parameter of a service limit for the seconds until its quota resets. */
  static final String RESET = "t";

  static final long MAX_INTEGER = 999_999_999_999_999L;

  private final List<Limit> limits;
  private final List<String> names;
  private final String policy;

  RateLimitHeaders(String limiterName, List<Limit> limits) {
    this.limits = List.copyOf(limits);
    List<String> named = new ArrayList<>(limits.size());
    StringJoiner out = new StringJoiner(", ");
    for (int i = 0; i < limits.size(); i++) {
      String name = limiterName + "-" + (i + 1);
      named.add(name);
      out.add(policyMember(name, limits.get(i)));
    }
    this.names = List.copyOf(named);
    this.policy = out.toString();
  }

  private static String policyMember(String name, Limit limit) {
    long millis = limit.period().toMillis();
    long window = (millis + 999) / 1000;
    long quota;
    if (millis % 1000 == 0) {
      quota = limit.permits();
    } else {
      quota =
          BigInteger.valueOf(limit.permits())
              .multiply(BigInteger.valueOf(window * 1000))
              .divide(BigInteger.valueOf(millis))
              .min(BigInteger.valueOf(MAX_INTEGER))
              .longValueExact();
    }
    return string(name) + ";" + QUOTA + "=" + quota + ";" + WINDOW + "=" + window;
  }

  /** The names of the policies, one per limit, in the order of the limits. */
  List<String> names() {
    return names;
  }

  /** The {@code RateLimit-Policy} value: the same for every response. */
  String policy() {
    return policy;
  }

  /**
   * The {@code RateLimit} value for a decision, one member per quota it carries.
   *
   * @return the value; empty when the decision carries no quota
   */
  String rateLimit(Decision decision) {
    StringJoiner out = new StringJoiner(", ");
    long retryAfter = decision.allowed() ? Long.MAX_VALUE : decision.retryAfterSeconds();
    for (Quota quota : decision.quotas()) {
      int index = limits.indexOf(quota.limit());
      if (index >= 0) {
        long window = Math.min(seconds(quota.reset()), retryAfter);
        out.add(
            string(names.get(index))
                + ";"
                + REMAINING
                + "="
                + Math.min(quota.remaining(), MAX_INTEGER)
                + ";"
                + RESET
                + "="
                + window);
      }
    }
    return out.toString();
  }

  /** The policy name of a limit of this limiter, or empty if it is not one. */
  String nameOf(Limit limit) {
    int index = limits.indexOf(limit);
    return index < 0 ? "" : names.get(index);
  }

  /** Whole seconds, rounded up, capped at the largest Structured Field Integer. */
  static long seconds(Duration duration) {
    long seconds = duration.getSeconds();
    if (duration.getNano() > 0) {
      seconds++;
    }
    return Math.min(seconds, MAX_INTEGER);
  }

  /**
   * An RFC 8941 String: in quotes, {@code "} and {@code \} escaped.
   *
   * @throws IllegalArgumentException if the text has a character outside printable ASCII
   */
  static String string(String text) {
    StringBuilder out = new StringBuilder(text.length() + 2).append('"');
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      if (c < 0x20 || c > 0x7e) {
        throw Checks.invalid(
            "a policy name must be printable ASCII to be a Structured Field String, but was"
                + " \"%s\"",
            text);
      }
      if (c == '"' || c == '\\') {
        out.append('\\');
      }
      out.append(c);
    }
    return out.append('"').toString();
  }
}

/**
 * Rate limiters: limit strings such as {@code "10/second;1000/hour"}, local limiters on Bucket4j
 * buckets held in a bounded map, distributed limiters that decide in one atomic Redis round trip on
 * the server's clock, and a servlet filter that answers 429 with the IETF {@code RateLimit}
 * headers.
 *
 * <p>Entry points: {@link dev.bulwark.ratelimit.RateLimiter} ({@link
 * dev.bulwark.ratelimit.RateLimiter#local()} and {@link
 * dev.bulwark.ratelimit.RateLimiter#redis(io.lettuce.core.RedisClient)}), {@link
 * dev.bulwark.ratelimit.Limit} and {@link dev.bulwark.ratelimit.Decision}; for HTTP, {@link
 * dev.bulwark.ratelimit.RateLimitFilter}, {@link dev.bulwark.ratelimit.KeyResolvers} and {@link
 * dev.bulwark.ratelimit.ClientAddress}; {@link dev.bulwark.ratelimit.RateLimiterSnapshot} is what a
 * health check reads.
 */
@NullMarked
package dev.bulwark.ratelimit;

import org.jspecify.annotations.NullMarked;

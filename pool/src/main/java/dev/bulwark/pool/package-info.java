/**
 * Tuned PostgreSQL connection pools and a hardened Redis client, with every timeout set and checked
 * against the others.
 *
 * <p>{@link dev.bulwark.pool.Pools#postgres(String, String, String)} builds a HikariCP pool from a
 * {@linkplain dev.bulwark.pool.PoolProfile profile} (API or WORKER), sized from the cores and,
 * optionally, from the database's connection budget across instances. Server-side limits ({@code
 * statement_timeout}, {@code idle_in_transaction_session_timeout}, {@code lock_timeout}) are set on
 * every connection when it opens, and {@code build()} refuses timeouts that contradict each other.
 * {@link dev.bulwark.pool.Pools#settings(com.zaxxer.hikari.HikariDataSource)} gives the settings a
 * pool runs with, for a start-up log line; {@link
 * dev.bulwark.pool.Pools#snapshot(com.zaxxer.hikari.HikariDataSource)} reads a pool's state for
 * health checks; a Micrometer registry gets HikariCP's meters and {@code bulwark.pool.utilization}.
 *
 * <p>{@link dev.bulwark.pool.Pools#redis(String)} and {@link
 * dev.bulwark.pool.Pools#redisCluster(String, String...)} build Lettuce clients from a URL with
 * bounded command timeouts, a bounded request queue, commands rejected while disconnected, a
 * bounded reconnect delay and TCP keepalive; their {@code RedisURI} overloads take Lettuce's own
 * URIs. A URL that does not parse, or that Lettuce would misread, is refused when the builder is
 * created, and no message shows a password.
 */
@NullMarked
package dev.bulwark.pool;

import org.jspecify.annotations.NullMarked;

/**
 * Real Redis and PostgreSQL servers for tests, with fault injection.
 *
 * <p>{@link dev.bulwark.testing.TestRedis} and {@link dev.bulwark.testing.TestPostgres} start one
 * server each per JVM, on a free loopback port, from binaries shipped in Maven artifacts, and stop
 * them when the JVM exits. {@link dev.bulwark.testing.RedisExtension} and {@link
 * dev.bulwark.testing.PostgresExtension} hand them, or a clean database, to JUnit 5 tests as
 * parameters. Where {@code BULWARK_TEST_REDIS_URL} or {@code BULWARK_TEST_POSTGRES_URL} is set,
 * those servers are used instead and nothing is started. {@link
 * dev.bulwark.testing.TestPostgres#newRole()} gives a role whose password the embedded server
 * checks, for tests of a wrong password. {@link dev.bulwark.testing.TestPgBouncer} puts PgBouncer
 * from the machine in front of that PostgreSQL, in transaction and in session mode; {@link
 * dev.bulwark.testing.PgBouncerExtension} hands it to tests and skips them where PgBouncer is not
 * installed. {@link dev.bulwark.testing.TestRedisCluster} starts a Redis Cluster of three masters
 * with a replica each, with failover and slot moves on demand ({@link
 * dev.bulwark.testing.RedisClusterExtension}); {@link dev.bulwark.testing.TestRedisSentinel} a
 * master, a replica and three sentinels, with {@code killMaster()} failover ({@link
 * dev.bulwark.testing.RedisSentinelExtension}). {@link dev.bulwark.testing.FaultProxy} puts a
 * loopback TCP proxy with latency, blackhole, reset and refused connections in front of any of
 * them.
 */
@NullMarked
package dev.bulwark.testing;

import org.jspecify.annotations.NullMarked;

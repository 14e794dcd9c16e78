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
 * checks, for tests of a wrong password. {@link dev.bulwark.testing.TestRedisCluster} starts a
 * Redis Cluster of three masters with a replica each, with failover and slot moves on demand;
 * {@link dev.bulwark.testing.RedisClusterExtension} hands it to JUnit 5 tests.
 */
@NullMarked
package dev.bulwark.testing;

import org.jspecify.annotations.NullMarked;

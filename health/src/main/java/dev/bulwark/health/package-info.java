/**
 * Health: a registry of checks that run in parallel, each under its own timeout, whose results are
 * cached and refreshed in the background, served as liveness, readiness, startup and detailed
 * reports in the IETF health-check format (or MicroProfile Health's), over the JDK's HTTP server, a
 * servlet, or any framework.
 *
 * <p>Entry points: {@link dev.bulwark.health.HealthRegistry} with {@link
 * dev.bulwark.health.HealthCheck}, {@link dev.bulwark.health.HealthResult} and the built-in {@link
 * dev.bulwark.health.HealthChecks}; {@link dev.bulwark.health.HealthServer} and {@link
 * dev.bulwark.health.HealthServlet} to serve them.
 */
@NullMarked
package dev.bulwark.health;

import org.jspecify.annotations.NullMarked;

/** The demo's rate-limited route: a Jetty server behind bulwark's rate limit filter. */
@NullMarked
package dev.bulwark.examples.ratelimit;

import org.jspecify.annotations.NullMarked;

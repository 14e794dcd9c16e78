/**
 * The demo's timeouts code: the calculation endpoint (with the demo's 200 ms limit instead of 60 s)
 * and the request deadline of {@code docs/timeouts.md}. The recipes themselves, as the page shows
 * them, are run by the module's tests.
 */
@NullMarked
package dev.bulwark.examples.timeouts;

import org.jspecify.annotations.NullMarked;

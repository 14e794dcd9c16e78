/** The code of the timeouts recipes in {@code docs/timeouts.md}. */
@NullMarked
package dev.bulwark.examples.timeouts;

import org.jspecify.annotations.NullMarked;

/** A runnable demo that wires bulwark's modules against real, embedded servers. */
@NullMarked
package dev.bulwark.examples;

import org.jspecify.annotations.NullMarked;

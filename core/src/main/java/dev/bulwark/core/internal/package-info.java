/**
 * Internal: setting checks and their message grammar, named daemon threads and meter helpers, used
 * by every bulwark module. Not part of the API; it may change in any release, so do not call it
 * from application code.
 */
@NullMarked
package dev.bulwark.core.internal;

import org.jspecify.annotations.NullMarked;

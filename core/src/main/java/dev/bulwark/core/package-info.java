/**
 * What every bulwark module shares. The one type a user names is {@link dev.bulwark.core.Secrets},
 * which masks the passwords and tokens a connection URL can carry before it reaches a log line or a
 * message. Everything in {@code dev.bulwark.core.internal} serves the other bulwark modules and is
 * not part of the API: it may change in any release.
 */
@NullMarked
package dev.bulwark.core;

import org.jspecify.annotations.NullMarked;

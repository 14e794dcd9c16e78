package dev.bulwark.core.internal;

import io.micrometer.core.instrument.MeterRegistry;

/**
 * Meter names and the one rule for a name used twice in one registry.
 *
 * <p>Every bulwark meter is named {@code bulwark.<module>.<what>} and carries a {@code name} tag
 * with the owner's name. Two owners of one kind with the same name in one registry would add their
 * counts into each other's meters (Micrometer hands back the existing meter), so a builder refuses
 * the second one with {@link #requireUnused}.
 *
 * <p>The check is made when an object is built; two objects of the same name built at the same
 * instant on two threads may both pass it. Internal: not part of the API. Stateless and
 * thread-safe. Needs micrometer-core, which every module that calls it depends on.
 */
public final class Meters {
  /** The tag that names the owner of a meter: a pool, a limiter, a cache. */
  public static final String NAME_TAG = "name";

  private Meters() {}

  /**
   * A meter name, {@code bulwark.<module>.<what>}.
   *
   * @param module the module, as in {@code timeouts}
   * @param what the lowercase dotted noun, as in {@code calls}; no unit, no backend suffix
   * @return the meter name
   */
  public static String name(String module, String what) {
    return "bulwark." + module + "." + what;
  }

  /**
   * Whether the registry holds a meter of this name whose tag has this value.
   *
   * @param registry the registry
   * @param meterName the meter's name
   * @param tag the tag's key
   * @param value the tag's value
   * @return true if such a meter is registered
   */
  public static boolean holds(MeterRegistry registry, String meterName, String tag, String value) {
    return registry.find(meterName).tag(tag, value).meter() != null;
  }

  /**
   * Refuses a name that another object of the same kind already uses in the registry.
   *
   * @param registry the registry the new object will register into
   * @param meterName one meter every object of this kind registers, tagged {@link #NAME_TAG}
   * @param kind what the object is, as a user says it: {@code "pool"}, {@code "time limiter"}
   * @param name the new object's name
   * @param setting the setting that gives the name, for the advice in the message
   * @throws IllegalStateException {@code "meterRegistry already holds the meters of a <kind> named
   *     "<name>": give each <kind> its own <setting>"}
   */
  public static void requireUnused(
      MeterRegistry registry, String meterName, String kind, String name, String setting) {
    if (holds(registry, meterName, NAME_TAG, name)) {
      throw duplicate(kind, name, setting);
    }
  }

  /**
   * The exception {@link #requireUnused} throws, for kinds that must look for more than one meter.
   *
   * @param kind what the object is
   * @param name its name
   * @param setting the setting that gives the name
   * @return the exception, to be thrown by the caller
   */
  public static IllegalStateException duplicate(String kind, String name, String setting) {
    return new IllegalStateException(
        Checks.format(
            "meterRegistry already holds the meters of a %s named \"%s\": give each %s its own %s",
            kind, name, kind, setting));
  }
}

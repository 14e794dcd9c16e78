package dev.bulwark.benchmarks;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/** The options of the benchmarks' command-line drivers (those that are not JMH benchmarks). */
public final class Options {
  private Options() {}

  /**
   * Reads options given as pairs {@code --name value}.
   *
   * @param arguments the command line
   * @return the values by name, without the dashes
   * @throws IllegalArgumentException if an argument is not part of such a pair
   */
  public static Map<String, String> parse(String[] arguments) {
    Map<String, String> options = new HashMap<>();
    for (int i = 0; i < arguments.length; i += 2) {
      if (!arguments[i].startsWith("--") || i + 1 == arguments.length) {
        throw new IllegalArgumentException(
            "arguments must be pairs of --name value, but were " + Arrays.toString(arguments));
      }
      options.put(arguments[i].substring(2), arguments[i + 1]);
    }
    return options;
  }
}

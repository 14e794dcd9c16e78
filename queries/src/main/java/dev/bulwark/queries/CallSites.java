package dev.bulwark.queries;

import java.util.List;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * The line of user code that ran a statement: the first stack frame whose class is not in JDBC, the
 * JDK, a pool, a driver, an ORM, datasource-proxy or bulwark. Walked only when a limit is passed,
 * never per statement. Immutable and thread-safe.
 */
final class CallSites {
  /** Packages (ending in {@code '.'}) and classes whose frames are never the call site. */
  static final List<String> SKIPPED =
      List.of(
          "java.",
          "javax.",
          "jdk.",
          "sun.",
          "com.sun.",
          "jakarta.",
          "net.ttddyy.dsproxy.",
          "com.zaxxer.hikari.",
          "org.postgresql.",
          "org.hibernate.",
          "org.jooq.",
          "org.springframework.jdbc.",
          "org.springframework.orm.",
          "org.springframework.data.",
          "org.springframework.transaction.",
          "org.springframework.aop.",
          "org.eclipse.persistence.",
          "org.apache.ibatis.",
          "org.mybatis.",
          "dev.bulwark.pool.",
          "dev.bulwark.timeouts.",
          // This module's own classes, by name: code of the same package (its tests) is user code.
          "dev.bulwark.queries.GuardListener",
          "dev.bulwark.queries.QueryScope",
          "dev.bulwark.queries.QueryGuard",
          "dev.bulwark.queries.CallSites",
          "dev.bulwark.queries.RowCounting",
          "dev.bulwark.queries.QueryScopeFilter");

  private final List<String> skipped;

  CallSites(List<String> more) {
    this.skipped = more.isEmpty() ? SKIPPED : concat(more);
  }

  private static List<String> concat(List<String> more) {
    java.util.ArrayList<String> all = new java.util.ArrayList<>(SKIPPED);
    all.addAll(more);
    return List.copyOf(all);
  }

  /** The call site of the current thread, or null if every frame is skipped. */
  @Nullable String find() {
    Optional<StackWalker.StackFrame> frame =
        StackWalker.getInstance()
            .walk(frames -> frames.filter(f -> !skipped(f.getClassName())).findFirst());
    return frame.map(CallSites::format).orElse(null);
  }

  private boolean skipped(String className) {
    for (String skip : skipped) {
      // A package ends in '.'; a class is itself and its nested classes and lambdas.
      if (skip.endsWith(".")
          ? className.startsWith(skip)
          : className.equals(skip) || className.startsWith(skip + "$")) {
        return true;
      }
    }
    return className.startsWith("$Proxy") || className.contains(".$Proxy");
  }

  private static String format(StackWalker.StackFrame frame) {
    String file = frame.getFileName();
    return frame.getClassName()
        + "."
        + frame.getMethodName()
        + "("
        + (file == null ? "Unknown Source" : file + ":" + frame.getLineNumber())
        + ")";
  }
}

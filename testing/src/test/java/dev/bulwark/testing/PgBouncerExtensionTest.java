package dev.bulwark.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.platform.launcher.Launcher;
import org.junit.platform.launcher.LauncherDiscoveryRequest;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;
import org.junit.platform.launcher.listeners.SummaryGeneratingListener;
import org.junit.platform.launcher.listeners.TestExecutionSummary;
import org.opentest4j.TestAbortedException;

/** Where there is no pgbouncer binary; runs whether or not this machine has one. */
class PgBouncerExtensionTest {

  @Test
  void aMissingBinaryIsAnAssumptionFailure() {
    assertThatThrownBy(
            () ->
                TestPgBouncer.requireBinary(
                    null, "/nonexistent/bin:/nonexistent/x", Path.of("/nonexistent/sbin")))
        .isInstanceOf(TestAbortedException.class)
        .hasMessage(
            "pgbouncer not found on the PATH: /nonexistent/bin:/nonexistent/x, nor in"
                + " /nonexistent/sbin (install it, for example with apt-get install pgbouncer)");
  }

  @Test
  void aMissingNamedBinarySkipsTheTestsOfTheExtension() {
    String before = System.getProperty(TestPgBouncer.BINARY_PROPERTY);
    System.setProperty(TestPgBouncer.BINARY_PROPERTY, "/nonexistent/pgbouncer");
    NeedsPgBouncer.ran = false;
    TestExecutionSummary summary;
    try {
      summary = run(NeedsPgBouncer.class);
    } finally {
      if (before == null) {
        System.clearProperty(TestPgBouncer.BINARY_PROPERTY);
      } else {
        System.setProperty(TestPgBouncer.BINARY_PROPERTY, before);
      }
    }
    assertThat(summary.getTestsSucceededCount()).isZero();
    assertThat(summary.getTestsFailedCount()).isZero();
    // The condition disables the class: its test is never started.
    assertThat(summary.getContainersSkippedCount()).isOne();
    assertThat(NeedsPgBouncer.ran).isFalse();
  }

  @Test
  void aMissingNamedBinaryIsReportedWithItsPath() {
    assertThat(TestPgBouncer.missingReason("/nonexistent/pgbouncer", "/usr/sbin"))
        .contains(
            "pgbouncer not found at /nonexistent/pgbouncer (the system property"
                + " bulwark.test.pgbouncer)");
  }

  private static TestExecutionSummary run(Class<?> testClass) {
    LauncherDiscoveryRequest request =
        LauncherDiscoveryRequestBuilder.request().selectors(selectClass(testClass)).build();
    Launcher launcher = LauncherFactory.create();
    SummaryGeneratingListener listener = new SummaryGeneratingListener();
    launcher.execute(request, listener);
    return listener.getSummary();
  }

  /** Run only through {@link #run(Class)}: surefire skips nested static classes. */
  @ExtendWith(PgBouncerExtension.class)
  static class NeedsPgBouncer {
    static volatile boolean ran;

    @Test
    void needsIt(TestPgBouncer bouncer) {
      ran = true;
    }
  }
}

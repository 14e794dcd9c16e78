package dev.bulwark.examples;

import static org.assertj.core.api.Assertions.assertThat;

import dev.bulwark.core.Secrets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.Marker;
import org.slf4j.event.Level;
import org.slf4j.helpers.LegacyAbstractLogger;
import org.slf4j.helpers.MessageFormatter;

/** The Java snippet of {@code README.md}, run as written. */
class ReadmeSnippetsTest {

  @Test
  void maskUrlHidesTheUserInfoOfTheDatabaseUrl() {
    // The examples' pom sets DATABASE_URL for the tests, with a user and a password.
    assertThat(System.getenv("DATABASE_URL"))
        .isEqualTo("postgres://shop:s3cr3t@db.internal:5432/shop");
    RecordingLogger recording = new RecordingLogger();
    Logger log = recording;

    // snippet:begin readme-mask-url
    log.info("database {}", Secrets.maskUrl(System.getenv("DATABASE_URL")));
    // postgres://***@db.internal:5432/shop
    // snippet:end

    assertThat(recording.lines)
        .containsExactly("INFO database postgres://***@db.internal:5432/shop");
  }

  /** An SLF4J logger that keeps each line it is given, formatted as SLF4J formats it. */
  private static final class RecordingLogger extends LegacyAbstractLogger {
    private static final long serialVersionUID = 1L;

    final List<String> lines = new ArrayList<>();

    @Override
    protected String getFullyQualifiedCallerName() {
      return RecordingLogger.class.getName();
    }

    @Override
    protected void handleNormalizedLoggingCall(
        Level level, Marker marker, String pattern, Object[] arguments, Throwable throwable) {
      lines.add(level + " " + MessageFormatter.basicArrayFormat(pattern, arguments));
    }

    @Override
    public boolean isTraceEnabled() {
      return true;
    }

    @Override
    public boolean isDebugEnabled() {
      return true;
    }

    @Override
    public boolean isInfoEnabled() {
      return true;
    }

    @Override
    public boolean isWarnEnabled() {
      return true;
    }

    @Override
    public boolean isErrorEnabled() {
      return true;
    }
  }
}

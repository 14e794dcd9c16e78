package dev.bulwark.examples;

import static org.assertj.core.api.Assertions.assertThat;

import dev.bulwark.core.Secrets;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;

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

    assertThat(recording.lines())
        .containsExactly("INFO database postgres://***@db.internal:5432/shop");
  }
}

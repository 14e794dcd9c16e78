package dev.bulwark.testing;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.sql.SQLException;
import org.junit.jupiter.api.Test;

class NoSecretsTest {

  @Test
  void anEmptySecretIsRefused() {
    assertThatThrownBy(() -> NoSecrets.assertHidden(new RuntimeException("x"), ""))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("secrets must not be empty, but one was \"\"");
  }

  @Test
  void passesWhenNoSecretIsShown() {
    RuntimeException e = new RuntimeException("cannot connect", new SQLException("refused"));
    e.addSuppressed(new IllegalStateException("closed"));
    NoSecrets.assertHidden(e, "s3cr3t");
  }

  @Test
  void findsASecretInACauseASuppressedAndAChainedException() {
    assertThatThrownBy(
            () ->
                NoSecrets.assertHidden(
                    new RuntimeException("outer", new IllegalStateException("pw s3cr3t")),
                    "s3cr3t"))
        .isInstanceOf(AssertionError.class)
        .hasMessage("secret #1 appears in the message of java.lang.IllegalStateException");

    RuntimeException suppressing = new RuntimeException("outer");
    suppressing.addSuppressed(new IllegalArgumentException("x s3cr3t"));
    assertThatThrownBy(() -> NoSecrets.assertHidden(suppressing, "other", "s3cr3t"))
        .hasMessage("secret #2 appears in the message of java.lang.IllegalArgumentException");

    SQLException batch = new SQLException("batch failed");
    batch.setNextException(new SQLException("password s3cr3t rejected"));
    assertThatThrownBy(() -> NoSecrets.assertHidden(batch, "s3cr3t"))
        .hasMessage("secret #1 appears in the message of java.sql.SQLException")
        .hasNoCause();
  }

  @Test
  void aCycleOfCausesEnds() {
    RuntimeException a = new RuntimeException("a");
    RuntimeException b = new RuntimeException("b", a);
    a.initCause(b);
    NoSecrets.assertHidden(a, "s3cr3t");
    assertThatThrownBy(() -> NoSecrets.assertHidden(a, "b"))
        .hasMessage("secret #1 appears in the message of java.lang.RuntimeException");
  }
}

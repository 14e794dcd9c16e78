package dev.bulwark.core;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class SecretsTest {

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "jdbc:postgresql://shop:s3cr3t@db:5432/shop | jdbc:postgresql://***@db:5432/shop",
        "postgres://shop:s3cr3t@db.internal/shop | postgres://***@db.internal/shop",
        "redis://:s3cr3t@127.0.0.1:6379/0 | redis://***@127.0.0.1:6379/0",
        "rediss://default:s3cr3t@cache:6380 | rediss://***@cache:6380",
        "redis-sentinel://:s3cr3t@h1:26379,h2:26379/0#mymaster"
            + " | redis-sentinel://***@h1:26379,h2:26379/0#mymaster",
        // Unencoded '@', '/', '?' and '#' in a password: the last '@' ends the user-info.
        "redis://:p@ss/w?o#rd@127.0.0.1:6379 | redis://***@127.0.0.1:6379",
        "jdbc:postgresql://db/shop?user=shop&password=s3cr3t&ssl=true"
            + " | jdbc:postgresql://db/shop?user=shop&password=***&ssl=true",
        // A secret's value ends at the next '&' only, as pgjdbc reads it.
        "jdbc:postgresql://db/shop?sslpassword=s3cr3t;PWD=s3cr3t;Token=s3cr3t#f"
            + " | jdbc:postgresql://db/shop?sslpassword=***",
        "jdbc:postgresql://db/shop?sslpassword=ab;s3cr3t&ssl=true"
            + " | jdbc:postgresql://db/shop?sslpassword=***&ssl=true",
        "jdbc:postgresql://db/shop?sslpassword=ab#s3cr3t | jdbc:postgresql://db/shop?sslpassword=***",
        "jdbc:sqlserver://db;user=shop;password=s3cr3t | jdbc:sqlserver://db;user=shop;password=***",
        // An '@' in the query: the parameters are masked first, then up to the last '@'.
        "jdbc:postgresql://db/shop?gssUsername=app@REALM&sslpassword=s3cr3t"
            + " | jdbc:postgresql://***@REALM&sslpassword=***",
        "jdbc:postgresql:shop?user=app@tenant&password=s3cr3t | ***@tenant&password=***",
        // No '@': a "port" that is not a number is a password whose '@' was forgotten.
        "redis://:s3cr3t | redis://:***",
        "redis://default:s3cr3t/0 | redis://default:***",
        "redis://default:s3/cr3t | redis://default:***",
        "redis-sentinel://h1:26379,h2:s3cr3t/0#m | redis-sentinel://h1:26379,h2:***",
        "redis-sentinel://h1:26379,h2:26379/0#mymaster | redis-sentinel://h1:26379,h2:26379/0#mymaster",
        "redis://[::1]:6379/0 | redis://[::1]:6379/0",
        "redis://[::1] | redis://[::1]",
        "jdbc:postgresql://u:s3cr3t@db/shop?password=s3cr3t&api_key=s3cr3t&apikeys=x"
            + " | jdbc:postgresql://***@db/shop?password=***&api_key=***&apikeys=x",
        "jdbc:postgresql:shop?password=s3cr3t | jdbc:postgresql:shop?password=***",
        "shop:s3cr3t@host | ***@host",
        "redis://127.0.0.1:6379/0 | redis://127.0.0.1:6379/0",
        "not a url | not a url",
        "jdbc:postgresql://db/shop?password= | jdbc:postgresql://db/shop?password=***",
        "jdbc:postgresql://db/shop?&&password | jdbc:postgresql://db/shop?&&password",
      })
  void masksUserInfoAndSecretParameters(String url, String expected) {
    assertThat(Secrets.maskUrl(url)).isEqualTo(expected).doesNotContain("s3cr3t");
  }

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "could not reach postgres://app:s3cr3t@db.internal:5432/shop?password=s3cr3t"
            + " | could not reach postgres://***@db.internal:5432/shop?password=***",
        "entry LogEntry@5e2de80c was refused | entry LogEntry@5e2de80c was refused",
        "mail to ops@example.com failed | mail to ops@example.com failed",
        "login failed for user=app password=s3cr3t | login failed for user=app password=***",
        "bad settings (Password=s3cr3t, apikey=s3cr3t) | bad settings (Password=*** apikey=***",
        "\"token=s3cr3t\" | \"token=***",
        "api_key=s3cr3t;user=app | api_key=***",
        "connect jdbc:postgresql:shop?user=app&password=s3cr3t now"
            + " | connect jdbc:postgresql:shop?user=app&password=*** now",
        "shop:s3cr3t@db refused | ***@db refused",
        "x=1 passwords=2 = a=b | x=1 passwords=*** = a=b",
        "no secret here | no secret here",
      })
  void masksTheSecretsInFreeText(String text, String expected) {
    assertThat(Secrets.maskText(text)).isEqualTo(expected).doesNotContain("s3cr3t");
  }

  @Test
  void freeTextKeepsItsWhitespace() {
    assertThat(Secrets.maskText("  a\n\tpassword=s3cr3t  b ")).isEqualTo("  a\n\tpassword=***  b ");
    assertThat(Secrets.maskText("")).isEmpty();
    assertThat(Secrets.maskText(null)).isEqualTo("null");
  }

  @Test
  void nullIsShownAsNull() {
    assertThat(Secrets.maskUrl(null)).isEqualTo("null");
    assertThat(Secrets.redact(null, "x")).isEqualTo("null");
  }

  @Test
  void redactsASecretAsGivenAndPercentEncoded() {
    assertThat(Secrets.redact("host shop:p@ss w/rd@db and shop:p%40ss%20w%2Frd@db", "p@ss w/rd"))
        .isEqualTo("host shop:***@db and shop:***@db");
    assertThat(Secrets.redact("p%40ss+w", "p@ss w")).isEqualTo("***");
    assertThat(Secrets.redact("nothing here", "")).isEqualTo("nothing here");
    assertThat(Secrets.redact("nothing here", null)).isEqualTo("nothing here");
  }
}

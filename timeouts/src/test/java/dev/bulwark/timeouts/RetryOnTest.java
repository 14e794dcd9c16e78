package dev.bulwark.timeouts;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.lettuce.core.RedisConnectionException;
import io.lettuce.core.RedisException;
import io.lettuce.core.RedisLoadingException;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.sql.BatchUpdateException;
import java.sql.SQLException;
import java.sql.SQLTransientConnectionException;
import java.util.concurrent.CompletionException;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The classifiers' SQLState table and chain walking, on exceptions built here. What the servers
 * really throw is in {@link RetryOnPostgresTest} and {@link RetryOnRedisTest}.
 */
class RetryOnTest {

  @ParameterizedTest(name = "{0}: connection {1}, serialization {2}")
  @CsvSource({
    "40001, false, true",
    "40P01, false, true",
    "08000, true, false",
    "08001, true, false",
    "08003, true, false",
    "08006, true, false",
    "08007, true, false",
    "08P01, true, false",
    "08S01, true, false",
    "57P01, true, false",
    "57P02, true, false",
    "57P03, true, false",
    "57P05, true, false",
    "53300, true, false",
    "08004, false, false",
    "57014, false, false",
    "57P04, false, false",
    "55P03, false, false",
    "25P02, false, false",
    "25P03, false, false",
    "23505, false, false",
    "23503, false, false",
    "42601, false, false",
    "42P01, false, false",
    "28P01, false, false",
    "3D000, false, false",
    "53200, false, false",
    "40002, false, false",
    "XX000, false, false"
  })
  void sqlStateTable(String state, boolean connection, boolean serialization) {
    SQLException failure = new SQLException("server said so", state);

    assertThat(RetryOn.postgresConnectionFailure().test(failure)).isEqualTo(connection);
    assertThat(RetryOn.postgresSerializationFailure().test(failure)).isEqualTo(serialization);
    assertThat(RetryOn.postgresTransient().test(failure)).isEqualTo(connection || serialization);
  }

  @Test
  void aPoolTimeoutIsRetriedWithoutAStateOrWithATransientOne() {
    Predicate<Throwable> retried = RetryOn.postgresConnectionFailure();

    assertThat(retried.test(new SQLTransientConnectionException("pool - timed out"))).isTrue();
    assertThat(retried.test(new SQLTransientConnectionException("pool - timed out", "57P03")))
        .isTrue();
    assertThat(retried.test(new SQLTransientConnectionException("pool - timed out", "28P01")))
        .isFalse();
    // A plain SQLException without a state is not a pool timeout.
    assertThat(retried.test(new SQLException("pool is closed"))).isFalse();
  }

  @Test
  void findsAMatchAmongCausesAndNextExceptions() {
    SQLException deadlock = new SQLException("deadlock detected", "40P01");
    BatchUpdateException batch = new BatchUpdateException("batch entry 0 aborted", "40P01", null);
    SQLException first = new SQLException("first entry", "23505");
    first.setNextException(new SQLException("second entry", "40001"));
    CompletionException wrapped =
        new CompletionException(new IllegalStateException("task failed", deadlock));

    assertThat(RetryOn.postgresTransient().test(wrapped)).isTrue();
    assertThat(RetryOn.postgresTransient().test(batch)).isTrue();
    assertThat(RetryOn.postgresSerializationFailure().test(first)).isTrue();
    assertThat(RetryOn.postgresTransient().test(new UncheckedIOException(new IOException("x"))))
        .isFalse();
  }

  @Test
  void endsOnCyclesAndStopsAfter32Throwables() {
    SQLException a = new SQLException("a", "23505");
    SQLException b = new SQLException("b", "42601");
    a.initCause(b);
    b.initCause(a);
    a.setNextException(b);
    b.setNextException(a);

    assertThat(RetryOn.postgresTransient().test(a)).isFalse();

    assertThat(RetryOn.postgresTransient().test(wrapped(31, "40001"))).isTrue();
    assertThat(RetryOn.postgresTransient().test(wrapped(32, "40001"))).isFalse();
  }

  @Test
  void sqlStatesMatchesStatesAndClasses() {
    Predicate<Throwable> chosen = RetryOn.sqlStates("57014", "55");

    assertThat(chosen.test(new SQLException("canceled", "57014"))).isTrue();
    assertThat(chosen.test(new SQLException("lock not available", "55P03"))).isTrue();
    assertThat(chosen.test(new SQLException("admin shutdown", "57P01"))).isFalse();
    assertThat(chosen.test(new SQLException("no state"))).isFalse();
    assertThat(chosen.test(new SQLException("odd state", "5"))).isFalse();
    assertThat(chosen.test(new RuntimeException(new SQLException("canceled", "57014")))).isTrue();
    assertThat(chosen).hasToString("RetryOn.sqlStates(57014, 55)");
  }

  @Test
  void sqlStatesRefusesWhatIsNotAStateOrAClass() {
    assertThatThrownBy(RetryOn::sqlStates)
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("sqlStates must name at least one SQLState, but was none");
    assertThatThrownBy(() -> RetryOn.sqlStates("40001", "4000"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage(
            "sqlStates must be 5-character SQLStates or 2-character classes of digits and"
                + " upper-case letters, but was \"4000\"");
    assertThatThrownBy(() -> RetryOn.sqlStates("40p01"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageEndingWith("but was \"40p01\"");
    assertThatThrownBy(() -> RetryOn.sqlStates((String) null))
        .isInstanceOf(NullPointerException.class);
  }

  @Test
  void aRedisServerStillLoadingItsDataIsAConnectionFailure() {
    RedisLoadingException loading =
        new RedisLoadingException("LOADING Redis is loading the dataset in memory");

    assertThat(RetryOn.redisConnectionFailure().test(loading)).isTrue();
    assertThat(RetryOn.redisTransient().test(loading)).isTrue();
    assertThat(RetryOn.redisCommandTimeout().test(loading)).isFalse();
  }

  @Test
  void aRedisExceptionWithoutAMessageIsClassifiedByItsCause() {
    RedisException bare = new RedisException((String) null);
    RedisException reset = new RedisException(null, new IOException("Connection reset"));

    assertThat(RetryOn.redisConnectionFailure().test(bare)).isFalse();
    assertThat(RetryOn.redisTransient().test(bare)).isFalse();
    assertThat(RetryOn.redisConnectionFailure().test(reset)).isTrue();
    assertThat(RetryOn.redisConnectionFailure().test(new RedisConnectionException(null))).isTrue();
  }

  @Test
  void aRedisServerInProtectedModeIsNotRetried() {
    // What Lettuce raises when the server answers a non-loopback client with DENIED and hangs up.
    RedisConnectionException denied =
        new RedisConnectionException(
            "DENIED Redis is running in protected mode because protected mode is enabled");

    assertThat(RetryOn.redisTransient().test(denied)).isFalse();
  }

  @Test
  void eachClassifierIsOneInstanceNamedByItsExpression() {
    assertThat(RetryOn.postgresTransient())
        .isSameAs(RetryOn.postgresTransient())
        .hasToString("RetryOn.postgresTransient()");
    assertThat(RetryOn.postgresConnectionFailure())
        .hasToString("RetryOn.postgresConnectionFailure()");
    assertThat(RetryOn.postgresSerializationFailure())
        .hasToString("RetryOn.postgresSerializationFailure()");
    assertThat(RetryOn.redisTransient())
        .isSameAs(RetryOn.redisTransient())
        .hasToString("RetryOn.redisTransient()");
    assertThat(RetryOn.redisConnectionFailure()).hasToString("RetryOn.redisConnectionFailure()");
    assertThat(RetryOn.redisCommandTimeout()).hasToString("RetryOn.redisCommandTimeout()");
    // Retry names the classifier when retryIf is given twice.
    assertThatThrownBy(
            () ->
                Retry.builder("twice")
                    .retryIf(RetryOn.postgresTransient())
                    .retryIf(RetryOn.redisTransient()))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("retryIf was already set to RetryOn.postgresTransient()");
  }

  @Test
  void testingNullIsAnError() {
    assertThatThrownBy(() -> RetryOn.postgresTransient().test(null))
        .isInstanceOf(NullPointerException.class)
        .hasMessage("failure");
  }

  @Test
  void loadsAndClassifiesPostgresFailuresWithoutLettuce() throws Exception {
    ClassLoader withoutLettuce = new WithoutLettuce(RetryOnTest.class.getClassLoader());
    Class<?> retryOn = Class.forName(RetryOn.class.getName(), true, withoutLettuce);
    assertThat(retryOn.getClassLoader()).isSameAs(withoutLettuce);

    @SuppressWarnings("unchecked")
    Predicate<Throwable> postgres =
        (Predicate<Throwable>) retryOn.getMethod("postgresTransient").invoke(null);
    assertThat(postgres.test(new SQLException("deadlock detected", "40P01"))).isTrue();

    Method redis = retryOn.getMethod("redisTransient");
    assertThatThrownBy(() -> redis.invoke(null))
        .isInstanceOf(InvocationTargetException.class)
        .cause()
        .isInstanceOf(IllegalStateException.class)
        .hasMessage(
            "RetryOn.redisTransient() needs lettuce-core on the class path, but"
                + " io.lettuce.core.RedisException was not found");
  }

  /** {@code depth} wrappers around a SQLException with {@code state}. */
  private static Throwable wrapped(int depth, String state) {
    Throwable t = new SQLException("at the bottom", state);
    for (int i = 0; i < depth; i++) {
      t = new RuntimeException("wrapper " + i, t);
    }
    return t;
  }

  /**
   * Defines this module's classes itself, from the same class files, and hides Lettuce: what a
   * class path without {@code lettuce-core} looks like to them.
   */
  private static final class WithoutLettuce extends ClassLoader {
    WithoutLettuce(ClassLoader parent) {
      super(parent);
    }

    @Override
    protected Class<?> loadClass(String name, boolean resolve) throws ClassNotFoundException {
      synchronized (getClassLoadingLock(name)) {
        if (name.startsWith("io.lettuce.")) {
          throw new ClassNotFoundException(name);
        }
        if (!name.startsWith("dev.bulwark.timeouts.")) {
          return super.loadClass(name, resolve);
        }
        Class<?> loaded = findLoadedClass(name);
        if (loaded == null) {
          loaded = define(name);
        }
        if (resolve) {
          resolveClass(loaded);
        }
        return loaded;
      }
    }

    private Class<?> define(String name) throws ClassNotFoundException {
      String file = name.replace('.', '/') + ".class";
      try (InputStream in = getParent().getResourceAsStream(file)) {
        if (in == null) {
          throw new ClassNotFoundException(name);
        }
        byte[] bytes = in.readAllBytes();
        return defineClass(name, bytes, 0, bytes.length);
      } catch (IOException e) {
        throw new ClassNotFoundException(name, e);
      }
    }
  }
}

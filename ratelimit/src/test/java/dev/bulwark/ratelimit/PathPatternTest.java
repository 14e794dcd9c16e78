package dev.bulwark.ratelimit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** The route patterns: exact paths, one-segment {@code *}, trailing {@code **}. */
class PathPatternTest {

  @ParameterizedTest
  @CsvSource({
    "/quotes/calculate, /quotes/calculate, true",
    "/quotes/calculate, /quotes/calculate/, true",
    "/quotes/calculate, //quotes//calculate, true",
    "/quotes/calculate, /quotes, false",
    "/quotes/calculate, /quotes/calculate/x, false",
    "/quotes/calculate, /Quotes/calculate, false",
    "/quotes/calculate, /quotes/calculated, false",
    "/, /, true",
    "/, /a, false",
    "/users/*, /users/42, true",
    "/users/*, /users/42/, true",
    "/users/*, /users, false",
    "/users/*, /users/42/avatar, false",
    "/users/*/avatar, /users/42/avatar, true",
    "/users/*/avatar, /users/avatar, false",
    "/*, /a, true",
    "/*, /, false",
    "/exports/**, /exports, true",
    "/exports/**, /exports/, true",
    "/exports/**, /exports/2024/01.csv, true",
    "/exports/**, /exportsx, false",
    "/exports/**, /, false",
    "/**, /, true",
    "/**, /anything/at/all, true",
    "/users/*/files/**, /users/1/files, true",
    "/users/*/files/**, /users/1/files/a/b, true",
    "/users/*/files/**, /users/files/a, false",
  })
  void pathsMatchSegmentBySegment(String pattern, String path, boolean matches) {
    assertThat(PathPattern.parse(pattern).matches(PathPattern.split(path))).isEqualTo(matches);
  }

  @ParameterizedTest
  @CsvSource({
    "/**, /a, true",
    "/**, /**, true",
    "/a/**, /a, true",
    "/a/**, /a/*/b, true",
    "/a/**, /b, false",
    "/a/**, /**, false",
    "/*, /a, true",
    "/*, /*, true",
    "/*, /a/b, false",
    "/*, /**, false",
    "/a, /a, true",
    "/a, /a/, true",
    "/a, /*, false",
    "/a, /a/**, false",
    "/a/*, /a/b, true",
    "/a/b, /a/*, false",
  })
  void aPatternCoversAnotherWhenItMatchesEveryPathTheOtherDoes(
      String earlier, String later, boolean covers) {
    assertThat(PathPattern.parse(earlier).covers(PathPattern.parse(later))).isEqualTo(covers);
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "",
        "quotes",
        "*",
        "/quotes/*.csv",
        "/quotes/calc*",
        "/***",
        "/**/x",
        "/a/**/b",
        "/a b",
        "/a\tb",
      })
  void badPatternsAreRefused(String pattern) {
    assertThatIllegalArgumentException()
        .isThrownBy(() -> PathPattern.parse(pattern))
        .withMessage(
            "pattern must start with '/' and be at most 256 characters without spaces, its"
                + " segments literal or '*' (one segment), with '**' (any segments) only last, but"
                + " was \""
                + pattern
                + "\"");
  }

  @org.junit.jupiter.api.Test
  void aPatternHasABoundedLength() {
    String longest = "/" + "a".repeat(255);
    assertThat(PathPattern.parse(longest)).hasToString(longest);
    assertThatIllegalArgumentException().isThrownBy(() -> PathPattern.parse(longest + "a"));
  }
}

package dev.bulwark.queries;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;
import static org.assertj.core.api.Assertions.assertThatIllegalStateException;
import static org.assertj.core.api.Assertions.assertThatNullPointerException;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The builder's texts and the guard's meters; nothing here runs a statement. */
class QueryGuardBuilderTest {

  @Test
  void toStringShowsOnlyWhatWasSet() {
    assertThat(QueryGuard.builder()).hasToString("QueryGuard.Builder{}");
    assertThat(QueryGuard.builder().maxShapes(50)).hasToString("QueryGuard.Builder{maxShapes=50}");
    assertThat(
            QueryGuard.builder()
                .name("orders")
                .policy(QueryPolicy.THROW)
                .nPlusOneThreshold(3)
                .maxStatements(40)
                .rowsWarning(1_000)
                .rowsLimit(5_000)
                .slowThreshold(Duration.ofMillis(250))
                .maxShapes(50)
                .defaultFetchSize(100)
                .scope("GET /customers/{id}", ScopeLimits.none().maxStatements(4))
                .skipCallSites("com.shop.db.")
                .skipCallSites("com.shop.jdbc.")
                .meterRegistry(new SimpleMeterRegistry()))
        .hasToString(
            "QueryGuard.Builder{name=orders, policy=THROW, nPlusOneThreshold=3, maxStatements=40,"
                + " rowsWarning=1000, rowsLimit=5000, slowThreshold=250 ms, maxShapes=50,"
                + " defaultFetchSize=100, scopes={GET /customers/{id}=ScopeLimits{maxStatements=4}},"
                + " skipCallSites=[com.shop.db., com.shop.jdbc.], meterRegistry=set}");
  }

  @Test
  void scopeLimitsShowOnlyWhatWasSet() {
    assertThat(ScopeLimits.none()).hasToString("ScopeLimits{}");
    assertThat(ScopeLimits.none().nPlusOneThreshold(2).rowsLimit(10).rowsWarning(5))
        .hasToString("ScopeLimits{nPlusOneThreshold=2, rowsWarning=5, rowsLimit=10}");
  }

  @Test
  void theGuardSaysItsNameAndPolicy() {
    assertThat(QueryGuard.builder().name("orders").policy(QueryPolicy.COUNT).build())
        .hasToString("QueryGuard[name=orders, policy=COUNT, shapes=0]");
    assertThat(QueryGuard.builder().build())
        .hasToString("QueryGuard[name=default, policy=LOG, shapes=0]");
  }

  @Test
  void skipCallSitesTakesAPackagePrefixEndingInADot() {
    assertThatIllegalArgumentException()
        .isThrownBy(() -> QueryGuard.builder().skipCallSites("com.shop.db"))
        .withMessage("prefix must end with '.', but was \"com.shop.db\"");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> QueryGuard.builder().skipCallSites(" "))
        .withMessage("prefix must not be blank, but was \" \"");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> QueryGuard.builder().skipCallSites(""))
        .withMessage("prefix must not be blank, but was \"\"");
    assertThatNullPointerException()
        .isThrownBy(() -> QueryGuard.builder().skipCallSites(null))
        .withMessage("prefix");
  }

  @Test
  void moreBadSettings() {
    assertThatIllegalArgumentException()
        .isThrownBy(() -> QueryGuard.builder().slowThreshold(Duration.ZERO))
        .withMessage("slowThreshold must be between 1 ms and 3600000 ms, but was 0 ms");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> QueryGuard.builder().defaultFetchSize(0))
        .withMessage("defaultFetchSize must be between 1 and 1000000, but was 0");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> QueryGuard.builder().name("orders db"))
        .withMessage(
            "name must be 1 to 63 letters, digits, '.', '_' or '-', but was \"orders db\"");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> QueryGuard.builder().scope(" ", ScopeLimits.none()))
        .withMessage("scope must not be blank, but was \" \"");
    assertThatIllegalStateException()
        .isThrownBy(
            () ->
                QueryGuard.builder()
                    .scope("GET /x", ScopeLimits.none().maxStatements(4))
                    .scope("GET /x", ScopeLimits.none()))
        .withMessage("scope \"GET /x\" was already set to ScopeLimits{maxStatements=4}");
    assertThatIllegalStateException()
        .isThrownBy(() -> QueryGuard.builder().defaultFetchSize(100).defaultFetchSize(50))
        .withMessage("defaultFetchSize was already set to 100");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> QueryGuard.builder().build().begin(" "))
        .withMessage("scope must not be blank, but was \" \"");
  }

  @Test
  void theGuardRegistersItsMetersOnceAndKeepsThem() {
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    QueryGuard.builder().meterRegistry(registry).build();
    assertThat(registry.find("bulwark.queries.events").tag("name", "default").counters())
        .extracting(counter -> counter.getId().getTag("kind"))
        .containsExactlyInAnyOrder(
            "n_plus_one", "statement_budget", "rows_warning", "rows_limit", "slow_statement");
    assertThat(registry.find("bulwark.queries.rows").tag("name", "default").counter()).isNotNull();
    // The guard has no close(): its meters stay, so a second guard of that name is refused.
    assertThatIllegalStateException()
        .isThrownBy(() -> QueryGuard.builder().meterRegistry(registry).build())
        .withMessage(
            "meterRegistry already holds the meters of a query guard named \"default\": give each"
                + " query guard its own name");
    QueryGuard.builder().name("reports").meterRegistry(registry).build();
  }
}

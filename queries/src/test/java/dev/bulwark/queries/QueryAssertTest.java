package dev.bulwark.queries;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The assertions' texts, exactly: a failing test's first line of evidence. */
class QueryAssertTest {
  private static final String APPOINTMENTS = "select * from appointments where customer_id = ?";

  /** 21 statements of five shapes, 40 rows, one N+1. */
  private static final QueryRecording RECORDING =
      new QueryRecording(
          "GET /customers/{id}",
          21,
          40,
          Map.of(
              "select * from customers where id = ?",
              1L,
              APPOINTMENTS,
              12L,
              "select * from notes where customer_id = ?",
              3L,
              "select * from invoices where customer_id = ?",
              3L,
              "select * from tags",
              2L),
          List.of(
              new QueryEvent(
                  QueryEvent.Kind.N_PLUS_ONE,
                  "GET /customers/{id}",
                  APPOINTMENTS,
                  12,
                  5,
                  "com.shop.Customers.appointments(Customers.java:42)",
                  null)));

  /** The shapes, most executed first, then in the order of their text. */
  private static final String SHAPES =
      "\nstatements by shape:"
          + "\n  12 x select * from appointments where customer_id = ?"
          + "\n  3 x select * from invoices where customer_id = ?"
          + "\n  3 x select * from notes where customer_id = ?"
          + "\n  2 x select * from tags"
          + "\n  1 x select * from customers where id = ?";

  @Test
  void hasStatementCount() {
    assertThat(QueryAssert.assertThat(RECORDING).hasStatementCount(21)).isNotNull();
    assertThatThrownBy(() -> QueryAssert.assertThat(RECORDING).hasStatementCount(2))
        .isInstanceOf(AssertionError.class)
        .hasMessage("scope GET /customers/{id}: expected 2 statements, but 21 ran" + SHAPES);
  }

  @Test
  void hasStatementCountAtMost() {
    QueryAssert.assertThat(RECORDING).hasStatementCountAtMost(21).hasStatementCountAtMost(22);
    assertThatThrownBy(() -> QueryAssert.assertThat(RECORDING).hasStatementCountAtMost(20))
        .isInstanceOf(AssertionError.class)
        .hasMessage(
            "scope GET /customers/{id}: expected at most 20 statements, but 21 ran" + SHAPES);
  }

  @Test
  void hasRowsAtMost() {
    QueryAssert.assertThat(RECORDING).hasRowsAtMost(40).hasRowsAtMost(41);
    assertThatThrownBy(() -> QueryAssert.assertThat(RECORDING).hasRowsAtMost(39))
        .isInstanceOf(AssertionError.class)
        .hasMessage(
            "scope GET /customers/{id}: expected at most 39 rows read, but 40 were" + SHAPES);
  }

  @Test
  void hasNoNPlusOne() {
    assertThatThrownBy(() -> QueryAssert.assertThat(RECORDING).hasNoNPlusOne())
        .isInstanceOf(AssertionError.class)
        .hasMessage(
            "scope GET /customers/{id}: expected no N+1, but found:"
                + "\n  N+1 in GET /customers/{id}: 12 executions (threshold 5) of select * from"
                + " appointments where customer_id = ? at"
                + " com.shop.Customers.appointments(Customers.java:42)"
                + SHAPES);
    QueryRecording clean =
        new QueryRecording("GET /customers/{id}", 2, 1, Map.of(APPOINTMENTS, 2L), List.of());
    QueryAssert.assertThat(clean).hasNoNPlusOne().hasStatementCount(2).hasRowsAtMost(1);
  }

  @Test
  void aScopeThatRanNothing() {
    QueryRecording nothing = new QueryRecording("job", 0, 0, Map.of(), List.of());
    assertThatThrownBy(() -> QueryAssert.assertThat(nothing).hasStatementCount(1))
        .isInstanceOf(AssertionError.class)
        .hasMessage("scope job: expected 1 statements, but 0 ran\nstatements by shape:");
  }
}

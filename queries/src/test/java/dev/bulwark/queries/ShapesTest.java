package dev.bulwark.queries;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** Statement shapes: values out, structure in. */
class ShapesTest {

  private static String shape(String sql) {
    return Shapes.normalize(sql);
  }

  @Test
  void literalsAndParametersBecomeOneMark() {
    assertThat(shape("select * from customers where id = 42"))
        .isEqualTo("select * from customers where id = ?");
    assertThat(shape("SELECT * FROM customers WHERE id = ?"))
        .isEqualTo("select * from customers where id = ?");
    assertThat(shape("select * from customers where name = 'O''Brien' and score > -1.5e3"))
        .isEqualTo("select * from customers where name = ? and score > -?");
    assertThat(shape("select * from t where a = $1 and b = $2 and c is null and d = true"))
        .isEqualTo("select * from t where a = ? and b = ? and c is ? and d = ?");
    assertThat(shape("select $$it's$$, $tag$x$tag$, E'a\\'b' from t"))
        .isEqualTo("select ?, ?, ? from t");
  }

  @Test
  void inListsOfAnyLengthAreOneShape() {
    String three = shape("select * from appointments where customer_id in (1, 2, 3)");
    StringBuilder fifty = new StringBuilder("select * from appointments where customer_id in (");
    for (int i = 1; i <= 50; i++) {
      fifty.append(i == 1 ? "" : ",").append(i);
    }
    fifty.append(")");
    assertThat(three).isEqualTo("select * from appointments where customer_id in (?)");
    assertThat(shape(fifty.toString())).isEqualTo(three);
    assertThat(shape("select * from appointments where customer_id in (?, ?)")).isEqualTo(three);
  }

  @Test
  void multiRowValuesListsAreOneShape() {
    assertThat(shape("insert into t (a, b) values (1, 'x'), (2, 'y'), (3, 'z')"))
        .isEqualTo("insert into t (a, b) values (?)");
    assertThat(shape("insert into t (a, b) values (?, ?)"))
        .isEqualTo("insert into t (a, b) values (?)");
  }

  @Test
  void differentTablesAndColumnsAreDifferentShapes() {
    assertThat(shape("select * from customers where id = 1"))
        .isNotEqualTo(shape("select * from appointments where id = 1"));
    assertThat(shape("select a1 from t")).isEqualTo("select a1 from t");
    assertThat(shape("select \"Mixed Case\" from \"T\""))
        .isEqualTo("select \"Mixed Case\" from \"T\"");
    // A function call's arguments that are names stay.
    assertThat(shape("select coalesce(a, b) from t")).isEqualTo("select coalesce(a, b) from t");
  }

  @Test
  void commentsAndWhitespaceGo() {
    assertThat(shape("select /* hint */ a\n  from t -- trailing\n where b = 1"))
        .isEqualTo("select a from t where b = ?");
  }

  @Test
  void idsAreShortStableHex() {
    String id = Shapes.id("select * from t where id = ?");
    assertThat(id).hasSize(12).matches("[0-9a-f]{12}");
    assertThat(Shapes.id("select * from t where id = ?")).isEqualTo(id);
    assertThat(new Shapes().of("select * from t where id = 1").id()).isEqualTo(id);
  }

  @Test
  void aVeryLongStatementIsCutAndMarked() {
    String sql = "select " + "a, ".repeat(10_000) + "b from t";
    String shaped = shape(sql);
    assertThat(shaped).endsWith(" ...").hasSizeLessThanOrEqualTo(Shapes.MAX_SQL_LENGTH + 4);
  }
}

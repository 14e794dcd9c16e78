package dev.bulwark.ratelimit;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.greenbytes.http.sfv.IntegerItem;
import org.greenbytes.http.sfv.Item;
import org.greenbytes.http.sfv.ListElement;
import org.greenbytes.http.sfv.OuterList;
import org.greenbytes.http.sfv.Parser;
import org.greenbytes.http.sfv.StringItem;

/**
 * Reads the RateLimit fields back with greenbytes' RFC 8941 parser: a List (over all its field
 * lines) of String items whose parameters are Integers, as the draft requires.
 */
final class Fields {
  private Fields() {}

  /** One list member: the policy's name and its integer parameters, in order. */
  record Member(String name, Map<String, Long> params) {
    long get(String key) {
      Long value = params.get(key);
      assertThat(value).as("parameter %s of %s", key, name).isNotNull();
      return value;
    }
  }

  static List<Member> parse(List<String> lines) {
    assertThat(lines).isNotEmpty();
    OuterList list = new Parser(lines).parseList();
    List<Member> members = new ArrayList<>();
    for (ListElement<?> element : list.get()) {
      assertThat(element).as("a policy is named by a String").isInstanceOf(StringItem.class);
      StringItem item = (StringItem) element;
      Map<String, Long> params = new LinkedHashMap<>();
      for (Map.Entry<String, Item<?>> param : item.getParams().entrySet()) {
        assertThat(param.getValue()).as(param.getKey()).isInstanceOf(IntegerItem.class);
        params.put(param.getKey(), ((IntegerItem) param.getValue()).getAsLong());
      }
      members.add(new Member(item.get(), params));
    }
    return members;
  }

  static List<Member> parse(String line) {
    return parse(List.of(line));
  }
}

package dev.bulwark.queries;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * Reads the output of {@code EXPLAIN (FORMAT JSON)} into an {@link ExplainPlan} tree with
 * jackson-core's streaming parser: {@code [{"Plan": {...}, "Planning Time": ...}]}, each node an
 * object whose {@code "Plans"} are its children. Fields it does not know (outputs, conditions,
 * buffers, timings) are skipped, so the options of a newer server do not break it. Stateless and
 * thread-safe.
 */
final class PlanJson {
  /** Thread-safe once configured; parsers it creates are not shared. */
  private static final JsonFactory JSON = new JsonFactory();

  private PlanJson() {}

  /**
   * Parses one {@code EXPLAIN (FORMAT JSON)} result.
   *
   * @param json the text PostgreSQL returned
   * @return the plan's root node
   * @throws IOException if the text is not JSON, or not an array whose first element holds a {@code
   *     "Plan"} whose nodes each have a {@code "Node Type"}
   */
  static ExplainPlan parse(String json) throws IOException {
    try (JsonParser parser = JSON.createParser(json)) {
      expect(parser, parser.nextToken(), JsonToken.START_ARRAY, "an array of plans");
      expect(parser, parser.nextToken(), JsonToken.START_OBJECT, "a plan object");
      ExplainPlan root = null;
      while (parser.nextToken() == JsonToken.FIELD_NAME) {
        String field = parser.currentName();
        JsonToken value = parser.nextToken();
        if ("Plan".equals(field)) {
          expect(parser, value, JsonToken.START_OBJECT, "an object for \"Plan\"");
          root = node(parser);
        } else {
          parser.skipChildren();
        }
      }
      if (root == null) {
        throw new IOException("the EXPLAIN output has no \"Plan\"");
      }
      return root;
    }
  }

  /** Reads one node; the parser stands on its {@code START_OBJECT} and ends on its {@code END}. */
  private static ExplainPlan node(JsonParser parser) throws IOException {
    String nodeType = null;
    boolean parallelAware = false;
    String relationName = null;
    String schema = null;
    String indexName = null;
    String alias = null;
    String subplanName = null;
    double startupCost = 0;
    double totalCost = 0;
    long planRows = 0;
    Double actualRows = null;
    Long actualLoops = null;
    List<ExplainPlan> plans = new ArrayList<>();
    while (parser.nextToken() == JsonToken.FIELD_NAME) {
      String field = parser.currentName();
      JsonToken value = parser.nextToken();
      switch (field) {
        case "Node Type":
          nodeType = text(parser, value);
          break;
        case "Parallel Aware":
          parallelAware = value == JsonToken.VALUE_TRUE;
          break;
        case "Relation Name":
          relationName = text(parser, value);
          break;
        case "Schema":
          schema = text(parser, value);
          break;
        case "Index Name":
          indexName = text(parser, value);
          break;
        case "Alias":
          alias = text(parser, value);
          break;
        case "Subplan Name":
          subplanName = text(parser, value);
          break;
        case "Startup Cost":
          startupCost = parser.getValueAsDouble();
          break;
        case "Total Cost":
          totalCost = parser.getValueAsDouble();
          break;
        case "Plan Rows":
          planRows = Math.round(parser.getValueAsDouble());
          break;
        case "Actual Rows":
          actualRows = parser.getValueAsDouble();
          break;
        case "Actual Loops":
          actualLoops = Math.round(parser.getValueAsDouble());
          break;
        case "Plans":
          expect(parser, value, JsonToken.START_ARRAY, "an array for \"Plans\"");
          while (parser.nextToken() == JsonToken.START_OBJECT) {
            plans.add(node(parser));
          }
          break;
        default:
          parser.skipChildren();
      }
    }
    if (nodeType == null) {
      throw new IOException("a node of the EXPLAIN output has no \"Node Type\"");
    }
    if (schema != null && nodeType.equals("Bitmap Heap Scan")) {
      List<ExplainPlan> adopted = new ArrayList<>(plans.size());
      for (ExplainPlan child : plans) {
        adopted.add(inSchema(child, schema));
      }
      plans = adopted;
    }
    return new ExplainPlan(
        nodeType,
        parallelAware,
        relationName,
        schema,
        indexName,
        alias,
        subplanName,
        startupCost,
        totalCost,
        planRows,
        actualRows,
        actualLoops,
        plans);
  }

  /**
   * A {@code Bitmap Index Scan} names no schema, not even under {@code VERBOSE}: its index is in
   * the schema of the {@code Bitmap Heap Scan} above it (through any {@code BitmapAnd} or {@code
   * BitmapOr} between them), which is where an index always lives.
   */
  private static ExplainPlan inSchema(ExplainPlan node, String schema) {
    if (node.relationName() != null) {
      return node;
    }
    List<ExplainPlan> plans = new ArrayList<>(node.plans().size());
    for (ExplainPlan child : node.plans()) {
      plans.add(inSchema(child, schema));
    }
    return new ExplainPlan(
        node.nodeType(),
        node.parallelAware(),
        null,
        node.indexName() != null && node.schema() == null ? schema : node.schema(),
        node.indexName(),
        node.alias(),
        node.subplanName(),
        node.startupCost(),
        node.totalCost(),
        node.planRows(),
        node.actualRows(),
        node.actualLoops(),
        plans);
  }

  private static @Nullable String text(JsonParser parser, @Nullable JsonToken value)
      throws IOException {
    if (value == JsonToken.VALUE_STRING) {
      return parser.getText();
    }
    parser.skipChildren();
    return null;
  }

  private static void expect(
      JsonParser parser, @Nullable JsonToken actual, JsonToken expected, String what)
      throws IOException {
    if (actual != expected) {
      throw new IOException(
          "expected "
              + what
              + " in the EXPLAIN output at "
              + parser.currentLocation().offsetDescription()
              + ", but found "
              + (actual == null
                  ? "its end"
                  : actual.asString() == null ? actual : actual.asString()));
    }
  }
}

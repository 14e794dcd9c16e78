package dev.bulwark.queries;

import dev.bulwark.core.internal.Checks;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * One node of a PostgreSQL plan, as {@code EXPLAIN (FORMAT JSON)} writes it, with the nodes under
 * it: the tree that {@link Explain#plan()} returns, for checks of your own beyond {@link
 * Explain#assertNoSequentialScan(String)} and {@link Explain#assertUsesIndex(String)}:
 *
 * <pre>{@code
 * boolean sorts = Explain.of(dataSource, "select * from appointments order by starts_at limit 20")
 *     .plan().nodes().stream().anyMatch(node -> node.nodeType().equals("Sort"));
 * }</pre>
 *
 * <p>The names are PostgreSQL's, unquoted, as its catalog spells them: {@code "Seq Scan"}, {@code
 * "Index Scan"}, {@code "Index Only Scan"}, {@code "Bitmap Index Scan"}, {@code "Bitmap Heap
 * Scan"}, {@code "Nested Loop"}, {@code "Hash Join"}, {@code "Sort"}, {@code "CTE Scan"}, ... A
 * parallel node has the same type as its serial form and {@code parallelAware} set: {@code "Seq
 * Scan"} with {@code parallelAware} is the text format's {@code "Parallel Seq Scan"}.
 *
 * <p>{@link #toString()} writes the tree as indented text, close to {@code EXPLAIN}'s own text
 * format. Immutable and thread-safe.
 *
 * @param nodeType the node's type, {@code "Seq Scan"} or {@code "Index Scan"} for instance
 * @param parallelAware whether the node is the parallel form of its type ({@code "Parallel Seq
 *     Scan"}), run by several processes under a {@code Gather}
 * @param relationName the table the node reads or writes, unqualified, or null for a node that
 *     reads none (a join, a sort, a {@code Bitmap Index Scan}, whose table is named by the {@code
 *     Bitmap Heap Scan} above it). A partitioned table's partitions are named themselves
 * @param schema the schema of {@code relationName}, or of {@code indexName} for a {@code Bitmap
 *     Index Scan} (whose table is named by the node above it); null when the node names neither
 * @param indexName the index an {@code Index Scan}, {@code Index Only Scan} or {@code Bitmap Index
 *     Scan} uses, unqualified, or null
 * @param alias the name the statement gives the table, function, subquery or CTE the node reads
 *     (its alias, or the name itself when it has none), or null
 * @param subplanName the name of the subplan this node starts, as {@code "CTE recent"}, {@code
 *     "SubPlan 1"} or {@code "InitPlan 1"}, or null for a node of the main plan
 * @param startupCost the planner's estimate of the cost before the first row, in its arbitrary
 *     units ({@code seq_page_cost} is 1.0)
 * @param totalCost the planner's estimate of the cost of all rows, in the same units
 * @param planRows the planner's estimate of the rows the node returns (per loop)
 * @param actualRows the rows the node returned, on average per loop, when the plan was analyzed
 *     ({@link Explain#analyze}); null otherwise
 * @param actualLoops how many times the node ran, when the plan was analyzed ({@code 0} for a node
 *     never executed); null otherwise
 * @param plans the nodes under this one, in the plan's order (outer before inner), subplans and
 *     CTEs included; empty for a leaf
 */
public record ExplainPlan(
    String nodeType,
    boolean parallelAware,
    @Nullable String relationName,
    @Nullable String schema,
    @Nullable String indexName,
    @Nullable String alias,
    @Nullable String subplanName,
    double startupCost,
    double totalCost,
    long planRows,
    @Nullable Double actualRows,
    @Nullable Long actualLoops,
    List<ExplainPlan> plans) {

  /**
   * Checks the values and copies {@code plans}.
   *
   * @param nodeType the node's type
   * @param parallelAware whether it is a parallel node
   * @param relationName the table it reads, or null
   * @param schema the table's schema, or null
   * @param indexName the index it uses, or null
   * @param alias the table's alias, or null
   * @param subplanName the name of the subplan it starts, or null
   * @param startupCost the estimated cost before the first row
   * @param totalCost the estimated cost of all rows
   * @param planRows the estimated rows
   * @param actualRows the rows returned per loop, or null when not analyzed
   * @param actualLoops the times it ran, or null when not analyzed
   * @param plans the nodes under it
   * @throws NullPointerException if {@code nodeType} or {@code plans} is null, or {@code plans}
   *     holds a null
   */
  public ExplainPlan {
    Objects.requireNonNull(nodeType, "nodeType");
    plans = List.copyOf(plans);
  }

  /**
   * Returns this node and every node under it, depth first, each before its children: the plan
   * flattened, for {@code stream().anyMatch(...)} checks.
   *
   * @return the nodes, this one first; a new list at each call
   */
  public List<ExplainPlan> nodes() {
    List<ExplainPlan> out = new ArrayList<>();
    collect(this, out);
    return out;
  }

  private static void collect(ExplainPlan node, List<ExplainPlan> out) {
    out.add(node);
    for (ExplainPlan child : node.plans) {
      collect(child, out);
    }
  }

  /** Whether this node is a sequential scan, parallel or not. */
  boolean isSequentialScan() {
    return nodeType.equals("Seq Scan");
  }

  /** Whether this node scans an index: an index scan, an index-only scan or a bitmap index scan. */
  boolean isIndexScan() {
    return indexName != null
        && (nodeType.equals("Index Scan")
            || nodeType.equals("Index Only Scan")
            || nodeType.equals("Bitmap Index Scan"));
  }

  /** Whether {@code name} is this node's table, unqualified or as {@code schema.table}. */
  boolean reads(String name) {
    return matches(relationName, name);
  }

  /** Whether {@code name} is this node's index, unqualified or as {@code schema.index}. */
  boolean uses(String name) {
    return matches(indexName, name);
  }

  private boolean matches(@Nullable String own, String name) {
    return own != null && (own.equals(name) || (schema != null && name.equals(schema + "." + own)));
  }

  /**
   * The node on one line without its figures, as {@code EXPLAIN}'s text format starts it: {@code
   * "Seq Scan on appointments a"}, {@code "Index Scan using appointments_customer_id_idx on
   * appointments"}, {@code "Bitmap Index Scan on appointments_status_idx"}, {@code "Parallel Seq
   * Scan on appointments"}, {@code "Hash Join"}.
   */
  String describe() {
    StringBuilder out = new StringBuilder();
    if (parallelAware) {
      out.append("Parallel ");
    }
    out.append(nodeType);
    if (indexName != null && relationName != null) {
      out.append(" using ").append(indexName).append(" on ").append(relationName);
      appendAlias(out);
    } else if (indexName != null) {
      out.append(" on ").append(indexName);
    } else if (relationName != null) {
      out.append(" on ").append(relationName);
      appendAlias(out);
    } else if (alias != null) {
      out.append(" on ").append(alias);
    }
    return out.toString();
  }

  private void appendAlias(StringBuilder out) {
    if (alias != null && !alias.equals(relationName)) {
      out.append(' ').append(alias);
    }
  }

  /**
   * Returns the tree as indented text, one node a line with its estimates (and, when analyzed, its
   * actual rows and loops), children under their parent behind {@code "-> "}, and a subplan under
   * its name, as {@code EXPLAIN}'s text format lays it out:
   *
   * <pre>
   * Nested Loop  (cost=0.29..205.61 rows=10)
   *   -&gt;  Seq Scan on customers c  (cost=0.00..180.00 rows=1)
   *   -&gt;  Index Scan using appointments_customer_idx on appointments a  (cost=0.29..25.51 rows=10)
   * </pre>
   *
   * Costs have two decimals; no line ends with a line break but the ones between them.
   */
  @Override
  public String toString() {
    StringBuilder out = new StringBuilder();
    render(this, "", true, out);
    return out.toString();
  }

  private static void render(ExplainPlan node, String indent, boolean root, StringBuilder out) {
    if (!root) {
      out.append('\n').append(indent).append("->  ");
    }
    out.append(node.describe())
        .append(
            Checks.format(
                "  (cost=%.2f..%.2f rows=%d)", node.startupCost, node.totalCost, node.planRows));
    if (node.actualLoops != null && node.actualLoops == 0) {
      out.append(" (never executed)");
    } else if (node.actualRows != null && node.actualLoops != null) {
      out.append(" (actual rows=")
          .append(rows(node.actualRows))
          .append(" loops=")
          .append(node.actualLoops)
          .append(')');
    }
    // A child's arrow sits two columns in from its parent's text; its own children six further.
    String childIndent = root ? "  " : indent + "      ";
    for (ExplainPlan child : node.plans) {
      if (child.subplanName != null) {
        out.append('\n').append(childIndent).append(child.subplanName);
        render(child, childIndent + "  ", false, out);
      } else {
        render(child, childIndent, false, out);
      }
    }
  }

  /** Actual rows, an average per loop: a whole number as such, else with two decimals. */
  private static String rows(double rows) {
    return rows == Math.rint(rows) && Math.abs(rows) < 1e15
        ? Long.toString((long) rows)
        : Checks.format("%.2f", rows);
  }
}

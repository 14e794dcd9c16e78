package dev.bulwark.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Every Java snippet in the README and in {@code docs/} is code that compiles and runs: each {@code
 * ```java} block carries an id ({@code <!-- snippet: id -->} on the line before it), and the same
 * lines stand in a test under {@code examples/src/test} between {@code // snippet:begin id} and
 * {@code // snippet:end}, where the test runs them against the embedded servers and checks what the
 * document says they do. The comparison is exact once the common indentation is removed, so a
 * region may sit inside a lambda or a loop. Import lines of a block are left out of the comparison
 * but must be imports of the file that holds its region.
 *
 * <p>A block without an id, an id used twice, an id without a region, a region no document shows, a
 * region outside the tests, a region without its end, a block whose text differs from its region,
 * and an import the region's file lacks each fail the build. The checker's own tests below feed it
 * broken documents, so that it is known to fail.
 */
class DocSnippetsTest {
  private static final Path ROOT = Path.of("..").toAbsolutePath().normalize();
  private static final String TESTS = "examples/src/test/";
  private static final Pattern JAVA_FENCE =
      Pattern.compile("^```\\s*java\\b.*$", Pattern.CASE_INSENSITIVE);
  private static final Pattern ID = Pattern.compile("^<!-- snippet: ([a-z0-9-]+) -->$");
  private static final Pattern BEGIN = Pattern.compile("^\\s*// snippet:begin ([a-z0-9-]+)$");
  private static final Pattern END = Pattern.compile("^\\s*// snippet:end$");

  record Block(String id, String file, int line, List<String> imports, List<String> body) {}

  record Region(String id, String file, int line, List<String> lines, String source) {}

  @Test
  void everyJavaSnippetInTheDocsStandsInATestThatRunsIt() throws IOException {
    Map<String, String> documents = new LinkedHashMap<>();
    documents.put("README.md", read(ROOT.resolve("README.md")));
    try (Stream<Path> docs = Files.list(ROOT.resolve("docs"))) {
      for (Path doc : docs.filter(p -> p.toString().endsWith(".md")).sorted().toList()) {
        documents.put(name(doc), read(doc));
      }
    }
    Map<String, String> sources = new LinkedHashMap<>();
    try (Stream<Path> files = Files.walk(ROOT.resolve("examples/src"))) {
      for (Path source : files.filter(p -> p.toString().endsWith(".java")).sorted().toList()) {
        sources.put(name(source), read(source));
      }
    }

    assertThat(check(documents, sources)).as("snippet problems").isEmpty();
    assertThat(blocks(documents, new ArrayList<>())).as("java blocks found").isNotEmpty();
  }

  // The checker's own tests: each broken input must be reported.

  private static final String REGION_FILE = TESTS + "java/x/XTest.java";

  @Test
  void aMatchingRegionPasses() {
    assertThat(
            check(
                Map.of("docs/x.md", doc("a", "import java.time.Duration;", "", "f(1);", "g();")),
                Map.of(REGION_FILE, source("a", "      f(1);", "      g();"))))
        .isEmpty();
  }

  @Test
  void aJavaBlockWithoutAnIdFails() {
    assertThat(check(Map.of("docs/x.md", "text\n```java\nf(1);\n```\n"), Map.of()))
        .containsExactly(
            "docs/x.md:2: a ```java block needs <!-- snippet: id --> on the line before it");
    assertThat(check(Map.of("docs/x.md", "```Java\nf(1);\n```\n"), Map.of()))
        .containsExactly(
            "docs/x.md:1: a ```java block needs <!-- snippet: id --> on the line before it");
  }

  @Test
  void aBlockThatDiffersFromItsRegionFails() {
    assertThat(
            check(
                Map.of("docs/x.md", doc("a", "f(1);", "g();")),
                Map.of(REGION_FILE, source("a", "  f(2);", "  g();"))))
        .containsExactly(
            "snippet a in docs/x.md:2 differs from its region in "
                + REGION_FILE
                + " at line 1 of the snippet:\n  document: f(1);\n  region:   f(2);");
    assertThat(
            check(
                Map.of("docs/x.md", doc("a", "f(1);")),
                Map.of(REGION_FILE, source("a", "  f(1);", "  g();"))))
        .containsExactly(
            "snippet a in docs/x.md:2 differs from its region in "
                + REGION_FILE
                + " at line 2 of the snippet:\n  document: (end)\n  region:   g();");
  }

  @Test
  void anImportTheRegionsFileLacksFails() {
    assertThat(
            check(
                Map.of("docs/x.md", doc("a", "import java.time.Instant;", "f(1);")),
                Map.of(REGION_FILE, source("a", "  f(1);"))))
        .containsExactly(
            "snippet a in docs/x.md:2 shows 'import java.time.Instant;' but "
                + REGION_FILE
                + " does not import it");
  }

  @Test
  void anIdWithoutARegionAndARegionWithoutABlockFail() {
    assertThat(
            check(
                Map.of("docs/x.md", doc("a", "f(1);")),
                Map.of(REGION_FILE, source("b", "  f(1);"))))
        .containsExactly(
            "snippet a in docs/x.md:2 has no // snippet:begin a in examples/src/test",
            "region b in " + REGION_FILE + ":5 is shown by no document");
  }

  @Test
  void aRegionOutsideTheTestsFails() {
    String main = "examples/src/main/java/x/X.java";
    assertThat(check(Map.of("docs/x.md", doc("a", "f(1);")), Map.of(main, source("a", "f(1);"))))
        .containsExactly("region a in " + main + ":5 is not under " + TESTS + ": no test runs it");
  }

  @Test
  void duplicatesAndAnUnendedRegionFail() {
    assertThat(
            check(
                Map.of("docs/x.md", doc("a", "f(1);"), "docs/y.md", doc("a", "f(1);")),
                Map.of(
                    REGION_FILE,
                    source("a", "f(1);") + "// snippet:begin a\nf(1);\n// snippet:end\n",
                    TESTS + "java/x/YTest.java",
                    "// snippet:begin c\nf(1);\n")))
        .contains(
            "snippet id a in docs/y.md:2 is used before, in docs/x.md:2",
            "region a in " + REGION_FILE + ":8 is defined before, at line 5",
            TESTS + "java/x/YTest.java:1: // snippet:begin c without // snippet:end");
  }

  private static String doc(String id, String... lines) {
    return "<!-- snippet: " + id + " -->\n```java\n" + String.join("\n", lines) + "\n```\n";
  }

  private static String source(String id, String... lines) {
    return "package x;\n\nimport java.time.Duration;\n\n// snippet:begin "
        + id
        + "\n"
        + String.join("\n", lines)
        + "\n// snippet:end\n";
  }

  /**
   * Checks the documents' java blocks against the sources' regions.
   *
   * @param documents document text by its path from the repository root
   * @param sources source text by its path from the repository root
   * @return every problem found, empty when each block matches its region
   */
  static List<String> check(Map<String, String> documents, Map<String, String> sources) {
    List<String> problems = new ArrayList<>();
    Map<String, Block> blocks = blocks(new TreeMap<>(documents), problems);
    Map<String, Region> regions = regions(new TreeMap<>(sources), problems);
    for (Block block : blocks.values()) {
      String where = "snippet " + block.id() + " in " + block.file() + ":" + block.line();
      Region region = regions.get(block.id());
      if (region == null) {
        problems.add(where + " has no // snippet:begin " + block.id() + " in examples/src/test");
        continue;
      }
      String difference = firstDifference(dedent(block.body()), dedent(region.lines()));
      if (difference != null) {
        problems.add(where + " differs from its region in " + region.file() + difference);
      }
      for (String imported : block.imports()) {
        if (!region.source().contains("\n" + imported + "\n")) {
          problems.add(
              where + " shows '" + imported + "' but " + region.file() + " does not import it");
        }
      }
    }
    for (Region region : regions.values()) {
      String where = "region " + region.id() + " in " + region.file() + ":" + region.line();
      if (!blocks.containsKey(region.id())) {
        problems.add(where + " is shown by no document");
      }
      if (!region.file().startsWith(TESTS)) {
        problems.add(where + " is not under " + TESTS + ": no test runs it");
      }
    }
    return problems;
  }

  private static Map<String, Block> blocks(Map<String, String> documents, List<String> problems) {
    Map<String, Block> blocks = new LinkedHashMap<>();
    for (Map.Entry<String, String> document : documents.entrySet()) {
      String file = document.getKey();
      List<String> lines = document.getValue().lines().collect(Collectors.toList());
      for (int i = 0; i < lines.size(); i++) {
        if (!lines.get(i).strip().startsWith("```")) {
          continue;
        }
        boolean java = JAVA_FENCE.matcher(lines.get(i).strip()).matches();
        Matcher id = ID.matcher(i > 0 ? lines.get(i - 1).strip() : "");
        List<String> imports = new ArrayList<>();
        List<String> body = new ArrayList<>();
        int j = i + 1;
        for (; j < lines.size() && !lines.get(j).strip().startsWith("```"); j++) {
          String line = lines.get(j);
          if (line.strip().startsWith("import ")) {
            imports.add(line.strip());
          } else if (!(body.isEmpty() && line.isBlank())) {
            body.add(line);
          }
        }
        if (java && !id.matches()) {
          problems.add(
              file
                  + ":"
                  + (i + 1)
                  + ": a ```java block needs <!-- snippet: id --> on the line"
                  + " before it");
        } else if (java) {
          Block block = new Block(id.group(1), file, i + 1, imports, body);
          Block previous = blocks.putIfAbsent(block.id(), block);
          if (previous != null) {
            problems.add(
                "snippet id "
                    + block.id()
                    + " in "
                    + file
                    + ":"
                    + block.line()
                    + " is used before, in "
                    + previous.file()
                    + ":"
                    + previous.line());
          }
        }
        i = j;
      }
    }
    return blocks;
  }

  private static Map<String, Region> regions(Map<String, String> sources, List<String> problems) {
    Map<String, Region> regions = new LinkedHashMap<>();
    for (Map.Entry<String, String> source : sources.entrySet()) {
      String file = source.getKey();
      String text = source.getValue();
      List<String> lines = text.lines().collect(Collectors.toList());
      for (int i = 0; i < lines.size(); i++) {
        Matcher begin = BEGIN.matcher(lines.get(i));
        if (!begin.matches()) {
          continue;
        }
        List<String> region = new ArrayList<>();
        int j = i + 1;
        while (j < lines.size() && !END.matcher(lines.get(j)).matches()) {
          region.add(lines.get(j++));
        }
        if (j == lines.size()) {
          problems.add(
              file
                  + ":"
                  + (i + 1)
                  + ": // snippet:begin "
                  + begin.group(1)
                  + " without // snippet:end");
          break;
        }
        Region found = new Region(begin.group(1), file, i + 1, region, text);
        Region previous = regions.putIfAbsent(found.id(), found);
        if (previous != null) {
          problems.add(
              "region "
                  + found.id()
                  + " in "
                  + file
                  + ":"
                  + found.line()
                  + " is defined before"
                  + (previous.file().equals(file) ? "" : ", in " + previous.file())
                  + ", at line "
                  + previous.line());
        }
        i = j;
      }
    }
    return regions;
  }

  /** {@return null if equal, else where and how the two first differ} */
  private static String firstDifference(List<String> document, List<String> region) {
    for (int i = 0; i < Math.max(document.size(), region.size()); i++) {
      String d = i < document.size() ? document.get(i) : "(end)";
      String r = i < region.size() ? region.get(i) : "(end)";
      if (!d.equals(r)) {
        return " at line " + (i + 1) + " of the snippet:\n  document: " + d + "\n  region:   " + r;
      }
    }
    return null;
  }

  /** Removes the common indentation and trailing blanks, so that nesting in a test is allowed. */
  static List<String> dedent(List<String> lines) {
    List<String> trimmed = new ArrayList<>(lines);
    while (!trimmed.isEmpty() && trimmed.get(trimmed.size() - 1).isBlank()) {
      trimmed.remove(trimmed.size() - 1);
    }
    int indent =
        trimmed.stream()
            .filter(l -> !l.isBlank())
            .mapToInt(l -> l.length() - l.stripLeading().length())
            .min()
            .orElse(0);
    return trimmed.stream()
        .map(l -> l.isBlank() ? "" : l.substring(indent).stripTrailing())
        .collect(Collectors.toList());
  }

  private static String read(Path file) throws IOException {
    return Files.readString(file, StandardCharsets.UTF_8);
  }

  private static String name(Path file) {
    return ROOT.relativize(file).toString().replace('\\', '/');
  }
}

package dev.bulwark.health;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.time.Duration;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Writes reports as JSON: the IETF draft's {@code application/health+json} or MicroProfile
 * Health's. Without details, a report is its status alone. Stateless and thread-safe.
 */
final class HealthJson {
  private static final JsonFactory FACTORY = JsonFactory.builder().build();

  private HealthJson() {}

  static String write(HealthReport report, HealthFormat format, boolean details) {
    StringWriter out = new StringWriter(256);
    try (JsonGenerator json = FACTORY.createGenerator(out)) {
      if (format == HealthFormat.IETF) {
        ietf(json, report, details);
      } else {
        microProfile(json, report, details);
      }
    } catch (IOException e) { // a StringWriter does not fail
      throw new UncheckedIOException(e);
    }
    return out.toString();
  }

  private static void ietf(JsonGenerator json, HealthReport report, boolean details)
      throws IOException {
    json.writeStartObject();
    json.writeStringField("status", report.status().ietf());
    if (details) {
      String output = summary(report);
      if (output != null) {
        json.writeStringField("output", output);
      }
      json.writeObjectFieldStart("checks");
      for (Map.Entry<String, HealthResult> check : report.results().entrySet()) {
        HealthResult result = check.getValue();
        json.writeArrayFieldStart(check.getKey());
        json.writeStartObject();
        if (result.componentType() != null) {
          json.writeStringField("componentType", result.componentType());
        }
        if (result.observedValue() != null) {
          json.writeFieldName("observedValue");
          value(json, result.observedValue());
        }
        if (result.observedUnit() != null) {
          json.writeStringField("observedUnit", result.observedUnit());
        }
        json.writeStringField("status", result.status().ietf());
        json.writeStringField("time", DateTimeFormatter.ISO_INSTANT.format(result.time()));
        if (result.status() != Status.PASS && result.output() != null) {
          json.writeStringField("output", result.output());
        }
        json.writeFieldName("durationMs");
        json.writeNumber(millis(result.duration()));
        if (!result.details().isEmpty()) {
          json.writeObjectFieldStart("details");
          for (Map.Entry<String, Object> detail : result.details().entrySet()) {
            json.writeFieldName(detail.getKey());
            value(json, detail.getValue());
          }
          json.writeEndObject();
        }
        json.writeEndObject();
        json.writeEndArray();
      }
      json.writeEndObject();
    }
    json.writeEndObject();
  }

  private static void microProfile(JsonGenerator json, HealthReport report, boolean details)
      throws IOException {
    json.writeStartObject();
    json.writeStringField("status", report.status().microProfile());
    json.writeArrayFieldStart("checks");
    if (details) {
      for (Map.Entry<String, HealthResult> check : report.results().entrySet()) {
        HealthResult result = check.getValue();
        json.writeStartObject();
        json.writeStringField("name", check.getKey());
        json.writeStringField("status", result.status().microProfile());
        json.writeObjectFieldStart("data");
        json.writeStringField("status", result.status().ietf());
        if (result.observedValue() != null) {
          json.writeFieldName("observedValue");
          value(json, result.observedValue());
        }
        if (result.observedUnit() != null) {
          json.writeStringField("observedUnit", result.observedUnit());
        }
        if (result.status() != Status.PASS && result.output() != null) {
          json.writeStringField("output", result.output());
        }
        json.writeStringField("time", DateTimeFormatter.ISO_INSTANT.format(result.time()));
        json.writeFieldName("durationMs");
        json.writeNumber(millis(result.duration()));
        for (Map.Entry<String, Object> detail : result.details().entrySet()) {
          json.writeFieldName(detail.getKey());
          value(json, detail.getValue());
        }
        json.writeEndObject();
        json.writeEndObject();
      }
    }
    json.writeEndArray();
    json.writeEndObject();
  }

  /** The checks that do not pass, as {@code "fail: a, b; warn: c"}; null when all pass. */
  private static @org.jspecify.annotations.Nullable String summary(HealthReport report) {
    List<String> failing = new ArrayList<>();
    List<String> warning = new ArrayList<>();
    report
        .results()
        .forEach(
            (name, result) -> {
              if (result.status() == Status.FAIL) {
                failing.add(name);
              } else if (result.status() == Status.WARN) {
                warning.add(name);
              }
            });
    List<String> parts = new ArrayList<>(2);
    if (!failing.isEmpty()) {
      parts.add("fail: " + String.join(", ", failing));
    }
    if (!warning.isEmpty()) {
      parts.add("warn: " + String.join(", ", warning));
    }
    return parts.isEmpty() ? null : String.join("; ", parts);
  }

  private static void value(JsonGenerator json, Object value) throws IOException {
    if (value instanceof String) {
      json.writeString((String) value);
    } else if (value instanceof Boolean) {
      json.writeBoolean((Boolean) value);
    } else if (value instanceof Integer
        || value instanceof Long
        || value instanceof Short
        || value instanceof Byte) {
      json.writeNumber(((Number) value).longValue());
    } else if (value instanceof Float) {
      json.writeNumber((Float) value);
    } else if (value instanceof BigDecimal) {
      json.writeNumber((BigDecimal) value);
    } else if (value instanceof BigInteger) {
      json.writeNumber((BigInteger) value);
    } else {
      json.writeNumber(((Number) value).doubleValue());
    }
  }

  /** Milliseconds, to the microsecond. */
  private static double millis(Duration duration) {
    long micros = duration.toNanos() / 1_000;
    return micros / 1_000.0;
  }
}

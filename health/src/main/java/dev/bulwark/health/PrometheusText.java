package dev.bulwark.health;

import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;

/**
 * The {@code /metrics} body, from a Micrometer {@link PrometheusMeterRegistry}. The server's code
 * calls the optional registry only through this class, which the JVM loads when {@code /metrics} is
 * configured: a service without the registry never needs it.
 */
final class PrometheusText {
  static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

  private final PrometheusMeterRegistry registry;

  PrometheusText(PrometheusMeterRegistry registry) {
    this.registry = registry;
  }

  String contentType() {
    return CONTENT_TYPE;
  }

  String scrape() {
    return registry.scrape(CONTENT_TYPE);
  }
}

package dev.bulwark.health;

import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;

/**
 * The {@code /metrics} body, from a Micrometer {@link PrometheusMeterRegistry}. Only this class
 * names the optional Prometheus registry, so that a service without it never loads it.
 */
final class PrometheusText implements MetricsSource {
  static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

  private final PrometheusMeterRegistry registry;

  PrometheusText(PrometheusMeterRegistry registry) {
    this.registry = registry;
  }

  @Override
  public String contentType() {
    return CONTENT_TYPE;
  }

  @Override
  public String scrape() {
    return registry.scrape(CONTENT_TYPE);
  }
}

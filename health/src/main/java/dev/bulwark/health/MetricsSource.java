package dev.bulwark.health;

/** What {@code /metrics} serves. */
interface MetricsSource {
  String contentType();

  String scrape();
}

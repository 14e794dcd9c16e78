package dev.bulwark.jobs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.bulwark.timeouts.Retry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** Every setting's bounds and messages; the cross-setting rules of build(). */
class WorkerBuilderTest {
  private static final BatchHandler<String> NOTHING = batch -> {};

  private static BoundedWorker.Builder<String> builder() {
    return BoundedWorker.builder("test");
  }

  @Test
  void capacityAndHandlerAreRequired() {
    assertThatThrownBy(() -> builder().handler(NOTHING).build())
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("capacity must be set: the most items the queue holds, 1 to 1000000");
    assertThatThrownBy(() -> builder().capacity(10).build())
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("handler must be set: it takes each batch");
    assertThatThrownBy(() -> builder().handler(null))
        .isInstanceOf(NullPointerException.class)
        .hasMessage("handler");
  }

  @Test
  void theNameIsAnIdentifier() {
    assertThatThrownBy(() -> BoundedWorker.builder("activity log"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage(
            "name must be 1 to 63 letters, digits, '.', '_' or '-', but was \"activity log\"");
    assertThatThrownBy(() -> BoundedWorker.builder(""))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("name must be 1 to 63 letters, digits, '.', '_' or '-', but was \"\"");
  }

  @Test
  void sizesHaveBounds() {
    assertThatThrownBy(() -> builder().capacity(0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("capacity must be between 1 and 1000000, but was 0");
    assertThatThrownBy(() -> builder().capacity(1_000_001))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("capacity must be between 1 and 1000000, but was 1000001");
    assertThatThrownBy(() -> builder().batchSize(0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("batchSize must be between 1 and 100000, but was 0");
    assertThatThrownBy(() -> builder().batchSize(100_001))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("batchSize must be between 1 and 100000, but was 100001");
    assertThatThrownBy(() -> builder().alertAt(0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("alertAt must be between 1 and 1000000, but was 0");
    assertThatThrownBy(() -> builder().maxIterations(0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("maxIterations must be at least 1, but was 0");
  }

  @Test
  void durationsHaveBounds() {
    assertThatThrownBy(() -> builder().flushEvery(Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("flushEvery must be between 1 ms and 3600000 ms, but was 0 ms");
    assertThatThrownBy(() -> builder().flushEvery(Duration.ofHours(2)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("flushEvery must be between 1 ms and 3600000 ms, but was 7200000 ms");
    assertThatThrownBy(() -> builder().blockWhenFull(Duration.ofNanos(500)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("maxWait must be between 1 ms and 3600000 ms, but was 500 ns");
    assertThatThrownBy(() -> builder().batchTimeLimit(Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("batchTimeLimit must be between 1 ms and 86400000 ms, but was 0 ms");
    assertThatThrownBy(() -> builder().maxRuntime(Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("maxRuntime must be positive, but was 0 ms");
    assertThatThrownBy(() -> builder().drainTimeout(Duration.ofMillis(-1)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("drainTimeout must be between 0 ms and 3600000 ms, but was -1 ms");
    assertThatThrownBy(() -> builder().drainTimeout(Duration.ofMinutes(61)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("drainTimeout must be between 0 ms and 3600000 ms, but was 3660000 ms");
  }

  @Test
  void theMemoryCeilingIsAFractionOfTheHeap() {
    assertThatThrownBy(() -> builder().memoryCeiling(1.0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("memoryCeiling must be between 0.01 and 0.99 of the heap, but was 1.0");
    assertThatThrownBy(() -> builder().memoryCeiling(0.001, MemoryAction.STOP))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("memoryCeiling must be between 0.01 and 0.99 of the heap, but was 0.001");
    assertThatThrownBy(() -> builder().memoryCeiling(Double.NaN))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("memoryCeiling must be between 0.01 and 0.99 of the heap, but was NaN");
    assertThatThrownBy(() -> builder().memoryCeiling(0.9).memoryCeiling(0.8, MemoryAction.STOP))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("memoryCeiling was already set to 0.9 PAUSE");
  }

  @Test
  void eachSettingMayBeGivenOnce() {
    assertThatThrownBy(() -> builder().capacity(10).capacity(20))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("capacity was already set to 10");
    assertThatThrownBy(() -> builder().batchSize(10).batchSize(20))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("batchSize was already set to 10");
    assertThatThrownBy(
            () -> builder().flushEvery(Duration.ofSeconds(5)).flushEvery(Duration.ofSeconds(1)))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("flushEvery was already set to 5000 ms");
    assertThatThrownBy(
            () ->
                builder()
                    .batchTimeLimit(Duration.ofSeconds(2))
                    .batchTimeLimit(Duration.ofSeconds(1)))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("batchTimeLimit was already set to 2000 ms");
    assertThatThrownBy(() -> builder().maxIterations(86_400).maxIterations(1))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("maxIterations was already set to 86400");
    assertThatThrownBy(
            () -> builder().maxRuntime(Duration.ofHours(24)).maxRuntime(Duration.ofHours(1)))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("maxRuntime was already set to 86400000 ms");
    assertThatThrownBy(() -> builder().alertAt(5).alertAt(6))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("alertAt was already set to 5");
    assertThatThrownBy(
            () -> builder().drainTimeout(Duration.ZERO).drainTimeout(Duration.ofSeconds(1)))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("drainTimeout was already set to 0 ms");
    Retry retry = Retry.builder("r").build();
    assertThatThrownBy(() -> builder().retry(retry).retry(retry))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("retry was already set to Retry[r, maxAttempts=3]");
    assertThatThrownBy(() -> builder().handler(NOTHING).handler(NOTHING))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageStartingWith("handler was already set to ");
    assertThatThrownBy(() -> builder().deadLetter((b, f) -> {}).deadLetter((b, f) -> {}))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageStartingWith("deadLetter was already set to ");
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    assertThatThrownBy(() -> builder().meterRegistry(registry).meterRegistry(registry))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageStartingWith("meterRegistry was already set to ");
  }

  @Test
  void oneWhenFullPolicyMayBeChosen() {
    assertThatThrownBy(() -> builder().rejectWhenFull().dropOldestWhenFull())
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("whenFull was already set to reject");
    assertThatThrownBy(() -> builder().blockWhenFull(Duration.ofMillis(100)).rejectWhenFull())
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("whenFull was already set to block up to 100 ms");
    assertThatThrownBy(() -> builder().dropOldestWhenFull().blockWhenFull(Duration.ofMillis(100)))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("whenFull was already set to drop oldest");
  }

  @Test
  void crossSettingRulesAreCheckedInBuild() {
    assertThatThrownBy(() -> builder().capacity(10).batchSize(20).handler(NOTHING).build())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("batchSize must be at most capacity (10), but was 20");
    assertThatThrownBy(() -> builder().capacity(10).alertAt(11).handler(NOTHING).build())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("alertAt must be at most capacity (10), but was 11");
    assertThatThrownBy(() -> builder().capacity(10).onDrop(item -> {}).handler(NOTHING).build())
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("onDrop needs dropOldestWhenFull(), but whenFull is reject (the default)");
    assertThatThrownBy(
            () ->
                builder()
                    .capacity(10)
                    .blockWhenFull(Duration.ofSeconds(1))
                    .onDrop(item -> {})
                    .handler(NOTHING)
                    .build())
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("onDrop needs dropOldestWhenFull(), but whenFull is block up to 1000 ms");
  }

  @Test
  void theBatchSizeDefaultsTo100OrTheCapacity() {
    try (BoundedWorker<String> small = builder().capacity(10).handler(NOTHING).build()) {
      assertThat(small).hasToString("BoundedWorker[test, capacity=10, batchSize=10]");
    }
    try (BoundedWorker<String> large = builder().capacity(10_000).handler(NOTHING).build()) {
      assertThat(large).hasToString("BoundedWorker[test, capacity=10000, batchSize=100]");
    }
  }

  @Test
  void aNameIsUsedOnceInARegistryUntilTheWorkerStops() {
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    BoundedWorker.Builder<String> second =
        BoundedWorker.<String>builder("dup").capacity(1).handler(NOTHING).meterRegistry(registry);
    try (BoundedWorker<String> first =
        BoundedWorker.<String>builder("dup")
            .capacity(1)
            .handler(NOTHING)
            .meterRegistry(registry)
            .build()) {
      assertThatThrownBy(second::build)
          .isInstanceOf(IllegalStateException.class)
          .hasMessage(
              "meterRegistry already holds the meters of a worker named \"dup\": give each worker"
                  + " its own name");
      assertThat(first.name()).isEqualTo("dup");
    }
    // Its meters left with it: the name is free again.
    second.build().close();
  }

  @Test
  void theBuilderShowsOnlyWhatWasSet() {
    assertThat(builder()).hasToString("BoundedWorker.Builder[name=test]");
    assertThat(
            BoundedWorker.<String>builder("activity-log")
                .capacity(10_000)
                .batchSize(500)
                .flushEvery(Duration.ofSeconds(5))
                .blockWhenFull(Duration.ofMillis(100))
                .handler(NOTHING)
                .alertAt(5_000)
                .memoryCeiling(0.9, MemoryAction.STOP)
                .maxIterations(86_400)
                .maxRuntime(Duration.ofHours(24)))
        .hasToString(
            "BoundedWorker.Builder[name=activity-log, capacity=10000, batchSize=500,"
                + " flushEvery=5000 ms, whenFull=block up to 100 ms, handler=set,"
                + " maxIterations=86400, maxRuntime=86400000 ms, memoryCeiling=0.9 STOP,"
                + " alertAt=5000]");
  }
}

package dev.bulwark.timeouts;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class AdmissionTest {

  @Test
  void takesExactlyItsCapacityWhetherTheCallsRunOrWait() {
    Admission admission = new Admission(3);

    assertThat(admission.tryAdmit()).isEqualTo(Admission.ADMITTED);
    assertThat(admission.tryAdmit()).isEqualTo(Admission.ADMITTED);
    assertThat(admission.tryAdmit()).isEqualTo(Admission.ADMITTED);
    long full = admission.tryAdmit();

    // Three calls admitted, none started yet: all three count as queued.
    assertThat(full).isNotEqualTo(Admission.ADMITTED);
    assertThat(Admission.running(full)).isZero();
    assertThat(Admission.queued(full)).isEqualTo(3);
  }

  @Test
  void aStartedCallMovesFromQueuedToRunningAndFreesItsPlaceWhenItsWorkReturns() {
    Admission admission = new Admission(2);
    admission.tryAdmit();
    admission.tryAdmit();

    admission.started();
    long full = admission.tryAdmit();
    assertThat(Admission.running(full)).isEqualTo(1);
    assertThat(Admission.queued(full)).isEqualTo(1);

    admission.finished();
    assertThat(Admission.running(admission.now())).isZero();
    assertThat(Admission.queued(admission.now())).isEqualTo(1);
    assertThat(admission.tryAdmit()).isEqualTo(Admission.ADMITTED);
  }

  @Test
  void aCallThatLeavesTheQueueFreesItsPlace() {
    Admission admission = new Admission(1);
    admission.tryAdmit();
    assertThat(admission.tryAdmit()).isNotEqualTo(Admission.ADMITTED);

    admission.left();

    assertThat(admission.now()).isZero();
    assertThat(admission.tryAdmit()).isEqualTo(Admission.ADMITTED);
  }

  @Test
  void countsUpToTheLargestCapacityStayApart() {
    int capacity = 1024 + 1_000_000;
    Admission admission = new Admission(capacity);
    for (int i = 0; i < capacity; i++) {
      admission.tryAdmit();
    }
    for (int i = 0; i < 1024; i++) {
      admission.started();
    }

    long full = admission.tryAdmit();

    assertThat(Admission.running(full)).isEqualTo(1024);
    assertThat(Admission.queued(full)).isEqualTo(1_000_000);
  }
}

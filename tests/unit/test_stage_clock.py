"""The split of a stage's batch loop time between its steps (streams.metrics.StageClock)."""

from prometheus_client import REGISTRY

from streams.metrics import STAGE_STEPS, StageClock


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_each_lap_charges_the_time_since_the_last_to_its_step():
    now = [100.0]
    clock = StageClock("unit-laps", clock=lambda: now[0])
    before = {step: sample("coselling_stage_seconds_total", stage="unit-laps", step=step)
              for step in STAGE_STEPS}
    for step, took in (("waiting", 0.5), ("applying", 0.25), ("outbox", 0.125),
                       ("sending", 1.0), ("waiting", 2.0)):
        now[0] += took
        clock.lap(step)
    spent = {step: sample("coselling_stage_seconds_total", stage="unit-laps", step=step)
             - before[step] for step in STAGE_STEPS}
    assert spent == {"waiting": 2.5, "completing": 0.0, "applying": 0.25, "outbox": 0.125,
                     "sending": 1.0}
    assert sum(spent.values()) == now[0] - 100.0  # the steps add up to the whole loop


def test_batches_and_their_messages_are_counted_per_stage():
    clock = StageClock("unit-batches")
    clock.took(3)
    clock.took(2000)
    assert sample("coselling_stage_batches_total", stage="unit-batches") == 2
    assert sample("coselling_stage_events_total", stage="unit-batches") == 2003


def test_what_a_batch_landing_took_beside_the_loop_is_counted_apart():
    clock = StageClock("unit-landing")
    clock.landed("outbox", 0.25)
    clock.landed("sending", 0.5)
    clock.landed("outbox", 0.125)
    assert sample("coselling_stage_landing_seconds_total", stage="unit-landing",
                  step="outbox") == 0.375
    assert sample("coselling_stage_landing_seconds_total", stage="unit-landing",
                  step="sending") == 0.5
    assert sample("coselling_stage_seconds_total", stage="unit-landing",
                  step="outbox") == 0.0  # not the loop's time

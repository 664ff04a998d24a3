"""Faults under a sync load, on each engine where they apply: nothing
acknowledged is lost, no batch is ever half applied, and the service
answers everybody again within the deadline.  See faults.py for the
faults and load.py for the load and its checks."""
import pytest

import faultkit
from faults import FAULTS, run

CASES = [(engine, key) for engine in ("sqlite", "postgres") for key, fault in FAULTS.items()
         if engine == "postgres" or not fault.postgres_only]


@pytest.mark.parametrize("engine, key", CASES, ids=[f"{e}-{k}" for e, k in CASES])
def test_fault(request, config, engine, key):
    target = request.getfixturevalue(f"{engine}_target")
    fault = FAULTS[key](target, config)
    fig = run(target, fault, config)
    faultkit.record(fig)
    target.inst.check_running()
    problems = fault.problems + fig.bad[:20]
    if fig.lost:
        problems.append(f"{fig.lost} acknowledged writes lost:")
        problems += fig.lost_detail[:20]
    if fig.partial:
        problems.append(f"{fig.partial} batches visible in part:")
        problems += fig.partial_detail[:20]
    if fig.deaths:
        problems.append("children died that the fault did not kill:\n" + "\n".join(fig.deaths))
    if fig.failed_before:
        problems.append(f"{fig.failed_before} requests failed before the fault")
    if fault.continuous and fig.failed:
        problems.append(f"{fig.failed} sync requests failed: {fig.statuses}")
    if fig.recovery > config.recovery:
        problems.append(f"recovered only after {fig.recovery:.1f} s")
    assert not problems, "\n".join(problems)

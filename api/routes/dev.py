"""Dev chains only: move chain time (to let receivables mature in demos and tests)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import Field

from api.deps import CallerDep, PlatformDep
from api.problems import Problem
from api.schemas import In, JsonInt

router = APIRouter(prefix="/dev", tags=["dev"])


class TimeTravelIn(In):
    seconds: JsonInt = Field(ge=1, le=3 * 365 * 86_400)


@router.post("/time-travel")
def time_travel(body: TimeTravelIn, platform: PlatformDep, caller: CallerDep) -> dict[str, int]:
    """Move the dev chain's clock forward and mine a block (operator; anvil or embedded only)."""
    from scf_chain.clients import Role

    caller.require(Role.OPERATOR)
    if not platform.chain.supports_time_control:
        raise Problem(409, "not_a_dev_chain", "This chain's time cannot be moved",
                      "time travel needs the embedded chain or anvil")
    return {"timestamp": platform.chain.time_travel(body.seconds)}

"""Dev chains only: move chain time (to let receivables mature in demos and tests) and fund
participants with gas and dev settlement money."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import Field

from api.deps import CallerDep, IdemDep, PlatformDep
from api.problems import Problem
from api.schemas import DevFundIn, DevFundOut, In, JsonInt

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


@router.post("/fund", response_model=DevFundOut)
def fund(body: DevFundIn, platform: PlatformDep, idem: IdemDep) -> JSONResponse:
    """Top a participant up (operator; dev chains only): `wei` of gas from the node's funded
    account, `settlement` cents of the dev settlement token minted. A production chain answers
    409 not_a_dev_chain: there the operator funds participants itself (see docs/api.md)."""
    from scf_chain.clients import Role

    idem.caller.require(Role.OPERATOR)
    if body.wei == 0 and body.settlement == 0:
        raise Problem(422, "nothing_to_fund", "Nothing to fund", "give wei, settlement or both")
    if body.wei > 1000 * 10**18:
        raise Problem(422, "too_much_gas", "Too much gas", "at most 1000 ether (10**21 wei)")
    if not platform.is_dev_chain:
        raise Problem(409, "not_a_dev_chain", "This chain cannot fund participants",
                      "dev funding needs the embedded chain or anvil; on a production chain "
                      "send gas from a funded account of your own")
    p = platform.participant(body.participant)

    def effect() -> DevFundOut:
        hashes = platform.dev_fund(p.name, body.wei, body.settlement)
        return DevFundOut(participant=p.name, address=p.address,
                          gas_wei=platform.gas_of(p.address),
                          tx_hashes=hashes)

    return idem.run(effect)

"""The repayment keeper: collect at maturity and pay every holder pro rata (到期清分)."""

from scf_chain.keeper.keeper import Keeper, KeeperReport

__all__ = ["Keeper", "KeeperReport"]

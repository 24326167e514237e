"""A ready dev deployment: contracts, a test settlement token, and named, funded participants."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from eth_account.signers.local import LocalAccount

from scf_chain.chain.base import ChainBackend
from scf_chain.clients import (
    EvidenceRegistryClient,
    ReceivableTokenClient,
    Role,
    ScfSystem,
    SettlementTokenClient,
)
from scf_chain.deploy import Manifest, deploy_system, load_or_deploy
from scf_chain.errors import ConfigError

# Dev account 0 deploys and operates; the platform also anchors evidence batches it receives.
DEV_PARTICIPANTS: Mapping[str, Role] = {
    "operator": Role.OPERATOR | Role.ANCHORER,
    "core": Role.DEBTOR,
    "bank": Role.FINANCIER,
    "logistics": Role.ANCHORER,
    "auditor": Role.AUDITOR,
    "keeper": Role.NONE,
    "supplier-a": Role.SUPPLIER,
    "supplier-b": Role.SUPPLIER,
    "supplier-c": Role.SUPPLIER,
}
DEV_FUNDS = {"core": 10**13, "bank": 10**13}  # in cents of the test settlement token
DEV_CREDIT_LIMIT = 10**12


@dataclass
class DevNet:
    """A deployed system with named accounts; clients act as a participant by name."""

    system: ScfSystem
    accounts: dict[str, LocalAccount] = field(default_factory=dict)

    @property
    def chain(self) -> ChainBackend:
        return self.system.chain

    @property
    def manifest(self) -> Manifest:
        return self.system.manifest

    def address(self, name: str) -> str:
        return str(self.account(name).address)

    def account(self, name: str) -> LocalAccount:
        try:
            return self.accounts[name]
        except KeyError:
            raise ConfigError(f"no dev participant {name!r}; known: {sorted(self.accounts)}") from None

    def token(self, name: str) -> ReceivableTokenClient:
        return self.system.token(self.account(name))

    def evidence(self, name: str) -> EvidenceRegistryClient:
        return self.system.evidence(self.account(name))

    def settlement(self, name: str) -> SettlementTokenClient:
        return self.system.settlement(self.account(name))


def start_devnet(chain: ChainBackend, participants: Mapping[str, Role] = DEV_PARTICIPANTS,
                 funds: Mapping[str, int] = DEV_FUNDS, manifest_path: Path | None = None) -> DevNet:
    """Deploy (or reuse the manifest at `manifest_path`) and register and fund `participants`.

    Participants take the chain's dev accounts in order; registration and funding run again on a
    reused deployment only where the chain does not show them done yet.
    """
    dev = chain.dev_accounts()
    if len(dev) < len(participants):
        raise ConfigError(f"the chain has {len(dev)} dev accounts, {len(participants)} are needed")
    accounts = dict(zip(participants, dev, strict=False))  # more dev accounts than names
    operator = accounts.get("operator", dev[0])
    if manifest_path is None:
        manifest = deploy_system(chain, operator, dev_token=True)
    else:
        manifest, _ = load_or_deploy(chain, operator, manifest_path, dev_token=True)
    net = DevNet(ScfSystem(chain, manifest), accounts)
    token = net.system.token(operator)
    money = net.system.settlement(operator)
    for name, roles in participants.items():
        address = accounts[name].address
        if roles and token.roles_of(address) != roles:
            token.set_roles(address, roles)
        if roles & Role.DEBTOR and token.credit_limit_of(address) == 0:
            token.set_credit_limit(address, DEV_CREDIT_LIMIT)
        want = funds.get(name, 0)
        have = money.balance_of(address)
        if want > have:
            money.mint(address, want - have)
    return net

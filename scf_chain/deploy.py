"""Deploy the whole system to a chain and keep a manifest that later runs reuse and check."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address
from pydantic import BaseModel, ConfigDict, Field, field_validator

from scf_chain.chain.base import ChainBackend
from scf_chain.chain.forks import select_evm_version
from scf_chain.chain.sender import TxSender
from scf_chain.contracts import artifacts
from scf_chain.contracts.settings import EVM_VERSION
from scf_chain.errors import ArtifactError, DeploymentError

MANIFEST_VERSION = 1
TOKEN_NAME = "SCF Receivable"
TOKEN_SYMBOL = "SCFR"
VALUE_DECIMALS = 2  # value is counted in the settlement token's smallest unit (cents)


def _checksum(value: str) -> str:
    try:
        return to_checksum_address(value)
    except ValueError as exc:
        raise ValueError(f"not an address: {value!r}") from exc


class DeployedContract(BaseModel):
    """One contract of a deployment: where it is, what built it, which transaction created it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    address: str
    tx_hash: str
    code_hash: str = Field(description="keccak256 of the runtime code with immutables zeroed")

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        return _checksum(value)


class Manifest(BaseModel):
    """What a deployment is: chain id, addresses, first block, the EVM version its contracts
    were built for and their code hashes (JSON on disk).

    The participant registry lives inside `ReceivableToken` (roles share a storage word with the
    ERC-721 balance), so `registry` and `receivable_token` are the same address.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int = MANIFEST_VERSION
    chain_id: int
    deployer: str
    start_block: int
    deployed_at: datetime
    contracts: dict[str, DeployedContract]
    settlement_tokens: list[str]
    dev_settlement_token: str | None = None
    # manifests written before there were several builds hold Cancun contracts
    evm_version: str = EVM_VERSION

    @property
    def receivable_token(self) -> str:
        return self.contracts["ReceivableToken"].address

    @property
    def registry(self) -> str:
        return self.receivable_token

    @property
    def evidence_registry(self) -> str:
        return self.contracts["EvidenceRegistry"].address

    def save(self, path: Path) -> None:
        """Write atomically, so a crash never leaves half a manifest; 0600 like everything else
        in the data folder."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(self.model_dump_json(indent=2) + "\n")
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> Manifest:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise DeploymentError(f"no deployment manifest at {path}; run `scf deploy`") from None
        try:
            return cls.model_validate(json.loads(text))
        except (ValueError, TypeError) as exc:
            raise DeploymentError(f"deployment manifest {path} is malformed: {exc}") from exc


def runtime_code_hash(name: str, code: bytes | None = None,
                      evm_version: str = EVM_VERSION) -> str:
    """keccak256 of a contract's runtime code with its immutable slots zeroed.

    Without `code`, hashes the committed artifact of the `evm_version` build; with it, the code
    read from the chain (immutables at that build's positions). Equal hashes mean the chain runs
    exactly the bytecode our artifact holds.
    """
    art = artifacts.load(name, evm_version)
    if code is None:
        code = bytes.fromhex(art.deployed_bytecode.removeprefix("0x"))
    buf = bytearray(code)
    for refs in art.immutable_references.values():
        for ref in refs:
            start, length = int(ref["start"]), int(ref["length"])
            buf[start:start + length] = bytes(length)
    return "0x" + keccak(bytes(buf)).hex()


def _deploy_one(sender: TxSender, evm_version: str, name: str,
                *args: Any) -> tuple[DeployedContract, Any]:
    art = artifacts.load(name, evm_version)
    rcpt = sender.deploy(art.abi, art.bytecode, *args)
    assert rcpt.contract_address is not None  # TxSender.deploy raises otherwise
    contract = sender.w3.eth.contract(address=to_checksum_address(rcpt.contract_address), abi=art.abi)
    return DeployedContract(name=name, address=rcpt.contract_address, tx_hash=rcpt.tx_hash,
                            code_hash=runtime_code_hash(name, None, evm_version)), contract


def deploy_system(chain: ChainBackend, deployer: LocalAccount | TxSender,
                  settlement_tokens: Sequence[str] = (), dev_token: bool = False,
                  evm_version: str | None = None,
                  progress: Callable[[int, int, str], None] | None = None) -> Manifest:
    """Deploy ReceivableToken (with the participant registry) and EvidenceRegistry, wire them.

    `settlement_tokens` are existing ERC-20s to allow; `dev_token` also deploys the dev chain's
    TestSettlementToken (2 decimals, mintable by the deployer) and allows it. The deployer becomes
    the operator. `evm_version` picks the contract build ("cancun", "paris"; None or "auto": the
    newest the node runs); before anything is sent the node is probed, and a build needing
    opcodes it lacks is refused with DeploymentError. `progress(done, total, what)` is called
    before each transaction.
    """
    total = 3 + len(settlement_tokens) + 2 * dev_token
    steps = iter(range(total))

    def step(what: str) -> None:
        if progress is not None:
            progress(next(steps), total, what)

    if not settlement_tokens and not dev_token:
        raise DeploymentError("a deployment needs a settlement token: pass one, or a dev token")
    target = select_evm_version(chain, evm_version)
    sender = deployer if isinstance(deployer, TxSender) else TxSender(chain, deployer)
    start_block = chain.block_number() + 1
    contracts: dict[str, DeployedContract] = {}
    allowed = [_checksum(a) for a in settlement_tokens]
    dev_address = None
    if dev_token:
        step("TestSettlementToken")
        info, _ = _deploy_one(sender, target, "TestSettlementToken")
        contracts[info.name] = info
        dev_address = info.address
        allowed.append(info.address)
    step("ReceivableToken")
    info, token = _deploy_one(sender, target, "ReceivableToken", TOKEN_NAME, TOKEN_SYMBOL,
                              VALUE_DECIMALS, sender.address)
    contracts[info.name] = info
    step("EvidenceRegistry")
    info, _ = _deploy_one(sender, target, "EvidenceRegistry", token.address)
    contracts[info.name] = info
    step("wiring")
    sender.transact(token.functions.setEvidenceRegistry(info.address))
    for address in allowed:
        step(f"settlement token {address[:10]}")
        sender.transact(token.functions.setSettlementToken(address, True))
    return Manifest(chain_id=chain.chain_id(), deployer=sender.address, start_block=start_block,
                    deployed_at=datetime.now(UTC), contracts=contracts,
                    settlement_tokens=allowed, dev_settlement_token=dev_address,
                    evm_version=target)


def verify_manifest(chain: ChainBackend, manifest: Manifest) -> None:
    """Refuse a manifest of another chain, or one whose contracts are gone or differ."""
    chain_id = chain.chain_id()
    if manifest.chain_id != chain_id:
        raise DeploymentError(
            f"the deployment manifest is for chain id {manifest.chain_id}, but the node is chain id "
            f"{chain_id}; point SCF_DEPLOYMENT_FILE at this chain's manifest or deploy anew")
    for c in manifest.contracts.values():
        code = bytes(chain.w3.eth.get_code(to_checksum_address(c.address)))
        if not code:
            raise DeploymentError(
                f"{c.name} at {c.address} has no code on chain {chain_id}: this node is not the "
                f"chain the manifest was written for (a node reset since, or another node behind "
                f"the URL); point at the right node, or remove the manifest or deploy with --fresh")
        try:
            onchain = runtime_code_hash(c.name, code, manifest.evm_version)
            built = runtime_code_hash(c.name, None, manifest.evm_version)
        except ArtifactError as exc:  # a manifest naming a build this release does not ship
            raise DeploymentError(f"the deployment manifest's contracts are a build this "
                                  f"installation lacks: {exc}") from exc
        if onchain != c.code_hash:
            raise DeploymentError(f"{c.name} at {c.address} runs code other than the manifest says")
        if c.code_hash != built:
            raise DeploymentError(
                f"{c.name} at {c.address} was deployed from an older build of the contracts than "
                f"the artifacts installed here; deploy anew (outstanding receivables settle on the "
                f"old deployment)")


def load_or_deploy(chain: ChainBackend, deployer: LocalAccount | TxSender, path: Path,
                   settlement_tokens: Sequence[str] = (), dev_token: bool = False,
                   fresh: bool = False, evm_version: str | None = None,
                   progress: Callable[[int, int, str], None] | None = None
                   ) -> tuple[Manifest, bool]:
    """The manifest at `path` if it matches this chain, else a new deployment written there.

    Returns (manifest, deployed_now). A manifest for another chain id is refused with a clear
    error rather than silently replaced: it may describe real money elsewhere.
    """
    if path.exists() and not fresh:
        manifest = Manifest.load(path)
        verify_manifest(chain, manifest)
        return manifest, False
    manifest = deploy_system(chain, deployer, settlement_tokens, dev_token, evm_version,
                             progress)
    manifest.save(path)
    return manifest, True

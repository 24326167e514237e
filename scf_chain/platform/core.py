"""The platform: one chain, one deployment, the store, the keystore and documents, shared by every surface.

The HTTP gateway, the keeper and the CLI call this layer; it signs for participants with their
keys from the keystore (custodial, as receivable-voucher platforms operate), keeps the store in
step with the chain after every write, and holds the platform's operator account.
"""

from __future__ import annotations

import logging
import re
import secrets
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import is_address, to_checksum_address
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from scf_chain.chain import connect
from scf_chain.chain.base import ChainBackend
from scf_chain.chain.codec import checksum
from scf_chain.clients import (
    EvidenceRegistryClient,
    ReceivableTokenClient,
    Role,
    ScfSystem,
    SettlementTokenClient,
)
from scf_chain.config import Settings
from scf_chain.db.leases import ProcessLease, is_postgres
from scf_chain.db.models import ApiKey, GatewayParticipant
from scf_chain.deploy import Manifest, load_or_deploy
from scf_chain.errors import (
    ConfigError,
    Conflict,
    ExternalSignerRequired,
    KeyStoreError,
    NotFound,
    ParticipantConflict,
    ParticipantError,
)
from scf_chain.evidence.store import DocumentStore, MasterKey
from scf_chain.files import DataDirLock, private_dir
from scf_chain.indexer import Indexer
from scf_chain.indexer.ingest import IndexReport
from scf_chain.keeper import Keeper
from scf_chain.keys import KeyStore
from scf_chain.platform.apikeys import (
    Authenticator,
    IssuedKey,
    issue_key,
    keys_of,
    revoke_key,
)
from scf_chain.platform.custody import ExternalSender, external_sender
from scf_chain.platform.idempotency import IdempotencyStore
from scf_chain.platform.locks import AccountLocks
from scf_chain.platform.nonces import StoreNonces
from scf_chain.platform.parts import Parts, open_store

log = logging.getLogger("scf_chain.platform")

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
OPERATOR = "operator"
# service keys' names (`scf keeper --key keeper`, `scf deploy --key deployer`): no participant
# may be called so, though participants' keys live apart from them in the keystore anyway
RESERVED_NAMES = frozenset({OPERATOR, "keeper", "deployer"})
DEV_GAS_WEI = 10 * 10**18
# chains a backend starts inside or beside this process, which end with it
THROWAWAY_CHAINS = ("embedded", "anvil", "ganache")
ROLE_NAMES = {r.name.lower(): r for r in Role if r not in (Role.NONE,)}  # type: ignore[union-attr]


def roles_from_names(names: list[str]) -> Role:
    roles = Role.NONE
    for n in names:
        role = ROLE_NAMES.get(n.lower())
        if role is None:
            raise ParticipantError("unknown_role",
                                   f"unknown role {n!r}; roles: {', '.join(sorted(ROLE_NAMES))}")
        roles |= role
    return roles


def role_names(roles: int) -> list[str]:
    return [name for name, r in ROLE_NAMES.items() if roles & r]


@dataclass
class Platform:
    """Everything a request needs: the deployment's parts (scf_chain.platform.parts) with the
    keystore, the documents and the operator. Build with `Platform.open(settings)`; close when
    done."""

    parts: Parts
    keys: KeyStore
    documents: DocumentStore
    _operator: LocalAccount  # the operator's signer as last seen (see `operator_account`)
    owns_chain: bool = True
    process: ProcessLease = field(init=False)
    idempotency: IdempotencyStore = field(init=False)
    # one allowance-using operation per account at a time (scf_chain.platform.locks)
    account_locks: AccountLocks = field(init=False)
    _index_lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    # two rotations at once would each make a new key (scf_chain.platform.rotation)
    rotation_lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _operator_lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _indexed_to: int = field(default=-1, init=False)
    _tmp: tempfile.TemporaryDirectory[str] | None = field(default=None, init=False)
    # senders of participants that sign themselves, by address (scf_chain.platform.custody)
    external_senders: dict[str, ExternalSender] = field(default_factory=dict, init=False)
    _data_lock: DataDirLock | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        engine = self.sessions.kw.get("bind")
        # on PostgreSQL several gateway processes may share the store: this one's liveness is
        # an advisory lock (scf_chain.db.leases), its runs' tokens name it
        self.process = ProcessLease(engine)
        self.idempotency = IdempotencyStore(self.sessions, self.settings.idempotency_ttl_s,
                                            self.chain, self.process)
        self.account_locks = AccountLocks(engine)
        self.authenticator = Authenticator(self.sessions, self.settings.auth_cache_s)

    # -- opening -------------------------------------------------------------------------------------
    @classmethod
    def open(cls, settings: Settings | None = None, chain: ChainBackend | None = None,
             exclusive: bool = False) -> Platform:
        """Connect, deploy or reuse the deployment, migrate the store, load keys and documents.

        The embedded chain, and an anvil node this backend starts, live and die with this
        process, so with them everything else (store, keys, documents, manifest, master key)
        goes to a temporary folder deleted at close, unless SCF_DATA_DIR is given: then it all
        goes there (each piece that has its own setting may still be set apart) and is kept for
        inspection; a data folder holding an earlier run's deployment is refused (its store
        would point at contracts and blocks that no longer exist). A node started separately
        (`scf chain up`, then the rpc backend) keeps its state, and so does the data folder.

        `exclusive` (a gateway): hold the lock of the data folder and keystore while open, and
        refuse with DataDirLocked, before deploying or touching the store, if another process
        holds it: on SQLite one gateway per keystore (transaction nonces are handed out in
        memory); on PostgreSQL nonces are shared through the store, and `scf serve` opens
        without `exclusive`.
        The data, keystore and document folders are made 0700, the store and secrets 0600; on
        a production chain a master key kept among them is refused (see Settings).
        """
        settings = settings or Settings()
        settings.check_master_key_placement()
        if settings.is_production_chain and not settings.master_key_path.exists():
            raise ConfigError(
                f"the documents' master key {settings.master_key_path} (SCF_MASTER_KEY_FILE) "
                f"does not exist: create it once with `scf keys master-key "
                f"{settings.master_key_path}` (32 random bytes, mode 0600), kept apart from the "
                "data it protects; it is never made silently on a production chain")
        owns = chain is None
        chain = chain or connect(settings)
        tmp: tempfile.TemporaryDirectory[str] | None = None
        lock: DataDirLock | None = None
        try:
            if chain.name in THROWAWAY_CHAINS:
                settings, tmp = cls._throwaway_state(settings, chain.name)
            if exclusive:
                lock = DataDirLock([settings.data_dir, settings.keystore_path])
            # a chain this process started is new: a deployment in the data folder is an
            # earlier one's (a chain handed in by the caller may outlive a platform, and be
            # reopened)
            if owns and chain.name in THROWAWAY_CHAINS and tmp is None \
                    and settings.manifest_path.exists():
                raise ConfigError(
                    f"{settings.manifest_path} holds the deployment of an earlier {chain.name} "
                    f"chain, which ended with its process: give SCF_DATA_DIR an empty or new "
                    f"folder (or remove {settings.data_dir}); its store and keys belong to a "
                    "chain that no longer exists")
            private_dir(settings.data_dir)
            if not settings.keystore_password:
                raise ConfigError("SCF_KEYSTORE_PASSWORD is needed to open the keystore")
            keys = KeyStore(settings.keystore_path, settings.keystore_password,
                            iterations=settings.keystore_scrypt_n)
            operator = cls._operator_account(chain, keys)
            manifest, deployed = load_or_deploy(chain, operator, settings.manifest_path,
                                                dev_token=bool(chain.dev_accounts()),
                                                evm_version=settings.evm_version)
            if deployed:
                log.info("deployed the system to chain %s: %s", manifest.chain_id,
                         settings.manifest_path)
            sessions = open_store(settings)
            master_file = settings.master_key_path
            try:
                if master_file.exists():
                    master = MasterKey.from_file(master_file)
                else:  # a dev chain (a production one was refused above)
                    master = MasterKey.generate(master_file)
                    log.info("created the documents' master key %s (SCF_MASTER_KEY_FILE), "
                             "as on every dev chain without one", master_file)
            except OSError as exc:  # a read-only secrets mount without the key, a wrong owner
                raise ConfigError(f"cannot read or create the documents' master key "
                                  f"{master_file} (SCF_MASTER_KEY_FILE): {exc.strerror}") from exc
            documents = DocumentStore(settings.document_store_path, master)
            engine = sessions.kw.get("bind")
            # nonces in the store when processes may share it (PostgreSQL), else in memory
            nonces = StoreNonces(engine) if engine is not None and is_postgres(engine) else None
            platform = cls(Parts(settings, chain, manifest, sessions, nonces), keys, documents,
                           operator, owns_chain=owns)
            platform._tmp = tmp
            platform._data_lock = lock
            platform._operator = platform._signing_operator()
            platform._ensure_operator_participant()
            platform._namespace_participant_keys()
            platform.sync()
            # requests a previous run left unfinished: resolved from the chain before serving
            platform.idempotency.recover()
            return platform
        except BaseException:
            if owns:
                chain.close()
            if tmp is not None:
                tmp.cleanup()
            if lock is not None:
                lock.release()
            raise

    @staticmethod
    def _throwaway_state(settings: Settings, chain_name: str
                         ) -> tuple[Settings, tempfile.TemporaryDirectory[str] | None]:
        """Settings for a chain that ends with this process: every piece of state not set
        explicitly goes to SCF_DATA_DIR if given (kept), else to a temporary folder (deleted at
        close). Keys of such a chain protect nothing: a random password unless one is given,
        and a cheap KDF."""
        update: dict[str, Any] = {"keystore_password": secrets.token_hex(16),
                                  "keystore_scrypt_n": 2**12}
        tmp: tempfile.TemporaryDirectory[str] | None = None
        if "data_dir" not in settings.model_fields_set:
            # the settings derived from the data folder follow it into the temporary one
            tmp = tempfile.TemporaryDirectory(prefix=f"scf-{chain_name}-")
            base = Path(tmp.name)
            update.update({"data_dir": base, "database_url": f"sqlite:///{base}/scf.db",
                           "keystore_path": base / "keys", "document_store_path": base / "documents"})
        return settings.model_copy(update={
            k: v for k, v in update.items() if k not in settings.model_fields_set}), tmp

    @staticmethod
    def _operator_account(chain: ChainBackend, keys: KeyStore) -> LocalAccount:
        if OPERATOR in keys.names():
            return keys.account(OPERATOR)
        dev = chain.dev_accounts()
        if not dev:
            raise ConfigError("the keystore has no 'operator' key: import the operator's key "
                              "(`scf keys import operator`) before serving a production chain")
        keys.import_key(OPERATOR, dev[0].key)
        return keys.account(OPERATOR)

    def _signing_operator(self) -> LocalAccount:
        """The operator key the chain names: the keystore's, or a retired one while a rotation
        of the operator's key is unfinished (a crash between the new key and its acceptance;
        `rotate-key operator` again finishes it)."""
        current = self._operator
        named = self.system.token(current).operator()
        if named == checksum(current.address):
            return current
        for acct in self.keys.retired(OPERATOR):
            if checksum(acct.address) == named:
                log.warning("the operator's key rotation is unfinished: %s signs as operator "
                            "until %s accepts the role (rotate-key operator)", named,
                            current.address)
                return acct
        return current  # the chain names a key this keystore lacks: its calls will be refused

    def _ensure_operator_participant(self) -> None:
        with self.sessions() as s:
            if s.get(GatewayParticipant, OPERATOR) is None:
                roles = int(self.token(self.operator_account).roles_of(self.operator_account.address))
                s.add(GatewayParticipant(name=OPERATOR, address=self.operator_account.address,
                                         roles=roles, key_name=OPERATOR,
                                         display_name="Platform operator",
                                         created_at=int(time.time())))
                s.commit()

    def _namespace_participant_keys(self) -> None:
        """Participants registered before keys had namespaces have theirs among the service
        keys: move them to the participants' namespace (a participant that took a service key,
        e.g. one named `keeper`, keeps the key, and the service makes itself a new one)."""
        with self.sessions() as s:
            rows = list(s.scalars(select(GatewayParticipant).where(
                GatewayParticipant.name != OPERATOR, GatewayParticipant.custody != "external",
                GatewayParticipant.key_name.not_like(self.keys.participant("%")))))
            for row in rows:
                if row.name in RESERVED_NAMES:
                    log.warning("participant %r held the %r service key; the service gets a "
                                "new key", row.name, row.key_name)
                try:
                    row.key_name = self.keys.adopt_as_participant(row.key_name)
                except KeyStoreError as exc:  # its requests fail as they would have
                    log.error("participant %r: its key stays where it is: %s", row.name, exc)
                    continue
                s.commit()

    def close(self) -> None:
        self.parts.system.close()
        self.process.close()
        if self.owns_chain:
            self.chain.close()
        if self._tmp is not None:
            self._tmp.cleanup()
        if self._data_lock is not None:
            self._data_lock.release()

    # -- shortcuts -----------------------------------------------------------------------------------
    @property
    def settings(self) -> Settings:
        return self.parts.settings

    @property
    def chain(self) -> ChainBackend:
        return self.parts.chain

    @property
    def manifest(self) -> Manifest:
        return self.parts.manifest

    @property
    def sessions(self) -> sessionmaker[Session]:
        return self.parts.sessions

    @property
    def system(self) -> ScfSystem:
        return self.parts.system

    @property
    def indexer(self) -> Indexer:
        return self.parts.indexer

    @property
    def operator_account(self) -> LocalAccount:
        """The operator's signer. After an operator key rotation (scf_chain.platform.rotation),
        here or in another process sharing the keystore (gateway workers, the keeper's
        process), the keystore holds the new key: it signs from the moment the chain names it
        operator (the hand-over accepted); until then the previous key still does."""
        cached = self._operator
        if self.keys.address_of(OPERATOR) == cached.address:
            return cached
        with self._operator_lock:
            if self.keys.address_of(OPERATOR) == self._operator.address:
                return self._operator
            on_chain = self.system.token(self._operator).operator()
            if on_chain == self.keys.address_of(OPERATOR):
                self.keys.forget(OPERATOR)  # another process rotated it: read the new key
                self._operator = self.keys.account(OPERATOR)
                log.info("the operator is now %s", on_chain)
            return self._operator

    def dev_token_minter(self) -> LocalAccount:
        """The key that may mint the dev settlement token: the deployer, which is the operator
        key of the deployment or, after operator rotations, one of its retired keys."""
        address = self.manifest.deployer
        op = self.operator_account
        if checksum(op.address) == checksum(address):
            return op
        candidates = self.keys.retired(OPERATOR)
        if "deployer" in self.keys.names():  # `scf deploy --key deployer`
            candidates.append(self.keys.account("deployer"))
        for acct in candidates:
            if checksum(acct.address) == checksum(address):
                return acct
        raise Conflict("dev_token_owner_unknown", f"the keystore holds no key for the dev "
                       f"settlement token's owner {address}")

    @property
    def is_dev_chain(self) -> bool:
        return bool(self.chain.dev_accounts())

    def account(self, participant: GatewayParticipant | str) -> LocalAccount:
        if not isinstance(participant, str) and participant.custody == "external":
            raise ExternalSignerRequired(participant.name)
        name = participant if isinstance(participant, str) else participant.key_name
        return self.keys.account(name)

    def signer(self, who: GatewayParticipant | LocalAccount) -> LocalAccount | ExternalSender:
        """What signs for `who`: its keystore account, or for a participant holding its own
        key the sender that only sends what it signed (scf_chain.platform.custody)."""
        if isinstance(who, LocalAccount):
            return who
        if who.custody == "external":
            return external_sender(self, who)
        return self.account(who)

    def token(self, who: GatewayParticipant | LocalAccount) -> ReceivableTokenClient:
        return self.system.token(self.signer(who))

    def evidence_registry(self, who: GatewayParticipant | LocalAccount) -> EvidenceRegistryClient:
        return self.system.evidence(self.signer(who))

    def money(self, who: GatewayParticipant | LocalAccount,
              address: str | None = None) -> SettlementTokenClient:
        return self.system.settlement(self.signer(who), address)

    def sync(self, force: bool = False) -> None:
        """Bring the store up to the chain head (after a write, so reads see it).

        Concurrent callers coalesce: whoever waited for the lock finds the head it needed
        already indexed by the previous holder and returns at once. `force` always runs a pass
        (the background indexer: it also notices reorgs of a dev chain).
        """
        head = self.chain.block_number()
        if self._indexed_to >= head and not force:
            return
        with self._index_lock:
            if self._indexed_to >= head and not force:
                return
            report: IndexReport = self.indexer.index_once(until=None if force else head)
            if report.caught_up:
                self._indexed_to = report.head - self.settings.confirmations

    # -- participants -------------------------------------------------------------------------------
    def participant(self, name: str) -> GatewayParticipant:
        with self.sessions() as s:
            p = s.get(GatewayParticipant, name)
        if p is None:
            raise NotFound(f"no participant named {name!r}")
        return p

    def participant_by_address(self, address: str) -> GatewayParticipant | None:
        with self.sessions() as s:
            return s.scalars(select(GatewayParticipant)
                             .where(GatewayParticipant.address == address)).first()

    def participants(self) -> list[GatewayParticipant]:
        with self.sessions() as s:
            return list(s.scalars(select(GatewayParticipant).order_by(GatewayParticipant.name)))

    def resolve(self, who: str) -> str:
        """An address for a participant name or an address (checksummed)."""
        if is_address(who):
            return checksum(who)
        return checksum(self.participant(who).address)

    def create_participant(self, name: str, display_name: str, roles: Role,
                           dev_funds: int = 0, external_address: str | None = None
                           ) -> tuple[GatewayParticipant, IssuedKey]:
        """Create a key in the keystore, register its roles on chain, and issue an API key.

        With `external_address` the participant holds its own key (custody: external): no key
        is made, and its transactions are prepared for it to sign (scf_chain.platform.custody).
        """
        if not NAME_RE.match(name):
            raise ParticipantError("invalid_name", "a participant name is 1-63 characters of "
                                   "a-z, 0-9 and '-', starting with a letter or digit")
        if name in RESERVED_NAMES:
            raise ParticipantError("reserved_name", f"{name!r} names a service key; reserved: "
                                   f"{', '.join(sorted(RESERVED_NAMES))}")
        if roles == Role.NONE:
            raise ParticipantError("no_roles", "a participant needs at least one role")
        if roles & Role.OPERATOR:
            raise ParticipantError("operator_role", "the operator role cannot be granted here")
        if dev_funds and not self.manifest.dev_settlement_token:
            raise ParticipantError("not_a_dev_chain",
                                   "dev_funds is only available with a dev settlement token")
        with self.sessions() as s:
            if s.get(GatewayParticipant, name) is not None:
                raise ParticipantConflict("participant_exists", f"participant {name!r} exists")
        if external_address is not None:
            key_name, address = "", self._external_address(external_address)
        else:
            # a participant key without a participant row is an earlier attempt that failed on
            # chain: resume it (participants' keys have their own namespace: never a service key)
            key_name = self.keys.participant(name)
            address = (self.keys.address_of(key_name) if key_name in self.keys.names()
                       else self.keys.create(key_name))
        if self.is_dev_chain:
            self.system.sender(self.chain.dev_accounts()[0]).send(address, b"", DEV_GAS_WEI)
        op = self.token(self.operator_account)
        op.set_roles(address, roles)
        if dev_funds:
            self.money(self.dev_token_minter()).mint(address, dev_funds)
        with self.sessions() as s:
            p = GatewayParticipant(name=name, address=address, roles=int(roles),
                                   key_name=key_name, display_name=display_name,
                                   created_at=int(time.time()),
                                   custody="custodial" if external_address is None
                                   else "external")
            s.add(p)
            issued = issue_key(s, name)
            s.commit()
        return p, issued

    def _external_address(self, address: str) -> str:
        """A participant's own address: a valid one that no participant or service key has."""
        if not is_address(address):
            raise ParticipantError("invalid_address", f"{address!r} is not an address")
        address = checksum(address)
        service = {self.keys.address_of(k).lower() for k in RESERVED_NAMES
                   if k in self.keys.names()}
        if address.lower() in service or self.participant_by_address(address) is not None:
            raise ParticipantConflict("address_taken", f"{address} is already a participant's "
                                      "or a service key's address")
        return address

    def set_roles(self, name: str, roles: Role) -> GatewayParticipant:
        p = self.participant(name)
        if name == OPERATOR or roles & Role.OPERATOR:
            raise ParticipantError("operator_role", "the operator's roles are not changed here")
        self.token(self.operator_account).set_roles(p.address, roles)
        with self.sessions() as s:
            row = s.get(GatewayParticipant, name)
            assert row is not None
            row.roles = int(roles)
            s.commit()
            p = row
        self.authenticator.forget()
        return p

    def balances(self, name: str) -> dict[str, Any]:
        """A participant's gas (wei) and, per settlement token, its balance and its allowance to
        the receivable contract (what collection and financing may pull)."""
        p = self.participant(name)
        spender = self.manifest.receivable_token
        op = self.operator_account
        tokens = []
        for address in self.manifest.settlement_tokens:
            money = self.money(op, address)
            tokens.append({"token": address, "balance": money.balance_of(p.address),
                           "allowance": money.allowance(p.address, spender)})
        return {"participant": name, "address": p.address, "spender": spender,
                "gas_wei": self.gas_of(p.address), "tokens": tokens}

    def gas_of(self, address: str) -> int:
        """What `address` holds of the chain's native currency (wei), to pay for gas."""
        return int(self.chain.w3.eth.get_balance(to_checksum_address(address)))

    def dev_fund(self, name: str, wei: int, settlement: int) -> list[str]:
        """Dev chains only: send `wei` of gas from the node's funded account and mint
        `settlement` of the dev settlement token to participant `name`."""
        p = self.participant(name)
        if not self.is_dev_chain:
            raise Conflict("not_a_dev_chain", "this chain has no funded dev accounts: fund "
                           "participants from a funded account of your own")
        if settlement and not self.manifest.dev_settlement_token:
            raise Conflict("not_a_dev_chain", "this deployment has no dev settlement token")
        done: list[str] = []
        if wei:
            done.append(self.system.sender(self.chain.dev_accounts()[0]).send(
                p.address, b"", wei).tx_hash)
        if settlement:
            done.append(self.money(self.dev_token_minter(), self.manifest.dev_settlement_token)
                        .mint(p.address, settlement).tx_hash)
        return done

    def keeper(self, batch_size: int = 50) -> Keeper:
        """The platform's repayment keeper (its own key, 'keeper'; funded with gas on dev chains)."""
        if "keeper" not in self.keys.names():
            address = self.keys.create("keeper")
            if self.is_dev_chain:
                self.system.sender(self.chain.dev_accounts()[0]).send(address, b"", DEV_GAS_WEI)
        return self.parts.keeper(self.keys.account("keeper"), batch_size=batch_size,
                                 before_index=self.sync)

    def api_keys(self, name: str) -> list[ApiKey]:
        """A participant's API keys (ids, issue and revocation times; never secrets)."""
        self.participant(name)
        with self.sessions() as s:
            return keys_of(s, name)

    def revoke_api_key(self, name: str, key_id: str) -> ApiKey:
        """Revoke one of `name`'s API keys (again: no change). NotFound for another's key."""
        self.participant(name)
        with self.sessions() as s:
            key = s.get(ApiKey, key_id)
            if key is None or key.participant != name:
                raise NotFound(f"{name} has no API key {key_id!r}")
            revoke_key(s, key_id)
            s.commit()
        self.authenticator.forget()
        return key

    def issue_api_key(self, name: str) -> IssuedKey:
        self.participant(name)
        with self.sessions() as s:
            issued = issue_key(s, name)
            s.commit()
        return issued

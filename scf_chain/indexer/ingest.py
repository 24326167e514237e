"""Follow the chain: fetch the system's logs in block ranges, apply them with the cursor atomically, undo reorgs."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from eth_utils import event_abi_to_log_topic, to_checksum_address
from hexbytes import HexBytes
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker
from web3 import Web3

from scf_chain.chain.base import ChainBackend, raw_request
from scf_chain.chain.codec import AbiContract
from scf_chain.contracts import artifacts
from scf_chain.contracts.events import EventDecoder, default_event_decoder
from scf_chain.db.leases import INDEXER_SPACE, store_lock
from scf_chain.db.models import READ_MODELS, IndexedBlock, IndexerCursor, RawEvent
from scf_chain.db.outage import is_store_outage
from scf_chain.errors import ChainError, DeploymentError, IndexerError, ReorgTooDeep
from scf_chain.indexer.projector import EventRecord, Projector

log = logging.getLogger(__name__)

DEFAULT_CHUNK_BLOCKS = 2_000
HEADER_BATCH = 500  # block headers per JSON-RPC batch request
REPLAY_CHUNK_EVENTS = 5_000
_TRANSFER_TOPIC = "0x" + bytes(event_abi_to_log_topic(
    {"type": "event", "name": "Transfer", "inputs": [
        {"type": "address", "name": "from", "indexed": True},
        {"type": "address", "name": "to", "indexed": True},
        {"type": "uint256", "name": "value", "indexed": False}]})).hex()


class DeploymentLike(Protocol):
    """What the indexer needs to know about a deployment."""

    @property
    def receivable_token(self) -> str: ...
    @property
    def evidence_registry(self) -> str: ...
    @property
    def settlement_tokens(self) -> Sequence[str]: ...
    @property
    def start_block(self) -> int: ...


@dataclass(frozen=True)
class Reorg:
    """A reorganisation the indexer undid: blocks after `fork_block` were orphaned."""

    detected_at: int
    fork_block: int
    events_removed: int


@dataclass(frozen=True)
class IndexReport:
    """What one `index_once` did."""

    from_block: int | None
    to_block: int | None
    events: int
    batches: int
    reorg: Reorg | None
    head: int
    caught_up: bool


def _hex(v: Any) -> str:
    if isinstance(v, str):
        return v.lower() if v.startswith("0x") else "0x" + v.lower()
    return "0x" + bytes(HexBytes(v)).hex()


def _int(v: Any) -> int:
    return int(v, 16) if isinstance(v, str) else int(v)


@dataclass(frozen=True)
class _Header:
    number: int
    hash: str
    parent_hash: str
    timestamp: int

    @classmethod
    def of(cls, raw: Any, number: int) -> _Header:
        if raw is None:
            raise ChainError(f"the node has no block {number}")
        return cls(number, _hex(raw["hash"]), _hex(raw["parentHash"]), _int(raw["timestamp"]))


def _plain_log(lg: Any) -> dict[str, Any]:
    """A log as plain values, whichever provider produced it (hex JSON or eth-tester values)."""
    return {"address": str(lg["address"]) if isinstance(lg["address"], str)
            else "0x" + bytes(lg["address"]).hex(),
            "topics": [_hex(t) for t in lg["topics"]], "data": _hex(lg["data"]),
            "blockNumber": _int(lg["blockNumber"]), "blockHash": _hex(lg["blockHash"]),
            "transactionHash": _hex(lg["transactionHash"]), "logIndex": _int(lg["logIndex"]),
            "removed": bool(lg.get("removed", False))}


def _topic_of(address: str) -> str:
    return "0x" + "0" * 24 + address.lower().removeprefix("0x")


def _w3_of(chain: ChainBackend | Web3) -> Web3:
    return chain if isinstance(chain, Web3) else chain.w3


class Indexer:
    """Ingests one deployment's events into the store behind `sessions`.

    Batches cover at most `chunk_blocks` blocks up to `head - confirmations`; a batch's raw
    events, read-model changes, block hashes and the cursor commit in one transaction, so a
    crash at any point leaves the store at a batch boundary. Before each batch the parent hash
    of its first block is checked against the cursor; on a mismatch the fork point is found
    among the stored block hashes, every event of the orphaned blocks is deleted, the read
    models are rebuilt from the remaining raw events, and ingestion resumes from the fork.

    Every batch stores the hashes of its last `max_reorg_depth` blocks, so the fork of any reorg
    up to that depth is found exactly. A chain that leaves the stored one further back (a reset
    dev node, another chain behind the same URL) is refused with ReorgTooDeep and nothing is
    deleted: undoing it would wipe history that is most likely still valid elsewhere.
    """

    def __init__(
        self,
        chain: ChainBackend | Web3,
        sessions: sessionmaker[Session],
        deployment: DeploymentLike,
        *,
        confirmations: int | None = None,
        max_reorg_depth: int | None = None,
        chunk_blocks: int = DEFAULT_CHUNK_BLOCKS,
        name: str = "default",
        decoder: EventDecoder | None = None,
    ) -> None:
        if confirmations is None or max_reorg_depth is None:
            from scf_chain.config import get_settings

            settings = get_settings()
            confirmations = settings.confirmations if confirmations is None else confirmations
            max_reorg_depth = (settings.max_reorg_depth if max_reorg_depth is None
                               else max_reorg_depth)
        if confirmations < 0 or chunk_blocks < 1 or max_reorg_depth < 0:
            raise IndexerError("confirmations and max_reorg_depth must be >= 0, chunk_blocks >= 1")
        self.w3 = _w3_of(chain)
        self.sessions = sessions
        self.token_address = to_checksum_address(deployment.receivable_token)
        self.evidence_address = to_checksum_address(deployment.evidence_registry)
        self.settlement_tokens = [to_checksum_address(a) for a in deployment.settlement_tokens]
        self.start_block = int(deployment.start_block)
        self.confirmations = confirmations
        self.max_reorg_depth = max_reorg_depth
        self.chunk_blocks = chunk_blocks
        self.name = name
        self.decoder = decoder or default_event_decoder()
        abi = artifacts.load("ReceivableToken").abi
        self._token = AbiContract(self.w3, self.token_address, abi)
        outputs = next(f for f in abi if f.get("name") == "getReceivable")["outputs"][0]["components"]
        self._settlement_index = [c["name"] for c in outputs].index("settlementToken")

    # -- public -----------------------------------------------------------------------------------
    def follow(self, stop: threading.Event, poll_interval_s: float = 1.0,
               on_report: Callable[[IndexReport], None] | None = None) -> None:
        """Index until `stop` is set: catch up, then poll every `poll_interval_s` seconds.

        A failing node (ChainError), a reorg under a batch, or a store that dropped or refused
        its connection (a database restart) is logged and retried after a backoff; anything
        else (a bug, a reorg deeper than allowed, a node without the deployment) propagates.
        """
        backoff = poll_interval_s
        while not stop.is_set():
            try:
                report = self.index_once(max_batches=10)
            except Exception as exc:
                if not (isinstance(exc, ChainError) or is_store_outage(exc)):
                    raise
                log.warning("indexer: %s; retrying in %.1fs", str(exc).splitlines()[0]
                            if str(exc) else type(exc).__name__, backoff)
                stop.wait(backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            backoff = poll_interval_s
            if on_report is not None:
                on_report(report)
            if report.caught_up:
                stop.wait(poll_interval_s)
        log.info("indexer stopped at %s", self.cursor())

    def cursor(self) -> tuple[int, str] | None:
        """(last applied block, its hash), or None before the first batch."""
        with self.sessions() as s:
            c = s.get(IndexerCursor, self.name)
            return None if c is None else (c.last_block, c.last_block_hash)

    def index_once(self, max_batches: int | None = None, until: int | None = None) -> IndexReport:
        """Ingest up to the confirmed head (or `max_batches` batches); undo a reorg first if any.

        On PostgreSQL, processes sharing the store index one at a time (an advisory lock per
        indexer name): a caller waits for the one writing, then finds the cursor advanced.
        `until`: the head the caller needs indexed (a read after a write). When the cursor
        already covers it (another process indexed it, before or while this one waited for the
        lock), nothing is done: readers under a stream of writes do not each chase the newest
        block. The background indexer, which also looks for reorgs, passes no `until`.
        """
        if until is not None and self._covers(until):
            return IndexReport(None, None, 0, 0, None, until, True)
        with store_lock(self.sessions.kw.get("bind"), INDEXER_SPACE, self.name):
            if until is not None and self._covers(until):
                return IndexReport(None, None, 0, 0, None, until, True)
            return self._index_once(max_batches)

    def _covers(self, head: int) -> bool:
        cur = self.cursor()
        return cur is not None and cur[0] >= head - self.confirmations

    def _index_once(self, max_batches: int | None) -> IndexReport:
        head = int(self.w3.eth.block_number)
        safe = head - self.confirmations
        reorg = self._check_reorg(head)
        first: int | None = None
        last: int | None = None
        events = batches = 0
        while max_batches is None or batches < max_batches:
            cur = self.cursor()
            start = self.start_block if cur is None else cur[0] + 1
            if start > safe:
                break
            end = min(start + self.chunk_blocks - 1, safe)
            n, end = self._process(start, end, cur)
            first = start if first is None else first
            last = end
            events += n
            batches += 1
        cur = self.cursor()
        caught_up = cur is not None and cur[0] >= safe or safe < self.start_block
        return IndexReport(first, last, events, batches, reorg, head, caught_up)

    # -- fetching -----------------------------------------------------------------------------------
    def _rpc(self, method: str, params: list[Any]) -> Any:
        # raw: web3's result formatters (checksumming every log's address, a keccak each) cost
        # more than the request itself
        return raw_request(self.w3, method, params)

    def _get_logs(self, start: int, end: int) -> list[dict[str, Any]]:
        base: dict[str, Any] = {"fromBlock": hex(start), "toBlock": hex(end)}
        logs = list(self._rpc("eth_getLogs", [
            {**base, "address": [self.token_address, self.evidence_address]}]))
        if self.settlement_tokens:
            me = _topic_of(self.token_address)
            for topics in ([_TRANSFER_TOPIC, me], [_TRANSFER_TOPIC, None, me]):
                logs += self._rpc("eth_getLogs", [
                    {**base, "address": self.settlement_tokens, "topics": topics}])
        seen: set[tuple[str, int]] = set()
        unique = []
        for raw in logs:
            lg = _plain_log(raw)
            key = (lg["transactionHash"], lg["logIndex"])
            if key not in seen and not lg["removed"]:
                seen.add(key)
                unique.append(lg)
        unique.sort(key=lambda lg: (lg["blockNumber"], lg["logIndex"]))
        return unique

    def _fetch(self, start: int, end: int) -> tuple[list[Any], int]:
        """Logs of [start, end], halving the range when the node refuses a large query."""
        while True:
            try:
                return self._get_logs(start, end), end
            except Exception as exc:  # node limits differ: "too many results", timeouts, ...
                if end == start:
                    raise ChainError(f"eth_getLogs failed for block {start}: {exc}") from exc
                end = start + (end - start) // 2
                log.info("eth_getLogs refused %s..; retrying up to block %s", start, end)

    def _block(self, number: int) -> _Header:
        return _Header.of(self._rpc("eth_getBlockByNumber", [hex(number), False]), number)

    def _blocks(self, numbers: Sequence[int]) -> dict[int, _Header]:
        """Headers of `numbers`: batched JSON-RPC requests where the provider takes them (one
        round trip per HEADER_BATCH blocks instead of one each), else one by one."""
        out: dict[int, _Header] = {}
        batch = getattr(self.w3.provider, "make_batch_request", None)
        todo = list(numbers)
        if batch is not None and getattr(self.w3.provider, "endpoint_uri", None):
            for i in range(0, len(todo), HEADER_BATCH):
                part = todo[i:i + HEADER_BATCH]
                try:
                    replies = batch([("eth_getBlockByNumber", [hex(n), False]) for n in part])
                except Exception as exc:  # noqa: BLE001 - a node without batch support
                    log.info("batch request refused (%s); fetching headers one by one", exc)
                    break
                if not isinstance(replies, list) or len(replies) != len(part):
                    break
                for n, reply in zip(part, replies, strict=True):
                    if isinstance(reply, dict) and reply.get("result"):
                        out[n] = _Header.of(reply["result"], n)
        for n in todo:
            if n not in out:
                out[n] = self._block(n)
        return out

    # -- one batch ----------------------------------------------------------------------------------
    def _process(self, start: int, end: int, cur: tuple[int, str] | None) -> tuple[int, int]:
        first_block = self._block(start)
        if cur is not None and first_block.parent_hash != cur[1]:
            raise _ReorgDuringBatch(start)
        logs, end = self._fetch(start, end)
        end_block = first_block if end == start else self._block(end)
        headers: dict[int, _Header] = {start: first_block, end: end_block}
        # the batch's last blocks, so that a reorg within max_reorg_depth finds its exact fork
        tail = range(max(start, end - self.max_reorg_depth + 1), end + 1)
        headers.update(self._blocks(sorted(
            ({lg["blockNumber"] for lg in logs} | set(tail)) - headers.keys())))
        for n in tail[1:]:
            if headers[n].parent_hash != headers[n - 1].hash:  # the chain moved while we read
                raise _ReorgDuringBatch(n)
        records: list[EventRecord] = []
        for lg in logs:
            n = lg["blockNumber"]
            if lg["blockHash"] != headers[n].hash:
                raise _ReorgDuringBatch(n)
            ev = self.decoder.decode(lg)
            if ev is None:
                continue
            extra = None
            if ev.name == "Applied" and ev.address == self.token_address:
                fn = self._token.functions.getReceivable(int(ev.args["slot"]))
                # a slot's settlement token never changes after applyFor, so the head's state
                # answers: a node keeps old blocks' state for a while only (anvil rebuilds it
                # for such a call: 0.3 s a call 2,000 blocks back, which made indexing a large
                # market quadratic), and a pruned one not at all
                token = str(fn.call(block="latest")[self._settlement_index]).lower()
                if int(token, 16) == 0:  # not at the head (a reorg under way): at its block
                    token = str(fn.call(block=n)[self._settlement_index]).lower()
                extra = {"settlementToken": token}
            records.append(EventRecord(
                name=ev.name, address=ev.address.lower(), args=ev.args, tx_hash=ev.tx_hash,
                log_index=ev.log_index, block_number=n, block_hash=ev.block_hash,
                block_time=headers[n].timestamp, extra=extra))
        with self.sessions() as s, s.begin():
            c = s.get(IndexerCursor, self.name, with_for_update=True)
            if (None if c is None else (c.last_block, c.last_block_hash)) != cur:
                raise IndexerError("another indexer advanced the cursor concurrently")
            records = self._without_applied(s, records, start, end)
            Projector(s, self.token_address, frozenset(self.settlement_tokens)).apply(records)
            s.execute(delete(IndexedBlock).where(IndexedBlock.number.between(start, end)))
            s.add_all(IndexedBlock(number=n, hash=h.hash, timestamp=h.timestamp)
                      for n, h in sorted(headers.items()))
            end_hash = end_block.hash
            if c is None:
                s.add(IndexerCursor(name=self.name, last_block=end, last_block_hash=end_hash))
            else:
                c.last_block, c.last_block_hash = end, end_hash
        return len(records), end

    @staticmethod
    def _without_applied(s: Session, records: list[EventRecord], start: int,
                         end: int) -> list[EventRecord]:
        """Drop events already in the store (a range processed twice must change nothing)."""
        if not records:
            return records
        done = set(s.execute(select(RawEvent.tx_hash, RawEvent.log_index).where(
            RawEvent.block_number.between(start, end))).tuples())
        return [r for r in records if (r.tx_hash, r.log_index) not in done] if done else records

    # -- reorgs -------------------------------------------------------------------------------------
    def _check_reorg(self, head: int) -> Reorg | None:
        cur = self.cursor()
        if cur is None:
            return None
        if cur[0] <= head and self._block(cur[0]).hash == cur[1]:
            return None
        return self._rollback(head, cur[0])

    def _rollback(self, head: int, detected_at: int) -> Reorg:
        if not bytes(self.w3.eth.get_code(self.token_address)):
            # however shallow: a node without the deployment is another chain, not a reorg
            raise DeploymentError(
                f"ReceivableToken at {self.token_address} has no code on the node (head {head}): "
                f"it is not the chain the store follows (a reset node, or another chain behind "
                f"the URL); nothing was deleted")
        lowest = detected_at - self.max_reorg_depth  # the deepest fork that may be undone
        with self.sessions() as s, s.begin():
            fork = self.start_block - 1
            fork_hash: str | None = None
            stored = s.execute(select(IndexedBlock.number, IndexedBlock.hash).where(
                IndexedBlock.number <= min(head, detected_at),
                IndexedBlock.number >= lowest).order_by(IndexedBlock.number.desc())).tuples()
            for number, block_hash in stored:
                if self._block(number).hash == block_hash:
                    fork, fork_hash = number, block_hash
                    break
            if fork < lowest:
                raise ReorgTooDeep(
                    f"the node's chain (head {head}) shares none of the indexed blocks "
                    f"{max(lowest, self.start_block)}..{detected_at}: a reorg deeper than "
                    f"{self.max_reorg_depth} blocks (SCF_MAX_REORG_DEPTH) is not undone; nothing "
                    f"was deleted. Is the node reset, or another chain behind the same URL?")
            if fork_hash is None:
                # every indexed block from the deployment's own on is orphaned: the contracts now
                # at the manifest's addresses (a reset dev node redeploying from the same account
                # and nonces puts them there) are another deployment, not a reorg of this one
                raise DeploymentError(
                    f"the node's chain (head {head}) does not hold the deployment's block "
                    f"{self.start_block} the store was indexed from: the contracts at the "
                    f"manifest's addresses are another deployment (a reset node, or another chain "
                    f"behind the URL); nothing was deleted")
            removed = s.scalar(select(func.count()).select_from(RawEvent).where(
                RawEvent.block_number > fork)) or 0
            s.execute(delete(RawEvent).where(RawEvent.block_number > fork))
            s.execute(delete(IndexedBlock).where(IndexedBlock.number > fork))
            c = s.get(IndexerCursor, self.name, with_for_update=True)
            assert c is not None
            if fork_hash is None:
                s.delete(c)
            else:
                c.last_block, c.last_block_hash = fork, fork_hash
            rebuild_read_models(s, self.token_address, self.settlement_tokens)
        log.warning("reorg: blocks after %s orphaned, %s events removed", fork, removed)
        return Reorg(detected_at, fork, int(removed or 0))


class _ReorgDuringBatch(ChainError):
    """The chain changed under a batch; the next `index_once` undoes it."""


def rebuild_read_models(session: Session, token_address: str, settlement_tokens: Sequence[str]) -> int:
    """Delete every read-model row and fold the stored raw events again (after a reorg)."""
    for model in READ_MODELS:
        session.execute(delete(model))
    total = 0
    last: tuple[int, int] = (-1, -1)
    while True:
        rows = session.scalars(
            select(RawEvent)
            .where((RawEvent.block_number > last[0])
                   | ((RawEvent.block_number == last[0]) & (RawEvent.log_index > last[1])))
            .order_by(RawEvent.block_number, RawEvent.log_index)
            .limit(REPLAY_CHUNK_EVENTS)).all()
        if not rows:
            return total
        records = [EventRecord(r.name, r.address, r.args, r.tx_hash, r.log_index, r.block_number,
                               r.block_hash, r.block_time, r.extra) for r in rows]
        Projector(session, token_address, frozenset(settlement_tokens)).apply(records, store_raw=False)
        total += len(records)
        last = (rows[-1].block_number, rows[-1].log_index)
        session.expunge_all()


def index_once(chain: ChainBackend | Web3, sessions: sessionmaker[Session],
               deployment: DeploymentLike, **kwargs: Any) -> IndexReport:
    """Catch the store up with the confirmed head once (see `Indexer` for keyword options)."""
    return Indexer(chain, sessions, deployment, **kwargs).index_once()


def run_indexer(
    chain: ChainBackend | Web3,
    sessions: sessionmaker[Session],
    deployment: DeploymentLike,
    stop: threading.Event,
    *,
    poll_interval_s: float = 1.0,
    on_report: Callable[[IndexReport], None] | None = None,
    **kwargs: Any,
) -> None:
    """Index until `stop` is set (see `Indexer.follow`)."""
    Indexer(chain, sessions, deployment, **kwargs).follow(stop, poll_interval_s=poll_interval_s,
                                                          on_report=on_report)


__all__ = ["DeploymentLike", "IndexReport", "Indexer", "Reorg", "index_once", "rebuild_read_models",
           "run_indexer"]

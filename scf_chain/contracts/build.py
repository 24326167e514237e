"""Compile `contracts/` with py-solc-x over the solc JS wrapper and write reproducible artifacts.

One build per EVM target (settings.EVM_TARGETS): Cancun artifacts in artifacts/, each older
target's in artifacts/<target>/. The targets share one ABI (checked here), so one generated
error list serves them all.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import solcx
from solcx.exceptions import SolcError

from scf_chain.contracts.artifacts import ERRORS_FILE, errors_of, target_subdir
from scf_chain.contracts.settings import (
    EVM_TARGETS,
    EVM_VERSION,
    GUARD_DIR,
    SOLC_VERSION,
    SOURCES_DIR,
    compiler_settings,
    remappings,
)
from scf_chain.errors import ArtifactError, CompileError

ARTIFACTS_DIR = Path(__file__).resolve().parent / "artifacts"
_IMPORT_RE = re.compile(r'^\s*import\s+(?:[^"\']*\sfrom\s+)?["\']([^"\']+)["\']', re.MULTILINE)


def project_root() -> Path:
    """The checkout root: the folder holding `contracts/` and `scripts/solc-wrapper.js`."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / SOURCES_DIR).is_dir() and (parent / "scripts" / "solc-wrapper.js").exists():
            return parent
    raise CompileError(
        "Solidity sources not found: building contracts needs a source checkout "
        "(contracts/ and scripts/solc-wrapper.js)"
    )


def wrapper_path(root: Path | None = None) -> Path:
    root = root or project_root()
    path = root / "scripts" / "solc-wrapper.js"
    if not (root / "node_modules" / "solc").exists():
        raise CompileError("npm package solc is missing: run `npm ci` in the project root")
    if shutil.which("node") is None:
        raise CompileError("node is not on PATH; the compiler runs as WebAssembly under Node")
    return path


def _resolve_import(importer: str, target: str, evm_version: str) -> str:
    if target.startswith("."):
        return (Path(importer).parent / target).as_posix()
    for mapping in remappings(evm_version):  # as solc applies them: longest prefix is ours alone
        prefix, _, replacement = mapping.partition("=")
        if target.startswith(prefix):
            return replacement + target[len(prefix):]
    return target


def _of_target(unit: str, evm_version: str) -> bool:
    """Whether a file under contracts/ belongs in this target's build (the guard folder holds
    one subfolder per target; only the target's own is compiled)."""
    if not unit.startswith(GUARD_DIR + "/"):
        return True
    return unit.startswith(f"{GUARD_DIR}/{evm_version}/")


def _normalise(path: str) -> str:
    parts: list[str] = []
    for part in path.split("/"):
        if part == "..":
            parts.pop()
        elif part not in ("", "."):
            parts.append(part)
    return "/".join(parts)


def _read_source(unit: str, root: Path) -> str:
    for base in (root, root / "node_modules"):
        candidate = base / unit
        if candidate.is_file():
            return candidate.read_text(encoding="utf-8")
    raise CompileError(f"import not found: {unit}")


def collect_sources(root: Path | None = None, evm_version: str = EVM_VERSION) -> dict[str, str]:
    """Every .sol under contracts/ of this target plus everything they import, keyed by source
    unit name (imports resolved with the target's remappings)."""
    root = root or project_root()
    pending = sorted(
        unit for unit in (p.relative_to(root).as_posix() for p in (root / SOURCES_DIR).rglob("*.sol"))
        if _of_target(unit, evm_version)
    )
    sources: dict[str, str] = {}
    while pending:
        unit = pending.pop()
        if unit in sources:
            continue
        text = _read_source(unit, root)
        sources[unit] = text
        for target in _IMPORT_RE.findall(text):
            pending.append(_normalise(_resolve_import(unit, target, evm_version)))
    return dict(sorted(sources.items()))


def standard_input(sources: dict[str, str], for_analysis: bool = False,
                   evm_version: str = EVM_VERSION) -> dict[str, Any]:
    return {
        "language": "Solidity",
        "sources": {name: {"content": text} for name, text in sources.items()},
        "settings": compiler_settings(for_analysis, evm_version),
    }


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, max(offset, 0)) + 1


def _compile_errors(output: dict[str, Any], sources: dict[str, str]) -> list[tuple[str, int, str]]:
    found = []
    for err in output.get("errors", []):
        if err.get("severity") != "error":
            continue
        loc = err.get("sourceLocation") or {}
        file = loc.get("file", "<unknown>")
        line = _line_of(sources.get(file, ""), int(loc.get("start", 0))) if file in sources else 0
        found.append((file, line, f"{err.get('type', 'Error')}: {err.get('message', '')}"))
    return found


# Outputs of successful compiles in this process, by a hash of the compiler's whole input.
_compiled: dict[str, str] = {}
_COMPILED_KEPT = 6  # both targets, for the build and for analysis, and a little more


def compile_sources(
    sources: dict[str, str], root: Path | None = None, for_analysis: bool = False,
    evm_version: str = EVM_VERSION,
) -> dict[str, Any]:
    """Run the compiler; raise CompileError with file:line and message on errors.

    The compiler is deterministic: a process that compiles the same input twice (a build, then
    its check) gets the first output again instead of another half minute of WebAssembly solc.
    """
    root = root or project_root()
    binary = wrapper_path(root)
    version = solcx.wrapper.get_solc_version(binary)
    if str(version) != SOLC_VERSION:
        raise CompileError(f"compiler is {version}, the project pins {SOLC_VERSION}: run `npm ci`")
    request = standard_input(sources, for_analysis, evm_version)
    key = _sha256(json.dumps([str(root.resolve()), str(version), request], sort_keys=True))
    if key in _compiled:
        return cast(dict[str, Any], json.loads(_compiled[key]))
    try:
        output = solcx.compile_standard(request, solc_binary=binary, base_path=str(root))
    except SolcError as exc:
        try:
            output = json.loads(exc.stdout_data or "")
        except (TypeError, ValueError):
            raise CompileError(f"compiler failed: {exc}") from exc
        errors = _compile_errors(output, sources)
        first = "; ".join(f"{f}:{ln}: {msg}" for f, ln, msg in errors[:5]) or str(exc)
        raise CompileError(first, errors) from exc
    errors = _compile_errors(output, sources)
    if errors:
        raise CompileError("; ".join(f"{f}:{ln}: {m}" for f, ln, m in errors[:5]), errors)
    while len(_compiled) >= _COMPILED_KEPT:
        del _compiled[next(iter(_compiled))]
    _compiled[key] = json.dumps(output)  # kept as text: each caller gets its own copy
    return output


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def make_artifacts(output: dict[str, Any], sources: dict[str, str],
                   evm_version: str = EVM_VERSION) -> dict[str, str]:
    """Artifact file name -> exact file text, for every deployable contract under contracts/,
    plus the generated list of their custom errors (ERRORS_FILE)."""
    settings = compiler_settings(evm_version=evm_version)
    settings.pop("outputSelection")
    files: dict[str, str] = {}
    abis: dict[str, list[dict[str, Any]]] = {}
    for unit, contracts in sorted(output.get("contracts", {}).items()):
        if not unit.startswith(SOURCES_DIR + "/"):
            continue
        for name, data in sorted(contracts.items()):
            bytecode = data["evm"]["bytecode"]["object"]
            if not bytecode:
                continue
            metadata = json.loads(data["metadata"])
            used = sorted(metadata.get("sources", {}))
            artifact = {
                "contractName": name,
                "sourceName": unit,
                "compiler": {"version": SOLC_VERSION, "settings": settings},
                "abi": data["abi"],
                "bytecode": "0x" + bytecode,
                "deployedBytecode": "0x" + data["evm"]["deployedBytecode"]["object"],
                "linkReferences": data["evm"]["bytecode"].get("linkReferences", {}),
                "immutableReferences": data["evm"]["deployedBytecode"].get(
                    "immutableReferences", {}
                ),
                "methodIdentifiers": data["evm"].get("methodIdentifiers", {}),
                "storageLayout": data.get("storageLayout", {}),
                "metadata": data["metadata"],
                "sourceHashes": {u: "sha256:" + _sha256(sources[u]) for u in used if u in sources},
            }
            if name + ".json" in files:
                raise CompileError(f"two contracts are named {name}; names must be unique")
            files[name + ".json"] = json.dumps(artifact, indent=2, sort_keys=True) + "\n"
            abis[name] = data["abi"]
    try:
        errors = errors_of(abis)
    except ArtifactError as exc:
        raise CompileError(str(exc)) from exc
    files[ERRORS_FILE] = json.dumps({"errors": errors}, indent=2, sort_keys=True) + "\n"
    return files


def target_artifacts(root: Path | None = None) -> dict[str, str]:
    """Every target's artifacts, by path under the artifacts folder ("X.json" for Cancun,
    "paris/X.json" for Paris). Raises CompileError if a target's ABI differs from Cancun's:
    clients, the indexer and the error list read one ABI whatever the deployment's target."""
    files: dict[str, str] = {}
    first_abis: dict[str, Any] | None = None
    for evm_version in EVM_TARGETS:
        sources = collect_sources(root, evm_version)
        built = make_artifacts(compile_sources(sources, root, evm_version=evm_version), sources,
                               evm_version)
        abis = {name: json.loads(text).get("abi") for name, text in built.items()
                if name != ERRORS_FILE}
        if first_abis is None:
            first_abis = abis
        else:
            differ = sorted(n for n in set(abis) | set(first_abis)
                            if abis.get(n) != first_abis.get(n))
            if differ:
                raise CompileError(f"the {evm_version} build's ABI differs from the "
                                   f"{EVM_TARGETS[0]} build's for " + ", ".join(differ))
            built.pop(ERRORS_FILE, None)  # the same ABIs: one error list serves every target
        sub = target_subdir(evm_version)
        files.update({(f"{sub}/{name}" if sub else name): text for name, text in built.items()})
    return files


def _committed(out_dir: Path) -> list[str]:
    """The artifact files under `out_dir` (its own and each target folder's), as relative paths."""
    found = [p.name for p in out_dir.glob("*.json")]
    for evm_version in EVM_TARGETS:
        sub = target_subdir(evm_version)
        if sub:
            found += [f"{sub}/{p.name}" for p in (out_dir / sub).glob("*.json")]
    return sorted(found)


@dataclass(frozen=True)
class BuildResult:
    written: list[str]
    unchanged: list[str]
    removed: list[str]


def build(out_dir: Path = ARTIFACTS_DIR, root: Path | None = None) -> BuildResult:
    """Compile every target and write artifacts; stale ones of contracts that no longer exist
    are removed."""
    files = target_artifacts(root)
    written, unchanged = [], []
    for name, text in files.items():
        path = out_dir / name
        if path.exists() and path.read_text(encoding="utf-8") == text:
            unchanged.append(name)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(name)
    removed = []
    for name in _committed(out_dir):
        if name not in files:
            (out_dir / name).unlink()
            removed.append(name)
    return BuildResult(written, unchanged, removed)


def _edited_since_built(out_dir: Path, root: Path | None) -> tuple[list[str], list[str]]:
    """Committed artifacts (names without ".json", target folder first) that record a hash of
    a source file which no longer matches it, and those whose own source file is gone. Such
    an artifact cannot equal a fresh compile (its recorded hashes would change), so no
    compile is needed to know it is stale."""
    stale, gone = [], []
    for evm_version in EVM_TARGETS:
        sources = collect_sources(root, evm_version)
        sub = target_subdir(evm_version)
        for path in sorted((out_dir / sub if sub else out_dir).glob("*.json")):
            if path.name == ERRORS_FILE:
                continue
            try:
                artifact = json.loads(path.read_text(encoding="utf-8"))
            except ValueError:
                continue  # unreadable: the compile finds it stale
            name = f"{sub}/{path.stem}" if sub else path.stem
            if artifact.get("sourceName") not in sources:
                gone.append(name)
            elif any(unit not in sources or h != "sha256:" + _sha256(sources[unit])
                     for unit, h in (artifact.get("sourceHashes") or {}).items()):
                stale.append(name)
    return stale, gone


def _stale_error(stale: list[str], extra: list[str]) -> ArtifactError:
    parts = []
    if stale:
        parts.append("stale or missing: " + ", ".join(sorted(stale)))
    if extra:
        parts.append("no longer built: " + ", ".join(sorted(extra)))
    return ArtifactError(
        "contract artifacts differ from a fresh compile (" + "; ".join(parts)
        + "); run `scf build-contracts` and commit the result"
    )


def check(out_dir: Path = ARTIFACTS_DIR, root: Path | None = None) -> None:
    """Require the committed artifacts to be byte-identical to a fresh compile of every target.

    An artifact whose recorded source hashes no longer match the sources is stale without a
    compile (the common case: a contract was edited and not rebuilt); otherwise every target
    is compiled afresh and compared, which also finds a change of compiler or settings.
    """
    edited, gone = _edited_since_built(out_dir, root)
    if edited or gone:
        raise _stale_error(edited, gone)
    files = target_artifacts(root)
    stale = []
    for name, text in files.items():
        path = out_dir / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            stale.append(name.removesuffix(".json"))
    extra = [n.removesuffix(".json") for n in _committed(out_dir) if n not in files]
    if stale or extra:
        raise _stale_error(stale, extra)

"""The console's message catalogues: the same keys and placeholders in both languages, every key the
page uses present, every state the API can answer translated, and no English inside Chinese labels."""

from __future__ import annotations

import re
import typing
from pathlib import Path

from api.console.i18n import LANGUAGES, catalogue
from api.schemas import CollectionOut
from scf_chain.clients import Role
from scf_chain.clients.results import ReceivableState
from scf_chain.evidence.models import DOC_INVOICE, DOC_LOGISTICS, DOC_MIXED, DOC_PURCHASE_ORDER

CONSOLE = Path(__file__).resolve().parents[2] / "api" / "console"
PLACEHOLDER = re.compile(r"\{[a-z_]+\}")
# words that are names, not English labels: the key type, the file format, commands to run
NOT_ENGLISH = {"API", "CSV", "JavaScript", "bash", "scripts", "setup", "sh", "English"}


def test_catalogues_have_the_same_keys_and_placeholders() -> None:
    zh, en = catalogue("zh-CN"), catalogue("en")
    assert set(zh) == set(en), set(zh) ^ set(en)
    for key in zh:
        assert sorted(PLACEHOLDER.findall(zh[key])) == sorted(PLACEHOLDER.findall(en[key])), key


def test_every_key_the_page_uses_is_in_the_catalogue() -> None:
    script = (CONSOLE / "static" / "console.js").read_text("utf-8")
    template = (CONSOLE / "templates" / "console.html").read_text("utf-8")
    used = set(re.findall(r"""\bt\("([A-Za-z_.-]+)"[,)]""", script))
    used |= set(re.findall(r"""t\[['"]([A-Za-z_.-]+)['"]\]""", template))
    used |= {f"lang.{code}" for code in LANGUAGES}
    assert len(used) > 100
    for lang in LANGUAGES:
        assert used - set(catalogue(lang)) == set(), lang


def test_every_state_the_api_answers_has_a_label() -> None:
    keys = set(catalogue("en"))
    wanted = {f"status.{s.name.lower()}" for s in ReceivableState}
    wanted |= {f"role.{r.name.lower()}" for r in Role if r.name and r is not Role.NONE}
    wanted |= {f"scope.{r.name.lower()}" for r in Role if r.name and r is not Role.NONE}
    wanted |= {f"offer_status.{s}" for s in ("open", "accepted", "cancelled")}
    wanted |= {f"kind.{k}" for k in ("repayment", "redemption", "financing")}
    wanted |= {f"token_state.{k}" for k in ("live", "redeemed", "emptied", "withheld")}
    wanted |= {f"doctype.{d}" for d in (DOC_PURCHASE_ORDER, DOC_LOGISTICS, DOC_INVOICE, DOC_MIXED)}
    status = typing.get_args(CollectionOut.model_fields["status"].annotation)
    wanted |= {f"collection.{s}" for s in status}
    assert wanted - keys == set()


def test_chinese_labels_have_no_english_words() -> None:
    zh = catalogue("zh-CN")
    mixed = {k: v for k, v in zh.items() if not k.startswith("lang.")
             and set(re.findall(r"[A-Za-z]{2,}", PLACEHOLDER.sub("", v))) - NOT_ENGLISH}
    assert mixed == {}

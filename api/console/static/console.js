// The scf-chain console: a small single page over the gateway's JSON API.
// The API key lives in this tab's sessionStorage only; every read and action is a call to the
// gateway's own routes with it, so the console sees and may do exactly what the API allows.
"use strict";

(() => {
  const M = JSON.parse(document.getElementById("messages").textContent);
  const KEY = "scf.console.apiKey";
  const INTENTS = "scf.console.intents";
  const PAGE = 20;
  const main = document.getElementById("main");
  const nav = document.getElementById("nav");
  const whoami = document.getElementById("whoami");
  const charts = {};
  const state = { me: null, people: [], names: {}, contract: null, roles: new Set() };

  // ---- messages ----------------------------------------------------------------------------
  function t(key, vars) {
    let s = M[key];
    if (s === undefined) {
      console.error("missing message", key);
      s = key;
    }
    for (const [k, v] of Object.entries(vars || {})) s = s.split("{" + k + "}").join(String(v));
    return s;
  }

  // ---- small DOM helpers ---------------------------------------------------------------------
  function h(tag, attrs, ...kids) {
    const el = document.createElement(tag);
    // the console checks its forms itself: the browser's own messages speak the browser's language
    if (tag === "form") el.noValidate = true;
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "on") for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
      else if (k === "text") el.textContent = v;
      else el.setAttribute(k, v === true ? "" : v);
    }
    for (const kid of kids.flat()) {
      if (kid === null || kid === undefined || kid === false) continue;
      el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
    }
    return el;
  }
  let uid = 0;
  function field(label, input) {
    const id = input.id || (input.id = "f" + ++uid);
    return h("div", { class: "field" }, h("label", { for: id, text: label }), input);
  }
  function select(name, options, value) {
    const s = h("select", { name });
    for (const [v, label] of options) {
      const o = h("option", { value: v, text: label });
      if (v === value) o.selected = true;
      s.append(o);
    }
    return s;
  }
  function table(headers, rows, caption) {
    return h("table", {}, caption ? h("caption", { text: caption }) : null,
      h("thead", {}, h("tr", {}, headers.map((x) => h("th", { scope: "col", text: x })))),
      h("tbody", {}, rows.length ? rows.map((r) => h("tr", {}, r.map((c) => h("td", {}, c))))
        : h("tr", {}, h("td", { colspan: headers.length, text: t("common.none") }))));
  }
  function section(title, ...kids) {
    return h("section", { class: "card" }, h("h2", { text: title }), ...kids);
  }

  // ---- values --------------------------------------------------------------------------------
  function yuan(units) {
    if (units === null || units === undefined) return t("common.withheld");
    let n = BigInt(units);
    const neg = n < 0n;
    if (neg) n = -n;
    const whole = (n / 100n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return (neg ? "-" : "") + whole + "." + (n % 100n).toString().padStart(2, "0");
  }
  function units(text) {
    const s = String(text).replace(/[,\s]/g, "");
    if (!/^\d+(\.\d{1,2})?$/.test(s)) throw new Error(t("error.amount", { value: text }));
    const [w, f = ""] = s.split(".");
    return (BigInt(w) * 100n + BigInt((f + "00").slice(0, 2))).toString();
  }
  function dateSeconds(text) {
    // a YYYY-MM-DD day as the unix time of its start (UTC, as maturities are shown)
    const ms = /^\d{4}-\d{2}-\d{2}$/.test(text) ? Date.parse(text + "T00:00:00Z") : NaN;
    if (Number.isNaN(ms)) throw new Error(t("error.date", { value: text }));
    return ms / 1000;
  }
  function day(seconds) {
    return seconds ? new Date(Number(seconds) * 1000).toISOString().slice(0, 10) : "";
  }
  function who(address) {
    if (!address) return t("common.withheld");
    const a = address.toLowerCase();
    if (state.contract && a === state.contract) return t("party.contract");
    return state.names[a] || address.slice(0, 8) + "…" + address.slice(-4);
  }
  function pct(x) {
    return x === null ? t("common.na") : (x * 100).toFixed(2) + "%";
  }
  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const x = [...b].map((v) => v.toString(16).padStart(2, "0")).join("");
    return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
  }

  // ---- the API -------------------------------------------------------------------------------
  async function api(method, path, body, idem) {
    const headers = { Authorization: "Bearer " + sessionStorage.getItem(KEY) };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (idem) headers["Idempotency-Key"] = idem;
    const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const type = r.headers.get("content-type") || "";
    const data = type.includes("json") ? await r.json() : await r.text();
    return { ok: r.ok, status: r.status, data, replayed: r.headers.get("Idempotent-Replayed") === "true" };
  }
  async function get(path) {
    const r = await api("GET", path);
    if (!r.ok) throw r;
    return r.data;
  }
  function problem(p) {
    // the title in the reader's language when the catalogue knows the code; detail and code as sent
    const code = p && p.code ? p.code : "";
    const title = M["problem." + code] || (code.startsWith("contract_") ? t("problem.contract")
      : t("problem.generic", { status: p && p.status ? p.status : "" }));
    return h("div", { class: "problem", role: "alert" },
      h("strong", { class: "problem-title", text: title }),
      p && p.detail ? h("div", { class: "problem-detail", text: p.detail }) : null,
      code ? h("div", { class: "problem-code" }, t("problem.code") + " ", h("code", { text: code })) : null);
  }
  function failure(out, err) {
    out.replaceChildren(err && err.data && typeof err.data === "object" ? problem(err.data)
      : problem({ detail: String(err && err.message ? err.message : err) }));
  }

  // An intended action keeps its Idempotency-Key until the gateway gives a definite answer, so a
  // retry after a lost answer, a 5xx (outcome_pending) or a 429 repeats the same request.
  const intents = JSON.parse(sessionStorage.getItem(INTENTS) || "{}");
  async function act(action, method, path, body, out, done) {
    const sig = action + " " + path + " " + JSON.stringify(body === undefined ? null : body);
    const key = intents[sig] || (intents[sig] = uuid());
    sessionStorage.setItem(INTENTS, JSON.stringify(intents));
    out.replaceChildren(h("p", { class: "muted", role: "status", text: t("action.sending") }));
    let r;
    try {
      r = await api(method, path, body, key);
    } catch (e) {
      out.replaceChildren(problem({ code: "network", detail: t("action.retry_same") }));
      return;
    }
    if (r.status < 500 && r.status !== 429) {
      delete intents[sig];
      sessionStorage.setItem(INTENTS, JSON.stringify(intents));
    }
    if (!r.ok) {
      out.replaceChildren(problem(r.data));
      return;
    }
    out.replaceChildren(h("p", { class: "ok", role: "status", "data-idempotency-key": key },
      t("action.done") + (r.replayed ? " " + t("action.replayed") : "")));
    if (done) await done(r.data);
  }
  function busy(button, fn) {
    return async (ev) => {
      ev.preventDefault();
      if (button.disabled) return;
      button.disabled = true;
      try {
        await fn();
      } finally {
        button.disabled = false;
      }
    };
  }
  function form(action, fields, label, submit) {
    const out = h("div", { class: "out", "aria-live": "polite" });
    const btn = h("button", { type: "submit", "data-action": action, text: label });
    const f = h("form", { class: "action", "data-form": action }, fields, btn, out);
    f.addEventListener("submit", busy(btn, async () => {
      try {
        await submit(out);
      } catch (e) {
        failure(out, e);
      }
    }));
    return f;
  }

  // ---- sign-in, roles, navigation ------------------------------------------------------------
  const has = (...roles) => roles.some((r) => state.roles.has(r));
  const readsAll = () => has("auditor", "operator");

  async function signIn(key) {
    sessionStorage.setItem(KEY, key);
    const me = await api("GET", "/participants/me");
    if (!me.ok) {
      sessionStorage.removeItem(KEY);
      throw me;
    }
    state.me = me.data;
    state.roles = new Set(me.data.roles);
    state.people = await get("/participants");
    state.names = {};
    for (const p of state.people) state.names[p.address.toLowerCase()] = p.display_name;
    const health = await get("/health");
    state.contract = (health.receivable_token || "").toLowerCase();
    state.now = Number(health.head_time);
    drawNav();
  }
  function signOut() {
    sessionStorage.removeItem(KEY);
    state.me = null;
    state.roles = new Set();
    drawNav();
    location.hash = "#/signin";
  }
  function drawNav() {
    nav.replaceChildren();
    whoami.replaceChildren();
    if (!state.me) return;
    const links = [["#/receivables", t("nav.receivables")]];
    if (has("supplier", "financier")) links.push(["#/tokens", t("nav.tokens")]);
    if (has("supplier", "financier") || readsAll()) links.push(["#/offers", t("nav.offers")]);
    links.push(["#/flows", t("nav.flows")]);
    if (readsAll()) links.push(["#/reconcile", t("nav.reconcile")]);
    nav.append(h("ul", {}, links.map(([href, label]) => h("li", {}, h("a", { href, text: label })))));
    const roles = state.me.roles.map((r) => t("role." + r)).join(t("risk.sep"));
    whoami.append(h("span", { "data-me": state.me.name },
      t("signin.as", { name: state.me.display_name, roles })),
    h("button", { type: "button", class: "link", on: { click: signOut }, text: t("signin.out") }));
  }
  function scope() {
    // what this caller's role may see (docs/visibility.md), in one paragraph per role
    return h("ul", { class: "scope" }, state.me.roles.map((r) => h("li", { text: t("scope." + r) })));
  }

  function viewSignIn() {
    const input = h("input", { type: "password", name: "api_key", autocomplete: "off", required: true });
    const out = h("div", { class: "out", "aria-live": "polite" });
    const btn = h("button", { type: "submit", text: t("signin.submit") });
    const f = h("form", { id: "signin" }, field(t("signin.key"), input), btn, out);
    f.addEventListener("submit", busy(btn, async () => {
      try {
        await signIn(input.value.trim());
        if (location.hash === "#/receivables") await route();
        else location.hash = "#/receivables";
      } catch (e) {
        failure(out, e);
      }
    }));
    main.replaceChildren(section(t("signin.title"), h("p", { text: t("signin.hint") }), f));
    input.focus();
  }

  // ---- receivables -----------------------------------------------------------------------------
  async function viewReceivables(params) {
    const q = new URLSearchParams(params);
    const offset = Number(q.get("offset") || 0);
    const status = select("status", [["", t("common.any")], ...["pending", "active", "rejected", "withdrawn"]
      .map((s) => [s, t("status." + s)])], q.get("status") || "");
    const debtors = state.people.filter((p) => p.roles.includes("debtor"));
    const debtor = select("debtor", [["", t("common.any")], ...debtors.map((p) => [p.address, p.display_name])],
      q.get("debtor") || "");
    // text, not type=date: a native date picker speaks the browser's language, not the page's
    const dateInput = (name) => h("input", { type: "text", name, inputmode: "numeric",
      placeholder: t("filter.date_hint"), value: q.get(name) || "" });
    const from = dateInput("maturity_from");
    const to = dateInput("maturity_to");
    const min = h("input", { type: "text", inputmode: "decimal", name: "min", value: q.get("min") || "" });
    const max = h("input", { type: "text", inputmode: "decimal", name: "max", value: q.get("max") || "" });
    const out = h("div", { class: "out", "aria-live": "polite" });
    const filters = h("form", { class: "filters", id: "filters" },
      field(t("filter.status"), status), field(t("filter.debtor"), debtor),
      field(t("filter.maturity_from"), from), field(t("filter.maturity_to"), to),
      field(t("filter.min_amount"), min), field(t("filter.max_amount"), max),
      h("button", { type: "submit", text: t("filter.apply") }));
    filters.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const p = new URLSearchParams();
      for (const [k, el] of [["status", status], ["debtor", debtor], ["maturity_from", from],
        ["maturity_to", to], ["min", min], ["max", max]]) if (el.value) p.set(k, el.value);
      location.hash = "#/receivables?" + p.toString();
    });
    const api_q = new URLSearchParams({ limit: PAGE, offset });
    try {
      if (q.get("status")) api_q.set("status", q.get("status"));
      if (q.get("debtor")) api_q.set("debtor", q.get("debtor"));
      if (q.get("maturity_from")) api_q.set("maturity_from", dateSeconds(q.get("maturity_from")));
      if (q.get("maturity_to")) api_q.set("maturity_to", dateSeconds(q.get("maturity_to")) + 86399);
      if (q.get("min")) api_q.set("min_face_value", units(q.get("min")));
      if (q.get("max")) api_q.set("max_face_value", units(q.get("max")));
    } catch (e) {
      failure(out, e);
    }
    main.replaceChildren(section(t("receivables.title"), scope(), filters, out));
    let page;
    try {
      page = await get("/receivables?" + api_q.toString());
    } catch (e) {
      failure(out, e);
      return;
    }
    const rows = page.items.map((r) => [
      h("a", { href: "#/receivables/" + r.slot, text: r.slot }), who(r.debtor), who(r.creditor),
      yuan(r.face_value), day(r.maturity), t("status." + r.status), yuan(r.repaid)]);
    const pager = (off, label) => {
      const p = new URLSearchParams(q);
      p.set("offset", off);
      return h("a", { href: "#/receivables?" + p.toString(), class: "button", text: label });
    };
    main.firstChild.append(
      table([t("col.slot"), t("col.debtor"), t("col.creditor"), t("col.face_value"), t("col.maturity"),
        t("col.status"), t("col.repaid")], rows),
      h("nav", { class: "pager", "aria-label": t("pager.label") },
        offset > 0 ? pager(Math.max(0, offset - PAGE), t("pager.prev")) : null,
        h("span", { text: t("pager.showing", { from: page.total ? offset + 1 : 0,
          to: offset + page.items.length, total: page.total }) }),
        offset + PAGE < page.total ? pager(offset + PAGE, t("pager.next")) : null));
  }

  async function viewReceivable(slot) {
    main.replaceChildren(h("p", { class: "muted", text: t("common.loading") }));
    let r, s;
    try {
      [r, s] = await Promise.all([get("/receivables/" + slot), get("/receivables/" + slot + "/settlement")]);
    } catch (e) {
      const out = h("div");
      failure(out, e);
      main.replaceChildren(section(t("receivable.title", { slot }), out));
      return;
    }
    const face = BigInt(r.face_value);
    // settlement is read from the chain: fresher than the indexed receivable
    const progress = h("progress", { id: "repaid-progress", max: r.face_value, value: s.repaid,
      "aria-label": t("receivable.repaid_of_face") });
    const summary = h("dl", { class: "summary" },
      h("dt", { text: t("col.status") }), h("dd", { "data-field": "status", text: t("status." + s.status) }),
      h("dt", { text: t("col.debtor") }), h("dd", { text: who(r.debtor) }),
      h("dt", { text: t("col.creditor") }), h("dd", { text: who(r.creditor) }),
      h("dt", { text: t("col.face_value") }), h("dd", { "data-field": "face_value", text: yuan(r.face_value) }),
      h("dt", { text: t("col.maturity") }), h("dd", { text: day(r.maturity) }),
      h("dt", { text: t("receivable.repaid_of_face") }),
      h("dd", { "data-field": "repaid" }, progress, " ", t("receivable.progress", {
        repaid: yuan(s.repaid), face: yuan(r.face_value),
        pct: face > 0n ? (Number((BigInt(s.repaid) * 10000n) / face) / 100).toFixed(2) : "0.00" })),
      h("dt", { text: t("col.paid_out") }), h("dd", { "data-field": "paid_out", text: yuan(s.paid_out) }),
      h("dt", { text: t("col.outstanding") }), h("dd", { text: yuan(s.outstanding) }),
      h("dt", { text: t("receivable.collection") }),
      h("dd", { text: t("collection." + (s.collection && s.collection.status ? s.collection.status : "off")) }));
    const links = h("p", { class: "links" },
      h("a", { href: "#/lineage/" + slot, class: "button", text: t("nav.lineage") }), " ",
      h("a", { href: "#/flows/" + slot, class: "button", text: t("nav.flows_of") }));
    const parts = [section(t("receivable.title", { slot }), summary, links)];
    if (r.status === "pending" && state.me.address.toLowerCase() === r.debtor.toLowerCase()) {
      const reason = h("input", { type: "text", name: "reason", maxlength: 64 });
      parts.push(section(t("actions.title"),
        form("confirm", [], t("action.confirm"), (out) =>
          act("confirm", "POST", `/receivables/${slot}/confirm`, undefined, out, () => viewReceivable(slot))),
        form("reject", [field(t("action.reject_reason"), reason)], t("action.reject"), (out) =>
          act("reject", "POST", `/receivables/${slot}/reject`, { reason: reason.value }, out,
            () => viewReceivable(slot)))));
    }
    const owing = ["active", "matured", "overdue"].includes(s.status) && BigInt(s.outstanding) > 0n;
    if (owing && has("debtor") && state.me.address.toLowerCase() === r.debtor.toLowerCase()) {
      const amount = h("input", { type: "text", inputmode: "decimal", name: "amount", value: yuan(s.outstanding) });
      const enable = !s.collect_enabled;
      parts.push(section(t("actions.title"),
        form("collection", [h("p", { class: "muted", text: t(enable ? "action.collection_on_hint" : "action.collection_off_hint") })],
          t(enable ? "action.collection_on" : "action.collection_off"), (out) =>
            act("collection", "POST", `/receivables/${slot}/collection`, { enabled: enable }, out, () => viewReceivable(slot))),
        form("repay", [field(t("action.amount"), amount)], t("action.repay"), (out) =>
          act("repay", "POST", `/receivables/${slot}/repayments`, { amount: units(amount.value) }, out, () => viewReceivable(slot)))));
    }
    const evidence = h("div", { id: "evidence" }, h("p", { class: "muted", text: t("common.loading") }));
    parts.push(section(t("evidence.title"), evidence));
    main.replaceChildren(...parts);
    try {
      const docs = await get(`/console/api/receivables/${slot}/documents`);
      evidence.replaceChildren(table([t("evidence.type"), t("evidence.number"), t("evidence.anchored"), ""],
        docs.map((d) => {
          const out = h("span", { class: "verify-out", "aria-live": "polite" });
          const btn = h("button", { type: "button", "data-verify": d.doc_id, text: t("evidence.verify") });
          btn.addEventListener("click", busy(btn, async () => {
            try {
              const proof = await get(`/evidence/documents/${d.doc_id}/proof`);
              const v = await api("POST", "/evidence/verify", proof);
              if (!v.ok) throw v;
              out.replaceChildren(h("span", { class: v.data.ok ? "ok" : "bad", "data-ok": String(v.data.ok) },
                v.data.ok ? t("evidence.verified", { at: day(v.data.anchored_at) })
                  : t("evidence.not_verified", { reason: v.data.reason || "" })));
            } catch (e) {
              failure(out, e);
            }
          }));
          return [t("doctype." + d.doc_type), d.number,
            d.batch_root ? t("evidence.anchored_yes") : t("evidence.anchored_no"), h("span", {}, btn, " ", out)];
        })));
    } catch (e) {
      failure(evidence, e);
    }
  }

  // ---- lineage ---------------------------------------------------------------------------------
  const DEPTH = 2; // levels open at first; deeper ones open on click or by searching a holder

  function buildTree(trace, open) {
    // the ECharts tree of a trace: holder and value per token, financed parts marked,
    // redeemed parts dimmed; `open(node)` says which nodes start expanded
    const financed = new Set((trace.financings || []).map((f) => f.escrow_token_id));
    const nodes = new Map();
    for (const n of trace.lineage) {
      const dim = n.state === "redeemed" || n.state === "emptied"; // no value left: dimmed
      const withheld = n.state === "withheld";
      const isFinanced = financed.has(n.token_id);
      const label = withheld ? t("lineage.withheld")
        : `${who(n.holder)}\n${yuan(n.value)}` + (n.redeemed && n.redeemed !== "0" ? `\n${t("lineage.redeemed_short", { amount: yuan(n.redeemed) })}` : "");
      nodes.set(n.token_id, {
        name: label, value: withheld ? null : Number(n.value), tokenId: n.token_id,
        holder: n.holder, holderName: withheld ? null : who(n.holder), units: n.value,
        redeemed: n.redeemed, state: n.state, financed: isFinanced, parent: n.parent_token_id, children: [],
        symbolSize: 14,
        itemStyle: withheld ? { color: "#9ca3af", borderColor: "#6b7280" }
          : { color: isFinanced ? "#b45309" : "#1d4ed8", borderColor: isFinanced ? "#78350f" : "#1e3a8a",
            opacity: dim ? 0.35 : 1 },
        label: { color: withheld ? "#4b5563" : "#111827", opacity: dim ? 0.7 : 1,
          fontWeight: isFinanced ? "bold" : "normal" },
      });
    }
    const roots = [];
    for (const node of nodes.values()) {
      const parent = node.parent && nodes.get(node.parent);
      (parent ? parent.children : roots).push(node);
    }
    const walk = (node, depth) => {
      node.depth = depth;
      node.collapsed = node.children.length ? !open(node) : undefined;
      let below = node.children.length;
      node.children.forEach((c) => (below += walk(c, depth + 1)));
      if (node.collapsed) node.name += "\n" + t("lineage.hidden", { n: below });
      return below;
    };
    roots.forEach((r) => walk(r, 0));
    if (roots.length === 1) return roots[0];
    return { name: t("lineage.receivable", { slot: trace.slot }), tokenId: null, children: roots,
      depth: -1, collapsed: false, itemStyle: { color: "#374151" } };
  }
  function visibleLeaves(node) {
    if (!node.children || !node.children.length || node.collapsed) return 1;
    return node.children.reduce((s, c) => s + visibleLeaves(c), 0);
  }
  function drawTree(el, root) {
    el.style.height = Math.max(420, Math.min(20000, visibleLeaves(root) * 46)) + "px";
    // a new instance per drawing: a tree redrawn in place keeps edges of the old expansion
    const old = echarts.getInstanceByDom(el);
    if (old) old.dispose();
    const chart = echarts.init(el, null, { renderer: "canvas" });
    charts.tree = chart;
    chart.setOption({
      animation: false,
      tooltip: { trigger: "item", formatter: (p) => {
        const d = p.data;
        if (!d.tokenId) return d.name;
        return [t("lineage.token", { id: d.tokenId }), d.holderName ? t("lineage.holder", { name: d.holderName }) : t("lineage.withheld"),
          d.units != null ? t("lineage.value", { amount: yuan(d.units) }) : "",
          d.redeemed ? t("lineage.redeemed", { amount: yuan(d.redeemed) }) : "",
          d.financed ? t("lineage.financed") : ""].filter(Boolean).map((s) => echarts.format.encodeHTML(s)).join("<br>");
      } },
      series: [{ type: "tree", data: [root], top: 20, left: 190, bottom: 20, right: 200, orient: "LR",
        layout: "orthogonal", expandAndCollapse: true, initialTreeDepth: -1, roam: true, symbol: "circle",
        label: { position: "left", verticalAlign: "middle", align: "right", fontSize: 13, lineHeight: 17 },
        leaves: { label: { position: "right", align: "left" } }, animationDuration: 0 }],
    }, true);
    return chart;
  }

  async function viewLineage(slot) {
    main.replaceChildren(h("p", { class: "muted", text: t("common.loading") }));
    let trace;
    try {
      trace = await get(`/audit/receivables/${slot}/trace`);
    } catch (e) {
      const out = h("div");
      failure(out, e);
      main.replaceChildren(section(t("lineage.title", { slot }), out));
      return;
    }
    const el = h("div", { id: "tree-chart", class: "chart", role: "img",
      "aria-label": t("lineage.chart_label", { slot, n: trace.lineage.length }) });
    const names = [...new Set(trace.lineage.filter((n) => n.holder).map((n) => who(n.holder)))].sort();
    const list = h("datalist", { id: "holders" }, names.map((n) => h("option", { value: n })));
    const search = h("input", { type: "search", name: "holder", list: "holders" });
    const found = h("span", { class: "muted", "aria-live": "polite", id: "tree-found" });
    const draw = (open) => drawTree(el, buildTree(trace, open));
    const f = h("form", { class: "filters", id: "tree-search" }, field(t("lineage.search"), search),
      h("button", { type: "submit", text: t("lineage.find") }),
      h("button", { type: "button", id: "tree-expand", on: { click: () => draw(() => true) }, text: t("lineage.expand_all") }),
      h("button", { type: "button", id: "tree-collapse", on: { click: () => draw((n) => n.depth < DEPTH) }, text: t("lineage.collapse") }),
      found, list);
    f.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const q = search.value.trim().toLowerCase();
      if (!q) return draw((n) => n.depth < DEPTH);
      // open every ancestor of a matching holder (or token id), and mark the matches
      const byId = new Map(trace.lineage.map((n) => [n.token_id, n]));
      const openIds = new Set();
      let hits = 0;
      for (const n of trace.lineage) {
        if (!((n.holder && who(n.holder).toLowerCase().includes(q)) || n.token_id === q)) continue;
        hits++;
        for (let p = byId.get(n.parent_token_id); p; p = byId.get(p.parent_token_id)) openIds.add(p.token_id);
      }
      found.textContent = t("lineage.matches", { n: hits });
      const root = buildTree(trace, (n) => openIds.has(n.tokenId));
      const mark = (node) => {
        const n = byId.get(node.tokenId);
        if (n && n.holder && who(n.holder).toLowerCase().includes(q)) {
          node.itemStyle = { ...node.itemStyle, borderWidth: 3, borderColor: "#dc2626" };
          node.label = { ...node.label, backgroundColor: "#fef3c7" };
        }
        (node.children || []).forEach(mark);
      };
      mark(root);
      drawTree(el, root);
    });
    const legend = h("ul", { class: "legend" },
      h("li", {}, h("span", { class: "swatch live" }), t("lineage.legend_live")),
      h("li", {}, h("span", { class: "swatch financed" }), t("lineage.legend_financed")),
      h("li", {}, h("span", { class: "swatch redeemed" }), t("lineage.legend_redeemed")),
      h("li", {}, h("span", { class: "swatch withheld" }), t("lineage.legend_withheld")));
    const financedIds = new Set((trace.financings || []).map((x) => x.escrow_token_id));
    const fin = (trace.financings || []).map((x) => [x.offer_id, who(x.seller), who(x.financier), yuan(x.value),
      yuan(x.price), x.implied_annual_rate_decimal ? pct(Number(x.implied_annual_rate_decimal)) : t("common.na")]);
    main.replaceChildren(section(t("lineage.title", { slot }),
      h("p", {}, t("lineage.summary", { n: trace.token_count, face: yuan(trace.face_value), repaid: yuan(trace.repaid), paid: yuan(trace.paid_out) })),
      f, legend, el,
      // the same tree as a table, for screen readers and for copying
      h("details", { class: "tree-table" }, h("summary", { text: t("lineage.as_table") }),
        table([t("col.token"), t("lineage.parent"), t("lineage.holder_col"), t("col.value"), t("lineage.redeemed_col"), t("col.status")],
          trace.lineage.map((n) => [n.token_id, n.parent_token_id || "", n.state === "withheld" ? t("lineage.withheld") : who(n.holder),
            n.value === null ? t("common.withheld") : yuan(n.value), n.redeemed === null ? t("common.withheld") : yuan(n.redeemed),
            t("token_state." + n.state) + (financedIds.has(n.token_id) ? t("risk.sep") + t("lineage.financed") : "")]))),
      h("p", {}, h("a", { href: "#/receivables/" + slot, text: t("nav.back_receivable") }))),
    section(t("lineage.financings"), table([t("col.offer"), t("col.seller"), t("col.financier"), t("col.value"),
      t("col.price"), t("col.rate")], fin)));
    charts.tree = draw((n) => n.depth < DEPTH);
  }

  // ---- fund flows --------------------------------------------------------------------------------
  function sankeyOf(rows) {
    // money as a Sankey: one link per (payer, payee), summed; a link that would close a cycle
    // gets its own node for the payee (ECharts draws only acyclic graphs)
    const links = new Map();
    const out = new Map();
    const reaches = (a, b, seen = new Set()) => {
      if (a === b) return true;
      if (seen.has(a)) return false;
      seen.add(a);
      return [...(out.get(a) || [])].some((n) => reaches(n, b, seen));
    };
    for (const r of rows) {
      const src = who(r.payer);
      let dst = who(r.payee);
      if (!links.has(src + "\u0000" + dst) && reaches(dst, src)) dst = t("flows.again", { name: dst });
      const k = src + "\u0000" + dst;
      const l = links.get(k) || { source: src, target: dst, value: 0, units: 0n, kinds: new Set() };
      l.units += BigInt(r.amount);
      l.value = Number(l.units);
      l.kinds.add(r.kind);
      links.set(k, l);
      if (!out.has(src)) out.set(src, new Set());
      out.get(src).add(dst);
    }
    const nodes = new Set();
    const data = [...links.values()].map((l) => {
      nodes.add(l.source);
      nodes.add(l.target);
      return { source: l.source, target: l.target, value: l.value, units: l.units.toString(),
        kinds: [...l.kinds].join(",") };
    });
    return { nodes: [...nodes].map((name) => ({ name })), links: data };
  }
  function drawSankey(el, rows) {
    const g = sankeyOf(rows);
    const chart = echarts.getInstanceByDom(el) || echarts.init(el, null, { renderer: "canvas" });
    chart.setOption({
      animation: false,
      tooltip: { trigger: "item", formatter: (p) => echarts.format.encodeHTML(p.dataType === "edge"
        ? `${p.data.source} → ${p.data.target}: ${yuan(p.data.units)} (${p.data.kinds.split(",").map((k) => t("kind." + k)).join(t("risk.sep"))})`
        : p.name) },
      series: [{ type: "sankey", data: g.nodes, links: g.links, left: 20, right: 160, top: 20, bottom: 20,
        nodeGap: 18, emphasis: { focus: "adjacency" }, lineStyle: { color: "gradient", opacity: 0.45 },
        label: { color: "#111827", fontSize: 13, formatter: (p) => `${p.name}\n${yuan(BigInt(Math.round(p.value)))}` } }],
    }, true);
    return chart;
  }
  function flowTable(rows) {
    return table([t("col.kind"), t("col.payer"), t("col.payee"), t("col.amount"), t("col.slot"), t("col.time")],
      rows.map((r) => [t("kind." + r.kind), who(r.payer), who(r.payee), yuan(r.amount), r.slot || "", day(r.block_time)]));
  }
  function csvDownload(name, text) {
    const a = h("a", { href: URL.createObjectURL(new Blob([text], { type: "text/csv" })), download: name });
    document.body.append(a);
    a.click();
    a.remove();
  }
  function totals(rows) {
    const sum = (k) => rows.filter((r) => r.kind === k).reduce((s, r) => s + BigInt(r.amount), 0n).toString();
    return h("ul", { class: "totals" },
      h("li", { "data-total": "repayment" }, t("flows.total_repaid", { amount: yuan(sum("repayment")) })),
      h("li", { "data-total": "redemption" }, t("flows.total_redeemed", { amount: yuan(sum("redemption")) })),
      h("li", { "data-total": "financing" }, t("flows.total_financed", { amount: yuan(sum("financing")) })));
  }
  async function reconcileBox() {
    const box = h("div", { id: "reconcile", "aria-live": "polite" });
    if (!readsAll()) return box;
    try {
      const r = await get("/audit/reconcile");
      box.className = r.clean ? "status-ok" : "status-bad";
      box.setAttribute("data-clean", String(r.clean));
      box.append(h("strong", { text: r.clean ? t("reconcile.clean") : t("reconcile.differences", { n: r.differences.length }) }),
        " ", t("reconcile.checked", { tokens: r.tokens_checked, receivables: r.receivables_checked, block: r.block }));
      if (!r.clean) box.append(table([t("col.kind"), t("reconcile.key"), t("reconcile.field"), t("reconcile.db"), t("reconcile.chain")],
        r.differences.map((d) => [d.kind, d.key, d.field, d.db, d.chain])));
    } catch (e) {
      failure(box, e);
    }
    return box;
  }

  async function viewFlowsOf(slot) {
    main.replaceChildren(h("p", { class: "muted", text: t("common.loading") }));
    let trace;
    try {
      trace = await get(`/audit/receivables/${slot}/trace`);
    } catch (e) {
      const out = h("div");
      failure(out, e);
      main.replaceChildren(section(t("flows.of_receivable", { slot }), out));
      return;
    }
    const rows = [...(trace.repayments || []), ...(trace.redemptions || []),
      ...(trace.financings || []).map((f) => ({ kind: "financing", payer: f.financier, payee: f.seller,
        amount: f.price, slot: trace.slot, block_time: f.block_time }))];
    for (const r of rows) r.slot = r.slot || trace.slot;
    const el = h("div", { id: "sankey-chart", class: "chart", role: "img",
      "aria-label": t("flows.chart_label", { slot }) });
    const csv = h("button", { type: "button", id: "flows-csv", text: t("flows.csv"), on: { click: () => {
      const head = "kind,payer,payee,amount,slot,block_time";
      csvDownload(`flows-receivable-${slot}.csv`, [head, ...rows.map((r) => [r.kind, r.payer, r.payee, r.amount, r.slot, r.block_time].join(","))].join("\n") + "\n");
    } } });
    main.replaceChildren(section(t("flows.of_receivable", { slot }), await reconcileBox(), totals(rows),
      h("div", { class: "split" }, el, h("div", { class: "side" }, flowTable(rows), csv)),
      h("p", {}, h("a", { href: "#/receivables/" + slot, text: t("nav.back_receivable") }))));
    charts.sankey = drawSankey(el, rows);
  }

  async function viewFlows(params) {
    const q = new URLSearchParams(params);
    const mine = state.me.address;
    const chosen = q.get("who") || mine;
    const people = readsAll() ? state.people : state.people.filter((p) => p.address === mine);
    const pick = select("who", people.map((p) => [p.address, p.display_name]), chosen);
    const f = h("form", { class: "filters", id: "flows-who" }, field(t("flows.participant"), pick),
      h("button", { type: "submit", text: t("flows.show") }));
    f.addEventListener("submit", (ev) => {
      ev.preventDefault();
      location.hash = "#/flows?who=" + pick.value;
    });
    const out = h("div", { class: "out", "aria-live": "polite" });
    main.replaceChildren(section(t("flows.title"), f, out));
    let flows;
    try {
      flows = await get(`/audit/participants/${chosen}/flows`);
    } catch (e) {
      failure(out, e);
      return;
    }
    const el = h("div", { id: "sankey-chart", class: "chart", role: "img",
      "aria-label": t("flows.chart_label_who", { name: who(chosen) }) });
    const csv = h("button", { type: "button", id: "flows-csv", text: t("flows.csv") });
    csv.addEventListener("click", busy(csv, async () => {
      const r = await api("GET", `/audit/participants/${chosen}/flows?format=csv`);
      if (!r.ok) return failure(out, r);
      csvDownload(`flows-${chosen}.csv`, r.data);
    }));
    main.firstChild.append(await reconcileBox(), totals(flows.flows),
      h("div", { class: "split" }, el, h("div", { class: "side" }, flowTable(flows.flows), csv)));
    charts.sankey = drawSankey(el, flows.flows);
  }

  async function viewReconcile() {
    main.replaceChildren(section(t("nav.reconcile"), await reconcileBox()));
  }

  // ---- tokens and offers ---------------------------------------------------------------------------
  function peopleOptions(role) {
    return state.people.filter((p) => p.address !== state.me.address && (!role || p.roles.includes(role)))
      .map((p) => [p.name, p.display_name]);
  }
  async function viewTokens() {
    const out = h("div", { class: "out" });
    main.replaceChildren(section(t("tokens.title"), out));
    let page;
    try {
      page = await get("/tokens?limit=500");
    } catch (e) {
      failure(out, e);
      return;
    }
    const live = page.items.filter((x) => !x.burned && x.value !== "0");
    const rows = live.map((x) => [x.token_id, h("a", { href: "#/receivables/" + x.slot, text: x.slot }), yuan(x.value)]);
    const parts = [section(t("tokens.title"), table([t("col.token"), t("col.slot"), t("col.value")], rows))];
    if (live.length) {
      const token = () => tokenSel.value;
      const tokenSel = select("token", live.map((x) => [x.token_id, t("tokens.option", { id: x.token_id, slot: x.slot, value: yuan(x.value) })]));
      const splitTo = select("to", peopleOptions());
      const splitValue = h("input", { type: "text", inputmode: "decimal", name: "value", required: true });
      const transferTo = select("to", peopleOptions());
      const offerValue = h("input", { type: "text", inputmode: "decimal", name: "value", required: true });
      const offerPrice = h("input", { type: "text", inputmode: "decimal", name: "price", required: true });
      const financier = select("financier", peopleOptions("financier"));
      const days = h("input", { type: "number", name: "days", min: 1, max: 365, value: 10, required: true });
      const reg = h("input", { type: "text", name: "registration_ref", maxlength: 64 });
      const reload = () => viewTokens();
      parts.push(section(t("actions.title"), field(t("tokens.which"), tokenSel),
        h("div", { class: "grid" },
          h("fieldset", {}, h("legend", { text: t("action.split") }),
            form("split", [field(t("action.to"), splitTo), field(t("action.amount"), splitValue)], t("action.split"),
              (o) => act("split", "POST", `/tokens/${token()}/split`, { to: splitTo.value, value: units(splitValue.value) }, o, reload))),
          h("fieldset", {}, h("legend", { text: t("action.transfer") }),
            form("transfer", [field(t("action.to"), transferTo)], t("action.transfer"),
              (o) => act("transfer", "POST", `/tokens/${token()}/transfer`, { to: transferTo.value }, o, reload))),
          h("fieldset", {}, h("legend", { text: t("action.offer") }),
            form("offer", [field(t("action.amount"), offerValue), field(t("col.financier"), financier),
              field(t("action.price"), offerPrice), field(t("action.expiry_days"), days), field(t("action.registration_ref"), reg)],
            t("action.offer"), async (o) => {
              const health = await get("/health");
              const body = { token_id: token(), value: units(offerValue.value), financier: financier.value,
                price: units(offerPrice.value), expiry: Number(health.head_time) + Number(days.value) * 86400,
                registration_ref: reg.value };
              // the same intended offer keeps its key: the expiry is part of the body, so fix it once
              const sig = JSON.stringify([body.token_id, body.value, body.financier, body.price, days.value, reg.value]);
              if (offerValue.dataset.sig === sig) body.expiry = Number(offerValue.dataset.expiry);
              else {
                offerValue.dataset.sig = sig;
                offerValue.dataset.expiry = String(body.expiry);
              }
              await act("offer", "POST", "/offers", body, o, reload);
            })))));
    }
    main.replaceChildren(...parts);
  }

  async function viewOffers() {
    const out = h("div", { class: "out" });
    main.replaceChildren(section(t("offers.title"), out));
    let page;
    try {
      page = await get("/offers?limit=200");
    } catch (e) {
      failure(out, e);
      return;
    }
    // the rate from the gateway (the financier cannot read the receivable before it holds a part)
    const terms = {};
    const open = page.items.filter((o) => o.status === "open");
    await Promise.all(open.map(async (o) => {
      try {
        terms[o.offer_id] = await get(`/console/api/offers/${o.offer_id}/terms`);
      } catch (e) {
        terms[o.offer_id] = null;
      }
    }));
    // the risk view of each open offer's holder and receivable, as the API shows it to this key
    // (a financier sees the holders offering to it and their receivables; null: not visible)
    const holders = {};
    const slots = {};
    const riskOf = async (path) => {
      try {
        return await get(path);
      } catch (e) {
        return null;
      }
    };
    await Promise.all([
      ...[...new Set(open.map((o) => o.holder.toLowerCase()))].map(async (a) => {
        holders[a] = await riskOf(`/risk/participants/${a}`);
      }),
      ...[...new Set(open.map((o) => o.slot))].map(async (n) => {
        slots[n] = await riskOf(`/risk/receivables/${n}`);
      }),
    ]);
    const me = state.me.address.toLowerCase();
    const rows = page.items.map((o) => {
      const terms_ = terms[o.offer_id];
      const cell = h("div", { class: "out", "aria-live": "polite" });
      let action = null;
      if (o.status === "open" && o.financier.toLowerCase() === me && has("financier")) {
        action = form("accept-" + o.offer_id, [], t("action.accept"), (x) =>
          act("accept", "POST", `/offers/${o.offer_id}/accept`, undefined, x, () => viewOffers()));
      } else if (o.status === "open" && o.holder.toLowerCase() === me) {
        action = form("cancel-" + o.offer_id, [], t("action.cancel_offer"), (x) =>
          act("cancel", "POST", `/offers/${o.offer_id}/cancel`, undefined, x, () => viewOffers()));
      }
      return [o.offer_id, h("a", { href: "#/receivables/" + o.slot, text: o.slot }), who(o.holder), who(o.financier),
        yuan(o.value), yuan(o.price), day(o.expiry),
        h("span", {},
          h("span", { "data-rate": o.offer_id, class: terms_ && terms_.above_ceiling ? "bad" : null },
            terms_ && terms_.implied_annual_rate_decimal ? pct(Number(terms_.implied_annual_rate_decimal)) : t("common.na")),
          terms_ && terms_.above_ceiling !== null ? h("span", {
            "data-ceiling": o.offer_id, class: terms_.above_ceiling ? "bad" : "muted",
            text: " " + t(terms_.above_ceiling ? "offers.above_ceiling" : "offers.within_ceiling") }) : null),
        o.status === "open" ? riskSignals(o.offer_id, holders[o.holder.toLowerCase()], slots[o.slot]) : "",
        t("offer_status." + o.status), action || cell];
    });
    main.replaceChildren(section(t("offers.title"), h("p", { class: "muted", text: t("offers.rate_note") }),
      table([t("col.offer"), t("col.slot"), t("col.seller"), t("col.financier"), t("col.value"), t("col.price"),
        t("col.expiry"), t("col.rate"), t("col.risk"), t("col.status"), ""], rows)));
  }

  // The decision-relevant part of the risk routes' answers (docs/risk.md): the holder's score,
  // or why there is none; the receivable's evidence; the debtor's repayment record and limit use.
  function riskSignals(offerId, holder, rec) {
    const line = (name, label, ...kids) => h("div", { "data-risk": name }, h("strong", { text: label + " " }), ...kids);
    const na = () => h("span", { class: "muted", text: t("risk.unavailable") });
    const mark = (yes, label) => h("span", { class: yes ? "ok" : "bad", text: (yes ? "✓" : "✗") + label + " " });
    let score = na();
    if (holder && holder.score === null) {
      score = h("span", { class: "muted", text: holder.reason === "no model configured" ? t("risk.no_model")
        : t("risk.no_score", { reason: holder.reason }) });
    } else if (holder) {
      const zh = document.documentElement.lang === "zh-CN";
      score = h("span", {}, t("risk.score", { score: holder.score, grade: holder.grade, pd: pct(holder.pd) }),
        (holder.reasons || []).slice(0, 3).map((r) => h("div", { class: "muted", text: "− " + (zh ? r.text_zh : r.text_en) })));
    }
    let evidence = na();
    let debtor = na();
    if (rec) {
      const e = rec.evidence;
      evidence = !e.checked ? h("span", { class: "muted", text: t("risk.evidence_unchecked") }) : h("span", {},
        mark(e.order, t("risk.order")), mark(e.delivery, t("risk.delivery")), mark(e.invoice, t("risk.invoice")),
        e.consistency === "ok" ? h("span", { class: "ok", text: t("risk.consistent") })
          : h("span", { class: "bad", text: t("risk.inconsistent", {
            reason: M["mismatch." + e.consistency] || e.consistency }) }));
      const d = rec.debtor_health.features;
      debtor = h("span", {},
        d.debtor_on_time_share === null ? t("risk.no_history")
          : t("risk.on_time", { share: pct(d.debtor_on_time_share), count: d.debtor_settled_count }),
        t("risk.sep"),
        d.debtor_limit_usage === null ? t("risk.no_limit") : t("risk.limit_usage", {
          share: pct(d.debtor_limit_usage), outstanding: yuan(d.debtor_outstanding_face), limit: yuan(d.debtor_credit_limit) }),
        d.debtor_overdue_count ? h("span", { class: "bad", text: t("risk.sep") + t("risk.overdue", { count: d.debtor_overdue_count }) }) : null);
    }
    return h("div", { class: "risk", "data-risk-of": offerId },
      line("holder", t("risk.holder"), score), line("evidence", t("risk.evidence"), evidence),
      line("debtor", t("risk.debtor"), debtor));
  }

  // ---- the router ----------------------------------------------------------------------------------
  async function route() {
    for (const c of Object.values(charts)) if (c && !c.isDisposed()) c.dispose();
    for (const k of Object.keys(charts)) delete charts[k];
    const [path, query] = (location.hash.slice(1) || "/receivables").split("?");
    const parts = path.split("/").filter(Boolean);
    if (!state.me) {
      if (sessionStorage.getItem(KEY)) {
        try {
          await signIn(sessionStorage.getItem(KEY));
        } catch (e) {
          return viewSignIn();
        }
      } else return viewSignIn();
    }
    document.querySelectorAll("#nav a").forEach((a) => a.removeAttribute("aria-current"));
    const current = document.querySelector(`#nav a[href="#/${parts[0]}"]`);
    if (current) current.setAttribute("aria-current", "page");
    const views = {
      signin: () => viewSignIn(),
      receivables: () => (parts[1] ? viewReceivable(parts[1]) : viewReceivables(query || "")),
      lineage: () => viewLineage(parts[1]),
      flows: () => (parts[1] ? viewFlowsOf(parts[1]) : viewFlows(query || "")),
      tokens: () => viewTokens(),
      offers: () => viewOffers(),
      reconcile: () => viewReconcile(),
    };
    await (views[parts[0]] || views.receivables)();
    // switching the language reloads the page on the same view (the key stays in this tab)
    document.querySelectorAll("a[data-lang]").forEach((a) => a.setAttribute("href", "?lang=" + a.dataset.lang + location.hash));
    main.setAttribute("data-view", parts[0] || "receivables");
    main.setAttribute("data-ready", String(Date.now()));
  }

  window.scfConsole = { buildTree, sankeyOf, charts, yuan, units, t };
  window.addEventListener("hashchange", route);
  if (typeof echarts === "undefined") console.error("ECharts is not loaded");
  route();
})();

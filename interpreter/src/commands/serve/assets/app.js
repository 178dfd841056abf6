// The pages of `plan serve`, built from the JSON API. Text from runs (issue titles,
// logs, outputs) only ever goes through textContent: it never becomes markup.
"use strict";

const main = document.getElementById("main");
const SVG = "http://www.w3.org/2000/svg";
const FINAL = new Set(["succeeded", "failed", "interrupted"]);

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null) node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(c ?? ""));
  return node;
}

function svg(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  return node;
}

const badge = (state) => el("span", { class: `badge s-${state || "pending"}`, "data-state": state || "pending" }, state || "pending");
const cost = (c) => (c === null || c === undefined ? "" : `$${Number(c).toFixed(4)}`);
const usage = (u) => (u ? [u.input_tokens + u.output_tokens ? `${u.input_tokens + u.output_tokens} tokens` : "", cost(u.cost_usd), u.rate_limit_wait_ms ? `${(u.rate_limit_wait_ms / 1000).toFixed(1)}s waiting for rate limits` : ""].filter(Boolean).join(" · ") : "");
const seconds = (ms) => (ms === null || ms === undefined ? "" : `${(ms / 1000).toFixed(3)}s`);

// A server started with --token wants it on every API request, as a header (never
// in a URL). The page asks for it once and keeps it for this tab only.
const TOKEN = "plan-serve-token";
const auth = () => { const t = sessionStorage.getItem(TOKEN); return t ? { authorization: `Bearer ${t}` } : {}; };

function askToken() {
  if (document.getElementById("token")) return;
  const input = el("input", { id: "token", type: "password", autocomplete: "off", placeholder: "token" });
  const use = () => { sessionStorage.setItem(TOKEN, input.value.trim()); location.reload(); };
  input.addEventListener("keydown", (e) => { if (e.key === "Enter") use(); });
  main.replaceChildren(el("h1", {}, "This server wants its token"),
    el("p", {}, "It was started with --token (or PLAN_SERVE_TOKEN). It is kept in this tab only."),
    el("form", { onsubmit: (e) => { e.preventDefault(); use(); } }, input, " ", el("button", { id: "use-token", type: "submit" }, "Use token")));
}

// An error in place of the page (unless the page now asks for the token).
const fail = (e) => { if (!document.getElementById("token")) main.replaceChildren(el("p", { class: "error" }, e.message)); };

async function api(path, body) {
  const headers = auth();
  const options = body === undefined ? { headers } : { method: "POST", headers: { ...headers, "content-type": "application/json" }, body: JSON.stringify(body) };
  const response = await fetch(path, options);
  if (response.status === 401) { askToken(); throw new Error("this server wants its token"); }
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.error || `${response.status} ${response.statusText}`);
  return data;
}

// Server-sent events read with fetch (EventSource cannot send the token): calls
// `on(data)` for each `state` event; reconnects while `more()` says the run goes on.
function events(path, on, more) {
  const stop = new AbortController();
  const read = async () => {
    const response = await fetch(path, { headers: auth(), signal: stop.signal });
    if (!response.ok || !response.body) throw new Error(`${response.status}`);
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let name = "message";
        const data = [];
        for (const line of block.split("\n")) {
          if (line.startsWith("event:")) name = line.slice(6).trim();
          else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
        }
        if (name === "state" && data.length) on(JSON.parse(data.join("\n")));
      }
    }
  };
  const loop = async () => {
    while (!stop.signal.aborted) {
      try { await read(); } catch (e) { if (stop.signal.aborted) return; }
      if (!more()) return;
      await new Promise((r) => setTimeout(r, 2000));
    }
  };
  loop();
  return { close: () => stop.abort() };
}

// ---- `/`: the runs, newest first, refreshed every two seconds.

async function runsPage() {
  document.getElementById("where").textContent = "runs";
  const table = el("table", { id: "runs" });
  main.replaceChildren(el("h1", {}, "Runs"), table);
  const draw = async () => {
    let runs;
    try { runs = await api("/api/runs"); } catch (e) { fail(e); return; }
    const head = el("tr", {}, ...["run", "plan", "state", "agents", "failed", "duration", "cost"].map((h) => el("th", {}, h)));
    const rows = runs.map((r) => el("tr", { "data-run": r.run_id },
      el("td", {}, el("a", { href: `/runs/${encodeURIComponent(r.run_id)}` }, r.run_id)),
      el("td", { title: r.plan }, r.name || r.plan),
      el("td", {}, badge(r.state)),
      el("td", {}, `${r.done}/${r.total}`),
      el("td", {}, String(r.failed)),
      el("td", {}, r.elapsed),
      el("td", {}, cost(r.cost_usd))));
    table.replaceChildren(head, ...rows);
    if (!runs.length) table.replaceChildren(el("tr", {}, el("td", {}, "No runs yet: start one with `plan run PLAN`.")));
  };
  await draw();
  setInterval(draw, 2000);
}

// ---- `/runs/<id>`: the DAG coloured live, a node's details, the decisions.

const W = 170, H = 34, GX = 60, GY = 14;

function drawGraph(graph, onPick) {
  const box = el("div", { class: "graph", id: "graph" });
  if (graph.missing || !graph.nodes.length) {
    box.append(el("p", { class: "muted" }, graph.missing || "No picture for this run."));
    return box;
  }
  const levels = Math.max(...graph.nodes.map((n) => n.level)) + 1;
  const rows = Math.max(...graph.nodes.map((n) => n.row)) + 1;
  const pic = svg("svg", { width: levels * (W + GX) + GX, height: rows * (H + GY) + GY * 2, role: "img" });
  const at = (n) => [GX / 2 + n.level * (W + GX), GY + n.row * (H + GY)];
  for (const [a, b] of graph.edges) {
    const [x1, y1] = at(graph.nodes[a]), [x2, y2] = at(graph.nodes[b]);
    const sx = x1 + W, sy = y1 + H / 2, ty = y2 + H / 2, mx = (sx + x2) / 2;
    pic.append(svg("path", { class: "edge", d: `M${sx},${sy} C${mx},${sy} ${mx},${ty} ${x2},${ty}` }));
  }
  for (const n of graph.nodes) {
    const [x, y] = at(n);
    const g = svg("g", { class: "node s-pending", "data-node": n.id, "data-state": "pending", transform: `translate(${x},${y})` });
    g.append(svg("rect", { width: W, height: H }));
    const label = svg("text", { x: 8, y: 21 });
    label.textContent = n.id.length > 22 ? `${n.id.slice(0, 21)}…` : n.id;
    const title = svg("title", {});
    title.textContent = `${n.id} (${n.kind})${n.boundary ? ` · ${n.boundary}` : ""}`;
    g.append(label, title);
    if (n.boundary) {
      g.classList.add("boundary");
      const b = svg("text", { x: 8, y: H - 3, class: "boundary" });
      b.textContent = n.boundary.length > 26 ? `${n.boundary.slice(0, 25)}…` : n.boundary;
      g.append(b);
    }
    if (n.copies) {
      const c = svg("text", { x: W - 8, y: 21, "text-anchor": "end", class: "copies" });
      c.textContent = `${n.copies[1]}/${n.copies[0]}`;
      g.append(c);
    }
    g.addEventListener("click", () => onPick(n.id));
    pic.append(g);
  }
  box.append(pic);
  if (graph.hidden) box.append(el("p", { class: "muted" }, `${graph.hidden} more nodes are in the table below.`));
  return box;
}

async function runPage(id) {
  document.getElementById("where").textContent = `run ${id}`;
  let data;
  try { data = await api(`/api/runs/${encodeURIComponent(id)}`); } catch (e) { fail(e); return; }
  const view = { id, run: data.run, picked: null, stream: null, timer: null };
  const summary = el("div", { class: "summary", id: "summary" });
  const panel = el("aside", { id: "panel" }, el("p", { class: "muted" }, "Click a node to see its log and output."));
  const table = el("table", { id: "nodes" });
  const rounds = el("section", { id: "feedback" });
  const pick = (node) => { view.picked = node; showNode(view, panel); };
  main.replaceChildren(el("h1", {}, `Run ${id}`), summary,
    el("div", { class: "layout" }, drawGraph(data.graph, pick), panel),
    el("section", {}, table), rounds);
  const update = (run) => {
    const before = view.picked && view.run.nodes[view.picked]?.state;
    view.run = run;
    if (view.picked && run.nodes[view.picked]?.state !== before) showNode(view, panel, true);
    drawSummary(view, summary);
    for (const g of document.querySelectorAll("svg .node")) {
      const state = run.nodes[g.dataset.node]?.state || "pending";
      g.setAttribute("class", `node s-${state}${g.dataset.node === view.picked ? " selected" : ""}`);
      g.dataset.state = state;
    }
    drawTable(run, table, pick);
    drawFeedback(run, rounds);
    if (FINAL.has(run.state) && view.stream) { view.stream.close(); view.stream = null; }
  };
  view.update = update;
  view.listen = () => {
    if (view.stream) view.stream.close();
    view.stream = events(`/api/runs/${encodeURIComponent(id)}/events`, update, () => !FINAL.has(view.run.state));
  };
  update(data.run);
  view.listen();
  view.timer = setInterval(() => { if (view.picked) showNode(view, panel, true); }, 1500);
}

function drawSummary(view, box) {
  const r = view.run;
  const parts = [el("span", { id: "run-state" }, badge(r.state)),
    el("span", {}, `${r.done}/${r.total} agents done`),
    el("span", {}, `${r.failed} failed`),
    el("span", {}, r.elapsed),
    el("span", { class: "muted", title: r.plan }, r.plan)];
  const spent = usage(r.spent);
  if (spent) parts.push(el("span", {}, spent));
  if (r.state === "running" || r.state === "waiting") {
    parts.push(el("button", { class: "stop", id: "stop", onclick: async (e) => {
      e.target.disabled = true;
      try { await api(`/api/runs/${encodeURIComponent(view.id)}/stop`, {}); } catch (err) { alert(err.message); }
    } }, "Stop"));
  }
  box.replaceChildren(...parts);
}

// Rounds of feedback on the run's pull request (a failed check, a review) that
// re-entered a step.
function drawFeedback(run, box) {
  const rounds = run.feedback || [];
  if (!rounds.length) { box.replaceChildren(); return; }
  box.replaceChildren(el("h2", {}, "Feedback on the pull request"),
    ...rounds.map((r) => el("div", { class: "round" },
      el("p", {}, el("strong", {}, `round ${r.round}`), ` · ${r.kind} · re-entered ${r.node} · ${r.at}`,
        r.source ? el("span", {}, " · ", el("a", { href: r.source, rel: "noreferrer" }, "source")) : ""),
      el("pre", {}, r.feedback))));
}

// Each attempt's acceptance checks, as the report keeps them.
function drawChecks(checks) {
  const parts = [el("h3", {}, "checks")];
  for (const a of checks) {
    parts.push(el("p", { class: "check" }, badge(a.passed ? "succeeded" : "failed"), ` attempt ${a.attempt}`,
      a.changed_lines !== undefined ? ` · ${a.changed_lines} changed lines` : "", a.score !== undefined ? ` · score ${a.score}` : ""));
    const lines = a.checks.map((c) => {
      const mark = c.passed ? "pass" : "FAIL";
      if (c.check === "command") return `${mark} ${c.command}${c.passed ? "" : ` (${c.ended})\n${c.output || ""}`}`;
      if (c.check === "touches") return `${mark} touches ${c.allowed.join(", ")}${c.outside.length ? `: outside ${c.outside.join(", ")}` : ""}`;
      if (c.check === "max_changed_lines") return `${mark} ${c.lines} of at most ${c.max} changed lines`;
      return `${mark} judge: ${c.score ?? "no score"} (at least ${c.min_score}): ${c.reasons}`;
    });
    parts.push(el("pre", {}, lines.join("\n")));
  }
  return parts;
}

function drawTable(run, table, pick) {
  const head = el("tr", {}, ...["agent", "state", "attempt", "duration", "usage", "now / last error"].map((h) => el("th", {}, h)));
  const ids = Object.keys(run.nodes).slice(0, 1000);
  const rows = ids.map((k) => {
    const n = run.nodes[k];
    return el("tr", { "data-node": k },
      el("td", {}, el("a", { href: "#", onclick: (e) => { e.preventDefault(); pick(k); } }, k)),
      el("td", {}, badge(n.state)), el("td", {}, String(n.attempt)), el("td", {}, seconds(n.duration_ms)),
      el("td", {}, usage(n.usage)), el("td", { class: "wrap" }, n.step || (n.error || "").split("\n").pop()));
  });
  table.replaceChildren(head, ...rows);
}

async function showNode(view, panel, refresh) {
  const node = view.picked;
  let d;
  try { d = await api(`/api/runs/${encodeURIComponent(view.id)}/nodes/${encodeURIComponent(node)}`); } catch (e) { panel.replaceChildren(el("p", { class: "error" }, e.message)); return; }
  if (refresh && panel.querySelector("input:focus")) return; // do not wipe what is being typed
  const s = d.summary || { state: "pending", attempt: 0 };
  const parts = [el("h2", {}, node), el("p", {}, badge(s.state), ` attempt ${s.attempt} · ${seconds(s.duration_ms)} ${usage(s.usage)}`)];
  if (d.request && !d.decision) parts.push(gate(view, node, d.request));
  if (d.decision) parts.push(el("p", {}, `${d.decision.approved ? "approved" : "rejected"} by ${d.decision.by} at ${d.decision.at}${d.decision.comment ? `: ${d.decision.comment}` : ""}`));
  if (s.error) parts.push(el("h3", {}, "error"), el("pre", {}, s.error));
  if (s.checks && s.checks.length) parts.push(...drawChecks(s.checks));
  parts.push(el("h3", {}, "log"), el("pre", { id: "log" }, d.log ?? "(no log)"));
  if (d.output !== null && d.output !== undefined) parts.push(el("h3", {}, "output"), el("pre", { id: "output" }, typeof d.output === "string" ? d.output : JSON.stringify(d.output, null, 2)));
  panel.replaceChildren(...parts);
  for (const g of document.querySelectorAll("svg .node")) g.classList.toggle("selected", g.dataset.node === node);
}

function gate(view, node, request) {
  const text = el("input", { id: "decision-text", placeholder: "comment, or the reason to reject" });
  const status = el("p", { class: "error" });
  const decide = (verb) => async () => {
    try {
      await api(`/api/runs/${encodeURIComponent(view.id)}/nodes/${encodeURIComponent(node)}/${verb}`, { text: text.value });
      view.listen();
      showNode(view, document.getElementById("panel"));
    } catch (e) { status.textContent = e.message; }
  };
  return el("div", { class: "gate" }, el("strong", {}, "Waiting for approval"), el("pre", {}, request.message), text,
    el("button", { class: "approve", id: "approve", onclick: decide("approve") }, "Approve"), " ",
    el("button", { class: "reject", id: "reject", onclick: decide("reject") }, "Reject"), status);
}

const match = location.pathname.match(/^\/runs\/([^/]+)$/);
if (match) runPage(decodeURIComponent(match[1])); else runsPage();

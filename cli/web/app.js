// The dashboard's page: plain JavaScript, no framework. The server pushes the list (and the
// page of the Rollout shown) as server-sent events; the page draws what it was last sent.
"use strict";

const meta = (name) => document.querySelector(`meta[name="${name}"]`).content;
const token = meta("tranche-token");
const readOnly = meta("tranche-read-only") === "true";
const namespace = meta("tranche-namespace");

// state is what the server last sent, and how the list is sorted and filtered.
const state = { list: null, page: null, sort: { key: "name", down: false }, filter: "", pushes: 0 };
window.tranche = state; // for the browser tests: what the page was sent, and how many pushes

// el builds an element: el("td", {class: "x"}, "text", child...).
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === false || v === null || v === undefined) continue;
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c !== null && c !== undefined) node.append(c instanceof Node ? c : String(c));
  }
  return node;
}

function ago(time) {
  const s = Math.max(0, Math.round((Date.now() - new Date(time)) / 1000));
  if (s < 120) return s + "s";
  if (s < 7200) return Math.round(s / 60) + "m";
  if (s < 172800) return Math.round(s / 3600) + "h";
  return Math.round(s / 86400) + "d";
}

const badge = (text, kind) => el("span", { class: "badge " + (kind || String(text).toLowerCase()) }, text || "-");

// route is what the address names: the list, or one Rollout's page.
function route() {
  const parts = location.hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  return parts.length === 2 ? { namespace: parts[0], name: parts[1] } : null;
}

let stream = null;

// follow opens the event stream for what the address names.
function follow() {
  if (stream) stream.close();
  const r = route();
  state.page = null;
  const query = r ? `?namespace=${encodeURIComponent(r.namespace)}&name=${encodeURIComponent(r.name)}` : "";
  stream = new EventSource("/api/stream" + query);
  const live = document.getElementById("live");
  stream.onopen = () => { live.textContent = "live"; live.className = "on"; };
  stream.onerror = async () => {
    live.textContent = "reconnecting…";
    live.className = "off";
    // A browser gives up a stream the server refused; a team's dashboard refuses it once the
    // session has ended: sign in again.
    if (stream.readyState === EventSource.CLOSED && (await fetch("/api/rollouts")).status === 401) location.assign("/signin");
  };
  stream.addEventListener("list", (e) => { state.list = JSON.parse(e.data); state.pushes++; draw(); });
  stream.addEventListener("page", (e) => { state.page = JSON.parse(e.data); state.pushes++; draw(); });
  stream.addEventListener("problem", (e) => {
    const problem = JSON.parse(e.data);
    const box = document.getElementById("problem");
    box.hidden = !problem;
    box.textContent = problem;
  });
  draw();
}

// The list's filter box stays in the page across draws, so as not to lose focus and caret.
const count = el("span", { class: "faint", id: "count" });
const listBar = el("div", { class: "bar" }, el("input", {
  id: "filter", type: "search", placeholder: "Filter: name, namespace, group, phase, provider…",
  oninput: (e) => { state.filter = e.target.value; draw(); },
}), count);

function draw() {
  const main = document.getElementById("main");
  const r = route();
  if (r) {
    main.replaceChildren(drawPage(r));
    return;
  }
  const table = drawList();
  if (main.firstChild === listBar) main.lastChild.replaceWith(table);
  else main.replaceChildren(listBar, table);
}

// The list.

const columns = [
  ["namespace", "Namespace"], ["name", "Name"], ["group", "Group"], ["provider", "Provider"], ["phase", "Phase"], ["step", "Step"],
  ["weight", "Weight"], ["stable", "Stable"], ["canary", "Canary"], ["checks", "Checks"], ["created", "Age"],
];

// drawList is the table of the Rollouts the filter lets through, and says how many.
function drawList() {
  if (!state.list) {
    count.textContent = "Reading the Rollouts…";
    return el("div");
  }
  const words = state.filter.toLowerCase().split(/\s+/).filter(Boolean);
  const rows = state.list.filter((row) => {
    const text = [row.namespace, row.name, row.group, row.provider, row.phase, row.checks].join(" ").toLowerCase();
    return words.every((w) => text.includes(w));
  });
  const { key, down } = state.sort;
  rows.sort((a, b) => {
    const x = a[key], y = b[key];
    const order = typeof x === "number" ? x - y : String(x).localeCompare(String(y));
    return (down ? -order : order) || a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name);
  });
  const head = el("tr", {}, columns.map(([k, label]) => el("th", {
    "data-sort": k, class: k === key ? (down ? "sorted down" : "sorted") : "",
    onclick: () => { state.sort = { key: k, down: k === key ? !down : false }; draw(); },
  }, label)));
  const body = rows.map((row) => el("tr", { "data-rollout": row.namespace + "/" + row.name },
    el("td", {}, row.namespace),
    el("td", {}, el("a", { href: `#/${encodeURIComponent(row.namespace)}/${encodeURIComponent(row.name)}` }, row.name)),
    el("td", {}, row.group), el("td", {}, row.provider), el("td", { class: "phase" }, badge(row.phase)), el("td", {}, row.step),
    el("td", { class: "weight" }, row.weight + "%"), el("td", { class: "mono" }, row.stable), el("td", { class: "mono" }, row.canary),
    el("td", {}, badge(row.checks, (row.verdict || "none").toLowerCase())), el("td", {}, ago(row.created)),
  ));
  count.textContent = rows.length === state.list.length ? `${rows.length} Rollouts` : `${rows.length} of ${state.list.length} Rollouts`;
  return el("table", { id: "rollouts" }, el("thead", {}, head), el("tbody", {}, body));
}

// A Rollout's page.

function drawPage(r) {
  const p = state.page;
  if (!p) return el("p", { class: "faint" }, `Reading rollout ${r.namespace}/${r.name}…`);
  return el("section", { id: "rollout", "data-rollout": p.namespace + "/" + p.name },
    el("div", { class: "title" }, el("a", { href: "#/" }, "Rollouts"), " / ", p.namespace, " / ", el("strong", {}, p.name),
      el("span", { id: "phase" }, badge(p.phase))),
    el("p", { id: "message" }, p.message || ""),
    drawActions(p),
    el("dl", { class: "facts" },
      fact("Target", p.target), fact("Provider", p.provider),
      fact("Traffic", el("span", { id: "weight" }, `primary ${p.primary}%, canary ${p.weight}%`)),
      fact("Revisions", `stable ${p.stable}, canary ${p.canary}`)),
    el("ol", { id: "steps", class: "steps" }, p.steps.map((s, i) =>
      el("li", { class: s.state, "data-step": i + 1 }, s.label + (s.left || "")))),
    drawGroup(p),
    el("h2", {}, "Traffic"),
    chart(
      [{ name: "weight", points: p.traffic.map((t) => [t.at, t.weight]), step: true },
        { name: "measured share", points: p.traffic.filter((t) => t.share != null).map((t) => [t.at, t.share]) }],
      { min: 0, max: 100, unit: "%" }),
    drawAnalysis(p.analysis),
    drawConditions(p.conditions),
    drawEvents(p.events));
}

const fact = (term, value) => [el("dt", {}, term), el("dd", {}, value)];

const actionLabels = {
  "promote": "Promote", "promote-full": "Promote full", "abort": "Abort",
  "retry": "Retry", "pause": "Pause", "resume": "Resume",
};
// Actions that cannot be taken back ask for a second click.
const confirmed = new Set(["promote-full", "abort"]);
let armed = null;

function drawActions(p) {
  if (readOnly) return el("p", { class: "faint", id: "read-only" }, "Read-only: this dashboard sends no requests.");
  return el("div", { class: "actions" }, Object.entries(actionLabels).map(([action, label]) => {
    const can = p.actions.includes(action);
    const armedHere = armed === action;
    return el("button", {
      "data-action": action, disabled: !can, class: (confirmed.has(action) ? "danger" : "") + (armedHere ? " armed" : ""),
      onclick: () => act(p, action),
    }, armedHere ? `Click again to ${label.toLowerCase()}` : label);
  }));
}

async function act(p, action) {
  if (confirmed.has(action) && armed !== action) {
    armed = action;
    draw();
    setTimeout(() => { if (armed === action) { armed = null; draw(); } }, 4000);
    return;
  }
  armed = null;
  notice(`Sending ${action}…`, "");
  try {
    const res = await fetch(`/api/rollouts/${encodeURIComponent(p.namespace)}/${encodeURIComponent(p.name)}/${action}`, {
      method: "POST", headers: { "X-Tranche-Token": token },
    });
    const text = await res.text();
    if (!res.ok) return notice(text.trim(), "error");
    notice(JSON.parse(text).message, "ok");
  } catch (err) {
    notice(String(err), "error");
  }
}

function notice(text, kind) {
  const box = document.getElementById("notice");
  box.hidden = false;
  box.className = kind;
  box.textContent = text;
}

function drawAnalysis(a) {
  if (!a) return el("p", { class: "faint" }, "No analysis: each step holds, then the next one starts.");
  return el("section", { id: "analysis" },
    el("h2", {}, "Analysis ", el("span", { class: "faint" }, `every ${a.interval}, failed runs ${a.failedRuns}/${a.failureLimit}`)),
    el("div", { class: "metrics" }, a.metrics.map((m) => drawMetric(m, true)), a.webhooks.map((m) => drawMetric(m, false))));
}

function drawMetric(m, plotted) {
  const last = m.checks[m.checks.length - 1];
  const thresholds = [m.min, m.max].filter((v) => v != null);
  return el("article", { class: "metric", "data-metric": m.name },
    el("h3", {}, plotted ? m.name : "webhook " + m.name, " ", badge(last ? last.verdict : "-", last ? last.verdict.toLowerCase() : "none")),
    el("p", { class: "faint" }, [m.judge, (plotted ? "bounds " : "passes when it ") + m.bounds,
      last ? `last ${plotted ? last.text : "called"} ${ago(last.at)} ago` : "not checked yet"].filter(Boolean).join(" · ")),
    plotted ? chart([{ name: m.name, points: m.checks.filter((c) => c.value != null).map((c) => [c.at, c.value]), dots: m.checks }], { thresholds }) : null,
    last && last.message ? el("p", { class: "evidence" }, (last.final ? "final: " : "") + last.message) : null);
}

// The group a Rollout is released with: every member in the order they go, this one marked.
function drawGroup(p) {
  if (!p.groupMembers) return null;
  return el("section", {}, el("h2", {}, `Group ${p.group}, released as one`), el("table", { id: "group" },
    el("thead", {}, el("tr", {}, ["Member", "Phase", "Step", "Weight", "After"].map((h) => el("th", {}, h)))),
    el("tbody", {}, p.groupMembers.map((m) => el("tr", { "data-rollout": m.namespace + "/" + m.name, class: m.name === p.name ? "this" : "" },
      el("td", {}, el("a", { href: `#/${encodeURIComponent(m.namespace)}/${encodeURIComponent(m.name)}` }, m.name)),
      el("td", { class: "phase" }, badge(m.phase)), el("td", {}, m.step), el("td", { class: "weight" }, m.weight + "%"), el("td", {}, m.after))))));
}

function drawConditions(conditions) {
  if (!conditions.length) return null;
  return el("section", {}, el("h2", {}, "Conditions"), el("table", { id: "conditions" },
    el("tbody", {}, conditions.map((c) => el("tr", {},
      el("td", {}, c.type), el("td", {}, c.status), el("td", {}, c.reason), el("td", {}, ago(c.since)), el("td", {}, c.message))))));
}

function drawEvents(events) {
  if (!events.length) return null;
  return el("section", {}, el("h2", {}, "Events"), el("table", { id: "events" },
    el("tbody", {}, events.slice(-20).reverse().map((e) => el("tr", { class: e.type === "Warning" ? "warning" : "" },
      el("td", {}, ago(e.at) + " ago"), el("td", {}, e.type), el("td", {}, e.reason), el("td", {}, e.note))))));
}

// chart draws lines of [time, value] points as SVG, with dashed threshold lines.
function chart(series, opts) {
  const W = 640, H = 160, L = 44, R = 8, T = 8, B = 22;
  const ns = "http://www.w3.org/2000/svg";
  const svg = (tag, attrs) => {
    const node = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    return node;
  };
  const all = series.flatMap((s) => s.points);
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img" });
  if (!all.length) {
    const empty = svg("text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "faint" });
    empty.textContent = "no values yet";
    root.append(empty);
    return root;
  }
  const times = all.map((p) => new Date(p[0]).getTime());
  const t0 = Math.min(...times), t1 = Math.max(Math.max(...times), Date.now());
  const values = all.map((p) => p[1]).concat(opts.thresholds || []);
  let lo = opts.min ?? Math.min(...values), hi = opts.max ?? Math.max(...values);
  if (hi === lo) { hi += 1; lo -= 1; }
  const pad = opts.min == null ? (hi - lo) * 0.1 : 0;
  lo -= pad; hi += pad;
  const x = (t) => L + (W - L - R) * (t1 === t0 ? 1 : (new Date(t).getTime() - t0) / (t1 - t0));
  const y = (v) => T + (H - T - B) * (1 - (v - lo) / (hi - lo));
  for (const v of [lo, hi]) {
    const label = svg("text", { x: L - 4, y: y(v) + 4, "text-anchor": "end", class: "axis" });
    label.textContent = +v.toPrecision(3) + (opts.unit || "");
    root.append(label);
  }
  const span = svg("text", { x: W - R, y: H - 4, "text-anchor": "end", class: "axis" });
  span.textContent = "last " + ago(t0);
  root.append(span, svg("line", { x1: L, y1: H - B, x2: W - R, y2: H - B, class: "frame" }));
  for (const v of opts.thresholds || []) {
    root.append(svg("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "threshold" }));
  }
  series.forEach((s, i) => {
    if (!s.points.length) return;
    let d = "";
    s.points.forEach(([t, v], j) => {
      if (j === 0) d += `M${x(t)},${y(v)}`;
      else d += s.step ? `H${x(t)}V${y(v)}` : `L${x(t)},${y(v)}`;
    });
    const [, lastV] = s.points[s.points.length - 1];
    d += s.step ? `H${x(Date.now())}` : "";
    const path = svg("path", { d, class: "line s" + i });
    const title = svg("title", {});
    title.textContent = `${s.name}: ${lastV}`;
    path.append(title);
    root.append(path);
    for (const c of s.dots || []) {
      if (c.value == null) continue;
      root.append(svg("circle", { cx: x(c.at), cy: y(c.value), r: 3, class: "dot " + c.verdict.toLowerCase() }));
    }
  });
  return root;
}

const namespaces = namespace.split(",");
document.getElementById("scope").textContent = !namespace ? "all namespaces" :
  (namespaces.length > 1 ? "namespaces " + namespaces.join(", ") : "namespace " + namespace);
if (readOnly) document.getElementById("scope").textContent += " · read-only";
// Served to a team, the page says whom it acts as, and a user who signed in can sign out.
const user = meta("tranche-user");
if (user) {
  const who = document.getElementById("user");
  who.hidden = false;
  who.textContent = "as " + user;
}
if (meta("tranche-sign-out") === "true") {
  document.querySelector("header").append(el("button", {
    id: "sign-out",
    onclick: async () => {
      const res = await fetch("/signout", { method: "POST", headers: { "X-Tranche-Token": token } });
      if (!res.ok) return notice("Signing out failed: " + (await res.text()).trim(), "error");
      location.assign("/signin");
    },
  }, "Sign out"));
}
window.addEventListener("hashchange", follow);
setInterval(draw, 5000); // ages and the time axis move on between pushes
follow();

// tracker UI: one script, no build step. Every user string goes into the page as text
// (textContent or uPlot's own text nodes), never as HTML.
"use strict";

const POLL_MS = 1000; // a running run's page asks again every second (live within 2 s)
const FIRST_CHARTS = 6; // charts asked for first, before the others (about a screenful)
const TABLE_ROWS = 100; // rows of a logged table shown on the run page
const COLORS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#4b5563"];
const charts = {}; // key -> uPlot instance (tests read window.trackerCharts)
window.trackerCharts = charts;
let timer = null;

// -- DOM helpers -------------------------------------------------------------------------------
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null) continue;
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "class") node.className = v;
    else node.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}
const enc = encodeURIComponent;
async function getJSON(url) {
  const res = await fetch(url);
  const body = await res.json();
  if (!res.ok) throw new Error(body.error || res.statusText);
  return body;
}
function fmt(v) {
  if (v === null || v === undefined) return "";
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : v.toPrecision(6).replace(/\.?0+$/, "");
  // a media reference (a summary's image or table): its type and file, not its JSON
  if (typeof v === "object" && typeof v._type === "string") return v.path ? `${v._type}: ${v.path}` : v._type;
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}
function when(ts) { return ts ? new Date(ts * 1000).toISOString().replace("T", " ").slice(0, 19) : ""; }
function duration(s) {
  if (s === null || s === undefined) return "";
  s = Math.round(s);
  return s >= 3600 ? `${Math.floor(s / 3600)}h${Math.floor(s % 3600 / 60)}m` : s >= 60 ? `${Math.floor(s / 60)}m${s % 60}s` : `${s}s`;
}
function crumbs(parts) {
  const nav = document.getElementById("crumbs");
  nav.replaceChildren();
  parts.forEach(([label, href], i) => {
    if (i) nav.append(el("span", { class: "sep" }, "/"));
    nav.append(href ? el("a", { href }, label) : el("span", {}, label));
  });
}
function kvTable(obj) {
  const rows = Object.keys(obj || {}).sort().map((k) => el("tr", {}, el("td", {}, k), el("td", {}, fmt(obj[k]))));
  return rows.length ? el("table", { class: "kv" }, rows) : el("p", { class: "muted" }, "none");
}
function setLive(on) { document.getElementById("live").textContent = on ? "● live" : ""; }

// -- pages -------------------------------------------------------------------------------------
async function projectsPage(app) {
  crumbs([["projects", "/"]]);
  const { projects } = await getJSON("/api/projects");
  app.replaceChildren(el("h1", {}, "Projects"),
    projects.length ? el("table", { id: "projects" },
      el("tr", {}, el("th", {}, "project"), el("th", {}, "runs"), el("th", {}, "last run")),
      projects.map((p) => el("tr", {},
        el("td", {}, el("a", { href: `/${enc(p.entity)}/${enc(p.project)}` }, `${p.entity}/${p.project}`)),
        el("td", { class: "num" }, p.runs), el("td", {}, when(p.last_created)))))
      : el("p", { class: "muted" }, "No runs in this store yet."));
}

async function runsPage(app, entity, project, fixedFilter) {
  const base = `/${enc(entity)}/${enc(project)}`;
  const params = new URLSearchParams(location.search);
  const st = { order: params.get("order") || "-created_at", filter: params.get("filter") || "", offset: 0,
    cols: (params.get("cols") || "").split(",").filter(Boolean), selected: new Set() };
  const filterBox = el("input", { type: "text", id: "filter", placeholder: '{"state": "finished", "config.lr": {"$gt": 0.01}}', value: st.filter });
  const msg = el("span", { class: "error", id: "filter-error" });
  const compare = el("button", { id: "compare", onclick: () => {
    location.href = `${base}/compare?runs=${[...st.selected].map(enc).join(",")}`; } }, "Compare selected");
  const colsBox = el("details", { class: "cols" }, el("summary", {}, "Columns"));
  const tableBox = el("div");
  const pager = el("div", { class: "toolbar" });
  app.replaceChildren(el("h1", {}, fixedFilter ? `Group ${fixedFilter.group}` : `${entity}/${project}`),
    el("div", { class: "toolbar" }, filterBox, el("button", { id: "apply", onclick: () => { st.filter = filterBox.value; st.offset = 0; load(); } }, "Filter"), compare, msg),
    colsBox, tableBox, pager);
  filterBox.addEventListener("keydown", (e) => { if (e.key === "Enter") { st.filter = filterBox.value; st.offset = 0; load(); } });
  async function load() {
    msg.textContent = "";
    let filter = st.filter;
    if (fixedFilter) {
      let f = {};
      try { f = filter.trim() ? JSON.parse(filter) : {}; } catch (e) { msg.textContent = `filter is not JSON: ${e.message}`; return; }
      filter = JSON.stringify({ ...f, ...fixedFilter });
    }
    let page;
    try {
      page = await getJSON(`/api/runs${base}?order=${enc(st.order)}&filter=${enc(filter)}&offset=${st.offset}&limit=50`);
    } catch (e) { msg.textContent = e.message; return; }
    renderCols(page);
    renderTable(page);
    // replaceChildren writes a null argument as the text "null": drop the absent buttons
    pager.replaceChildren(...[el("span", { class: "muted" }, `${page.total} runs`),
      st.offset > 0 ? el("button", { onclick: () => { st.offset -= 50; load(); } }, "Previous") : null,
      st.offset + 50 < page.total ? el("button", { onclick: () => { st.offset += 50; load(); } }, "Next") : null].filter(Boolean));
  }
  function renderCols(page) {
    const boxes = [...page.config_keys.map((k) => `config.${k}`), ...page.summary_keys.map((k) => `summary.${k}`)].map((c) =>
      el("label", {}, el("input", { type: "checkbox", value: c, ...(st.cols.includes(c) ? { checked: "" } : {}),
        onchange: (e) => { st.cols = e.target.checked ? [...st.cols, c] : st.cols.filter((x) => x !== c); load(); } }), c));
    colsBox.replaceChildren(el("summary", {}, "Columns"), boxes);
  }
  function header(label, field) {
    const arrow = st.order.replace(/^[+-]/, "") === field ? (st.order.startsWith("-") ? " ▼" : " ▲") : "";
    return el("th", { onclick: () => { st.order = st.order === `-${field}` ? `+${field}` : `-${field}`; load(); } }, label + arrow);
  }
  function renderTable(page) {
    const head = el("tr", {}, el("th", {}, ""), header("name", "name"), header("state", "state"), header("group", "group"),
      el("th", {}, "tags"), header("created", "created_at"), header("runtime", "runtime"),
      st.cols.map((c) => header(c, c)));
    const rows = page.runs.map((r) => el("tr", { "data-run": r.run_id },
      el("td", {}, el("input", { type: "checkbox", ...(st.selected.has(r.run_id) ? { checked: "" } : {}),
        onchange: (e) => { e.target.checked ? st.selected.add(r.run_id) : st.selected.delete(r.run_id); } })),
      el("td", {}, el("a", { href: `${base}/runs/${enc(r.run_id)}` }, r.name || r.run_id)),
      el("td", {}, el("span", { class: `state ${r.state}` }, r.state)),
      el("td", {}, r.group_name ? el("a", { href: `${base}/groups/${enc(r.group_name)}` }, r.group_name) : ""),
      el("td", {}, (r.tags || []).join(", ")), el("td", {}, when(r.created_at)), el("td", { class: "num" }, duration(r.runtime)),
      st.cols.map((c) => { const [where, key] = [c.split(".")[0], c.slice(c.indexOf(".") + 1)];
        return el("td", { class: "num" }, fmt((r[where] || {})[key])); })));
    tableBox.replaceChildren(el("table", { id: "runs" }, head, rows));
  }
  await load();
  if (fixedFilter) await overlayCharts(app, entity, project, null, fixedFilter);
}

// -- charts ------------------------------------------------------------------------------------
function smooth(values, weight) {
  if (!weight) return values;
  let last = null;
  return values.map((v) => (v === null ? null : (last = last === null ? v : last * weight + (1 - weight) * v)));
}
function chartData(runs, key, view) {
  // one aligned table: x, then per run: min, max, last (the band and the line)
  const tables = runs.map((r) => {
    const s = r.series[key] || { x: [], min: [], max: [], last: [] };
    const pos = (a) => (view.log ? a.map((v) => (v !== null && v > 0 ? v : null)) : a);
    return [s.x, pos(s.min), pos(s.max), pos(smooth(s.last, view.smoothing))];
  });
  return tables.length === 1 ? tables[0] : uPlot.join(tables);
}
function makeChart(box, key, runs, view, onZoom, id) {
  const series = [{ label: view.x }];
  const bands = [];
  runs.forEach((r, i) => {
    const color = COLORS[i % COLORS.length];
    const name = runs.length > 1 ? `${r.label} ` : "";
    series.push({ label: `${name}min`, stroke: "transparent", points: { show: false }, spanGaps: true },
      { label: `${name}max`, stroke: "transparent", points: { show: false }, spanGaps: true },
      { label: `${name}${key}`, stroke: color, width: 1.5, spanGaps: true, points: { show: false } });
    bands.push({ series: [3 * i + 2, 3 * i + 1], fill: color + "33" });
  });
  const holder = el("div", { class: "chart", "data-key": key });
  box.append(holder);
  const opts = {
    title: key, width: 420, height: 240, series, bands,
    scales: { x: { time: false }, y: view.log ? { distr: 3 } : {} },
    legend: { show: true, live: true },
    cursor: { drag: { x: true, y: false, setScale: false } },
    hooks: { setSelect: [(u) => {
      if (u.select.width < 2) return;
      const lo = u.posToVal(u.select.left, "x"), hi = u.posToVal(u.select.left + u.select.width, "x");
      u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
      onZoom(u, lo, hi);
    }] },
  };
  const u = new uPlot(opts, chartData(runs, key, view), holder);
  // the band's edges (min, max) are drawn, not listed: the legend names each run's line once
  u.root.querySelectorAll(".u-legend .u-series").forEach((row, i) => { if (i > 0 && i % 3 !== 0) row.style.display = "none"; });
  holder.addEventListener("dblclick", () => onZoom(u, null, null));
  charts[id] = u;
  return u;
}
function groupByPrefix(keys) {
  const groups = {};
  for (const k of keys) {
    const i = k.lastIndexOf("/");
    (groups[i > 0 ? k.slice(0, i) : "charts"] ||= []).push(k);
  }
  return groups;
}
function seriesUrl(run, keys, view, stream, lo, hi) {
  const q = keys.map((k) => `key=${enc(k)}`).join("&");
  const range = lo !== null && lo !== undefined ? `&lo=${lo}&hi=${hi}` : "";
  return `/api/run/${enc(run.entity)}/${enc(run.project)}/${enc(run.run_id)}/series?${q}&x=${enc(stream === "system" ? "_runtime" : view.x)}&stream=${stream}&buckets=${view.buckets}${range}`;
}

// A panel of charts of several runs (one run on a run page), with the x-axis, log-scale and
// smoothing controls; re-drawn live while any run is running.
function chartPanel(container, runs, keys, stream, view) {
  const panel = el("div");
  container.append(panel);
  let zoom = null;
  let data = [];
  const cid = (k) => (stream === "system" ? `system:${k}` : k);
  async function fetchAll(lo, hi, onlyKeys) {
    if (!keys.length) return runs.map((r) => ({ label: r.name || r.run_id, series: {} }));
    return Promise.all(runs.map((r) => getJSON(seriesUrl(r, onlyKeys || keys, view, stream, lo, hi))
      .then((d) => ({ label: r.name || r.run_id, series: d.series }))));
  }
  let boxes = {}; // prefix -> the group's box of charts
  function clear() {
    panel.replaceChildren();
    boxes = {};
    for (const k of Object.keys(charts)) if (charts[k].__stream === stream) { charts[k].destroy(); delete charts[k]; }
  }
  function draw(only) {
    // all charts again, or (only) the charts of those keys added to what is drawn
    if (!only) clear();
    const groups = groupByPrefix((only || keys).filter((k) => data.some((d) => d.series[k])));
    for (const [prefix, ks] of Object.entries(groups)) {
      if (!boxes[prefix]) panel.append(el("h3", {}, prefix), (boxes[prefix] = el("div", { class: "charts" })));
      for (const k of ks) {
        const u = makeChart(boxes[prefix], k, data, view, async (chart, lo, hi) => {
          zoom = lo === null ? null : [lo, hi];
          const part = await fetchAll(lo, hi, [k]);
          chart.setData(chartData(part, k, view), lo === null);
          if (lo !== null) chart.setScale("x", { min: lo, max: hi });
        }, cid(k));
        u.__stream = stream;
      }
    }
    if (!panel.children.length) panel.append(el("p", { class: "muted" }, "No numeric series."));
  }
  async function drawAll() {
    // the first screenful is asked for and drawn first, the other charts follow: the first
    // chart does not wait for the data of every key
    const ordered = Object.values(groupByPrefix(keys)).flat();
    if (ordered.length <= FIRST_CHARTS) { data = await fetchAll(); return draw(); }
    const rest = ordered.slice(FIRST_CHARTS);
    data = await fetchAll(null, null, ordered.slice(0, FIRST_CHARTS));
    const later = fetchAll(null, null, rest); // the server reads these while the page draws
    clear(); // the charts drawn before stay until the new data is there
    draw(ordered.slice(0, FIRST_CHARTS));
    const more = await later;
    data = data.map((d, i) => ({ label: d.label, series: { ...d.series, ...more[i].series } }));
    draw(rest);
  }
  return {
    async refresh(full) {
      if (full || Object.keys(charts).length === 0) return drawAll();
      data = await fetchAll();
      if (zoom) return; // the user is looking at a range: leave it
      for (const k of keys) if (charts[cid(k)]) charts[cid(k)].setData(chartData(data, k, view));
      if (keys.some((k) => !charts[cid(k)] && data.some((d) => d.series[k]))) draw();
    },
  };
}
function chartControls(view, xKeys, onChange) {
  const xSel = el("select", { id: "x-axis", onchange: (e) => { view.x = e.target.value; onChange(); } },
    xKeys.map((k) => el("option", { value: k, ...(k === view.x ? { selected: "" } : {}) }, k)));
  const log = el("input", { type: "checkbox", id: "log-scale", onchange: (e) => { view.log = e.target.checked; onChange(); } });
  const sm = el("input", { type: "range", id: "smoothing", min: "0", max: "0.99", step: "0.01", value: "0",
    onchange: (e) => { view.smoothing = Number(e.target.value); onChange(); } });
  return el("div", { class: "toolbar" }, el("label", {}, "x axis ", xSel), el("label", {}, log, " log scale"),
    el("label", {}, "smoothing ", sm), el("span", { class: "muted" }, "drag to zoom (full resolution), double-click to reset"));
}
function chartKeys(run) {
  // media keys (their summary is a typed reference) are in the media panel, not charts
  const media = (k) => { const v = (run.summary || {})[k]; return v !== null && typeof v === "object" && "_type" in v; };
  return (run.history_keys || []).filter((k) => !k.startsWith("_") && !media(k));
}

// -- media panel -------------------------------------------------------------------------------
// Per media key: the item(s) at one step, and a slider over the steps that hold the key.
const mediaCharts = {}; // key -> uPlot of a histogram (tests read window.trackerMediaCharts)
window.trackerMediaCharts = mediaCharts;
// A tracker.plot chart's table as uPlot data: lines (one per group: stroke, class, lineKey),
// points (scatter) or bars; null for kinds drawn as the table alone (confusion matrix...).
const PLOT_ROLES = { line: ["x", "y", "stroke"], scatter: ["x", "y", null], pr_curve: ["x", "y", "class"],
  roc_curve: ["x", "y", "class"], line_series: ["step", "lineVal", "lineKey"], bar: ["label", "value", null] };
function plotData(spec, t) {
  const roles = PLOT_ROLES[spec.kind];
  const f = spec.fields || {};
  if (!roles) return null;
  const [xi, yi] = [t.columns.indexOf(f[roles[0]]), t.columns.indexOf(f[roles[1]])];
  const gi = roles[2] ? t.columns.indexOf(f[roles[2]]) : -1;
  if (xi < 0 || yi < 0) return null;
  if (spec.kind === "bar") {
    const rows = t.rows.filter((r) => typeof r[yi] === "number");
    return { names: [f.value], labels: rows.map((r) => fmt(r[xi])), data: [rows.map((_, i) => i), rows.map((r) => r[yi])] };
  }
  const groups = new Map();
  for (const r of t.rows) {
    if (typeof r[xi] !== "number" || typeof r[yi] !== "number") continue;
    const g = gi >= 0 ? fmt(r[gi]) : f[roles[1]];
    if (!groups.has(g)) groups.set(g, []);
    groups.get(g).push([r[xi], r[yi]]);
  }
  if (!groups.size) return null;
  const tables = [...groups.values()].map((pts) => {
    pts.sort((a, b) => a[0] - b[0]);
    return [pts.map((p) => p[0]), pts.map((p) => p[1])];
  });
  return { names: [...groups.keys()], data: tables.length === 1 ? tables[0] : uPlot.join(tables) };
}
function plotChart(holder, key, spec, t) {
  const p = plotData(spec, t);
  if (!p) return;
  const style = (i) => {
    const color = COLORS[i % COLORS.length];
    if (spec.kind === "scatter") return { stroke: color, paths: () => null, points: { show: true, size: 5, fill: color } };
    if (spec.kind === "bar") return { stroke: color, fill: color + "88", paths: uPlot.paths.bars({ size: [0.6] }), points: { show: false } };
    return { stroke: color, width: 1.5, points: { show: false }, spanGaps: true };
  };
  const axes = p.labels ? [{ splits: () => p.labels.map((_, i) => i), values: (u, ticks) => ticks.map((v) => p.labels[v] ?? "") }, {}] : undefined;
  if (mediaCharts[key]) mediaCharts[key].destroy();
  // bars stand on 0, the first and last whole
  const scales = p.labels ? { x: { time: false, range: () => [-0.5, p.labels.length - 0.5] },
    y: { range: (u, lo, hi) => [Math.min(0, lo), Math.max(0, hi) * 1.05] } } : { x: { time: false } };
  mediaCharts[key] = new uPlot({ title: spec.title || "", width: 420, height: 240, scales,
    series: [{ label: spec.fields[PLOT_ROLES[spec.kind][0]] }, ...p.names.map((n, i) => ({ label: n, ...style(i) }))],
    ...(axes ? { axes } : {}) }, p.data, holder);
}

function mediaPanel(box, run) {
  const base = `${enc(run.entity)}/${enc(run.project)}/${enc(run.run_id)}`;
  const fileUrl = (root, path) => `/${root}/${base}/${path.split("/").map(enc).join("/")}`;
  const sections = {}; // key -> {slider, at, view, steps}
  function histogram(holder, key, ref) {
    const edges = ref.bins || [], counts = ref.values || [];
    if (mediaCharts[key]) mediaCharts[key].destroy();
    mediaCharts[key] = new uPlot({ width: 320, height: 160, legend: { show: false },
      scales: { x: { time: false } },
      series: [{}, { stroke: COLORS[0], fill: COLORS[0] + "55", paths: uPlot.paths.stepped({ align: 1 }) }] },
    [edges, [...counts, counts.length ? counts[counts.length - 1] : null]], holder);
  }
  function table(holder, key, ref) {
    holder.append(el("p", { class: "muted" }, "loading table…"));
    const spec = ref.chart ? (typeof ref.chart === "string" ? JSON.parse(ref.chart) : ref.chart) : null;
    // a tracker.plot chart is drawn from (up to) 1,000 of its table's rows; a table shows 100
    getJSON(`/api/run/${base}/table?path=${enc(ref.path)}&limit=${spec ? 1000 : TABLE_ROWS}`).then((t) => {
      const cell = (v) => (v && typeof v === "object" && v._type === "image-file" && v.path
        ? el("img", { src: fileUrl("media", v.path), alt: v.caption || "" }) : fmt(v));
      const rows = t.rows.slice(0, TABLE_ROWS);
      const chart = el("div", { class: "plot" });
      holder.replaceChildren(chart, el("table", { class: "media-table" },
        el("tr", {}, t.columns.map((c) => el("th", {}, c))),
        rows.map((r) => el("tr", {}, r.map((v) => el("td", {}, cell(v)))))),
      el("p", { class: "muted" }, `${rows.length} of ${t.total} rows `,
        el("a", { href: fileUrl("files", ref.path), download: "" }, "download")));
      if (spec) plotChart(chart, key, spec, t);
    }).catch((e) => holder.replaceChildren(el("p", { class: "error" }, e.message)));
  }
  function item(key, ref) {
    const holder = el("figure", { class: "media-item" });
    const path = ref.path || "";
    if (ref._type === "histogram") histogram(holder, key, ref);
    else if (ref._type === "table-file") table(holder, key, ref);
    else if (ref._type === "image-file" || (ref._type === "video-file" && path.endsWith(".gif")))
      holder.append(el("img", { src: fileUrl("media", path), alt: ref.caption || key }));
    else if (ref._type === "video-file") holder.append(el("video", { src: fileUrl("media", path), controls: "" }));
    else holder.append(el("a", { href: fileUrl("files", path), download: "" }, path));
    if (ref.caption) holder.append(el("figcaption", {}, ref.caption));
    return holder;
  }
  function show(key, i) {
    const s = sections[key];
    s.index = i;
    s.at.textContent = `step ${s.steps[i].step} (${i + 1} of ${s.steps.length})`;
    s.view.replaceChildren(...s.steps[i].items.map((ref) => item(key, ref)));
  }
  return {
    async refresh() {
      const { media } = await getJSON(`/api/run/${base}/media`);
      if (!media.length && !Object.keys(sections).length) { box.replaceChildren(el("p", { class: "muted" }, "none")); return; }
      if (!Object.keys(sections).length) box.replaceChildren();
      for (const m of media) {
        let s = sections[m.key];
        if (!s) {
          s = sections[m.key] = { steps: [], at: el("span", { class: "step" }), view: el("div", { class: "media-view" }) };
          s.slider = el("input", { type: "range", class: "step-slider", min: "0", value: "0",
            oninput: (e) => show(m.key, Number(e.target.value)) });
          box.append(el("div", { class: "media", "data-key": m.key }, el("h3", {}, m.key),
            el("div", { class: "toolbar" }, s.slider, s.at), s.view));
        }
        if (s.steps.length === m.steps.length) continue;
        const follow = s.index === undefined || s.index === s.steps.length - 1; // on the newest step: stay there
        s.steps = m.steps;
        s.slider.max = String(m.steps.length - 1);
        const i = follow ? m.steps.length - 1 : s.index;
        s.slider.value = String(i);
        show(m.key, i);
      }
    },
  };
}

async function runPage(app, entity, project, runId) {
  const base = `/${enc(entity)}/${enc(project)}`;
  const url = `/api/run${base}/${enc(runId)}`;
  let run = await getJSON(url);
  crumbs([["projects", "/"], [`${entity}/${project}`, base], [run.name || runId, null]]);
  const view = { x: "_step", log: false, smoothing: 0, buckets: 1000 };
  const head = el("div");
  const overview = el("div");
  const output = el("pre", { id: "output" });
  const chartsBox = el("div", { id: "charts" });
  const systemBox = el("div", { id: "system" });
  const mediaBox = el("div", { id: "media" });
  app.replaceChildren(head, chartControls(view, ["_step", "_runtime", "_timestamp", ...chartKeys(run)], () => panel.refresh(true)),
    chartsBox, el("h2", {}, "Media"), mediaBox, el("h2", {}, "System metrics"), systemBox, overview, el("h2", {}, "Output"), output);
  const media = mediaPanel(mediaBox, run);
  let panel = chartPanel(chartsBox, [run], chartKeys(run), "history", view);
  const sysKeys = (run.system_keys || []).filter((k) => !k.startsWith("_"));
  const sysPanel = chartPanel(systemBox, [run], sysKeys, "system", view);
  let outOffset = 0;
  function renderHead() {
    head.replaceChildren(...[el("h1", {}, run.name || run.run_id, " ", el("span", { class: `state ${run.state}`, id: "run-state" }, run.state)),
      run.notes ? el("p", { id: "notes" }, run.notes) : null].filter(Boolean));
    overview.replaceChildren(
      el("h2", {}, "Overview"), kvTable({ id: run.run_id, state: run.state, group: run.group_name, job_type: run.job_type,
        tags: (run.tags || []).join(", "), created: when(run.created_at), runtime: duration(run.runtime), host: run.host, user: run.user,
        last_step: run.last_step }),
      el("h2", {}, "Config"), kvTable(run.config), el("h2", {}, "Summary"), kvTable(run.summary),
      el("h2", {}, "Metadata"), el("pre", {}, JSON.stringify(run.metadata || {}, null, 1)),
      el("h2", {}, "Files"), run.files.length ? el("table", { id: "files" }, run.files.map((f) => el("tr", {},
        el("td", {}, el("a", { href: `/files${base}/${enc(runId)}/${f.name.split("/").map(enc).join("/")}`, download: "" }, f.name)),
        el("td", { class: "num" }, f.size)))) : el("p", { class: "muted" }, "none"),
      el("h2", {}, "Alerts"), run.alerts.length ? el("table", { id: "alerts" }, run.alerts.map((a) => el("tr", {},
        el("td", {}, when(a.time)), el("td", {}, a.level), el("td", {}, a.title), el("td", {}, a.text), el("td", {}, a.outcome))))
        : el("p", { class: "muted" }, "none"));
  }
  async function readOutput() {
    const out = await getJSON(`${url}/output?offset=${outOffset}`);
    if (out.text) output.append(out.text);
    outOffset = out.offset;
  }
  const running = () => !["finished", "failed", "crashed", "preempted"].includes(run.state);
  renderHead();
  setLive(running()); // before the first charts: a running run shows as live at once
  await panel.refresh(true);
  await Promise.all([sysPanel.refresh(true), readOutput(), media.refresh()]);
  let ticks = 0;
  async function tick() {
    run = await getJSON(url);
    const keys = chartKeys(run);
    if (keys.length !== panel.keys) {
      chartsBox.replaceChildren();
      panel = chartPanel(chartsBox, [run], keys, "history", view);
      panel.keys = keys.length;
      await panel.refresh(true);
    } else await panel.refresh(false);
    // media index every 3rd tick: it reads the media columns of every part again
    await Promise.all([sysPanel.refresh(false), readOutput(), ++ticks % 3 ? null : media.refresh()]);
    renderHead();
    setLive(running());
    if (running() && location.pathname === window.__page) timer = setTimeout(tick, POLL_MS);
  }
  panel.keys = chartKeys(run).length;
  if (running()) timer = setTimeout(tick, POLL_MS);
}

async function overlayCharts(app, entity, project, ids, group) {
  const base = `/${enc(entity)}/${enc(project)}`;
  if (!ids) {
    const page = await getJSON(`/api/runs${base}?filter=${enc(JSON.stringify(group))}&limit=20`);
    ids = page.runs.map((r) => r.run_id);
  }
  const runs = await Promise.all(ids.map((id) => getJSON(`/api/run${base}/${enc(id)}`)));
  const keys = [...new Set(runs.flatMap(chartKeys))];
  const view = { x: "_step", log: false, smoothing: 0, buckets: 1000 };
  const box = el("div", { id: "charts" });
  app.append(el("h2", {}, `Charts of ${runs.length} runs`),
    chartControls(view, ["_step", "_runtime", "_timestamp", ...keys], () => panel.refresh(true)), box);
  const panel = chartPanel(box, runs, keys, "history", view);
  await panel.refresh(true);
}

async function comparePage(app, entity, project) {
  const base = `/${enc(entity)}/${enc(project)}`;
  const ids = (new URLSearchParams(location.search).get("runs") || "").split(",").filter(Boolean);
  crumbs([["projects", "/"], [`${entity}/${project}`, base], ["compare", null]]);
  app.replaceChildren(el("h1", {}, `Compare ${ids.length} runs`), el("p", { class: "muted" }, ids.join(", ")));
  await overlayCharts(app, entity, project, ids, null);
}

// -- routing -----------------------------------------------------------------------------------
async function route() {
  clearTimeout(timer);
  window.__page = location.pathname;
  const app = document.getElementById("app");
  const parts = location.pathname.split("/").filter(Boolean).map(decodeURIComponent);
  try {
    if (parts.length === 0) await projectsPage(app);
    else if (parts.length === 2) { crumbs([["projects", "/"], [`${parts[0]}/${parts[1]}`, null]]); await runsPage(app, parts[0], parts[1], null); }
    else if (parts.length === 4 && parts[2] === "runs") await runPage(app, parts[0], parts[1], parts[3]);
    else if (parts.length === 4 && parts[2] === "groups") {
      crumbs([["projects", "/"], [`${parts[0]}/${parts[1]}`, `/${enc(parts[0])}/${enc(parts[1])}`], [`group ${parts[3]}`, null]]);
      await runsPage(app, parts[0], parts[1], { group: parts[3] });
    } else if (parts.length === 3 && parts[2] === "compare") await comparePage(app, parts[0], parts[1]);
    else app.replaceChildren(el("p", { class: "error" }, "No such page."));
  } catch (e) {
    app.replaceChildren(el("p", { class: "error", id: "page-error" }, e.message));
  }
  document.body.dataset.ready = "1";
}
document.addEventListener("DOMContentLoaded", route);

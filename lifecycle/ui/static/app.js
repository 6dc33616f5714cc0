// The release view's page: routes by path, reads /api/*, redraws when /api/events says so.
// Every text from the cluster goes through textContent (never innerHTML). No polling.
"use strict";

const main = document.getElementById("main");
let refreshTimer = null;

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("data-") || key === "href" || key === "title" || key === "style") {
      node.setAttribute(key, value);
    } else node[key] = value;
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const badge = (state, cls) => el("span", { class: `badge ${cls || "s-" + state}`, text: state });
const enc = encodeURIComponent;

function seconds(value) {
  if (value === null || value === undefined) return "";
  if (value < 1) return `${Math.round(value * 1000)} ms`;
  if (value < 120) return `${value.toFixed(1)} s`;
  return `${Math.floor(value / 60)} m ${Math.round(value % 60)} s`;
}

function when(stamp) {
  if (!stamp) return "";
  const d = new Date(stamp);
  return isNaN(d) ? stamp : d.toLocaleString();
}

async function getJSON(path) {
  const response = await fetch(path, { headers: { Accept: "application/json" } });
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

// --- pages ------------------------------------------------------------------------------------

async function applicationsPage(only) {
  const data = await getJSON("/api/applications");
  const apps = data.applications.filter((a) => !only || (a.namespace === only.namespace && a.app === only.app));
  const page = [el("h1", { text: only ? `${only.namespace}/${only.app}` : "Applications" })];
  if (!apps.length) page.push(el("p", { class: "muted", text: "No KeptnAppVersions yet." }));
  for (const app of apps) {
    const rows = app.versions.map((v) =>
      el("tr", { "data-version": v.version, "data-state": v.state, "data-name": v.name },
        el("td", {}, el("a", { href: `/appversions/${enc(v.namespace)}/${enc(v.name)}`, text: v.version })),
        el("td", { text: v.revision }),
        el("td", {}, badge(v.state)),
        el("td", { text: v.phase }),
        el("td", { text: seconds(v.seconds) }),
        el("td", { text: when(v.start) }),
        el("td", { class: "reason", text: v.reason })));
    page.push(el("section", { class: "card", "data-app": app.app, "data-namespace": app.namespace },
      el("div", { class: "title" },
        el("strong", {}, el("a", { href: `/apps/${enc(app.namespace)}/${enc(app.app)}`, text: app.app })),
        el("span", { class: "muted", text: app.namespace }),
        el("a", { href: `/quality/apps/${enc(app.namespace)}/${enc(app.app)}`, text: "release quality" })),
      el("table", {},
        el("thead", {}, el("tr", {}, ...["version", "revision", "state", "phase", "took", "started", "last error"]
          .map((h) => el("th", { text: h })))),
        el("tbody", {}, ...rows))));
  }
  if (!only && data.definitions.length) {
    page.push(el("h2", { text: "Analysis definitions" }));
    page.push(el("ul", {}, ...data.definitions.map((d) => el("li", { "data-definition": d.name },
      el("a", { href: `/quality/definitions/${enc(d.namespace)}/${enc(d.name)}`, text: `${d.namespace}/${d.name}` }),
      el("span", { class: "muted", text: ` · ${d.analyses} analyses` })))));
  }
  return page;
}

function timelineView(tl) {
  const rows = tl.bars.map((bar) => {
    const left = Math.min(bar.left * 100, 99.5);
    const width = Math.max(bar.width * 100, 0.3);
    const track = el("div", { class: "track" },
      el("div", {
        class: `bar s-${bar.state}`, style: `left:${left}%;width:${width}%`,
        title: `${bar.label}: ${bar.state}, ${seconds(bar.seconds)}${bar.note ? " — " + bar.note : ""}`,
        "data-label": bar.label, "data-state": bar.state, "data-depth": bar.depth,
      }),
      el("span", { class: "secs", style: left + width > 80 ? `right:${100 - left + 0.5}%` : `left:${left + width + 0.5}%`,
        text: seconds(bar.seconds) }));
    return el("div", { class: `row d${Math.min(bar.depth, 5)}` },
      el("div", { class: "label", title: bar.label, text: bar.label }), track,
      bar.note && bar.state === "Failed" ? el("div", { class: "note", text: bar.note }) : null);
  });
  return el("div", { class: "timeline", "data-title": tl.title }, ...rows);
}

async function appVersionPage(namespace, name) {
  const data = await getJSON(`/api/appversions/${enc(namespace)}/${enc(name)}`);
  const v = data.appVersion;
  const trace = data.traceId
    ? (data.traceUrl ? el("a", { href: data.traceUrl, text: data.traceId, "data-trace": data.traceId })
      : el("code", { text: data.traceId, "data-trace": data.traceId }))
    : el("span", { class: "muted", text: "none" });
  const page = [
    el("h1", {}, `${name} `, badge(v.state)),
    el("div", { class: "meta" },
      el("span", {}, "app ", el("a", { href: `/apps/${enc(namespace)}/${enc(data.app)}`, text: data.app })),
      el("span", { text: `version ${v.version} · revision ${v.revision}` }),
      el("span", { text: `phase ${v.phase}` }),
      el("span", { text: `took ${seconds(v.seconds)}` }),
      el("span", {}, "trace ", trace),
      el("a", { href: `/quality/apps/${enc(namespace)}/${enc(data.app)}`, text: "release quality" })),
  ];
  if (v.reason) page.push(el("p", { class: "reason", "data-reason": "", text: v.reason }));
  page.push(el("h2", { text: "Timeline" }), timelineView(data.timeline));
  page.push(el("h2", { text: "Tasks" }));
  page.push(data.tasks.length ? el("div", { class: "card" }, el("table", {},
    el("thead", {}, el("tr", {}, ...["task", "definition", "type", "workload", "status", "message / last log lines"]
      .map((h) => el("th", { text: h })))),
    el("tbody", {}, ...data.tasks.map((t) => el("tr", { "data-task": t.name, "data-state": t.status },
      el("td", { text: t.name }), el("td", { text: t.definition }), el("td", { text: t.type }),
      el("td", { text: t.workload }), el("td", {}, badge(t.status)),
      el("td", {}, t.message ? el("div", { class: "reason", text: t.message }) : null,
        t.logs ? el("pre", { class: "logs", text: t.logs }) : null))))))
    : el("p", { class: "muted", text: "No tasks." }));
  page.push(el("h2", { text: "Events" }));
  page.push(el("div", { class: "card" }, el("table", {},
    el("thead", {}, el("tr", {}, ...["time", "type", "reason", "object", "message"].map((h) => el("th", { text: h })))),
    el("tbody", {}, ...data.events.map((e) => el("tr", { "data-reason": e.reason },
      el("td", { text: when(e.time) }), el("td", { text: e.type }), el("td", { text: e.reason }),
      el("td", { text: e.object }), el("td", { text: e.message })))))));
  return page;
}

function heatmapView(heat, linkColumns, namespace) {
  const head = el("tr", {}, el("th", { class: "obj", text: "objective" }), ...heat.columns.map((c) =>
    el("th", { "data-col": c.name },
      linkColumns ? el("a", { href: `/appversions/${enc(namespace)}/${enc(c.name)}`, text: c.label }) : el("span", { text: c.label }),
      el("div", {}, badge(c.state)))));
  const body = heat.rows.map((row) => el("tr", { "data-row": row }, el("td", { class: "obj", text: row }),
    ...heat.columns.map((c) => {
      const cell = c.cells[row];
      if (!cell) return el("td", { class: "cell empty", "data-col": c.name, "data-row": row, text: "—" });
      return el("td", {
        class: `cell r-${cell.result}`, "data-col": c.name, "data-row": row, "data-result": cell.result,
        "data-value": cell.value, "data-score": cell.score === null ? "" : cell.score, title: cell.reason,
      },
      el("div", { class: "value", text: cell.value === "" ? "—" : cell.value }),
      el("div", { text: `target ${cell.target || "—"}` }),
      cell.baseline ? el("div", { "data-baseline": cell.baseline, text: `baseline ${cell.baseline}` }) : null,
      el("div", { text: `score ${cell.score === null ? "—" : cell.score}` }),
      el("div", { class: "why", text: cell.reason }));
    })));
  const foot = el("tr", {}, el("td", { class: "obj", text: "total · verdict" }), ...heat.columns.map((c) =>
    el("td", { class: `cell r-${c.verdict}`, "data-col": c.name, "data-verdict": c.verdict, "data-total": c.score, title: c.reason },
      el("div", { class: "value", text: c.score || "—" }), el("div", { text: c.verdict }),
      el("div", { class: "why", text: c.reason }))));
  return el("div", { class: "heat card" }, el("table", {}, el("thead", {}, head), el("tbody", {}, ...body), el("tfoot", {}, foot)));
}

async function appQualityPage(namespace, app) {
  const heat = await getJSON(`/api/quality/apps/${enc(namespace)}/${enc(app)}`);
  return [el("h1", {}, "Release quality: ", el("a", { href: `/apps/${enc(namespace)}/${enc(app)}`, text: app })),
    el("p", { class: "muted", text: "Evaluation objectives × versions (oldest first); each objective weighs 1." }),
    heat.columns.length ? heatmapView(heat, true, namespace) : el("p", { class: "muted", text: "No versions." })];
}

async function definitionQualityPage(namespace, name) {
  const heat = await getJSON(`/api/quality/definitions/${enc(namespace)}/${enc(name)}`);
  return [el("h1", { text: `Release quality: AnalysisDefinition ${namespace}/${name}` }),
    el("p", { class: "muted", text: "Objectives × analyses (oldest first): value, target, score and reason; total score and verdict below." }),
    heat.columns.length ? heatmapView(heat, false, namespace) : el("p", { class: "muted", text: "No analyses." })];
}

// --- routing and live updates ------------------------------------------------------------------

function route() {
  const parts = location.pathname.split("/").filter(Boolean).map(decodeURIComponent);
  if (parts[0] === "appversions" && parts.length === 3) return () => appVersionPage(parts[1], parts[2]);
  if (parts[0] === "apps" && parts.length === 3) return () => applicationsPage({ namespace: parts[1], app: parts[2] });
  if (parts[0] === "quality" && parts[1] === "apps" && parts.length === 4) return () => appQualityPage(parts[2], parts[3]);
  if (parts[0] === "quality" && parts[1] === "definitions" && parts.length === 4) return () => definitionQualityPage(parts[2], parts[3]);
  return () => applicationsPage(null);
}

async function render() {
  try {
    const nodes = await route()();
    main.replaceChildren(...nodes);
    main.dataset.rendered = String(Number(main.dataset.rendered || 0) + 1);
  } catch (error) {
    main.replaceChildren(el("p", { class: "reason", text: `Cannot show this page: ${error.message}` }));
  }
}

function connect() {
  const live = document.getElementById("live");
  const source = new EventSource("/api/events");
  source.onopen = () => { live.className = "live on"; live.textContent = "live"; };
  source.onerror = () => { live.className = "live off"; live.textContent = "reconnecting"; };
  source.onmessage = () => {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(render, 150);
  };
}

render();
connect();

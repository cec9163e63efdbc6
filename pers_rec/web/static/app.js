// pers-rec serve: the page. Plain JavaScript; every string from the library goes in with textContent,
// names inside <bdi> so that a right-to-left override in a tag stays inside its own name.
"use strict";
const CSRF = document.querySelector('meta[name="csrf-token"]').content;
const $ = (id) => document.getElementById(id);
const state = { offset: 0, limit: 100, total: 0, q: "", current: null, a: null, version: -1, playlist: [],
                rows: [], selected: -1, errorTimer: null, passing: false, dismissed: "", map: null };

async function api(path, options = {}) {
  const r = await fetch(path, { ...options, headers: { "Content-Type": "application/json", "X-CSRF-Token": CSRF,
                                                        ...(options.headers || {}) } });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) { showError(body.error || `${path}: HTTP ${r.status}`, true); throw new Error(body.error); }
  return { ...body, httpStatus: r.status };
}

// A request's error shows for 8 s; the server's job error stays until the next job starts. Both can be dismissed.
function showError(text, passing = false) {
  $("errortext").textContent = text; $("error").hidden = !text;
  clearTimeout(state.errorTimer); state.passing = Boolean(text && passing);
  if (state.passing) state.errorTimer = setTimeout(() => showError(""), 8000);
}

function bdi(text) { const b = document.createElement("bdi"); b.textContent = text ?? ""; return b; }

function nameNode(t) {
  const span = document.createElement("span");
  if (t.artist) { span.appendChild(bdi(t.artist)); span.appendChild(document.createTextNode(" – ")); }
  span.appendChild(bdi(t.title || t.file));
  return span;
}

function name(t) { return [t.artist, t.title || t.file].filter(Boolean).join(" - "); }

function cell(tr, content, cls) {
  const td = document.createElement("td");
  if (content instanceof Node) td.appendChild(content); else td.appendChild(bdi(content));
  if (typeof content === "string" && content) td.title = content;
  if (cls) td.className = cls; tr.appendChild(td); return td;
}

function button(text, label, onclick) {
  const b = document.createElement("button"); b.textContent = text; b.setAttribute("aria-label", label);
  b.addEventListener("click", onclick); return b;
}

function fmt(x) { return x === null || x === undefined ? "" : x.toFixed(3); }

function listItem(t, extra = "") {
  const li = document.createElement("li"); li.track = t; li.appendChild(nameNode(t));
  if (extra) li.appendChild(document.createTextNode(extra));
  li.title = name(t) + extra;
  if (!t.error) li.appendChild(button("▶", `play ${name(t)}`, () => play(t)));
  return li;
}

async function loadRows() {
  const p = new URLSearchParams({ offset: state.offset, limit: state.limit, q: state.q });
  const data = await api(`/api/tracks?${p}`);
  state.total = data.total; state.rows = data.rows; state.selected = Math.min(state.selected, data.rows.length - 1);
  const body = $("rows"); body.replaceChildren();
  data.rows.forEach((t, k) => {
    const tr = document.createElement("tr"); tr.dataset.id = t.id;
    tr.className = [state.current && state.current.id === t.id ? "playing" : "", k === state.selected ? "selected" : "",
                    t.error ? "broken" : ""].join(" ").trim();
    if (t.error) tr.title = `cannot be played: ${t.error}`;
    cell(tr, String(t.rank ?? "")); cell(tr, fmt(t.score ?? t.quick)); cell(tr, t.artist); cell(tr, t.title || t.file);
    cell(tr, t.album); cell(tr, t.best_start_s === null || t.best_start_s === undefined ? "" : `${t.best_start_s.toFixed(0)} s`);
    const td = document.createElement("td");
    if (!t.error) td.appendChild(button("▶", `play ${name(t)}`, () => play(t)));
    tr.appendChild(td);
    cell(tr, t.label === 1 ? "👍 liked" : t.label === 0 ? "👎 disliked" : "", t.label === 1 ? "like" : t.label === 0 ? "dislike" : "");
    const j = document.createElement("td");
    j.appendChild(button("👍 like", `like ${name(t)}`, () => judgeTrack(t, 1)));
    j.appendChild(button("👎 no", `dislike ${name(t)}`, () => judgeTrack(t, 0)));
    tr.appendChild(j);
    body.appendChild(tr);
  });
  $("count").textContent = `${data.total ? state.offset + 1 : 0}-${Math.min(state.offset + state.limit, data.total)} of ${data.total}`;
}

function play(t) {
  if (t.error) { showError(`cannot play ${name(t)}: ${t.error}`, true); return; }
  state.current = t;
  $("now").replaceChildren(nameNode(t)); $("now").title = name(t);
  const audio = $("audio");
  audio.src = `/api/audio/${t.id}`;
  const start = t.best_start_s || 0;
  audio.addEventListener("loadedmetadata", () => { if (start) audio.currentTime = start; }, { once: true });
  audio.play().catch(() => {});
  for (const tr of $("rows").children) tr.classList.toggle("playing", Number(tr.dataset.id) === t.id);
  why(t).catch(() => {});
}

$("audio").addEventListener("error", () => {
  // the server answered 422 (not audio, unreadable): say so, and leave the track for the next asked one
  if (state.current) { showError(`cannot play ${name(state.current)}`, true); loadQueue(); }
});

async function why(t) {
  const data = await api(`/api/why/${t.id}`);
  const c = $("timeline"), g = c.getContext("2d"); g.clearRect(0, 0, c.width, c.height);
  if (data.windows && data.windows.length) {
    const w = c.width / data.windows.length;
    data.windows.forEach((s, i) => { g.fillStyle = `hsl(${120 * s}, 60%, 45%)`; g.fillRect(i * w, c.height * (1 - s), Math.max(1, w - 1), c.height * s); });
  }
  $("similar").replaceChildren(...data.similar_liked.map((s) => listItem(s, ` (cosine ${s.cosine})`)));
}

async function judgeTrack(t, label) {
  await api("/api/judge", { method: "POST", body: JSON.stringify({ id: t.id, label }) });
  await Promise.all([loadRows(), loadQueue(), loadStatus()]);
}

async function judge(label) {
  if (!state.current) return;
  await judgeTrack(state.current, label);
  const next = [...$("asked").children].find((li) => li.track && !li.track.error);
  if (next) play(next.track);
}

async function loadQueue() {
  const mode = document.querySelector('input[name="mode"]:checked').value;
  const data = await api(`/api/ask?mode=${mode}&n=10`);
  $("asked").replaceChildren(...data.rows.map((t) => listItem(t)));
}

function modelButton(id, info, text) {
  const b = $(id); b.hidden = !info;
  if (info) b.textContent = `${text} (${info.name}, ROC-AUC ${info.roc_auc === null ? "n/a" : fmt(info.roc_auc)})`;
}

async function loadStatus() {
  const s = await api("/api/status");
  const rep = s.report ? ` · model ROC-AUC ${fmt(s.report.roc_auc)} (baseline ${fmt(s.report.baseline)}, cross-validated)` : "";
  const broken = s.unplayable ? ` · ${s.unplayable} unplayable` : "";
  $("summary").textContent = `${s.tracks} tracks · ${s.likes} liked · ${s.dislikes} disliked${broken}${rep}`;
  const bar = $("bar");
  bar.hidden = !s.job;
  if (s.job) { bar.max = Math.max(1, s.total); bar.value = s.done; }
  $("phase").textContent = s.job ? `${s.job}: ${s.phase} ${s.done}/${s.total}` : s.message;
  $("retrain").disabled = Boolean(s.job);
  modelButton("previous", s.job ? null : s.previous, "↶ Back to the previous model");
  modelButton("candidate", s.job ? null : s.candidate, "Use the new model anyway");
  if (s.error && s.error !== state.dismissed) showError(s.error); else if (!state.passing) showError("");
  if (s.version !== state.version) { state.version = s.version; await Promise.all([loadRows(), loadQueue()]); }
  return s;
}

function showPlaylist(rows) {
  state.playlist = rows;
  $("playlist").replaceChildren(...rows.map((t) => listItem(t)));
  const a = $("m3u"); a.href = `/api/playlist.m3u8?ids=${rows.map((t) => t.id).join(",")}`; a.hidden = !rows.length;
}

function mapXY(c, p) { return [5 + p.x * (c.width - 10), 5 + p.y * (c.height - 10)]; }

function nearestPoint(e) {
  const c = $("map"), r = c.getBoundingClientRect();
  const x = (e.clientX - r.left) * c.width / r.width, y = (e.clientY - r.top) * c.height / r.height;
  let best = null, d = 1e9;
  for (const p of state.map || []) { const [px, py] = mapXY(c, p), dd = (px - x) ** 2 + (py - y) ** 2; if (dd < d) { d = dd; best = p; } }
  return d < 100 ? best : null;
}

async function drawMap() {
  $("showmap").disabled = true;
  let data = await api("/api/map");
  while (data.httpStatus === 202) {  // drawn in the background: say how long it has taken so far
    $("mapstate").textContent = `drawing the map of ${data.tracks} tracks… ${data.elapsed_s.toFixed(0)} s`;
    await new Promise((ok) => setTimeout(ok, 1000));
    data = await api("/api/map");
  }
  $("mapstate").textContent = `${data.points.length} tracks`; $("showmap").disabled = false;
  state.map = data.points;
  const c = $("map"), g = c.getContext("2d"); c.hidden = false; $("legend").hidden = false; g.clearRect(0, 0, c.width, c.height);
  for (const p of data.points) {
    const s = p.score ?? p.quick ?? 0.5, [x, y] = mapXY(c, p);
    g.fillStyle = p.error ? "#bbb" : `hsl(${120 * s}, 60%, 45%)`; g.beginPath(); g.arc(x, y, 3, 0, 7); g.fill();
  }
  const labels = (await api("/api/tracks?limit=500&q=")).rows;  // ring the judged tracks of the first page
  for (const t of labels.filter((t) => t.label !== null && t.label !== undefined)) {
    const p = data.points.find((q) => q.id === t.id); if (!p) continue;
    const [x, y] = mapXY(c, p); g.strokeStyle = "#000";
    if (t.label === 1) { g.beginPath(); g.arc(x, y, 6, 0, 7); g.stroke(); } else g.strokeRect(x - 5, y - 5, 10, 10);
  }
  c.onclick = (e) => { const p = nearestPoint(e); if (p) play(p); };
  c.onmousemove = (e) => {
    const p = nearestPoint(e), tip = $("tip");
    tip.hidden = !p; if (!p) return;
    tip.replaceChildren(nameNode(p), document.createTextNode(` · ${fmt(p.score ?? p.quick)}`));
    tip.style.left = `${e.offsetX + 12}px`; tip.style.top = `${e.offsetY + 12}px`;
  };
  c.onmouseleave = () => { $("tip").hidden = true; };
}

function select(k) {
  if (!state.rows.length) return;
  state.selected = Math.max(0, Math.min(state.rows.length - 1, k));
  [...$("rows").children].forEach((tr, i) => tr.classList.toggle("selected", i === state.selected));
  $("rows").children[state.selected].scrollIntoView({ block: "nearest" });
}

function target() { return state.rows[state.selected] || state.current; }

document.addEventListener("keydown", (e) => {
  if (e.target.closest && e.target.closest("input, textarea, select") || e.ctrlKey || e.metaKey || e.altKey) return;
  const audio = $("audio");
  if (e.key === " ") { e.preventDefault(); if (!state.current) { const t = target(); if (t) play(t); } else if (audio.paused) audio.play(); else audio.pause(); }
  else if (e.key === "j") select(state.selected + 1);
  else if (e.key === "k") select(state.selected - 1);
  else if (e.key === "Enter" && state.rows[state.selected]) play(state.rows[state.selected]);
  else if (e.key === "+" || e.key === "=") { const t = target(); if (t) judgeTrack(t, 1); }
  else if (e.key === "-" || e.key === "−" || e.key === "_") { const t = target(); if (t) judgeTrack(t, 0); }
  else if (e.key === "s") judge(null);
  else return;
  if (e.target instanceof HTMLButtonElement) e.target.blur();
});

$("up").addEventListener("click", () => judge(1));
$("down").addEventListener("click", () => judge(0));
$("skip").addEventListener("click", () => judge(null));
$("dismiss").addEventListener("click", () => { state.dismissed = $("errortext").textContent; showError(""); });
$("retrain").addEventListener("click", async () => {
  await api("/api/retrain", { method: "POST", body: JSON.stringify({ keep_model_likes: $("keep").checked }) });
  showError(""); loadStatus();
});
for (const role of ["previous", "candidate"]) {
  $(role).addEventListener("click", async () => { await api("/api/model", { method: "POST", body: JSON.stringify({ use: role }) }); loadStatus(); });
}
$("search").addEventListener("input", (e) => { state.q = e.target.value; state.offset = 0; state.selected = -1; loadRows(); });
$("prev").addEventListener("click", () => { state.offset = Math.max(0, state.offset - state.limit); state.selected = -1; loadRows(); });
$("next").addEventListener("click", () => { if (state.offset + state.limit < state.total) { state.offset += state.limit; state.selected = -1; loadRows(); } });
for (const r of document.querySelectorAll('input[name="mode"]')) r.addEventListener("change", loadQueue);
$("continue").addEventListener("click", async () => { if (state.current) showPlaylist((await api(`/api/playlist?from=${state.current.id}&n=12`)).rows); });
$("setA").addEventListener("click", () => { state.a = state.current; });
$("join").addEventListener("click", async () => { if (state.a && state.current) showPlaylist((await api(`/api/playlist?from=${state.a.id}&to=${state.current.id}&n=12`)).rows); });
$("showmap").addEventListener("click", () => drawMap().catch(() => { $("showmap").disabled = false; $("mapstate").textContent = ""; }));

loadStatus();
setInterval(() => loadStatus().catch(() => {}), 1000);

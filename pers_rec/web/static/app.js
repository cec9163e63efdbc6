// pers-rec serve: the page. Plain JavaScript; every string from the library goes in with textContent.
"use strict";
const CSRF = document.querySelector('meta[name="csrf-token"]').content;
const $ = (id) => document.getElementById(id);
const state = { offset: 0, limit: 100, total: 0, q: "", current: null, a: null, version: -1, playlist: [] };

async function api(path, options = {}) {
  const r = await fetch(path, { ...options, headers: { "Content-Type": "application/json", "X-CSRF-Token": CSRF,
                                                        ...(options.headers || {}) } });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) { showError(body.error || `${path}: HTTP ${r.status}`); throw new Error(body.error); }
  return body;
}

function showError(text) { const e = $("error"); e.textContent = text; e.hidden = !text; }

function cell(tr, text, cls) { const td = document.createElement("td"); td.textContent = text ?? ""; if (cls) td.className = cls; tr.appendChild(td); return td; }

function button(text, label, onclick) {
  const b = document.createElement("button"); b.textContent = text; b.setAttribute("aria-label", label);
  b.addEventListener("click", onclick); return b;
}

function name(t) { return [t.artist, t.title || t.file].filter(Boolean).join(" - "); }

function fmt(x) { return x === null || x === undefined ? "" : x.toFixed(3); }

async function loadRows() {
  const p = new URLSearchParams({ offset: state.offset, limit: state.limit, q: state.q });
  const data = await api(`/api/tracks?${p}`);
  state.total = data.total;
  const body = $("rows"); body.replaceChildren();
  for (const t of data.rows) {
    const tr = document.createElement("tr"); tr.dataset.id = t.id;
    if (state.current && state.current.id === t.id) tr.className = "playing";
    cell(tr, t.rank ?? ""); cell(tr, fmt(t.score ?? t.quick)); cell(tr, t.artist); cell(tr, t.title || t.file);
    cell(tr, t.album); cell(tr, t.best_start_s === null || t.best_start_s === undefined ? "" : `${t.best_start_s.toFixed(0)} s`);
    const td = document.createElement("td"); td.appendChild(button("▶", `play ${name(t)}`, () => play(t))); tr.appendChild(td);
    cell(tr, t.label === 1 ? "👍" : t.label === 0 ? "👎" : "", t.label === 1 ? "like" : t.label === 0 ? "dislike" : "");
    body.appendChild(tr);
  }
  $("count").textContent = `${data.total ? state.offset + 1 : 0}-${Math.min(state.offset + state.limit, data.total)} of ${data.total}`;
}

function play(t) {
  state.current = t;
  $("now").textContent = name(t);
  const audio = $("audio");
  audio.src = `/api/audio/${t.id}`;
  const start = t.best_start_s || 0;
  audio.addEventListener("loadedmetadata", () => { if (start) audio.currentTime = start; }, { once: true });
  audio.play().catch(() => {});
  for (const tr of $("rows").children) tr.className = Number(tr.dataset.id) === t.id ? "playing" : "";
  why(t);
}

async function why(t) {
  const data = await api(`/api/why/${t.id}`);
  const c = $("timeline"), g = c.getContext("2d"); g.clearRect(0, 0, c.width, c.height);
  if (data.windows && data.windows.length) {
    const w = c.width / data.windows.length;
    data.windows.forEach((s, i) => { g.fillStyle = `hsl(${120 * s}, 60%, 45%)`; g.fillRect(i * w, c.height * (1 - s), Math.max(1, w - 1), c.height * s); });
  }
  const list = $("similar"); list.replaceChildren();
  for (const s of data.similar_liked) {
    const li = document.createElement("li"); li.textContent = `${name(s)} (cosine ${s.cosine})`;
    li.appendChild(button("▶", `play ${name(s)}`, () => play(s))); list.appendChild(li);
  }
}

async function judge(label) {
  if (!state.current) return;
  await api("/api/judge", { method: "POST", body: JSON.stringify({ id: state.current.id, label }) });
  await Promise.all([loadRows(), loadQueue(), loadStatus()]);
  const next = $("asked").firstChild;
  if (next && next.track) play(next.track);
}

async function loadQueue() {
  const mode = document.querySelector('input[name="mode"]:checked').value;
  const data = await api(`/api/ask?mode=${mode}&n=10`);
  const list = $("asked"); list.replaceChildren();
  for (const t of data.rows) {
    const li = document.createElement("li"); li.track = t; li.textContent = name(t);
    li.appendChild(button("▶", `play ${name(t)}`, () => play(t))); list.appendChild(li);
  }
}

async function loadStatus() {
  const s = await api("/api/status");
  const rep = s.report ? ` · model ROC-AUC ${fmt(s.report.roc_auc)} (baseline ${fmt(s.report.baseline)}, cross-validated)` : "";
  $("summary").textContent = `${s.tracks} tracks · ${s.likes} 👍 ${s.dislikes} 👎${rep}`;
  const bar = $("bar");
  bar.hidden = !s.job;
  if (s.job) { bar.max = Math.max(1, s.total); bar.value = s.done; }
  $("phase").textContent = s.job ? `${s.job}: ${s.phase} ${s.done}/${s.total}` : s.message;
  $("retrain").disabled = Boolean(s.job);
  if (s.error) showError(s.error);
  if (s.version !== state.version) { state.version = s.version; await Promise.all([loadRows(), loadQueue()]); }
  return s;
}

function showPlaylist(rows) {
  state.playlist = rows;
  const list = $("playlist"); list.replaceChildren();
  for (const t of rows) {
    const li = document.createElement("li"); li.textContent = name(t);
    li.appendChild(button("▶", `play ${name(t)}`, () => play(t))); list.appendChild(li);
  }
  const a = $("m3u"); a.href = `/api/playlist.m3u8?ids=${rows.map((t) => t.id).join(",")}`; a.hidden = !rows.length;
}

async function drawMap() {
  const data = await api("/api/map");
  const c = $("map"), g = c.getContext("2d"); c.hidden = false; g.clearRect(0, 0, c.width, c.height);
  for (const p of data.points) {
    const s = p.score ?? p.quick ?? 0.5;
    g.fillStyle = `hsl(${120 * s}, 60%, 45%)`; g.beginPath(); g.arc(5 + p.x * (c.width - 10), 5 + p.y * (c.height - 10), 3, 0, 7); g.fill();
  }
  c.onclick = (e) => {
    const r = c.getBoundingClientRect(), x = (e.clientX - r.left) * c.width / r.width, y = (e.clientY - r.top) * c.height / r.height;
    let best = null, d = 1e9;
    for (const p of data.points) { const dd = (5 + p.x * (c.width - 10) - x) ** 2 + (5 + p.y * (c.height - 10) - y) ** 2; if (dd < d) { d = dd; best = p; } }
    if (best) play(best);
  };
}

$("up").addEventListener("click", () => judge(1));
$("down").addEventListener("click", () => judge(0));
$("skip").addEventListener("click", () => judge(null));
$("retrain").addEventListener("click", async () => { await api("/api/retrain", { method: "POST", body: "{}" }); showError(""); loadStatus(); });
$("search").addEventListener("input", (e) => { state.q = e.target.value; state.offset = 0; loadRows(); });
$("prev").addEventListener("click", () => { state.offset = Math.max(0, state.offset - state.limit); loadRows(); });
$("next").addEventListener("click", () => { if (state.offset + state.limit < state.total) { state.offset += state.limit; loadRows(); } });
for (const r of document.querySelectorAll('input[name="mode"]')) r.addEventListener("change", loadQueue);
$("continue").addEventListener("click", async () => { if (state.current) showPlaylist((await api(`/api/playlist?from=${state.current.id}&n=12`)).rows); });
$("setA").addEventListener("click", () => { state.a = state.current; });
$("join").addEventListener("click", async () => { if (state.a && state.current) showPlaylist((await api(`/api/playlist?from=${state.a.id}&to=${state.current.id}&n=12`)).rows); });
$("showmap").addEventListener("click", drawMap);

loadStatus();
setInterval(loadStatus, 1000);

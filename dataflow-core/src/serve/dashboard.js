// The dashboard of `serve`: polls /v1/stats every second, draws events/s and the watermark lag,
// shows the plan (/v1/plan.svg) and the view (/v1/view?prefix=..), searched over its key.
"use strict";

const HISTORY = 120;
let points = [];
const $ = (id) => document.getElementById(id);

function number(n) {
  return Number(n).toLocaleString("en-US", { maximumFractionDigits: 1 });
}

function millis(ms) {
  if (ms === null || ms === undefined) return "n/a";
  const abs = Math.abs(ms);
  if (abs < 1000) return ms + " ms";
  if (abs < 120000) return (ms / 1000).toFixed(1) + " s";
  if (abs < 7200000) return (ms / 60000).toFixed(1) + " min";
  if (abs < 172800000) return (ms / 3600000).toFixed(1) + " h";
  return (ms / 86400000).toFixed(1) + " d";
}

function showStats(answer) {
  const s = answer.stats;
  document.title = answer.pipeline + " · dataflow";
  $("pipeline").textContent = answer.pipeline;
  $("version").textContent = answer.version;
  $("architecture").textContent = answer.architecture;
  $("status").textContent = answer.status;
  $("status").className = answer.status === "failed" ? "failed" : "";
  $("status").title = answer.error || "";
  document.body.classList.toggle("lambda", answer.architecture === "lambda");
  $("offset").textContent = number(s.offset);
  $("head").textContent = number(s.log_head);
  $("rate").textContent = number(s.events_per_second);
  $("records").textContent = number(s.input_records);
  $("lag").textContent = answer.event_time ? millis(s.watermark_lag_ms) : "no event time";
  $("wall").textContent = answer.event_time ? millis(s.wall_clock_lag_ms) : "no event time";
  $("dead").textContent = number(s.dead_letters);
  $("dead-card").classList.toggle("bad", s.dead_letters > 0);
  $("late").textContent = number(s.late_records);
  $("late-card").classList.toggle("bad", s.late_records > 0);
  $("keys").textContent = number(s.view_keys);
  $("queries").textContent = number(s.queries);
  $("boundary").textContent = s.boundary === null ? "none yet" : number(s.boundary);
  $("speed").textContent = s.speed_layer_records === null ? "0" : number(s.speed_layer_records);
  // The server keeps the last two minutes, one point a second, so the chart is full on opening.
  points = s.history.map((p) => ({ rate: p.events_per_second, lag: p.watermark_lag_ms / 1000 }));
  draw();
}

// Two lines on one canvas, each scaled to its own maximum (shown at the left and the right).
function draw() {
  const canvas = $("chart");
  const width = canvas.clientWidth || canvas.width;
  const height = canvas.clientHeight || canvas.height;
  canvas.width = width;
  canvas.height = height;
  const g = canvas.getContext("2d");
  g.clearRect(0, 0, width, height);
  const pad = { left: 56, right: 56, top: 10, bottom: 18 };
  const w = width - pad.left - pad.right;
  const h = height - pad.top - pad.bottom;
  g.strokeStyle = "#e2e8f0";
  g.lineWidth = 1;
  for (let i = 0; i <= 4; i++) {
    const y = pad.top + (h * i) / 4;
    g.beginPath(); g.moveTo(pad.left, y); g.lineTo(pad.left + w, y); g.stroke();
  }
  const style = getComputedStyle(document.documentElement);
  const series = [
    { key: "rate", color: style.getPropertyValue("--rate").trim() || "#2563eb", side: "left" },
    { key: "lag", color: style.getPropertyValue("--lag").trim() || "#d97706", side: "right" },
  ];
  g.font = "11px system-ui, sans-serif";
  for (const line of series) {
    const max = Math.max(1, ...points.map((p) => p[line.key]));
    g.fillStyle = line.color;
    g.textAlign = line.side === "left" ? "right" : "left";
    const x = line.side === "left" ? pad.left - 6 : pad.left + w + 6;
    g.fillText(number(max), x, pad.top + 8);
    g.fillText("0", x, pad.top + h);
    g.strokeStyle = line.color;
    g.lineWidth = 2;
    g.beginPath();
    points.forEach((p, i) => {
      const px = pad.left + (w * (HISTORY - points.length + i)) / (HISTORY - 1);
      const py = pad.top + h - (h * p[line.key]) / max;
      if (i === 0) g.moveTo(px, py); else g.lineTo(px, py);
    });
    g.stroke();
  }
}

async function poll() {
  try {
    const response = await fetch("/v1/stats", { cache: "no-store" });
    showStats(await response.json());
  } catch (error) {
    $("status").textContent = "unreachable";
    $("status").className = "failed";
  }
}

async function loadPlan() {
  try {
    const response = await fetch("/v1/plan.svg");
    $("plan").innerHTML = await response.text();
  } catch (error) {
    $("plan").textContent = "the plan could not be loaded: " + error;
  }
}

function cell(value) {
  const td = document.createElement("td");
  td.textContent = typeof value === "object" && value !== null ? JSON.stringify(value) : String(value);
  return td;
}

async function loadView() {
  const prefix = $("search").value.trim();
  const query = new URLSearchParams({ limit: "50" });
  if (prefix) query.set("prefix", prefix);
  let answer;
  try {
    const response = await fetch("/v1/view?" + query, { cache: "no-store" });
    answer = await response.json();
    if (!response.ok) {
      $("view-note").textContent = answer.detail || answer.error;
      return;
    }
  } catch (error) {
    $("view-note").textContent = "the view could not be loaded: " + error;
    return;
  }
  const rows = answer.rows;
  const open = new Set(answer.open || []);
  const objects = rows.length > 0 && rows.every((r) => r && typeof r === "object" && !Array.isArray(r));
  const columns = objects ? Object.keys(rows[0]) : ["record"];
  const head = document.querySelector("#view thead");
  const body = document.querySelector("#view tbody");
  head.replaceChildren();
  body.replaceChildren();
  const tr = document.createElement("tr");
  for (const c of columns) {
    const th = document.createElement("th");
    th.textContent = c;
    tr.appendChild(th);
  }
  head.appendChild(tr);
  rows.forEach((row, i) => {
    const line = document.createElement("tr");
    if (open.has(i)) line.className = "open";
    for (const c of columns) line.appendChild(cell(objects ? row[c] : row));
    body.appendChild(line);
  });
  const what = prefix ? "rows whose key starts with “" + prefix + "”" : "rows";
  const more = answer.next ? " (first 50; refine the search for others)" : "";
  const openNote = open.size > 0 ? "; italic rows are in windows still open" : "";
  $("view-note").textContent =
    rows.length + " " + what + " at offset " + answer.offset + more + openNote;
}

$("search-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const url = new URL(location.href);
  const prefix = $("search").value.trim();
  if (prefix) url.searchParams.set("search", prefix); else url.searchParams.delete("search");
  history.replaceState(null, "", url);
  loadView();
});

$("search").value = new URLSearchParams(location.search).get("search") || "";
loadPlan();
poll();
loadView();
setInterval(poll, 1000);
setInterval(loadView, 3000);

// Technic live: the ranked table, updated in place from /api/stream; screen controls; a symbol's detail.
const $ = (sel) => document.querySelector(sel);
const form = $("#controls");
const tbody = $("#ranked tbody");
let source = null;
let daySettings = null;
let lastVersion = null;
let accepted = null; // the parameters of the last screen the server accepted: the stream's
let asked = 0, shown = 0; // screens asked for, and the number of the one shown (answers may come out of order)
let feed = null; // /healthz's feed: what keeps the table current
let stream = "connecting"; // the stream's state: connecting, open, reconnecting, closed

const fmt = {
  num: (v, d = 1) => (v === null || v === undefined ? "-" : Number(v).toFixed(d)),
  // the alpha forecasts are z-scores (the day's cross-sectional deviations), not % returns
  z: (v) => (v === null || v === undefined ? "-" : (v >= 0 ? "+" : "") + Number(v).toFixed(2)),
  money: (v) => (v === null || v === undefined ? "-" : Number(v).toLocaleString("en-US", { maximumFractionDigits: 2, minimumFractionDigits: 2 })),
};
const COLUMNS = [
  (r) => r.rank, (r) => r.symbol, (r) => r.name, (r) => r.sector, (r) => fmt.num(r.merit_score),
  (r) => fmt.num(r.ics_score), (r) => fmt.z(r.alpha_5d), (r) => fmt.money(r.close), (r) => fmt.num(r.rsi_14),
  (r) => fmt.num(r.roc_63), (r) => (r.rel_volume === undefined || r.rel_volume === null ? "-" : fmt.num(r.rel_volume, 2) + "x"),
  (r) => r.reasons,
];

function query() {
  // the form's values as screen parameters (empty fields keep the day's settings)
  const p = new URLSearchParams();
  const data = new FormData(form);
  for (const name of ["style", "min_price", "max_price", "min_dollar_volume", "max_price_cv", "n"]) {
    const v = (data.get(name) || "").trim();
    if (v !== "") p.set(name, v);
  }
  p.set("include_etfs", form.include_etfs.checked ? "true" : "false");
  const chosen = [...form.querySelectorAll("#sectors input:checked")].map((i) => i.value);
  if (chosen.length) chosen.forEach((s) => p.append("sector", s)); else p.set("sector", "");
  return p;
}

function fillForm(settings, sectorsAvailable) {
  form.style.value = settings.style;
  form.min_price.value = settings.min_price;
  form.max_price.value = settings.max_price ? settings.max_price : "";
  form.min_dollar_volume.value = settings.min_dollar_volume;
  form.max_price_cv.value = settings.max_price_cv;
  form.n.value = settings.top_n;
  form.include_etfs.checked = settings.include_etfs;
  const box = $("#sectors");
  for (const s of sectorsAvailable) {
    const label = document.createElement("label");
    const input = document.createElement("input");
    input.type = "checkbox"; input.value = s; input.checked = settings.sectors.includes(s);
    label.append(input, " " + s);
    box.append(label);
  }
}

function showStatus(payload) {
  $("#day").textContent = payload.day;
  $("#version").textContent = payload.version;
  $("#as-of").textContent = new Date(payload.as_of).toLocaleString();
  $("#source").textContent = payload.source;
  $("#age").textContent = payload.data_age_s === null ? "-" : payload.data_age_s.toFixed(1) + " s";
  const d = payload.dropped || {};
  const dropped = Object.entries(d).filter(([, v]) => v).map(([k, v]) => `${k} ${v}`).join(", ");
  $("#summary").textContent = `${payload.kept} names ranked (${payload.settings.style}); dropped: ${dropped || "none"}; ` +
    `screen ${payload.screen_ms} ms`;
}

function render(payload) {
  // update rows in place: a row per position, cells rewritten only where their text changed
  showStatus(payload);
  lastVersion = payload.version;
  document.body.dataset.version = payload.version;
  const rows = payload.rows;
  while (tbody.rows.length > rows.length) tbody.deleteRow(-1);
  rows.forEach((r, i) => {
    let tr = tbody.rows[i];
    if (!tr) {
      tr = tbody.insertRow();
      COLUMNS.forEach(() => tr.insertCell());
    }
    tr.dataset.symbol = r.symbol;
    COLUMNS.forEach((col, j) => {
      const text = String(col(r) ?? "");
      const cell = tr.cells[j];
      if (cell.textContent !== text) {
        if (cell.textContent !== "") { cell.classList.remove("changed"); void cell.offsetWidth; cell.classList.add("changed"); }
        cell.textContent = text;
      }
    });
  });
}

function feedLabel() {
  // what is true of the data: the stored day alone, or the live feed and its state
  if (!feed || feed.state === "off") return "stored day, no live feed";
  return feed.state === "live" ? "live" : `live feed ${feed.state}`;
}

function showConnection() {
  const status = $("#connection");
  status.textContent = stream === "open" ? feedLabel() : stream === "closed" ? "disconnected (reload the page)" : stream;
  status.className = stream === "open" ? "on" : "off";
  status.title = (feed && (feed.error || feed.detail)) || "";
}

async function refreshFeed() {
  const res = await fetch("/healthz");
  const body = await res.json();
  feed = body.feed;
  showConnection();
  return body;
}

function connect() {
  // one EventSource per accepted screen; the browser resumes it with Last-Event-ID after a drop
  if (source) source.close();
  source = new EventSource("/api/stream?" + accepted.toString());
  source.addEventListener("version", (e) => render(JSON.parse(e.data)));
  const opened = source;
  source.onopen = () => { stream = "open"; showConnection(); };
  source.onerror = () => { stream = opened.readyState === EventSource.CLOSED ? "closed" : "reconnecting"; showConnection(); };
}

function showRefused(body) {
  // the server's message, and the field it names marked; the stream stays on the accepted screen
  clearRefused();
  $("#form-error").textContent = body.error;
  const field = body.parameter === "sector" ? $("#sectors") : form.elements[body.parameter];
  if (field instanceof Element) { field.classList.add("invalid"); field.setAttribute("aria-invalid", "true"); }
}

function clearRefused() {
  $("#form-error").textContent = "";
  form.querySelectorAll(".invalid").forEach((el) => { el.classList.remove("invalid"); el.removeAttribute("aria-invalid"); });
}

async function rescreen() {
  const asking = ++asked, params = query();
  const res = await fetch("/api/screen?" + params.toString());
  const body = await res.json();
  if (!res.ok) {
    if (asking === asked) showRefused(body); // only the latest settings' verdict stands
    return;
  }
  if (asking === asked) clearRefused();
  if (asking < shown) return; // a later screen is shown already
  shown = asking;
  accepted = params;
  render(body);
  connect();
}

function line(points, cls) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", "path");
  let d = "", pen = false;
  for (const [x, y] of points) {
    if (y === null || Number.isNaN(y)) { pen = false; continue; }
    d += (pen ? "L" : "M") + x.toFixed(1) + "," + y.toFixed(1);
    pen = true;
  }
  el.setAttribute("d", d); el.setAttribute("class", cls);
  return el;
}

function drawChart(c) {
  // closes as candles (or a line when there are many), SMA 50/200 and the Bollinger band, in SVG
  const svg = $("#chart");
  svg.replaceChildren();
  const n = c.close.length, W = 640, H = 260, L = 44, R = 8, T = 8, B = 22;
  const first = Math.max(0, n - 160);
  const idx = [...Array(n - first).keys()].map((k) => k + first);
  const vals = idx.flatMap((i) => [c.low[i], c.high[i], c.bb_upper[i], c.bb_lower[i], c.sma_50[i], c.sma_200[i]]).filter((v) => v !== null);
  if (c.live && c.live.close !== null) vals.push(c.live.close);
  const lo = Math.min(...vals), hi = Math.max(...vals);
  const count = idx.length + (c.live ? 1 : 0);
  const x = (k) => L + (k + 0.5) * (W - L - R) / count;
  const y = (v) => (v === null ? null : T + (hi - v) / (hi - lo || 1) * (H - T - B));
  const ns = "http://www.w3.org/2000/svg";
  const upper = idx.map((i, k) => [x(k), y(c.bb_upper[i])]).filter((p) => p[1] !== null);
  const lower = idx.map((i, k) => [x(k), y(c.bb_lower[i])]).filter((p) => p[1] !== null).reverse();
  if (upper.length) {
    const band = document.createElementNS(ns, "polygon");
    band.setAttribute("points", [...upper, ...lower].map((p) => p.join(",")).join(" "));
    band.setAttribute("class", "band");
    svg.append(band);
  }
  const w = Math.max(1, (W - L - R) / count * 0.6);
  idx.forEach((i, k) => {
    const up = c.close[i] >= c.open[i];
    const wick = document.createElementNS(ns, "line");
    wick.setAttribute("x1", x(k)); wick.setAttribute("x2", x(k));
    wick.setAttribute("y1", y(c.high[i])); wick.setAttribute("y2", y(c.low[i]));
    wick.setAttribute("class", up ? "up" : "down");
    const body = document.createElementNS(ns, "rect");
    body.setAttribute("x", x(k) - w / 2); body.setAttribute("width", w);
    body.setAttribute("y", Math.min(y(c.open[i]), y(c.close[i])));
    body.setAttribute("height", Math.max(0.8, Math.abs(y(c.open[i]) - y(c.close[i]))));
    body.setAttribute("class", (up ? "up" : "down") + " candle");
    svg.append(wick, body);
  });
  svg.append(line(idx.map((i, k) => [x(k), y(c.close[i])]), "close"));
  svg.append(line(idx.map((i, k) => [x(k), y(c.sma_50[i])]), "sma50"));
  svg.append(line(idx.map((i, k) => [x(k), y(c.sma_200[i])]), "sma200"));
  svg.append(line(idx.map((i, k) => [x(k), y(c.bb_upper[i])]), "bb"));
  svg.append(line(idx.map((i, k) => [x(k), y(c.bb_lower[i])]), "bb"));
  if (c.live && c.live.close !== null) {
    const dot = document.createElementNS(ns, "circle");
    dot.setAttribute("cx", x(idx.length)); dot.setAttribute("cy", y(c.live.close)); dot.setAttribute("r", 3);
    dot.setAttribute("class", "up live");
    svg.append(dot);
  }
  for (const v of [lo, (lo + hi) / 2, hi]) {
    const t = document.createElementNS(ns, "text");
    t.setAttribute("x", 2); t.setAttribute("y", Math.min(H - B, Math.max(10, y(v) + 3)));
    t.textContent = v.toFixed(2);
    svg.append(t);
  }
  for (const k of [0, Math.floor(idx.length / 2), idx.length - 1]) {
    const t = document.createElementNS(ns, "text");
    t.setAttribute("x", Math.max(L, x(k) - 28)); t.setAttribute("y", H - 6);
    t.textContent = c.date[idx[k]];
    svg.append(t);
  }
}

function dl(entries) {
  const list = document.createElement("dl");
  for (const [k, v] of entries) {
    const dt = document.createElement("dt"); dt.textContent = k;
    const dd = document.createElement("dd"); dd.textContent = v;
    list.append(dt, dd);
  }
  return list;
}

async function openDetail(symbol) {
  const [info, chart] = await Promise.all([
    fetch(`/api/symbol/${encodeURIComponent(symbol)}?` + query().toString()).then((r) => r.json()),
    fetch(`/api/chart/${encodeURIComponent(symbol)}`).then((r) => r.json()),
  ]);
  const aside = $("#detail");
  aside.hidden = false;
  aside.dataset.symbol = symbol;
  $("#detail-title").textContent = `${info.symbol} · ${info.name || ""} · ${info.sector || ""}`;
  $("#detail-verdict").textContent = info.passed
    ? `rank ${info.rank}: MERIT ${fmt.num(info.merit_score)}, ICS ${fmt.num(info.ics_score)} (${info.regime}). Why: ${info.reasons}`
    : `not ranked: dropped by ${info.dropped_by}`;
  if (chart.close) drawChart(chart); else $("#chart").replaceChildren();
  const body = $("#detail-body");
  body.replaceChildren();
  if (info.passed) {
    const h = document.createElement("h3"); h.textContent = "Factor z-scores and their MERIT contributions";
    body.append(h, dl(Object.entries(info.factors).map(([f, z]) =>
      [f, `z ${fmt.num(z, 2)}, contributes ${fmt.num(info.contributions[f], 3)}`]).concat([
      ["alpha", `contributes ${fmt.num(info.contributions.alpha, 3)} (forecast z-scores: 5d ${fmt.z(info.alpha_5d)}, 10d ${fmt.z(info.alpha_10d)})`],
      ["risk penalties", `volatility ${fmt.num(info.penalties.volatility)}, liquidity ${fmt.num(info.penalties.liquidity)}`],
    ])));
  }
  if (info.indicators) {
    const h = document.createElement("h3"); h.textContent = "Indicators";
    body.append(h, dl(Object.entries(info.indicators).map(([k, v]) => [k, v === null ? "-" : Number(v).toPrecision(5)])));
  }
}

tbody.addEventListener("click", (e) => {
  const tr = e.target.closest("tr");
  if (tr && tr.dataset.symbol) openDetail(tr.dataset.symbol);
});
$("#close-detail").addEventListener("click", () => { $("#detail").hidden = true; });
form.addEventListener("change", rescreen);
form.addEventListener("submit", (e) => { e.preventDefault(); rescreen(); });

async function start() {
  const res = await fetch("/api/top");
  const body = await res.json();
  daySettings = body.settings;
  fillForm(daySettings, body.sectors_available);
  render(body);
  accepted = query();
  const health = await refreshFeed();
  if (health.mode !== "off") setInterval(() => refreshFeed().catch(() => {}), 5000); // stale, live again, ...
  connect();
}
start();

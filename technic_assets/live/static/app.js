// Technic live: the ranked table, updated in place from /api/stream; screen controls and saved screens;
// sorting, a column chooser and keyboard navigation; any symbol's detail; the track-record panel.
import { drawCandles } from "./charts.js";
import { loadTrack } from "./track.js";

const $ = (sel) => document.querySelector(sel);
const form = $("#controls");
const tbody = $("#ranked tbody");
let source = null;
let lastRows = [];
let accepted = null; // the parameters of the last screen the server accepted: the stream's
let asked = 0, shown = 0; // screens asked for, and the number of the one shown (answers may come out of order)
let feed = null; // /healthz's feed: what keeps the table current
let stream = "connecting"; // the stream's state: connecting, open, reconnecting, closed
let saved = {}; // saved screen name -> its settings (/api/screens)
let sort = { key: "rank", dir: 1 };
let opened = null; // the symbol selected: its detail is open, or on its way

const fmt = {
  num: (v, d = 1) => (v === null || v === undefined ? "-" : Number(v).toFixed(d)),
  // the alpha forecasts are z-scores (the day's cross-sectional deviations), not % returns
  z: (v) => (v === null || v === undefined ? "-" : (v >= 0 ? "+" : "") + Number(v).toFixed(2)),
  money: (v) => (v === null || v === undefined ? "-" : Number(v).toLocaleString("en-US", { maximumFractionDigits: 2, minimumFractionDigits: 2 })),
  big: (v) => (v === null || v === undefined ? "-" : Number(v) >= 1e9 ? (v / 1e9).toFixed(2) + "B" : Number(v) >= 1e6 ? (v / 1e6).toFixed(1) + "M" : Math.round(v).toLocaleString("en-US")),
};
// every column the rows carry, in table order; `on`: shown unless the column chooser says otherwise
const COLUMNS = [
  { key: "rank", label: "#", on: true, show: (r) => r.rank },
  { key: "symbol", label: "Symbol", on: true, text: true, show: (r) => r.symbol },
  { key: "name", label: "Name", on: true, text: true, show: (r) => r.name },
  { key: "sector", label: "Sector", on: true, text: true, show: (r) => r.sector },
  { key: "merit_score", label: "MERIT", on: true, show: (r) => fmt.num(r.merit_score) },
  { key: "merit_pct", label: "Pctl", on: true, show: (r) => fmt.num(r.merit_pct, 2), title: "MERIT's percentile of the day's cross-section (best 100)" },
  { key: "merit_raw", label: "Blend", show: (r) => fmt.num(r.merit_raw, 3), title: "MERIT's raw blend, in the day's deviations (a z-score, not a return)" },
  { key: "ics_score", label: "ICS", on: true, show: (r) => fmt.num(r.ics_score) },
  { key: "alpha_5d", label: "α 5d (z)", on: true, show: (r) => fmt.z(r.alpha_5d),
    title: "the 5-day alpha forecast as a z-score: excess return in units of the day's cross-sectional deviation, not a % return" },
  { key: "alpha_10d", label: "α 10d (z)", show: (r) => fmt.z(r.alpha_10d), title: "the 10-day alpha forecast as a z-score, not a % return" },
  { key: "close", label: "Close", on: true, show: (r) => fmt.money(r.close) },
  { key: "rsi_14", label: "RSI", on: true, show: (r) => fmt.num(r.rsi_14) },
  { key: "roc_21", label: "ROC 21", show: (r) => fmt.num(r.roc_21), title: "% change over 21 sessions" },
  { key: "roc_63", label: "ROC 63", on: true, show: (r) => fmt.num(r.roc_63), title: "% change over 63 sessions" },
  { key: "adx_14", label: "ADX", show: (r) => fmt.num(r.adx_14) },
  { key: "realized_vol_63", label: "Vol 63", show: (r) => fmt.num(r.realized_vol_63, 3), title: "realized volatility over 63 sessions, annualized, a fraction" },
  { key: "adv_20", label: "$ vol 20d", show: (r) => fmt.big(r.adv_20), title: "average daily dollar volume, 20 sessions" },
  { key: "rel_volume", label: "Rel vol", on: true, show: (r) => (r.rel_volume === undefined || r.rel_volume === null ? "-" : fmt.num(r.rel_volume, 2) + "x") },
  { key: "reasons", label: "Why", on: true, text: true, show: (r) => r.reasons },
];
const CHOSEN_KEY = "technic.columns";
let chosen = new Set(JSON.parse(localStorage.getItem(CHOSEN_KEY) || "null") || COLUMNS.filter((c) => c.on).map((c) => c.key));
const visible = () => COLUMNS.filter((c) => chosen.has(c.key));

let FIELDS = []; // the screen settings, as the server describes them (/api/settings): the form is built from them

function control(f) {
  // one setting's control: a select for a choice, checkboxes for a list, a checkbox for a flag, else a number
  if (f.kind === "list") {
    const box = document.createElement("fieldset");
    box.id = f.field;
    const legend = document.createElement("legend");
    legend.textContent = f.label;
    legend.title = f.help;
    box.append(legend);
    for (const choice of f.choices || []) {
      const label = document.createElement("label"), input = document.createElement("input");
      input.type = "checkbox"; input.name = f.param; input.value = choice;
      label.append(input, " " + choice);
      box.append(label);
    }
    return box;
  }
  const label = document.createElement("label");
  label.title = f.help;
  let input;
  if (f.kind === "choice") {
    input = document.createElement("select");
    for (const choice of f.choices) input.append(new Option(choice, choice));
  } else {
    input = document.createElement("input");
    input.type = f.kind === "flag" ? "checkbox" : f.kind === "text" ? "text" : "number";
    if (f.kind === "number") input.step = "any";
    if (f.min !== undefined && !f.min_exclusive) input.min = f.min;
    if (f.max !== undefined) input.max = f.max;
  }
  input.name = f.param;
  if (f.kind === "flag") { label.className = "check"; label.append(input, " " + f.label); }
  else label.append(f.label + " ", input);
  return label;
}

function buildForm(fields) {
  FIELDS = fields;
  const last = $("#form-error");
  // a list (the sectors' checkboxes) takes a row of its own: after the single-value controls
  for (const f of [...fields.filter((x) => x.kind !== "list"), ...fields.filter((x) => x.kind === "list")]) {
    form.insertBefore(control(f), last);
  }
}

function query() {
  // the form's values as screen parameters (empty fields keep the settings of the day or the saved screen)
  const p = new URLSearchParams();
  const data = new FormData(form);
  if (data.get("screen")) p.set("screen", data.get("screen"));
  for (const f of FIELDS) {
    if (f.kind === "flag") p.set(f.param, form.elements[f.param].checked ? "true" : "false");
    else if (f.kind === "list") {
      const picked = data.getAll(f.param);
      if (picked.length) picked.forEach((v) => p.append(f.param, v)); else p.set(f.param, "");
    } else {
      const v = (data.get(f.param) || "").trim();
      if (v !== "") p.set(f.param, v);
    }
  }
  return p;
}

function fillForm(settings) {
  for (const f of FIELDS) {
    const value = settings[f.field];
    if (f.kind === "list") document.querySelectorAll(`#${f.field} input`).forEach((i) => { i.checked = (value || []).includes(i.value); });
    else if (f.kind === "flag") form.elements[f.param].checked = Boolean(value);
    else form.elements[f.param].value = value ?? "";
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

// -- the table: columns, sorting, rows updated in place -------------------------------------------------
function buildHead() {
  const tr = $("#ranked thead tr");
  tr.replaceChildren(...visible().map((c) => {
    const th = document.createElement("th");
    th.dataset.key = c.key;
    th.tabIndex = 0;
    th.textContent = c.label;
    if (c.title) th.title = c.title;
    if (c.text) th.classList.add("text");
    th.setAttribute("aria-sort", sort.key === c.key ? (sort.dir > 0 ? "ascending" : "descending") : "none");
    return th;
  }));
}

function sorted(rows) {
  const { key, dir } = sort;
  const text = COLUMNS.find((c) => c.key === key)?.text;
  return [...rows].sort((a, b) => {
    const x = a[key], y = b[key];
    const xm = x === null || x === undefined, ym = y === null || y === undefined;
    if (xm || ym) return xm === ym ? a.rank - b.rank : xm ? 1 : -1; // missing values last, either way
    const c = text ? String(x).localeCompare(String(y)) : x - y;
    return c === 0 ? a.rank - b.rank : dir * c;
  });
}

function render(payload) {
  // rows updated in place: a row per position, cells rewritten only where their text changed
  showStatus(payload);
  document.body.dataset.version = payload.version;
  lastRows = payload.rows;
  drawRows();
}

function drawRows() {
  const rows = sorted(lastRows), cols = visible();
  while (tbody.rows.length > rows.length) tbody.deleteRow(-1);
  rows.forEach((r, i) => {
    let tr = tbody.rows[i];
    if (!tr) tr = tbody.insertRow();
    if (tr.cells.length !== cols.length) {
      tr.replaceChildren();
      cols.forEach(() => tr.insertCell());
    }
    const same = tr.dataset.symbol === r.symbol; // a changed value of the same name flashes
    tr.dataset.symbol = r.symbol;
    tr.classList.toggle("selected", r.symbol === opened);
    cols.forEach((col, j) => {
      const text = String(col.show(r) ?? "");
      const cell = tr.cells[j];
      cell.className = col.text ? "text " + col.key : col.key;
      if (cell.textContent !== text) {
        if (same && cell.textContent !== "") { void cell.offsetWidth; cell.classList.add("changed"); }
        cell.textContent = text;
        if (col.key === "name" || col.key === "reasons") cell.title = text;
      }
    });
  });
}

function buildChooser() {
  const list = $("#column-list");
  list.replaceChildren(...COLUMNS.map((c) => {
    const label = document.createElement("label");
    const input = document.createElement("input");
    input.type = "checkbox"; input.value = c.key; input.checked = chosen.has(c.key);
    input.disabled = c.key === "symbol"; // a row is known by its symbol
    label.append(input, " " + c.label);
    return label;
  }));
  list.addEventListener("change", (e) => {
    if (e.target.checked) chosen.add(e.target.value); else chosen.delete(e.target.value);
    localStorage.setItem(CHOSEN_KEY, JSON.stringify([...chosen]));
    buildHead();
    drawRows();
  });
}

function sortBy(key) {
  const col = COLUMNS.find((c) => c.key === key);
  // a new column sorts its best first: ranks and names ascending, numbers descending
  sort = sort.key === key ? { key, dir: -sort.dir } : { key, dir: col.text || key === "rank" ? 1 : -1 };
  buildHead();
  drawRows();
}

$("#ranked thead").addEventListener("click", (e) => { const th = e.target.closest("th"); if (th) sortBy(th.dataset.key); });
$("#ranked thead").addEventListener("keydown", (e) => {
  const th = e.target.closest("th");
  if (th && (e.key === "Enter" || e.key === " ")) { e.preventDefault(); sortBy(th.dataset.key); }
});

// -- the stream and the screen controls ------------------------------------------------------------------
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
  $("#market").textContent = body.market;
  $("#simulated-banner").hidden = !body.simulated;
  document.body.classList.toggle("simulated", Boolean(body.simulated));
  showConnection();
  return body;
}

function connect() {
  // one EventSource per accepted screen; the browser resumes it with Last-Event-ID after a drop
  if (source) source.close();
  source = new EventSource("/api/stream?" + accepted.toString());
  source.addEventListener("version", (e) => render(JSON.parse(e.data)));
  const mine = source;
  source.onopen = () => { stream = "open"; showConnection(); };
  source.onerror = () => { stream = mine.readyState === EventSource.CLOSED ? "closed" : "reconnecting"; showConnection(); };
}

function showRefused(body) {
  // the server's message, and the field it names marked; the stream stays on the accepted screen
  clearRefused();
  $("#form-error").textContent = body.error;
  const f = FIELDS.find((x) => x.param === body.parameter);
  const field = f && f.kind === "list" ? document.getElementById(f.field) : form.elements[body.parameter];
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
  loadTrack(accepted);
  if (opened) openDetail(opened);
}

// -- a symbol's detail: any listed symbol, ranked or not ------------------------------------------------
function dl(entries) {
  const list = document.createElement("dl");
  for (const [k, v] of entries) {
    const dt = document.createElement("dt"); dt.textContent = k;
    const dd = document.createElement("dd"); dd.textContent = v;
    list.append(dt, dd);
  }
  return list;
}

let detailAsked = 0; // the latest detail asked for: an earlier answer arriving later is dropped

async function openDetail(symbol) {
  symbol = symbol.trim().toUpperCase();
  const mine = ++detailAsked;
  const [infoRes, chartRes] = await Promise.all([
    fetch(`/api/symbol/${encodeURIComponent(symbol)}?` + (accepted || query()).toString()),
    fetch(`/api/chart/${encodeURIComponent(symbol)}`),
  ]);
  const info = await infoRes.json();
  const chart = chartRes.ok ? await chartRes.json() : null;
  if (mine !== detailAsked) return false;
  if (!infoRes.ok) { $("#search-error").textContent = info.error; return false; }
  $("#search-error").textContent = "";
  const aside = $("#detail");
  aside.hidden = false;
  aside.dataset.symbol = symbol;
  opened = symbol;
  $("#desk").classList.add("with-detail");
  tbody.querySelectorAll("tr").forEach((tr) => tr.classList.toggle("selected", tr.dataset.symbol === symbol));
  $("#detail-title").textContent = `${info.symbol} · ${info.name || ""} · ${info.sector || ""}`;
  const inTable = lastRows.some((r) => r.symbol === symbol);
  $("#detail-verdict").textContent = info.passed
    ? `rank ${info.rank}${inTable ? "" : " (below the table's top N)"}: MERIT ${fmt.num(info.merit_score)}, ` +
      `ICS ${fmt.num(info.ics_score)} (${info.regime}). Why: ${info.reasons}`
    : `not ranked: dropped by ${info.dropped_detail ? info.dropped_detail.text : info.dropped_by}`;
  $("#detail-verdict").dataset.passed = String(info.passed);
  if (chart && chart.close) drawCandles($("#chart"), chart, $("#chart-crosshair"));
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
  return true;
}

function closeDetail() {
  $("#detail").hidden = true;
  $("#desk").classList.remove("with-detail");
  opened = null;
  tbody.querySelectorAll("tr.selected").forEach((tr) => tr.classList.remove("selected"));
}

function step(by) {
  // the next or previous row of the table (as sorted) is selected at once and opens; the first when none
  // is selected (keys pressed faster than the details load move on from the row selected, not the one shown)
  const rows = [...tbody.rows];
  if (!rows.length) return;
  const at = rows.findIndex((tr) => tr.dataset.symbol === opened);
  const next = rows[at < 0 ? 0 : Math.min(rows.length - 1, Math.max(0, at + by))];
  opened = next.dataset.symbol;
  rows.forEach((tr) => tr.classList.toggle("selected", tr === next));
  next.scrollIntoView({ block: "nearest" });
  openDetail(next.dataset.symbol);
}

tbody.addEventListener("click", (e) => {
  const tr = e.target.closest("tr");
  if (tr && tr.dataset.symbol) openDetail(tr.dataset.symbol).then((ok) => {
    if (ok && !matchMedia("(min-width: 1700px)").matches) $("#detail").scrollIntoView({ block: "nearest" });
  });
});
$("#close-detail").addEventListener("click", closeDetail);
document.addEventListener("keydown", (e) => {
  if (e.target.closest("input, select, textarea, button, summary") || e.altKey || e.ctrlKey || e.metaKey) return;
  if (e.key === "ArrowDown" || e.key === "j") { e.preventDefault(); step(1); }
  else if (e.key === "ArrowUp" || e.key === "k") { e.preventDefault(); step(-1); }
  else if (e.key === "Escape") closeDetail();
});
$("#search").addEventListener("submit", (e) => {
  e.preventDefault();
  const symbol = $("#search-symbol").value.trim();
  if (symbol) openDetail(symbol);
});
form.addEventListener("change", (e) => {
  if (e.target.id === "screen-picker") {
    const name = e.target.value;
    fillForm(name ? saved[name] : daySettings);
  }
  rescreen();
});
form.addEventListener("submit", (e) => { e.preventDefault(); rescreen(); });
$("#track-horizon").addEventListener("change", () => loadTrack(accepted));
$("#track-cost").addEventListener("change", () => loadTrack(accepted));

let daySettings = null;

async function start() {
  const [topRes, screensRes, settingsRes] = await Promise.all([fetch("/api/top"), fetch("/api/screens"),
    fetch("/api/settings")]);
  const body = await topRes.json();
  saved = Object.fromEntries((await screensRes.json()).screens.map((s) => [s.name, s.settings]));
  const picker = $("#screen-picker");
  for (const name of Object.keys(saved)) picker.append(new Option(name, name));
  daySettings = body.settings;
  buildForm((await settingsRes.json()).fields);
  fillForm(daySettings);
  buildHead();
  buildChooser();
  render(body);
  accepted = query();
  const health = await refreshFeed();
  if (health.mode !== "off") setInterval(() => refreshFeed().catch(() => {}), 5000); // stale, live again, ...
  connect();
  loadTrack(accepted);
}
start();

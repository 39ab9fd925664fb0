// The track-record panel: the record of the screen on view, or of the settings tried on the page, from
// /api/track (technic backtest's record: the same figures). New settings re-screen every stored evening
// on the server, which can take many seconds: the server answers 202 with its progress, and we ask again.
import { drawCurves } from "./charts.js";

const $ = (sel) => document.querySelector(sel);
const POLL_MS = 500;
const BOOKS = [["top_n", "top N"], ["universe", "universe"], ["benchmark", "benchmark"],
  ["momentum_12_1", "momentum 12-1"], ["random", "random (mean)"]];
// the measures are fractions in the JSON; shown as % where they are returns, as plain ratios otherwise
const pct = (v, sign = true) => (v === null || v === undefined ? "-" : (sign && v >= 0 ? "+" : "") + (100 * v).toFixed(1) + "%");
const ratio = (v) => (v === null || v === undefined ? "-" : Number(v).toFixed(2));
const MEASURES = [
  ["ann_return", "Annual return, net of costs (CAGR)", pct],
  ["ann_return_gross", "Annual return, gross", pct],
  ["volatility", "Volatility, annualized", (v) => pct(v, false)],
  ["sharpe", "Sharpe ratio", ratio],
  ["excess_vs_universe", "Excess vs universe (mean daily × 252)", pct],
  ["excess_t_nw", "  its Newey-West t", ratio],
  ["information_ratio", "Information ratio", ratio],
  ["max_drawdown", "Max drawdown", (v) => pct(v, false)],
  ["turnover", "Turnover a day, one-sided", (v) => pct(v, false)],
];

let asked = 0; // the latest request's number: an older answer or poll is dropped

function cell(tag, text, data = {}) {
  const el = document.createElement(tag);
  el.textContent = text;
  Object.assign(el.dataset, data);
  return el;
}

function showMeasures(summary) {
  const table = $("#track-measures");
  const books = BOOKS.filter(([key]) => summary.portfolios[key]);
  const head = document.createElement("tr");
  head.append(cell("th", "measure"), ...books.map(([key, label]) =>
    cell("th", key === "benchmark" ? summary.portfolios.benchmark.symbol : label)));
  table.tHead.replaceChildren(head);
  table.tBodies[0].replaceChildren(...MEASURES.map(([key, label, fmt]) => {
    const tr = document.createElement("tr");
    tr.append(cell("th", label), ...books.map(([book]) =>
      cell("td", fmt(summary.portfolios[book][key]), { book, measure: key })));
    return tr;
  }));
}

function showYears(summary) {
  const table = $("#track-years");
  const books = ["top_n", "universe", "benchmark", "momentum_12_1"];
  const years = [...new Set(summary.by_year.map((r) => r.year))];
  const head = document.createElement("tr");
  head.append(cell("th", "year"), ...books.map((b) => cell("th", b === "benchmark" ? summary.portfolios.benchmark.symbol : BOOKS.find(([k]) => k === b)[1])));
  table.tHead.replaceChildren(head);
  table.tBodies[0].replaceChildren(...years.map((year) => {
    const tr = document.createElement("tr");
    tr.append(cell("th", String(year)), ...books.map((book) => {
      const row = summary.by_year.find((r) => r.year === year && r.portfolio === book);
      return cell("td", row ? pct(row.total_return) : "-", { book, year: String(year) });
    }));
    return tr;
  }));
}

function show(body) {
  const s = body.summary;
  const what = body.screen === body.evenings_of ? "the settings on the page" : `the saved screen ${body.screen}`;
  $("#track-of").textContent = body.adhoc ? `of ${what}, re-screened over the ${body.evenings_of} screen's stored evenings`
    : `of the screen ${body.screen}, as stored each evening`;
  $("#track-about").textContent = `Each evening's top N bought at the next session's close and held ${s.horizon} sessions ` +
    `(${s.horizon} staggered tranches), ${s.cost_bps} bps a side, total returns (splits and dividends); ` +
    `picks of ${s.pick_days.count} evenings ${s.pick_days.from} .. ${s.pick_days.to}, returns ${s.from} .. ${s.to} ` +
    `(${s.days} sessions); computed in ${body.seconds} s. Returns and drawdowns in % (a year unless said); ` +
    "Sharpe, information ratio and t are ratios.";
  $("#track-bench-label").textContent = s.portfolios.benchmark.symbol;
  drawCurves($("#track-chart"), body.curve, s.portfolios.benchmark.symbol);
  showMeasures(s);
  showYears(s);
  const ic = s.rank_ic || {};
  const random = s.portfolios.random;
  $("#track-signal").textContent = `Rank IC (a correlation of the MERIT score, not a return, with the next ${s.horizon} sessions' ` +
    `return): mean ${ic.mean === null || ic.mean === undefined ? "-" : (ic.mean >= 0 ? "+" : "") + ic.mean.toFixed(4)}, ` +
    `Newey-West t ${ratio(ic.t_nw)}` +
    (random ? `; the top N's net return beat ${Math.round(100 * random.top_n_percentile)}% of ${random.draws} random books of the same size.` : ".");
}

function status(state, text) {
  const el = $("#track-status");
  el.dataset.state = state;
  el.textContent = text;
}

export async function loadTrack(params) {
  // the record of the screen parameters `params` (URLSearchParams), with the panel's horizon and costs
  const mine = ++asked;
  const q = new URLSearchParams(params);
  q.set("horizon", $("#track-horizon").value);
  q.set("cost_bps", $("#track-cost").value || "0");
  status("pending", "computing the track record ...");
  for (;;) {
    let res, body;
    try {
      res = await fetch("/api/track?" + q.toString());
      body = await res.json();
    } catch (err) {
      if (mine === asked) status("error", `the track record could not be fetched (${err}); change a setting to retry`);
      return;
    }
    if (mine !== asked) return; // newer settings were asked for meanwhile
    if (res.status === 503) { // dropped while nobody asked (a tab in the background): ask anew
      await new Promise((r) => setTimeout(r, POLL_MS));
      continue;
    }
    if (res.status === 202) {
      const how = body.of ? `${body.done} of ${body.of} evenings re-screened` : body.status;
      status("pending", `${body.adhoc ? "re-screening the stored evenings with these settings" : "reading the stored record"}: ${how}, ${body.elapsed_s} s ...`);
      await new Promise((r) => setTimeout(r, POLL_MS));
      continue;
    }
    if (!res.ok) { status("error", body.error); return; }
    show(body);
    status("done", "");
    return;
  }
}

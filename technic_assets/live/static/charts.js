// The page's two charts, drawn by TradingView's Lightweight Charts (vendored, served by this server):
// a symbol's daily candles with volume, SMA 50/200 and the Bollinger band; a track record's equity curves.
import {
  CandlestickSeries, CrosshairMode, HistogramSeries, LineSeries, LineStyle, createChart,
} from "./vendor/lightweight-charts/lightweight-charts.standalone.production.mjs";

const COLORS = { up: "#2a9d8f", down: "#e76f51", sma50: "#e76f51", sma200: "#2a9d8f", bb: "#8d99ae",
  top: "#14213d", gross: "#7d8bb0", universe: "#f4a261", bench: "#2a9d8f" };
const BASE = {
  autoSize: true,
  layout: { background: { color: "#fcfcfd" }, textColor: "#333", fontSize: 11 }, // attributionLogo stays on
  grid: { vertLines: { color: "#f0f0f3" }, horzLines: { color: "#f0f0f3" } },
  crosshair: { mode: CrosshairMode.Normal },
  timeScale: { borderColor: "#ddd" },
  rightPriceScale: { borderColor: "#ddd" },
};

function line(dates, values) {
  // a line series' points: the sessions with a value (no point where the average has no window yet)
  const out = [];
  values.forEach((v, i) => { if (v !== null && v !== undefined) out.push({ time: dates[i], value: v }); });
  return out;
}

let candleChart = null;

export function drawCandles(el, c, legend) {
  // replaces the chart in `el` with the symbol's window: candles, volume on its own scale beneath them,
  // the averages and bands; the live close (intraday) as a price line; OHLCV under the crosshair in `legend`
  if (candleChart) { candleChart.remove(); candleChart = null; }
  el.replaceChildren();
  const chart = createChart(el, { ...BASE, height: 320 });
  candleChart = chart;
  const candles = chart.addSeries(CandlestickSeries, {
    upColor: COLORS.up, downColor: COLORS.down, borderVisible: false,
    wickUpColor: COLORS.up, wickDownColor: COLORS.down,
  });
  const bars = c.date.map((d, i) => ({ time: d, open: c.open[i], high: c.high[i], low: c.low[i], close: c.close[i] }));
  candles.setData(bars);
  candles.priceScale().applyOptions({ scaleMargins: { top: 0.05, bottom: 0.25 } });
  const volume = chart.addSeries(HistogramSeries, { priceScaleId: "volume", priceFormat: { type: "volume" },
    lastValueVisible: false, priceLineVisible: false });
  volume.priceScale().applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });
  volume.setData(c.date.map((d, i) => ({ time: d, value: c.volume ? c.volume[i] : 0,
    color: c.close[i] >= c.open[i] ? "rgba(42,157,143,.45)" : "rgba(231,111,81,.45)" })));
  const overlay = { lastValueVisible: false, priceLineVisible: false, crosshairMarkerVisible: false, lineWidth: 1 };
  chart.addSeries(LineSeries, { ...overlay, color: COLORS.sma50 }).setData(line(c.date, c.sma_50));
  chart.addSeries(LineSeries, { ...overlay, color: COLORS.sma200 }).setData(line(c.date, c.sma_200));
  chart.addSeries(LineSeries, { ...overlay, color: COLORS.bb, lineStyle: LineStyle.Dashed }).setData(line(c.date, c.bb_upper));
  chart.addSeries(LineSeries, { ...overlay, color: COLORS.bb, lineStyle: LineStyle.Dashed }).setData(line(c.date, c.bb_lower));
  if (c.live && c.live.close !== null) {
    candles.createPriceLine({ price: c.live.close, color: COLORS.top, lineStyle: LineStyle.Dotted, title: "live " + c.live.date });
  }
  // the last 160 sessions in view; scroll and pinch zoom, drag pans (the library's own handling)
  chart.timeScale().setVisibleLogicalRange({ from: Math.max(0, bars.length - 160), to: bars.length + 2 });
  chart.subscribeCrosshairMove((p) => {
    const bar = p.time ? p.seriesData.get(candles) : null;
    const i = p.logical ?? -1; // the bar's place in the data: its date and volume
    legend.textContent = bar ? `${c.date[i] ?? ""}  O ${bar.open.toFixed(2)} H ${bar.high.toFixed(2)} L ${bar.low.toFixed(2)} ` +
      `C ${bar.close.toFixed(2)}  vol ${c.volume && c.volume[i] != null ? Math.round(c.volume[i]).toLocaleString("en-US") : "-"}` : "";
  });
  el.dataset.candles = String(bars.length);
  el.dataset.lastClose = String(bars.length ? bars[bars.length - 1].close : "");
}

let trackChart = null;

export function drawCurves(el, curve, benchmark) {
  // each book's value (1 at the first entry's close): top N net and gross, the universe, the benchmark
  if (trackChart) { trackChart.remove(); trackChart = null; }
  el.replaceChildren();
  const chart = createChart(el, { ...BASE, height: 280, localization: { priceFormatter: (v) => v.toFixed(3) } });
  trackChart = chart;
  const series = [
    ["top_n", COLORS.top, LineStyle.Solid, 2, "top N"],
    ["top_n_gross", COLORS.gross, LineStyle.Dashed, 1, "gross"],
    ["universe", COLORS.universe, LineStyle.Solid, 2, "universe"],
    ["benchmark", COLORS.bench, LineStyle.Solid, 2, benchmark],
  ];
  for (const [key, color, style, width, title] of series) {
    chart.addSeries(LineSeries, { color, lineStyle: style, lineWidth: width, title, priceLineVisible: false })
      .setData(line(curve.date, curve[key]));
  }
  chart.timeScale().fitContent();
  el.dataset.points = String(curve.date.length);
}

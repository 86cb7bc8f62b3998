import IngestService
/// The live dashboard served at `/` (docs/design.md §5.4): one self-contained page, no
/// CDN, no build step. It subscribes to `/events` (passing on its `?token=`),
/// shows the feed connection as a colored badge, trades/s and rows/s over the
/// last 5 minutes, buffer and spool fill, the breakers, active alerts, the
/// stalest symbols and, with `BACKFILL` on, the gap backfill (docs/design.md §5.8.1),
/// and reconnects when the server restarts.
///
/// The charts plot from the first report: the report's counters were 0 when the
/// process started, `uptime_s` ago, so one report already gives a rate (the
/// average since the start) and the chart a line of two points; each later
/// report adds the rate since the one before (docs/operations.md §2). The
/// drawn point counts and last rates are in the canvases' `data-` attributes,
/// which `scripts/screenshot` reads from the DOM.
enum DashboardPage {
    /// The charts' data from the reports, without the DOM: the page runs it, and
    /// the tests run it under `node` with reports of their own.
    static let seriesScript = #"""
    "use strict";
    // How far back the charts look: 5 minutes.
    const WINDOW_MS = 300000;
    // Adds the report `r`, received at `now` (ms), to `history` ({t, seen, rows, buffer, spool}, oldest first).
    // The first report is seeded with the point its counters started from: 0 at the process start, uptime_s
    // ago (scaled to the window's start when that is longer ago), so one report draws the average rate since.
    // A report whose counters went back (the ingester restarted) starts the history again. One within 250 ms of
    // the newest point (the /health picture and the first event) only updates that point's levels: rates over so
    // short a time are wild. Returns whether it added a point.
    function addReport(history, r, now) {
      const point = { t: now, seen: r.feed.trades.seen, rows: r.database.rows_written, buffer: r.buffer.items, spool: r.spool.bytes };
      const newest = history[history.length - 1];
      if (newest && (point.seen < newest.seen || point.rows < newest.rows)) history.length = 0;
      else if (newest && now - newest.t < 250) {
        if (!newest.seed) { newest.buffer = point.buffer; newest.spool = point.spool; }
        return false;
      }
      if (!history.length) {
        const uptimeMs = Math.max(0, (r.uptime_s || 0) * 1000), spanMs = Math.min(uptimeMs, WINDOW_MS);
        if (spanMs > 0) {
          const before = 1 - spanMs / uptimeMs;
          history.push({ t: now - spanMs, seen: point.seen * before, rows: point.rows * before, seed: true });
        }
      }
      history.push(point);
      // Keep one point at or before the window's start, so the oldest rate still reaches it.
      while (history.length > 2 && now - history[1].t >= WINDOW_MS) history.shift();
      return true;
    }
    // What the charts draw: the time span (start, end in ms), trades/s and rows/s as steps (each rate held
    // from the report before to its own: two points per rate), buffer items and spool bytes at each report
    // (the seed has none), and the last rates.
    function chartSeries(history) {
      const end = history.length ? history[history.length - 1].t : 0;
      const start = history.length ? Math.max(history[0].t, end - WINDOW_MS) : 0;
      const rates = [];
      for (let i = 1; i < history.length; i++) {
        const a = history[i - 1], b = history[i], dt = (b.t - a.t) / 1000;
        if (dt <= 0) continue;
        const tps = Math.max(0, (b.seen - a.seen) / dt), rps = Math.max(0, (b.rows - a.rows) / dt);
        rates.push({ t: Math.max(a.t, start), tps, rps }, { t: b.t, tps, rps });
      }
      const levels = history.filter((p) => !p.seed && p.t >= start).map((p) => ({ t: p.t, buffer: p.buffer, spool: p.spool }));
      const lastRate = rates[rates.length - 1] || { tps: 0, rps: 0 };
      return { start, end, rates, levels, tps: lastRate.tps, rps: lastRate.rps };
    }
    """#

    static let html = #"""
    <!doctype html>
    <html lang="en">
    <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>ingest-options</title>
    <style>
      :root { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d2330; background: #f4f6fa; }
      body { margin: 0; padding: 20px; }
      header { display: flex; align-items: center; gap: 14px; margin-bottom: 16px; }
      h1 { font-size: 20px; margin: 0; }
      .badge { padding: 4px 12px; border-radius: 999px; font-weight: 600; color: #fff; background: #8a94a6; }
      .badge.streaming { background: #1f9d55; }
      .badge.reconnecting, .badge.connecting, .badge.authenticating, .badge.subscribing { background: #d69e2e; }
      .badge.backoff { background: #dd6b20; }
      .badge.failed, .badge.disconnected, .badge.offline { background: #c53030; }
      .status { font-weight: 600; }
      .status.healthy { color: #1f9d55; } .status.degraded { color: #d69e2e; } .status.unhealthy { color: #c53030; }
      .grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(260px, 1fr)); gap: 14px; }
      .card { background: #fff; border-radius: 10px; padding: 14px 16px; box-shadow: 0 1px 3px rgba(0,0,0,.08); }
      .card h2 { font-size: 13px; text-transform: uppercase; letter-spacing: .05em; color: #5a6478; margin: 0 0 10px; }
      .big { font-size: 26px; font-weight: 700; }
      .bar { height: 10px; background: #e6e9f0; border-radius: 5px; overflow: hidden; margin: 6px 0 2px; }
      .bar > div { height: 100%; background: #3b82f6; width: 0%; }
      table { width: 100%; border-collapse: collapse; font-size: 13px; }
      td { padding: 3px 0; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
      .muted { color: #8a94a6; font-size: 12px; }
      canvas { width: 100%; height: 140px; }
      canvas#levels { height: 64px; margin-top: 8px; }
      .alert { color: #c53030; font-weight: 600; }
    </style>
    </head>
    <body>
    <header>
      <h1>ingest-options</h1>
      <span id="badge" class="badge offline" data-testid="feed-badge">connecting…</span>
      <span>status: <span id="status" class="status">—</span></span>
      <span class="muted" id="updated"></span>
    </header>
    <div class="grid">
      <div class="card"><h2>Throughput (last 5 min)</h2>
        <canvas id="chart" width="600" height="160" data-points="0" data-tps="0" data-rps="0" data-span-s="0"></canvas>
        <div class="muted"><span style="color:#3b82f6">■</span> trades/s <span id="tps">0</span>
          &nbsp; <span style="color:#1f9d55">■</span> rows/s <span id="rps">0</span>
          &nbsp; over <span id="span">0 s</span></div>
      </div>
      <div class="card"><h2>Totals</h2>
        <table>
          <tr><td>trades seen</td><td class="num" id="seen">0</td></tr>
          <tr><td>accepted</td><td class="num" id="accepted">0</td></tr>
          <tr><td>rows written</td><td class="num" id="rows">0</td></tr>
          <tr><td>invalid / dead letters</td><td class="num" id="invalid">0</td></tr>
          <tr><td>dropped</td><td class="num" id="dropped">0</td></tr>
          <tr><td>reconnects</td><td class="num" id="reconnects">0</td></tr>
        </table>
      </div>
      <div class="card"><h2>Buffer and spool</h2>
        <div>buffer <span id="buffer">0</span> / <span id="capacity">0</span></div>
        <div class="bar"><div id="bufferbar"></div></div>
        <div>spool <span id="spool">0 B</span> in <span id="segments">0</span> segments</div>
        <div class="muted">write latency p50 <span id="p50">–</span> ms, p99 <span id="p99">–</span> ms</div>
        <canvas id="levels" width="600" height="140" data-points="0"></canvas>
        <div class="muted"><span style="color:#8b5cf6">■</span> buffer, peak <span id="bufferpeak">0</span>
          &nbsp; <span style="color:#dd6b20">■</span> spool, peak <span id="spoolpeak">0 B</span></div>
      </div>
      <div class="card"><h2>Breakers</h2>
        <table>
          <tr><td>database</td><td class="num" id="dbbreaker">—</td></tr>
          <tr><td>feed connect</td><td class="num" id="feedbreaker">—</td></tr>
          <tr><td>database state</td><td class="num" id="dbstate">—</td></tr>
        </table>
      </div>
      <div class="card" id="backfill" hidden><h2>Gap backfill</h2>
        <table>
          <tr><td>state</td><td class="num" id="bfstate">—</td></tr>
          <tr><td>gaps waiting</td><td class="num" id="bfwaiting">0</td></tr>
          <tr><td>oldest waiting for</td><td class="num" id="bflag">–</td></tr>
          <tr><td>gaps done / partial / failed</td><td class="num" id="bfgaps">0 / 0 / 0</td></tr>
          <tr><td>rows inserted</td><td class="num" id="bfrows">0</td></tr>
          <tr><td>requests / rate limited</td><td class="num" id="bfrequests">0 / 0</td></tr>
        </table>
        <div class="muted" id="bferror"></div>
      </div>
      <div class="card"><h2>Alerts</h2><div id="alerts" class="muted">none</div></div>
      <div class="card"><h2>Stalest symbols</h2><table id="symbols"></table>
        <div class="muted" id="market"></div></div>
    </div>
    <script>
    \#(seriesScript)
    </script>
    <script>
    "use strict";
    const $ = (id) => document.getElementById(id);
    const history = [];           // addReport's points: the last 5 minutes, seeded by the first report
    let last = null;
    const fmt = (n) => Number(n).toLocaleString("en-US");
    const seconds = (s) => s < 60 ? Math.floor(s) + " s" : s < 3600 ? Math.floor(s / 60) + " min " + Math.floor(s % 60) + " s"
      : Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
    const bytes = (n) => n < 1024 ? n + " B" : n < 1048576 ? (n / 1024).toFixed(1) + " KiB" : (n / 1048576).toFixed(1) + " MiB";
    function badge(state) {
      const b = $("badge");
      const shown = state === "connecting" || state === "authenticating" || state === "subscribing" ? "reconnecting" : state;
      b.textContent = shown; b.className = "badge " + shown;
    }
    // Draws `lines` ({points: [{t, v}], color, max}) on `canvas` over the span; a lone point is a dot. Returns the points drawn.
    function plot(canvas, span, lines) {
      const g = canvas.getContext("2d");
      g.clearRect(0, 0, canvas.width, canvas.height);
      const width = Math.max(1, span.end - span.start);
      const x = (t) => ((t - span.start) / width) * (canvas.width - 12) + 6;
      let drawn = 0;
      for (const { points, color, max } of lines) {
        const y = (v) => canvas.height - 6 - (v / Math.max(1, max)) * (canvas.height - 12);
        g.strokeStyle = color; g.fillStyle = color; g.lineWidth = 2;
        if (points.length === 1) { g.beginPath(); g.arc(x(points[0].t), y(points[0].v), 5, 0, 2 * Math.PI); g.fill(); }
        else if (points.length > 1) { g.beginPath(); points.forEach((p, i) => i ? g.lineTo(x(p.t), y(p.v)) : g.moveTo(x(p.t), y(p.v))); g.stroke(); }
        drawn = Math.max(drawn, points.length);
      }
      canvas.dataset.points = drawn;
      return drawn;
    }
    function draw() {
      const s = chartSeries(history), span = { start: s.start, end: s.end };
      const rateMax = Math.max(1, ...s.rates.map((r) => Math.max(r.tps, r.rps)));
      plot($("chart"), span, [
        { points: s.rates.map((r) => ({ t: r.t, v: r.tps })), color: "#3b82f6", max: rateMax },
        { points: s.rates.map((r) => ({ t: r.t, v: r.rps })), color: "#1f9d55", max: rateMax },
      ]);
      const bufferPeak = Math.max(0, ...s.levels.map((l) => l.buffer)), spoolPeak = Math.max(0, ...s.levels.map((l) => l.spool));
      plot($("levels"), span, [
        { points: s.levels.map((l) => ({ t: l.t, v: l.buffer })), color: "#8b5cf6", max: bufferPeak },
        { points: s.levels.map((l) => ({ t: l.t, v: l.spool })), color: "#dd6b20", max: spoolPeak },
      ]);
      const chart = $("chart");
      chart.dataset.tps = s.tps.toFixed(1); chart.dataset.rps = s.rps.toFixed(1);
      chart.dataset.spanS = ((s.end - s.start) / 1000).toFixed(1);
      $("tps").textContent = fmt(Math.round(s.tps)); $("rps").textContent = fmt(Math.round(s.rps));
      $("span").textContent = seconds((s.end - s.start) / 1000);
      $("bufferpeak").textContent = fmt(bufferPeak); $("spoolpeak").textContent = bytes(spoolPeak);
    }
    function show(r) {
      last = r;
      badge(r.feed.state);
      $("status").textContent = r.status; $("status").className = "status " + r.status;
      $("updated").textContent = "updated " + new Date().toLocaleTimeString();
      $("seen").textContent = fmt(r.feed.trades.seen); $("accepted").textContent = fmt(r.feed.trades.accepted);
      $("rows").textContent = fmt(r.database.rows_written);
      $("invalid").textContent = fmt(r.feed.trades.invalid) + " / " + fmt(r.database.dead_letters);
      $("dropped").textContent = fmt(r.feed.trades.dropped); $("reconnects").textContent = fmt(r.feed.reconnects);
      $("buffer").textContent = fmt(r.buffer.items); $("capacity").textContent = fmt(r.buffer.capacity);
      $("bufferbar").style.width = Math.min(100, 100 * r.buffer.items / r.buffer.capacity) + "%";
      $("spool").textContent = bytes(r.spool.bytes); $("segments").textContent = r.spool.segments;
      $("p50").textContent = r.database.write_latency_p50_ms == null ? "–" : r.database.write_latency_p50_ms.toFixed(1);
      $("p99").textContent = r.database.write_latency_p99_ms == null ? "–" : r.database.write_latency_p99_ms.toFixed(1);
      $("dbbreaker").textContent = r.database.breaker; $("feedbreaker").textContent = r.feed.breaker; $("dbstate").textContent = r.database.state;
      $("alerts").innerHTML = r.alerts.length ? r.alerts.map((a) => '<div class="alert">' + a.alert + '</div><div class="muted">since ' + a.since + "</div>").join("") : "none";
      $("alerts").className = r.alerts.length ? "" : "muted";
      $("symbols").innerHTML = r.symbols.worst.map((s) => "<tr><td>" + s.symbol + "</td><td>" + s.state + '</td><td class="num">' + Math.round(s.staleness_s) + " s</td></tr>").join("");
      $("market").textContent = (r.symbols.market_open ? "market open" : "market closed") + " · " + r.symbols.tracked + " tracked";
      // The backfill card shows only with BACKFILL on; its lag turns red while backfill_lagging is open.
      const bf = r.backfill;
      $("backfill").hidden = !bf || bf.state === "off";
      if (bf && bf.state !== "off") {
        $("bfstate").textContent = bf.state; $("bfwaiting").textContent = fmt(bf.gaps_waiting);
        $("bflag").textContent = bf.lag_ms > 0 ? seconds(bf.lag_ms / 1000) : "–";
        $("bflag").className = "num" + (r.alerts.some((a) => a.alert === "backfill_lagging") ? " alert" : "");
        $("bfgaps").textContent = fmt(bf.gaps_done) + " / " + fmt(bf.gaps_partial) + " / " + fmt(bf.gaps_failed);
        $("bfrows").textContent = fmt(bf.rows_inserted);
        $("bfrequests").textContent = fmt(bf.requests) + " / " + fmt(bf.rate_limited);
        $("bferror").textContent = bf.last_error ? "last error: " + bf.last_error : "";
      }
      addReport(history, r, Date.now());
      draw();
    }
    function connect() {
      const token = new URLSearchParams(location.search).get("token");
      const source = new EventSource("events" + (token ? "?token=" + encodeURIComponent(token) : ""));
      source.addEventListener("report", (e) => show(JSON.parse(e.data)));
      source.addEventListener("state", (e) => {
        const s = JSON.parse(e.data);
        if (s.kind === "feed") badge(s.to);
      });
      source.onerror = () => {
        badge("offline"); $("badge").textContent = "offline";
        if (source.readyState === EventSource.CLOSED) { setTimeout(connect, 2000); }
      };
    }
    // A first picture at once from /health (open without a token), then live updates from /events.
    fetch("health").then((r) => r.json()).then((r) => { if (!last) show(r); }).catch(() => {});
    connect();
    </script>
    </body>
    </html>
    """#
}

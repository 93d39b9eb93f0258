"use strict";
// The page polls the server: counts for the chart every second, the top 3
// every two seconds, the consumer's status every second. All ranking and
// counting happens on the server; the page only draws.
(function () {
  const RANGE_SECONDS = 120;
  const SVG_NS = "http://www.w3.org/2000/svg";
  // Margins around the plot. The left one grows with the widest count label
  // (see draw); TITLE_ROOM keeps those labels clear of the rotated y-axis title.
  const M = { left: 60, right: 36, top: 14, bottom: 50 };
  const TITLE_ROOM = 28, LABEL_GAP = 8;
  // Counts reach six digits at high rates: group the thousands, in the
  // reader's own locale, as the status line does.
  const countFormat = new Intl.NumberFormat();
  const PALETTE = ["#1f77b4", "#e6550d", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
                   "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

  const picker = document.getElementById("resource");
  const chart = document.getElementById("chart");
  const legend = document.getElementById("legend");
  const topBody = document.querySelector("#top tbody");
  const updated = document.getElementById("updated");
  const statusLine = document.getElementById("status");

  const colors = new Map(); // referrer -> color, stable for the page's life
  let resource = "";

  function colorOf(referrer) {
    if (!colors.has(referrer)) {
      colors.set(referrer, PALETTE[colors.size % PALETTE.length]);
    }
    return colors.get(referrer);
  }

  function shortName(referrer) {
    return referrer.replace(/^https?:\/\/(www\.)?/, "");
  }

  async function getJSON(url) {
    const res = await fetch(url, { cache: "no-store" });
    const body = await res.json();
    if (!res.ok) {
      throw new Error(body && body.error ? body.error : res.status + " " + res.statusText);
    }
    return body;
  }

  // poll runs fn every period ms, never two at once, and reports failures on
  // the status line instead of the console: a restarting server is expected.
  function poll(fn, period) {
    let busy = false;
    const tick = async () => {
      if (busy) return;
      busy = true;
      try {
        await fn();
      } catch (err) {
        statusLine.textContent = "Cannot reach the server: " + err.message;
        statusLine.classList.add("error");
      } finally {
        busy = false;
      }
    };
    tick();
    return setInterval(tick, period);
  }

  async function loadResources() {
    const list = await getJSON("/api/resources");
    if (list.length === 0) {
      updated.textContent = "Waiting for the first window of data…";
      setTimeout(startResources, 1000);
      return;
    }
    const wanted = decodeURIComponent(location.hash.slice(1));
    picker.replaceChildren(...list.map((r) => new Option(r, r)));
    resource = list.includes(wanted) ? wanted : list[0];
    picker.value = resource;
    refreshChart().catch(() => {});
    refreshTop().catch(() => {});
  }

  picker.addEventListener("change", () => {
    resource = picker.value;
    history.replaceState(null, "", "#" + encodeURIComponent(resource));
    refreshChart().catch(() => {});
    refreshTop().catch(() => {});
  });

  function el(name, attrs, text) {
    const e = document.createElementNS(SVG_NS, name);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function niceMax(v) {
    if (v <= 5) return 5;
    const mag = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 2.5, 5, 10]) {
      if (m * mag >= v) return m * mag;
    }
    return 10 * mag;
  }

  function clock(ms) {
    return new Date(ms).toLocaleTimeString([], { hour12: false });
  }

  function draw(rows) {
    // Draw in the chart's own CSS pixels, so text keeps its size on a phone
    // instead of shrinking with a scaled-down drawing.
    const W = Math.max(300, Math.round(chart.getBoundingClientRect().width) || 800);
    const H = W < 560 ? 300 : 380;
    const narrow = W < 560;
    chart.setAttribute("viewBox", `0 0 ${W} ${H}`);
    const end = rows.length ? rows[rows.length - 1].timestamp : Date.now();
    const start = end - RANGE_SECONDS * 1000;
    const referrers = new Set();
    let max = 0;
    for (const row of rows) {
      for (const rc of row.referrerCounts) {
        referrers.add(rc.referrer);
        max = Math.max(max, rc.count);
      }
    }
    const names = [...referrers].sort();
    const top = niceMax(max);
    const ticks = [0, 1, 2, 3, 4, 5].map((i) => (top * i) / 5);
    const tickText = ticks.map((v) => countFormat.format(Math.round(v)));
    // Measure the widest label as the page's font renders it, and make room.
    const probe = el("text", { class: "y-tick" }, "");
    chart.append(probe);
    const widest = Math.max(...tickText.map((t) => {
      probe.textContent = t;
      return probe.getComputedTextLength();
    }));
    probe.remove();
    const left = Math.max(M.left, Math.ceil(widest) + LABEL_GAP + TITLE_ROOM);
    const pw = W - left - M.right, ph = H - M.top - M.bottom;
    const x = (t) => left + ((t - start) / (end - start)) * pw;
    const y = (v) => M.top + ph - (v / top) * ph;

    const parts = [];
    ticks.forEach((v, i) => {
      parts.push(el("line", { class: "grid", x1: left, x2: W - M.right, y1: y(v), y2: y(v) }));
      parts.push(el("text", { class: "y-tick", x: left - LABEL_GAP, y: y(v) + 4, "text-anchor": "end" }, tickText[i]));
    });
    for (let s = 0; s <= RANGE_SECONDS; s += narrow ? 60 : 30) {
      const t = start + s * 1000;
      parts.push(el("line", { class: "grid", x1: x(t), x2: x(t), y1: M.top, y2: M.top + ph }));
      parts.push(el("text", { x: x(t), y: M.top + ph + 18, "text-anchor": "middle" }, clock(t)));
    }
    parts.push(el("line", { class: "axis", x1: left, x2: W - M.right, y1: M.top + ph, y2: M.top + ph }));
    parts.push(el("line", { class: "axis", x1: left, x2: left, y1: M.top, y2: M.top + ph }));
    parts.push(el("text", { class: "axis-label", x: left + pw / 2, y: H - 8, "text-anchor": "middle" },
      narrow ? "Window end" : "Time (end of each 10-second window)"));
    parts.push(el("text", { class: "axis-label y-title", x: 16, y: M.top + ph / 2, "text-anchor": "middle",
      transform: `rotate(-90 16 ${M.top + ph / 2})` }, "Visits in window"));

    // Complete windows are final; an incomplete one (usually the newest,
    // while the shards' processors close it one after the other) holds the
    // visits of the shards that have written their part so far. Its point
    // is hollow and the line to it dashed.
    const shown = rows.filter((r) => r.timestamp >= start);
    const pending = shown.filter((r) => !r.complete);
    for (const name of names) {
      // A referrer absent from a window had no visits in it: the counter
      // forgets keys whose count drops to 0.
      const pts = shown.map((r) => {
        const rc = r.referrerCounts.find((c) => c.referrer === name);
        const count = rc ? rc.count : 0;
        return { t: r.timestamp, count, complete: r.complete, xy: `${x(r.timestamp).toFixed(1)},${y(count).toFixed(1)}` };
      });
      // Solid lines join complete points; a line to or from an incomplete
      // one is dashed.
      let solid = "", dashed = "", penUp = true;
      pts.forEach((p, i) => {
        const prev = pts[i - 1];
        if (prev && prev.complete && p.complete) {
          solid += (penUp ? `M${prev.xy}` : "") + `L${p.xy}`;
          penUp = false;
          return;
        }
        penUp = true;
        if (prev) dashed += `M${prev.xy}L${p.xy}`;
      });
      const done = pts.filter((p) => p.complete);
      parts.push(el("path", {
        class: "series", stroke: colorOf(name), d: solid,
        "data-referrer": name, "data-points": String(done.length),
        "data-values": done.map((p) => `${p.t}:${p.count}`).join(" "),
      }));
      if (dashed) {
        parts.push(el("path", { class: "series pending", stroke: colorOf(name), d: dashed, "data-referrer": name }));
      }
      for (const p of pts.filter((p) => !p.complete)) {
        const [cx, cy] = p.xy.split(",");
        parts.push(el("circle", {
          class: "pending-point", stroke: colorOf(name), cx, cy, r: 4,
          "data-referrer": name, "data-timestamp": String(p.t), "data-count": String(p.count),
        }));
      }
    }
    chart.replaceChildren(...parts);
    const complete = shown.filter((r) => r.complete);
    const latest = complete.length ? complete[complete.length - 1] : null;
    chart.dataset.latest = latest ? String(latest.timestamp) : "";
    chart.dataset.series = String(names.length);
    chart.dataset.incomplete = String(pending.length);

    const items = names.map((name) => {
      const li = document.createElement("li");
      const sw = document.createElement("span");
      sw.className = "swatch";
      sw.style.background = colorOf(name);
      const rc = latest && latest.referrerCounts.find((c) => c.referrer === name);
      li.append(sw, `${shortName(name)} (${countFormat.format(rc ? rc.count : 0)})`);
      li.dataset.referrer = name;
      li.dataset.count = String(rc ? rc.count : 0);
      return li;
    });
    if (pending.length) {
      const li = document.createElement("li");
      li.className = "pending-note";
      const sw = document.createElement("span");
      sw.className = "swatch pending";
      li.append(sw, "dashed, hollow: window not complete yet, some shards have not reported");
      items.push(li);
    }
    legend.replaceChildren(...items);
    if (latest) {
      const newest = rows[rows.length - 1];
      updated.textContent = `Data last updated by ${latest.host} for the window ending ${clock(latest.timestamp)}` +
        (newest.complete ? "." : `; the window ending ${clock(newest.timestamp)} is not complete yet.`);
    } else if (rows.length) {
      updated.textContent = "Waiting for the first complete window…";
    }
  }

  async function refreshChart() {
    if (!resource) return;
    const want = resource;
    const rows = await getJSON(`/api/counts?resource=${encodeURIComponent(want)}&range_in_seconds=${RANGE_SECONDS}`);
    if (want === resource) draw(rows);
  }

  async function refreshTop() {
    if (!resource) return;
    const want = resource;
    const rows = await getJSON(`/api/top?resource=${encodeURIComponent(want)}&n=3`);
    if (want !== resource) return;
    topBody.replaceChildren(...rows.map((rc, i) => {
      const tr = document.createElement("tr");
      const cells = [String(i + 1), shortName(rc.referrer), countFormat.format(rc.count)];
      cells.forEach((text, j) => {
        const td = document.createElement("td");
        td.textContent = text;
        if (j === 2) td.className = "num";
        tr.append(td);
      });
      tr.dataset.referrer = rc.referrer;
      tr.dataset.count = String(rc.count);
      return tr;
    }));
  }

  async function refreshStatus() {
    const s = await getJSON("/api/status");
    const figures =
      `Records in: ${Math.round(s.recordsPerSecond).toLocaleString()}/s · ` +
      // A lag is unknown (null) until a complete window says it.
      `consumer lag: ${s.lagMillis === null ? "unknown" : s.lagMillis.toLocaleString() + " ms"}` +
      (s.malformed === undefined ? "" : ` · malformed records skipped: ${s.malformed.toLocaleString()}`);
    if (s.error) {
      // The server answers, but its backend does not: say which.
      statusLine.textContent = `Backend problem: ${s.error} · ` + figures;
      statusLine.classList.add("error");
      return;
    }
    statusLine.classList.remove("error");
    statusLine.textContent = figures;
  }

  function startResources() {
    loadResources().catch((err) => {
      statusLine.textContent = "Cannot reach the server: " + err.message;
      statusLine.classList.add("error");
      setTimeout(startResources, 1000);
    });
  }

  startResources();
  // For the browser test and for anyone poking at the page from the console:
  // refresh on demand instead of waiting for the next tick.
  // draw takes rows shaped as /api/counts answers, for the test's large counts.
  window.streamtop = { refreshChart, refreshTop, refreshStatus, draw };
  poll(refreshChart, 1000);
  poll(refreshTop, 2000);
  poll(refreshStatus, 1000);
})();

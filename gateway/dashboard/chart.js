// A small time-series line chart on <canvas>: fixed time window (the last hour), one line
// per series, y axis from 0 to a rounded maximum. No dependencies.
"use strict";

window.SluiceChart = (function () {
  function niceMax(v) {
    if (!(v > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
    return 10 * p;
  }

  function fmt(v) {
    if (v >= 1e6) return (v / 1e6).toFixed(1) + "M";
    if (v >= 1e3) return (v / 1e3).toFixed(v >= 1e4 ? 0 : 1) + "k";
    return v % 1 === 0 ? String(v) : v.toFixed(1);
  }

  /**
   * series: [{ name, color, points: [[t, v], ...] }]; window: { from, to } in ms.
   * Returns how many points were drawn (the dashboard test reads it from data-points).
   */
  function draw(canvas, series, window) {
    const dpr = globalThis.devicePixelRatio || 1;
    const cssW = canvas.clientWidth || canvas.width;
    const cssH = canvas.clientHeight || canvas.height;
    if (canvas.width !== Math.round(cssW * dpr)) canvas.width = Math.round(cssW * dpr);
    if (canvas.height !== Math.round(cssH * dpr)) canvas.height = Math.round(cssH * dpr);
    const ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, cssW, cssH);

    const pad = { left: 44, right: 8, top: 8, bottom: 20 };
    const w = cssW - pad.left - pad.right;
    const h = cssH - pad.top - pad.bottom;
    let max = 0;
    for (const s of series) for (const [, v] of s.points) if (v > max) max = v;
    max = niceMax(max);
    const x = (t) => pad.left + ((t - window.from) / (window.to - window.from)) * w;
    const y = (v) => pad.top + h - (v / max) * h;

    ctx.strokeStyle = "#2a3540";
    ctx.fillStyle = "#8592a0";
    ctx.lineWidth = 1;
    ctx.font = "11px system-ui, sans-serif";
    for (let i = 0; i <= 4; i++) {
      const v = (max * i) / 4;
      const yy = Math.round(y(v)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(pad.left, yy);
      ctx.lineTo(pad.left + w, yy);
      ctx.stroke();
      ctx.fillText(fmt(v), 4, yy + 4);
    }
    for (let i = 0; i <= 4; i++) {
      const ago = ((window.to - window.from) * (4 - i)) / 4;
      const label = ago === 0 ? "now" : ago >= 120000 ? `-${Math.round(ago / 60000)}m` : `-${Math.round(ago / 1000)}s`;
      ctx.fillText(label, pad.left + (w * i) / 4 - (i === 4 ? 22 : 10), cssH - 4);
    }

    let drawn = 0;
    ctx.lineWidth = 2;
    ctx.lineJoin = "round";
    for (const s of series) {
      const pts = s.points.filter(([t]) => t >= window.from && t <= window.to);
      if (pts.length === 0) continue;
      ctx.strokeStyle = s.color;
      ctx.beginPath();
      pts.forEach(([t, v], i) => (i === 0 ? ctx.moveTo(x(t), y(v)) : ctx.lineTo(x(t), y(v))));
      // A single point is a dot, not an invisible zero-length line.
      if (pts.length === 1) ctx.arc(x(pts[0][0]), y(pts[0][1]), 2, 0, Math.PI * 2);
      ctx.stroke();
      drawn += pts.length;
    }
    canvas.dataset.points = String(drawn);
    return drawn;
  }

  function legend(el, series) {
    el.replaceChildren(
      ...series.map((s) => {
        const span = document.createElement("span");
        const swatch = document.createElement("i");
        swatch.style.background = s.color;
        span.append(swatch, s.name);
        return span;
      }),
    );
  }

  return { draw, legend };
})();

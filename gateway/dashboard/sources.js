// Sluice dashboard, egress sources panel (issue 19): per source and destination, what was
// sent, open connections, and for a source on a warm-up ramp its day and what is left of
// today's cap. dashboard.js calls SluiceSources.render with each /v1/stats answer.
"use strict";

(function () {
  function cell(text, cls) {
    const td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    return td;
  }

  function render(stats) {
    const table = document.getElementById("sources");
    if (!table) return;
    const rows = [];
    for (const d of stats.destinations) {
      for (const s of d.sources || []) rows.push({ d, s });
    }
    rows.sort((a, b) => a.s.name.localeCompare(b.s.name) || b.s.sent - a.s.sent);
    document.getElementById("sources-note").hidden = rows.length > 0;
    table.tBodies[0].replaceChildren(
      ...rows.map(({ d, s }) => {
        const tr = document.createElement("tr");
        const w = s.warmup;
        tr.append(
          cell(s.name),
          cell(s.address),
          cell(d.key),
          cell(s.suspended ? "suspended" : "ok", s.suspended ? "state-suspended" : ""),
          cell(s.sent.toLocaleString("en"), "num"),
          cell(String(s.connections), "num"),
          cell(w ? String(w.day) : "–", "num"),
          cell(w ? `${w.remaining.toLocaleString("en")} / ${w.cap.toLocaleString("en")}` : "–", "num"),
        );
        return tr;
      }),
    );
  }

  window.SluiceSources = { render };
})();

// Sluice dashboard, tenant panel (issue 16): polls GET /v1/tenants every 5 s with the key
// given above. An operator key sees every tenant; any other key only its own row (the
// gateway decides, not this page). Delivered/s is the change in delivered events between
// two polls.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const pct = (r) => (r * 100).toFixed(2) + "%";
  let previous = new Map();
  let previousAt = 0;

  function cell(text, cls) {
    const td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    return td;
  }

  async function refreshTenants() {
    const key = localStorage.getItem("sluice.apiKey") || "";
    if (!key) return;
    try {
      const res = await fetch("/v1/tenants", { cache: "no-store", headers: { authorization: `Bearer ${key}` } });
      const body = await res.json();
      if (!res.ok) throw new Error(body.error ? body.error.message : `HTTP ${res.status}`);
      const seconds = previousAt === 0 ? 0 : (body.at - previousAt) / 1000;
      $("tenants-note").textContent = body.scope === "cluster" ? `${body.tenants.length} tenant(s)` : "Your tenant only (an operator key shows every tenant).";
      $("tenants").tBodies[0].replaceChildren(
        ...body.tenants.map((t) => {
          const before = previous.get(t.tenant);
          const perSecond = seconds > 0 && before !== undefined ? Math.max(0, (t.delivered - before) / seconds) : undefined;
          const s = t.settings;
          const tr = document.createElement("tr");
          tr.dataset.tenant = t.tenant;
          tr.dataset.status = t.status;
          tr.append(
            cell(t.tenant),
            cell(t.status + (t.reason ? ` (${t.reason})` : "")),
            cell(String(t.inFlight), "num"),
            cell(String(t.held), "num"),
            cell(String(t.heldForQuota), "num"),
            cell(perSecond === undefined ? "–" : perSecond.toFixed(1), "num"),
            cell(s.dailyQuota === undefined ? `${t.usedToday} / –` : `${t.usedToday} / ${s.dailyQuota} (${s.onQuota})`, "num"),
            cell(s.messagesPerSecond === undefined ? "–" : String(s.messagesPerSecond), "num"),
            cell(`${pct(t.bounceRate)} / ${pct(t.complaintRate)} of ${t.sent}`, "num"),
            cell(String(s.weight), "num"),
          );
          return tr;
        }),
      );
      previous = new Map(body.tenants.map((t) => [t.tenant, t.delivered]));
      previousAt = body.at;
    } catch (e) {
      $("tenants-note").textContent = `Tenants unavailable: ${e.message}`;
    }
  }

  $("key-form").addEventListener("submit", () => setTimeout(refreshTenants, 0));
  refreshTenants();
  setInterval(refreshTenants, 5000);
})();

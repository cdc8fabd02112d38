// Sluice dashboard: polls GET /v1/stats every 2 s and draws tiers, charts, destinations
// and nodes; lists and replays the tenant's dead letters with the API key given.
"use strict";

(function () {
  const TIERS = ["critical", "transactional", "bulk"];
  const TIER_COLORS = { critical: "#ef5350", transactional: "#42a5f5", bulk: "#ab47bc" };
  const OUTCOME_COLORS = { delivered: "#66bb6a", deferred: "#ffa726", bounced: "#ef5350" };
  const DEST_COLORS = ["#26c6da", "#d4e157", "#ff7043", "#7e57c2", "#8d6e63", "#ec407a", "#9ccc65", "#5c6bc0"];
  const HOUR = 3600000;
  const $ = (id) => document.getElementById(id);
  let apiKey = localStorage.getItem("sluice.apiKey") || "";
  const history = [];

  const num = (n) => (n === undefined || n === null ? "–" : Math.round(n).toLocaleString("en"));
  const rate = (n) => (n >= 100 ? n.toFixed(0) : n.toFixed(1));

  function cell(text, cls) {
    const td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    return td;
  }

  function setStatus(text, cls) {
    const el = $("status");
    el.textContent = text;
    el.className = "status " + (cls || "");
  }

  function renderTiers(stats) {
    $("tiers").replaceChildren(
      ...TIERS.map((tier) => {
        const t = stats.tiers[tier];
        const card = document.createElement("div");
        card.className = "card";
        card.dataset.tier = tier;
        card.innerHTML = `<div class="name"></div><div class="value"></div><div class="sub"></div>`;
        card.querySelector(".name").textContent = tier;
        card.querySelector(".value").textContent = num(t.queued);
        card.querySelector(".sub").textContent = `queued · ${num(t.inFlight)} in flight`;
        return card;
      }),
      (() => {
        const card = document.createElement("div");
        card.className = "card";
        card.innerHTML = `<div class="name">dead letters</div><div class="value"></div><div class="sub">in MAIL_DLQ</div>`;
        card.querySelector(".value").textContent = num(stats.dlq && stats.dlq.messages);
        return card;
      })(),
    );
  }

  function renderCharts(stats) {
    const h = stats.history;
    // The axis spans the history there is (at least a minute, at most the hour kept).
    const first = h.length > 0 ? h[0].at : stats.at;
    const span = { from: stats.at - Math.min(HOUR, Math.max(60000, stats.at - first)), to: stats.at };
    const queue = TIERS.map((tier) => ({
      name: tier,
      color: TIER_COLORS[tier],
      points: h.filter((s) => s.queued).map((s) => [s.at, s.queued[tier]]),
    }));
    const throughput = ["delivered", "deferred", "bounced"].map((o) => ({
      name: o,
      color: OUTCOME_COLORS[o],
      points: h.map((s) => [s.at, s[o + "PerSecond"]]),
    }));
    const names = [];
    for (const s of h) for (const k of Object.keys(s.destinations)) if (!names.includes(k)) names.push(k);
    const dests = names.slice(0, DEST_COLORS.length).map((name, i) => ({
      name,
      color: DEST_COLORS[i],
      points: h.filter((s) => name in s.destinations).map((s) => [s.at, s.destinations[name]]),
    }));
    SluiceChart.draw($("chart-queue"), queue, span);
    SluiceChart.legend($("legend-queue"), queue);
    SluiceChart.draw($("chart-throughput"), throughput, span);
    SluiceChart.legend($("legend-throughput"), throughput);
    SluiceChart.draw($("chart-destinations"), dests, span);
    SluiceChart.legend($("legend-destinations"), dests);
  }

  function renderDestinations(stats) {
    $("destinations").tBodies[0].replaceChildren(
      ...stats.destinations.map((d) => {
        const tr = document.createElement("tr");
        tr.dataset.destination = d.key;
        const state = document.createElement("span");
        state.className = "state state-" + d.state;
        state.textContent = d.state;
        const stateCell = document.createElement("td");
        stateCell.append(state);
        const allowed = d.ratePerSecond === d.configuredRatePerSecond ? rate(d.ratePerSecond) : `${rate(d.ratePerSecond)} of ${rate(d.configuredRatePerSecond)}`;
        tr.append(
          cell(d.key),
          stateCell,
          cell(rate(d.deliveredPerSecond), "num"),
          cell(allowed, "num"),
          cell(`${d.connections} / ${d.maxConnections}`, "num"),
          cell(num(d.queued.critical + d.queued.transactional + d.queued.bulk), "num"),
          cell(num(d.delivered), "num"),
          cell(num(d.deferred), "num"),
          cell(num(d.bounced), "num"),
          cell(num(d.throttleEvents), "num"),
          cell(d.nodeId),
        );
        return tr;
      }),
    );
  }

  function renderNodes(stats) {
    $("nodes").tBodies[0].replaceChildren(
      ...stats.nodes.map((n) => {
        const tr = document.createElement("tr");
        tr.append(
          cell(n.nodeId),
          cell(String(n.partitions), "num"),
          cell(TIERS.map((t) => num(n.inFlight[t])).join(" / "), "num"),
          cell(`${Math.round(n.rssBytes / 1048576)} MB`, "num"),
          cell(`${Math.round((stats.at - n.startedAt) / 60000)} min`, "num"),
        );
        return tr;
      }),
    );
  }

  async function refreshStats() {
    try {
      if (!apiKey) {
        setStatus("enter an operator API key (admin scope) to see the cluster", "error");
        return;
      }
      const last = history.length > 0 ? history[history.length - 1].at : undefined;
      const stats = await api("GET", last === undefined ? "/v1/stats" : `/v1/stats?since=${last}`);
      // A tenant key gets its own tenant's figures, not the cluster's (see GET /v1/stats).
      if (stats.scope === "tenant") {
        setStatus(`this key sees tenant ${stats.tenant} only; the cluster view takes an operator key (sluice keys create --operator)`, "error");
        return;
      }
      // Keep the hour locally; each poll brings only the new samples.
      history.push(...stats.history);
      while (history.length > 0 && history[0].at < stats.at - HOUR) history.shift();
      stats.history = history;
      renderTiers(stats);
      renderCharts(stats);
      renderDestinations(stats);
      renderNodes(stats);
      if (window.SluiceSources) window.SluiceSources.render(stats);
      setStatus(`${stats.nodes.length} node(s) · updated ${new Date(stats.at).toLocaleTimeString()}`, "ok");
      document.body.dataset.loaded = "true";
    } catch (e) {
      setStatus(`stats unavailable: ${e.message}`, "error");
    }
  }

  async function api(method, path) {
    const res = await fetch(path, { method, cache: "no-store", headers: { authorization: `Bearer ${apiKey}` } });
    const body = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error((body.error && body.error.message) || `HTTP ${res.status}`);
    return body;
  }

  async function refreshDlq() {
    if (!apiKey) return;
    try {
      const page = await api("GET", "/v1/dlq?limit=50");
      const items = page.deadLetters || [];
      $("dlq-note").textContent = items.length === 0 ? "No dead letters for this tenant." : "";
      $("dlq-count").textContent = page.next ? "(first 50)" : `(${items.length})`;
      $("dlq").tBodies[0].replaceChildren(
        ...items.map((dl) => {
          const tr = document.createElement("tr");
          tr.dataset.id = dl.id;
          const button = document.createElement("button");
          button.textContent = "Replay";
          button.className = "replay";
          button.addEventListener("click", async () => {
            button.disabled = true;
            try {
              await api("POST", `/v1/dlq/${encodeURIComponent(dl.id)}/replay`);
              tr.remove();
            } catch (e) {
              button.disabled = false;
              alert(`Replay failed: ${e.message}`);
            }
          });
          const action = document.createElement("td");
          action.append(button);
          tr.append(cell(dl.message.rcptTo), cell(`${dl.reason.code}: ${dl.reason.message}`), cell(String(dl.attempts.length), "num"), cell(new Date(dl.at).toLocaleString()), action);
          return tr;
        }),
      );
    } catch (e) {
      $("dlq-note").textContent = `Dead letters unavailable: ${e.message}`;
    }
  }

  // The key's tenant's sender domains: state and which DNS records are missing (GET /v1/domains).
  async function refreshDomains() {
    if (!apiKey) return;
    try {
      const { domains } = await api("GET", "/v1/domains");
      $("domains-note").textContent = domains.length === 0 ? "No sender domains for this tenant (POST /v1/domains or sluice domains add)." : "";
      $("domains").tBodies[0].replaceChildren(
        ...domains.map((d) => {
          const tr = document.createElement("tr");
          tr.dataset.status = d.status;
          tr.append(
            cell(d.domain),
            cell(d.status + (d.reason ? ` (${d.reason})` : "")),
            cell(d.selector || "-"),
            cell(d.missing.length === 0 ? "-" : d.missing.join(", ")),
            cell(d.checkedAt ? new Date(d.checkedAt).toLocaleString() : "never"),
          );
          return tr;
        }),
      );
    } catch (e) {
      $("domains-note").textContent = `Sender domains unavailable: ${e.message}`;
    }
  }

  // Scheduling: what this tenant's scheduled mail will release in the next hours.
  async function refreshScheduled() {
    if (!apiKey) return;
    try {
      const v = await api("GET", "/v1/schedules/volume");
      const upTo = (h) => v.hours.slice(0, h).reduce((a, b) => a + b, 0);
      $("scheduled-total").textContent = `(${v.total} recipient(s) in ${v.requests} request(s))`;
      const tr = document.createElement("tr");
      tr.append(cell("recipients"), ...[1, 2, 3, 6, 12, 24].map((h) => cell(String(upTo(h)), "num")), cell(String(v.later), "num"));
      $("scheduled").tBodies[0].replaceChildren(tr);
    } catch (e) {
      $("scheduled-total").textContent = `(unavailable: ${e.message})`;
    }
  }

  $("api-key").value = apiKey;
  $("key-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    apiKey = $("api-key").value.trim();
    localStorage.setItem("sluice.apiKey", apiKey);
    refreshStats();
    refreshDlq();
    refreshDomains();
    refreshScheduled();
  });

  refreshStats();
  refreshDlq();
  refreshDomains();
  setInterval(refreshDomains, 10000);
  refreshScheduled();
  setInterval(refreshStats, 2000);
  setInterval(refreshDlq, 10000);
  setInterval(refreshScheduled, 15000);
})();

// The status page: polls the agent's JSON API and redraws without reloading. Between polls,
// open incidents' costs and durations run on from the last figures at their burn rate.
// Plain DOM, no framework, nothing from outside the agent (the page's CSP allows only 'self').
"use strict";

(() => {
  const params = new URLSearchParams(window.location.search);
  const REFRESH_S = clamp(Number(params.get("refresh")) || 5, 1, 300);
  const HISTORY_S = 60; // availability and recent incidents: also redrawn on any state change
  const BAR_DAYS = 90;
  const RECENT_DAYS = 30;
  const RECENT_MAX = 20;
  const LABELS = {
    up: "Up", down: "Down", degraded: "Degraded", maintenance: "Maintenance", unknown: "Unknown",
  };

  const view = {
    currency: "GBP", timezone: "UTC", money: null, clock: null, dayOf: null,
    fetchedAt: 0, historyAt: -Infinity, stateKey: "", bars: new Map(), recent: [],
    tickers: [], floors: new Map(), banner: "",
  };

  function clamp(x, lo, hi) { return Math.min(hi, Math.max(lo, x)); }
  function $(id) { return document.getElementById(id); }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined) continue;
      node.setAttribute(key, String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  // --- formatting -----------------------------------------------------------------------------

  function setLocale(currency, timezone) {
    if (currency === view.currency && timezone === view.timezone && view.money) return;
    view.currency = currency;
    view.timezone = timezone;
    try {
      view.money = new Intl.NumberFormat(undefined, { style: "currency", currency });
    } catch (_) {
      view.money = { format: (x) => x.toFixed(2) + " " + currency };
    }
    let zone = timezone;
    try { new Intl.DateTimeFormat(undefined, { timeZone: zone }); } catch (_) { zone = "UTC"; }
    view.clock = new Intl.DateTimeFormat(undefined, {
      timeZone: zone, month: "short", day: "numeric", hour: "2-digit", minute: "2-digit",
      second: "2-digit", timeZoneName: "short",
    });
    view.dayOf = new Intl.DateTimeFormat("en-CA", {
      timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit",
    });
  }

  function money(x) { return view.money.format(x); }
  function perHour(x) { return money(x) + "/h"; }

  function duration(seconds) {
    let rest = Math.max(0, Math.round(seconds));
    const parts = [];
    for (const [size, unit] of [[86400, "d"], [3600, "h"], [60, "m"], [1, "s"]]) {
      const n = Math.floor(rest / size);
      rest -= n * size;
      if (n) parts.push(n + unit);
    }
    return parts.slice(0, 2).join(" ") || "0s";
  }

  function percent(share) {
    if (share === null || share === undefined) return "no data";
    if (share >= 1) return "100%";
    return (Math.floor(share * 10000) / 100).toFixed(2) + "%";
  }

  function plural(n, one, many) { return n + " " + (n === 1 ? one : many); }

  function timeEl(iso) {
    if (!iso) return el("span", {}, "–");
    return el("time", { datetime: iso }, view.clock.format(new Date(iso)));
  }

  function durationEl(seconds, key) {
    const node = el("time", { datetime: "PT" + Math.round(seconds) + "S" }, duration(seconds));
    if (key) view.tickers.push({ node, kind: "duration", base: seconds, rate: 1, key });
    return node;
  }

  function badge(state) {
    const name = LABELS[state] ? state : "unknown";
    return el("span", { class: "badge", "data-state": name }, LABELS[name]);
  }

  // --- running figures --------------------------------------------------------------------------

  // A money figure that runs on at `rate` an hour from `base`, never shown going down while
  // its key (an incident, a calendar day) lasts: the next poll may briefly lag the estimate.
  function ticking(node, base, rate, key) {
    node.dataset.value = base.toFixed(2);
    node.textContent = money(Math.max(base, view.floors.get(key) || 0));
    view.tickers.push({ node, kind: "money", base, rate: rate / 3600, key });
    return node;
  }

  function tick() {
    const elapsed = (performance.now() - view.fetchedAt) / 1000;
    for (const t of view.tickers) {
      if (t.kind === "duration") {
        const seconds = t.base + elapsed;
        t.node.textContent = duration(seconds);
        t.node.setAttribute("datetime", "PT" + Math.round(seconds) + "S");
        continue;
      }
      const value = Math.max(t.base + t.rate * elapsed, view.floors.get(t.key) || 0);
      view.floors.set(t.key, value);
      t.node.dataset.value = value.toFixed(2);
      t.node.textContent = money(value);
    }
  }

  // --- drawing ----------------------------------------------------------------------------------

  function drawSummary(summary, systems) {
    setLocale(summary.currency, summary.timezone);
    $("site").textContent = summary.site ? "· " + summary.site : "";
    $("currency").textContent = summary.currency;
    $("timezone").textContent = summary.timezone;
    const today = view.dayOf.format(new Date(summary.generated_at));
    $("burn").dataset.value = summary.cost_per_hour.toFixed(2);
    $("burn").textContent = money(summary.cost_per_hour);
    ticking($("today"), summary.cost_today, summary.cost_per_hour, "today:" + today);
    ticking($("month"), summary.cost_month, summary.cost_per_hour, "month:" + today.slice(0, 7));
    $("affected").textContent = Math.round(summary.affected_users).toLocaleString();
    $("users").textContent = Math.round(summary.concurrent_users).toLocaleString();
    const updated = $("updated");
    updated.setAttribute("datetime", summary.generated_at);
    updated.textContent = view.clock.format(new Date(summary.generated_at));
    drawBanner(summary, systems);
  }

  function drawBanner(summary, systems) {
    const named = (state) => systems.filter((s) => s.state === state).map((s) => s.name);
    const down = named("down"), degraded = named("degraded"), maintenance = named("maintenance");
    const unknown = named("unknown");
    let state = "up", text = "All systems operational.";
    if (down.length) {
      state = "down";
      text = plural(down.length, "system", "systems") + " down: " + down.join(", ") + ".";
      if (degraded.length) text += " " + degraded.length + " degraded: " + degraded.join(", ") + ".";
    } else if (degraded.length) {
      state = "degraded";
      text = plural(degraded.length, "system", "systems") + " degraded: " + degraded.join(", ") + ".";
    } else if (unknown.length) {
      state = "unknown";
      text = "Waiting for a verdict on " + unknown.join(", ") + ".";
    } else if (maintenance.length) {
      state = "maintenance";
      text = "All systems operational; in maintenance: " + maintenance.join(", ") + ".";
    }
    const banner = $("banner");
    banner.dataset.state = state;
    if (text !== view.banner) { // only a change is announced to screen readers
      view.banner = text;
      $("banner-text").textContent = text;
    }
    document.title = (down.length ? "(" + down.length + " down) " : "") + "Status" +
      (summary.site ? " · " + summary.site : "") + " · Outage Cost Agent";
  }

  function incidentCard(s) {
    const o = s.open_outage;
    const since = o.incident_start || o.start;
    const age = o.duration_seconds + (Date.parse(o.start) - Date.parse(since)) / 1000;
    const key = "incident:" + s.name + ":" + since;
    const cost = ticking(el("span", { class: "ticker", "data-system": s.name }),
      o.incident_cost, s.cost_per_hour, key);
    return el("li", { class: "card incident", "data-system": s.name, "data-state": s.state },
      el("div", { class: "head" }, el("h3", { class: "name" }, s.name), badge(s.state)),
      s.cause ? el("p", { class: "cause" }, "Because " + s.cause + " is down: its users are counted there.") : null,
      el("p", { class: "meta" }, "Since ", timeEl(since), " · for ", durationEl(age, key),
        s.last_probe && s.last_probe.reason ? " · " + s.last_probe.reason : null),
      el("dl", { class: "nums" },
        el("div", {}, el("dt", {}, "Cost so far"), el("dd", {}, cost)),
        el("div", {}, el("dt", {}, "Burning"), el("dd", {}, perHour(s.cost_per_hour))),
        el("div", {}, el("dt", {}, "Users affected"),
          el("dd", {}, Math.round(s.affected_users).toLocaleString()))));
  }

  function segmentClass(day) {
    if (day.availability === null) return "a-none";
    if (day.down_seconds <= 0) return day.degraded_seconds > 0 ? "a-degraded" : "a-full";
    return day.down_seconds < 3600 ? "a-minor" : "a-major";
  }

  function segmentText(day) {
    if (day.availability === null) return day.date + ": no data";
    let text = day.date + ": " + percent(day.availability) + " available";
    if (day.down_seconds > 0) text += ", down " + duration(day.down_seconds);
    if (day.degraded_seconds > 0) text += ", degraded " + duration(day.degraded_seconds);
    return text;
  }

  function uptimeBar(name) {
    const data = view.bars.get(name);
    if (!data) return el("p", { class: "meta uptime" }, "Availability history loading…");
    const days = data.days;
    const bad = days.filter((d) => d.down_seconds > 0).length;
    // The share of the time watched, so say how much time that was: a system first seen
    // yesterday has one day behind its figure, not 90 (reports count unwatched time as up).
    const share = percent(data.availability) + " of " + duration(data.counted_seconds) + " watched";
    const label = share + " in the last " + days.length + " days; " +
      plural(bad, "day", "days") + " with downtime.";
    const bar = el("div", { class: "bar", role: "img", "aria-label": label },
      ...days.map((d) => el("span", { class: "seg " + segmentClass(d), title: segmentText(d) })));
    return el("div", { class: "uptime" }, bar,
      el("div", { class: "bar-foot", "aria-hidden": "true" },
        el("span", {}, el("span", { class: "long" }, days.length + " days ago"),
          el("span", { class: "short" }, Math.min(30, days.length) + " days ago")),
        el("span", { class: "pct", title: "availability: the share of the time watched that it was not " +
          "down; planned maintenance and time not watched are left out" }, share),
        el("span", {}, "Today")));
  }

  // A heartbeat system's job: when it last succeeded, how long that run took, when the next
  // success is due.
  function lastRun(h) {
    return el("p", { class: "last-run" }, "Last run ",
      h.last_success ? timeEl(h.last_success) : "never",
      h.last_duration_seconds !== null ? " · took " + duration(h.last_duration_seconds) : null,
      " · next due ", timeEl(h.due));
  }

  // A service's members with their states, and the rule that makes it down.
  function memberList(svc, states) {
    const rule = ["all", "any"].includes(svc.down_when) ? svc.down_when + " of" : svc.down_when;
    return el("p", { class: "members" }, "Down when " + rule + ": ",
      ...svc.members.flatMap((m, i) => [i ? ", " : null,
        el("span", { class: "member", "data-state": states[m] || "unknown" },
          m + " (" + (states[m] || "unknown") + ")")]));
  }

  function systemCard(s, today, states) {
    return el("li", { class: "card system", "data-system": s.name, "data-state": s.state },
      el("div", { class: "head" }, el("h3", { class: "name" }, s.name), badge(s.state),
        s.cause ? el("span", { class: "cause" }, "behind " + s.cause) : null),
      s.description ? el("p", { class: "desc" }, s.description) : null,
      s.heartbeat ? lastRun(s.heartbeat) : null,
      s.service ? memberList(s.service, states) : null,
      el("dl", { class: "nums" },
        el("div", {}, el("dt", {}, "Cost now"), el("dd", { class: "rate" }, perHour(s.cost_per_hour))),
        el("div", {}, el("dt", {}, "Today"), el("dd", {}, ticking(el("span", { class: "today" }),
          s.cost_today, s.cost_per_hour, "sys-today:" + s.name + ":" + today))),
        el("div", {}, el("dt", {}, "This month"), el("dd", {}, ticking(el("span", { class: "month" }),
          s.cost_month, s.cost_per_hour, "sys-month:" + s.name + ":" + today.slice(0, 7))))),
      uptimeBar(s.name));
  }

  function drawSystems(systems, today) {
    const open = systems.filter((s) => s.open_outage && ["down", "degraded"].includes(s.state));
    open.sort((a, b) => (a.cause ? 1 : 0) - (b.cause ? 1 : 0) || b.cost_per_hour - a.cost_per_hour);
    $("incident-list").replaceChildren(...open.map(incidentCard));
    $("no-incidents").hidden = open.length > 0;
    const states = Object.fromEntries(systems.map((s) => [s.name, s.state]));
    $("system-list").replaceChildren(...systems.map((s) => systemCard(s, today, states)));
  }

  // An ongoing window runs on from the system's open outage, fresher than the list itself.
  function windowCost(w, systems) {
    const node = el("span", { class: "cost" });
    const s = systems.find((x) => x.name === w.system && x.open_outage &&
      Date.parse(x.open_outage.start) === Date.parse(w.start));
    if (w.end || !s) {
      node.textContent = money(w.cost);
      return node;
    }
    return el("span", { class: "cost" }, ticking(el("span", {}), s.open_outage.cost,
      s.cost_per_hour, "window:" + w.system + ":" + w.start), " so far");
  }

  function drawRecent(systems) {
    const items = view.recent.slice(-RECENT_MAX).reverse().map((w) =>
      el("li", { "data-system": w.system, "data-state": w.state },
        el("span", { class: "name" }, w.system), badge(w.state),
        el("span", { class: "meta" }, timeEl(w.start), " · ",
          w.end ? durationEl(w.duration_seconds) : "ongoing",
          w.cause ? " · behind " + w.cause : null, w.reason ? " · " + w.reason : null),
        windowCost(w, systems)));
    $("recent-list").replaceChildren(...items);
    $("no-recent").hidden = items.length > 0;
  }

  // --- polling ----------------------------------------------------------------------------------

  async function getJSON(path) {
    const response = await fetch(path, { cache: "no-store", headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(path + ": HTTP " + response.status);
    return response.json();
  }

  async function fetchHistory() {
    const from = Math.floor(Date.now() / 1000) - RECENT_DAYS * 86400;
    const [bars, recent] = await Promise.all([
      getJSON("/api/v1/availability?days=" + BAR_DAYS),
      getJSON("/api/v1/outages?from=" + from),
    ]);
    view.bars = new Map(bars.systems.map((s) => [s.name, s]));
    view.recent = recent;
  }

  async function poll() {
    try {
      const [summary, systems] = await Promise.all([getJSON("/api/v1/summary"), getJSON("/api/v1/systems")]);
      const stateKey = systems.map((s) => s.name + "=" + s.state).join(",");
      const now = performance.now();
      if (stateKey !== view.stateKey || now - view.historyAt > HISTORY_S * 1000) {
        await fetchHistory();
        view.stateKey = stateKey;
        view.historyAt = now;
      }
      view.tickers = [];
      view.fetchedAt = performance.now();
      drawSummary(summary, systems);
      drawSystems(systems, view.dayOf.format(new Date(summary.generated_at)));
      drawRecent(systems);
      const keys = new Set(view.tickers.map((t) => t.key));
      for (const key of [...view.floors.keys()]) if (!keys.has(key)) view.floors.delete(key);
      $("connection").textContent = "live, refreshing every " + REFRESH_S + " s";
    } catch (err) {
      $("connection").textContent = "cannot reach the agent (" + err.message + "); retrying";
    } finally {
      window.setTimeout(poll, REFRESH_S * 1000);
    }
  }

  setLocale("GBP", "UTC");
  poll();
  window.setInterval(tick, 1000);
})();

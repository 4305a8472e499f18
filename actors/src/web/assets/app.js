// flowstate's pages, made live. Every page is complete without this file: the dashboard's
// table, filter and sort work as a form the server answers. With it, filtering and sorting
// happen in place, and status changes arrive over /api/v1/stream (Server-Sent Events) and
// update the rows, the counts and a host's page without a reload.
"use strict";

(function () {
  document.documentElement.classList.add("js");

  const SYMBOL = { up: "✓", degraded: "!", down: "✕", unreachable: "⊘", unknown: "?", partial: "◒" };
  // Worst first: the order a status column sorts in.
  const RANK = { down: 0, unreachable: 1, degraded: 2, partial: 3, unknown: 4, up: 5 };

  function badge(status) {
    const span = document.createElement("span");
    span.className = "status " + status;
    span.textContent = (SYMBOL[status] || "?") + " " + status;
    return span;
  }

  // "3d 4h", "5m 2s": how long ago `iso` was.
  function ago(iso) {
    const then = Date.parse(iso);
    if (isNaN(then)) return "";
    let s = Math.max(0, Math.floor((Date.now() - then) / 1000));
    const parts = [];
    for (const [unit, length] of [["d", 86400], ["h", 3600], ["m", 60], ["s", 1]]) {
      if (s >= length || (unit === "s" && parts.length === 0)) {
        parts.push(Math.floor(s / length) + unit);
        s %= length;
      }
      if (parts.length === 2) break;
    }
    return parts.join(" ");
  }

  // "2026-12-07 14:52:14 UTC", as the server writes times.
  function readable(iso) {
    return /Z$/.test(iso) ? iso.slice(0, 10) + " " + iso.slice(11, 19) + " UTC" : iso;
  }

  function percent(a) {
    if (a === null || a === undefined) return "-";
    if (a >= 1) return "100%";
    return (Math.floor(a * 10000) / 100).toFixed(2) + "%";
  }

  function availabilityClass(a) {
    if (a === null || a === undefined) return "a-unknown";
    if (a >= 0.9995) return "a-good";
    if (a >= 0.99) return "a-fair";
    return "a-bad";
  }

  // Follows /api/v1/stream; `onStatus` gets each event, `onReconnect` runs after a
  // connection that was lost is back (events may have been missed beyond the replay).
  function follow(onStatus, onReconnect) {
    if (!window.EventSource) return;
    const indicator = document.getElementById("live");
    let lost = false;
    const source = new EventSource("/api/v1/stream");
    source.addEventListener("status", function (message) {
      let event;
      try { event = JSON.parse(message.data); } catch (e) { return; }
      onStatus(event);
    });
    source.addEventListener("open", function () {
      if (indicator) { indicator.dataset.state = "live"; indicator.textContent = "live"; }
      if (lost) { lost = false; onReconnect(); }
    });
    source.addEventListener("error", function () {
      lost = true;
      if (indicator) { indicator.dataset.state = "reconnecting"; indicator.textContent = "reconnecting…"; }
    });
  }

  // ---- the dashboard ----
  function dashboard(table) {
    const tbody = table.tBodies[0];
    const form = document.getElementById("filters");
    const query = document.getElementById("q");
    const statusSelect = document.getElementById("status");
    const groupSelect = document.getElementById("group");
    // The platform's tenant switcher scopes the page on the server: choosing one reloads it.
    const tenantSelect = document.getElementById("tenant");
    if (tenantSelect) tenantSelect.addEventListener("change", function () { form.submit(); });
    const shown = document.getElementById("shown");
    const rows = () => Array.prototype.slice.call(tbody.rows);
    const byLabel = new Map();
    rows().forEach(function (row) { byLabel.set(row.dataset.label, row); });

    function matches(row) {
      const text = query.value.trim().toLowerCase();
      if (statusSelect.value && row.dataset.status !== statusSelect.value) return false;
      if (groupSelect && groupSelect.value && (row.dataset.group || "") !== groupSelect.value) return false;
      if (!text) return true;
      const haystack = (row.dataset.label + "\n" + (row.dataset.group || "") + "\n" +
        row.cells[4].textContent).toLowerCase();
      return haystack.indexOf(text) !== -1;
    }

    function filter() {
      let visible = 0;
      const all = rows();
      all.forEach(function (row) {
        const show = matches(row);
        // Only rows that change: touching 10 000 attributes restyles 10 000 rows.
        if (row.hidden === show) row.hidden = !show;
        if (show) visible++;
      });
      shown.textContent = visible + " of " + all.length + " hosts shown";
      remember();
    }

    function counts() {
      const n = { up: 0, degraded: 0, down: 0, unreachable: 0, unknown: 0, partial: 0 };
      rows().forEach(function (row) { n[row.dataset.status] = (n[row.dataset.status] || 0) + 1; });
      Object.keys(n).forEach(function (status) {
        const item = document.querySelector('#counts [data-count="' + status + '"]');
        if (item) {
          item.textContent = "";
          const span = badge(status);
          span.textContent = SYMBOL[status] + " " + n[status] + " " + status;
          item.appendChild(span);
        }
      });
    }

    // The sort key of a row for a column: the cell's data-v when it has one, else its text.
    function key(row, column) {
      const cell = row.cells[column];
      if (column === 0) return RANK[row.dataset.status];
      const v = cell.dataset.v;
      if (v !== undefined) return v === "" ? null : Number(v);
      return cell.textContent.trim().toLowerCase();
    }

    let sorted = form.dataset.sort || "";
    function sortBy(name) {
      const header = table.querySelector('th[data-sort="' + name.replace(/^-/, "") + '"]');
      if (!header) return;
      const column = header.cellIndex;
      const descending = name.charAt(0) === "-";
      const list = rows();
      list.sort(function (a, b) {
        const x = key(a, column), y = key(b, column);
        // Unknown values last, whichever the direction.
        if (x === null && y === null) return 0;
        if (x === null) return 1;
        if (y === null) return -1;
        const order = x < y ? -1 : x > y ? 1 : 0;
        return descending ? -order : order;
      });
      const fragment = document.createDocumentFragment();
      list.forEach(function (row) { fragment.appendChild(row); });
      tbody.appendChild(fragment);
      table.querySelectorAll("th[data-sort]").forEach(function (th) {
        th.removeAttribute("aria-sort");
        const button = th.querySelector("button");
        if (button) button.value = th.dataset.sort;
      });
      header.setAttribute("aria-sort", descending ? "descending" : "ascending");
      const button = header.querySelector("button");
      if (button) button.value = descending ? header.dataset.sort : "-" + header.dataset.sort;
      sorted = name;
      remember();
    }

    // The filter and sort in the address, so a reload or a shared link shows the same.
    function remember() {
      const params = new URLSearchParams();
      if (query.value) params.set("q", query.value);
      if (statusSelect.value) params.set("status", statusSelect.value);
      if (groupSelect && groupSelect.value) params.set("group", groupSelect.value);
      if (sorted) params.set("sort", sorted);
      if (tenantSelect && tenantSelect.value) params.set("tenant", tenantSelect.value);
      const search = params.toString();
      history.replaceState(null, "", search ? "?" + search : location.pathname);
    }

    form.addEventListener("submit", function (e) { e.preventDefault(); });
    table.querySelectorAll("th[data-sort] button").forEach(function (button) {
      button.addEventListener("click", function (e) {
        e.preventDefault();
        sortBy(button.value);
      });
    });
    [query, statusSelect, groupSelect].forEach(function (input) {
      if (input) input.addEventListener("input", filter);
    });

    function setSince(row, iso) {
      const cell = row.cells[10];
      cell.textContent = ago(iso);
      cell.title = iso;
      cell.dataset.v = String(Date.parse(iso) / 1000);
    }

    // The reason column as the server writes it: what holds the host's alerts back, then the
    // newest result's detail.
    function reasonOf(host, check) {
      const notes = [];
      if (host.unreachable_via) notes.push("via " + host.unreachable_via + " (down)");
      if (host.maintenance) notes.push("maintenance " + host.maintenance);
      if (host.silenced) notes.push("silenced");
      if (host.flapping) notes.push("flapping");
      const detail = check ? check.detail : "not checked yet";
      return notes.length ? notes.join(" · ") + " · " + detail : detail;
    }

    function setStatus(row, status, reason, since) {
      row.dataset.status = status;
      // The cell is the badge itself (see the server's row).
      const cell = row.cells[0];
      cell.className = "status " + status;
      cell.textContent = (SYMBOL[status] || "?") + " " + status;
      if (reason !== undefined && reason !== null) row.cells[4].textContent = reason;
      if (since) setSince(row, since);
      row.hidden = !matches(row);
    }

    function setAvailability(cell, a) {
      cell.textContent = percent(a);
      cell.className = "num " + availabilityClass(a);
      cell.dataset.v = a === null || a === undefined ? "" : String(a);
    }

    // Every host as /api/v1/hosts has it now: after a reconnect, and now and then for what
    // changes without a transition (reason, latency, availability).
    function refresh() {
      fetch("/api/v1/hosts", { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
        .then(function (hosts) {
          hosts.forEach(function (host) {
            const row = byLabel.get(host.label);
            if (!row) return;
            const check = host.last_check;
            // In a cluster the quorum's status, and its reason where it differs from here.
            const quorum = host.cluster;
            const status = quorum ? quorum.status : host.status;
            const reason = quorum && (host.elsewhere || quorum.status !== host.status)
              ? quorum.reason : reasonOf(host, check);
            setStatus(row, status, reason, host.since);
            const latency = row.cells[8];
            latency.textContent = check && check.ok ? check.latency_ms.toFixed(1) + " ms" : "-";
            latency.dataset.v = check && check.ok ? String(check.latency_ms) : "";
            if (host.availability) {
              setAvailability(row.cells[5], host.availability["24h"]);
              setAvailability(row.cells[6], host.availability["7d"]);
              setAvailability(row.cells[7], host.availability["30d"]);
            }
          });
          counts();
          filter();
        })
        .catch(function () { /* the next reconnect or tick tries again */ });
    }

    // In a cluster this agent's stream carries its own location's changes, not the quorum's:
    // each one is a cue to ask for every host's status by quorum (at most once a second),
    // and the quorum is asked for often anyway, for changes seen only elsewhere.
    const cluster = table.dataset.cluster === "1";
    let asked = null;
    function refreshSoon() {
      if (asked === null) asked = setTimeout(function () { asked = null; refresh(); }, 1000);
    }
    follow(function (event) {
      if (cluster) { refreshSoon(); return; }
      const row = byLabel.get(event.host);
      if (!row) return;
      setStatus(row, event.status, event.reason, event.since);
      counts();
      filter();
    }, refresh);

    setInterval(function () {
      rows().forEach(function (row) {
        const since = row.cells[10].title;
        if (since && !row.hidden) setSince(row, since);
      });
    }, 30000);
    // Reasons, latencies and availabilities change without a transition; a large dashboard
    // refreshes them less often.
    const every = cluster
      ? (rows().length > 2000 ? 60000 : 5000)
      : (rows().length > 2000 ? 300000 : 60000);
    setInterval(function () { if (!document.hidden) refresh(); }, every);
    // The server filtered already; a browser that kept typed values over a reload did not.
    if (query.value || statusSelect.value || (groupSelect && groupSelect.value)) filter();
  }

  // ---- a host's page ----
  function hostPage(main) {
    const label = main.dataset.host;
    // In a cluster this agent's stream is its own location's: the page shows the quorum's.
    const shown = document.getElementById("host-status");
    if (shown && shown.dataset.cluster === "1") return;
    follow(function (event) {
      if (event.host !== label) return;
      const status = document.getElementById("host-status");
      if (status) { status.textContent = ""; status.appendChild(badge(event.status)); }
      const reason = document.getElementById("host-reason");
      if (reason) reason.textContent = event.reason;
      const since = document.getElementById("host-since");
      if (since) { since.textContent = readable(event.since); since.dateTime = event.since; }
    }, function () { /* the page shows a moment; a reload shows the rest */ });
  }

  function start() {
    const table = document.getElementById("hosts");
    if (table) dashboard(table);
    const main = document.querySelector("main[data-host]");
    if (main) hostPage(main);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();

// hoard dashboard: live status, status history, copy buttons. No framework;
// every page works without this script, which only keeps it current.
"use strict";
(function () {
  var pollMS = parseInt(document.body.getAttribute("data-poll-ms"), 10) || 2000;

  function statusClass(s) {
    if (s === "ACTIVE" || s === "COMPLETED" || s === "HEALTHY") return "ok";
    if (s === "ERROR" || s === "FAILED" || s === "BLOCKED" || s === "SHUTDOWN") return "bad";
    return "busy";
  }
  function setStatus(el, s) {
    if (!el || el.textContent === s) return;
    el.textContent = s;
    el.classList.remove("ok", "bad", "busy");
    el.classList.add(statusClass(s));
  }
  function gb(v) { return v === null || v === undefined ? "–" : v.toFixed(2); }
  function pct(used, size) {
    if (used === null || used === undefined || !size) return 0;
    return Math.min(100, Math.round(used / size * 100));
  }
  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } }).then(function (r) {
      if (r.status === 401) { window.location.assign("/dashboard/login?next=" + encodeURIComponent(location.pathname)); throw new Error("login"); }
      if (r.status === 404) { return null; }
      if (!r.ok) throw new Error("status " + r.status);
      return r.json();
    });
  }
  function every(fn) {
    var busy = false;
    function tick() {
      if (busy || document.hidden) return;
      busy = true;
      fn().catch(function () {}).then(function () { busy = false; });
    }
    setInterval(tick, pollMS);
  }

  // Copy buttons: data-copy names the element whose text is copied.
  document.addEventListener("click", function (ev) {
    var b = ev.target.closest ? ev.target.closest("[data-copy]") : null;
    if (!b) return;
    var src = document.querySelector(b.getAttribute("data-copy"));
    if (!src) return;
    var text = src.textContent;
    var done = function () {
      var old = b.textContent;
      b.textContent = "Copied";
      setTimeout(function () { b.textContent = old; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () {});
    } else {
      var range = document.createRange();
      range.selectNodeContents(src);
      var sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
      try { document.execCommand("copy"); done(); } catch (e) { /* the text stays selected */ }
    }
  });

  // The instance list: statuses, volume use and addresses follow the API.
  var table = document.querySelector("table[data-live]");
  if (table) {
    every(function () {
      return getJSON(table.getAttribute("data-live")).then(function (data) {
        if (!data) return;
        var seen = {};
        data.instances.forEach(function (l) {
          seen[l.id] = true;
          var row = table.querySelector('tr[data-id="' + l.id + '"]');
          if (!row) { seen.$new = true; return; }
          setStatus(row.querySelector('[data-field="status"]'), l.status);
          row.querySelector('[data-field="volume"]').textContent = gb(l.used) + " / " + l.size;
          var m = row.querySelector('[data-field="meter"]');
          m.value = pct(l.used, l.size); m.textContent = m.value + "%";
          row.querySelector('[data-field="address"]').textContent = l.address || "";
        });
        var gone = false;
        table.querySelectorAll("tr[data-id]").forEach(function (row) {
          if (!seen[row.getAttribute("data-id")]) gone = true;
        });
        if (seen.$new || gone) refresh(table.closest(".table-wrap") || table);
      });
    });
  }

  // refresh replaces el with its newer rendering from the server.
  // While one is under way the page's root carries data-refreshing (the
  // count of them), so that a script driving the page can wait for it.
  function refresh(el) {
    var root = document.documentElement;
    var pending = function (d) {
      var n = (+root.dataset.refreshing || 0) + d;
      if (n > 0) root.dataset.refreshing = n; else delete root.dataset.refreshing;
    };
    pending(1);
    return fetch(location.href, { credentials: "same-origin" }).then(function (r) { return r.text(); }).then(function (html) {
      var doc = new DOMParser().parseFromString(html, "text/html");
      var sel = el.id ? "#" + el.id : "." + el.className.split(" ")[0];
      var fresh = doc.querySelector(sel);
      if (!fresh) { location.reload(); return; }
      if (el.contains(document.activeElement)) return; // never pull focus away mid-typing
      el.replaceWith(document.importNode(fresh, true));
    }).finally(function () { pending(-1); });
  }

  // The instance page: status, elapsed time, history, volume, connections,
  // replication lag.
  var inst = document.getElementById("instance");
  if (inst) {
    var id = inst.getAttribute("data-id");
    var key = "hoard-history:" + id;
    var history = [];
    try { history = JSON.parse(sessionStorage.getItem(key) || "[]"); } catch (e) { history = []; }
    var lags = [];
    var current = null;
    var init = JSON.parse(document.getElementById("live-initial").textContent || "{}");

    var drawHistory = function () {
      var ol = document.getElementById("history");
      if (!ol) return;
      ol.textContent = "";
      history.slice(-12).forEach(function (h, i, arr) {
        var li = document.createElement("li");
        var t = new Date(h.at);
        var next = arr[i + 1] ? arr[i + 1].at : null;
        var dur = next ? " for " + Math.round((next - h.at) / 1000) + " s" : "";
        var s = document.createElement("span");
        s.className = "status " + statusClass(h.status);
        s.textContent = h.status;
        li.appendChild(s);
        li.appendChild(document.createTextNode(" at " + t.toLocaleTimeString() + dur));
        ol.appendChild(li);
      });
    };
    var drawConnections = function (conns) {
      var ul = document.getElementById("connections");
      if (!ul || !conns || !conns.length) return;
      var now = Array.prototype.map.call(ul.querySelectorAll("code"), function (c) { return c.textContent; }).join("\n");
      if (now === conns.map(function (c) { return c.value; }).join("\n")) return;
      ul.textContent = "";
      conns.forEach(function (c, i) {
        var li = document.createElement("li");
        var label = document.createElement("span"); label.className = "label"; label.textContent = c.label;
        var code = document.createElement("code"); code.id = "conn-" + i; code.textContent = c.value;
        var b = document.createElement("button"); b.type = "button"; b.className = "copy";
        b.setAttribute("data-copy", "#conn-" + i); b.setAttribute("aria-label", "Copy the " + c.label + " connection string");
        b.textContent = "Copy";
        li.appendChild(label); li.appendChild(document.createTextNode(" ")); li.appendChild(code);
        li.appendChild(document.createTextNode(" ")); li.appendChild(b);
        ul.appendChild(li);
      });
    };
    var drawLag = function () {
      var svg = document.getElementById("lag-chart");
      if (!svg || lags.length < 2) return;
      var maxLag = Math.max.apply(null, lags.concat([1]));
      var pts = lags.map(function (v, i) {
        return (i * 120 / (lags.length - 1)).toFixed(1) + "," + (29 - v / maxLag * 28).toFixed(1);
      });
      svg.querySelector("polyline").setAttribute("points", pts.join(" "));
    };
    var apply = function (l) {
      var last = history.length ? history[history.length - 1] : null;
      if (!last || last.status !== l.status) {
        history.push({ status: l.status, at: Date.now() });
        history = history.slice(-50);
        try { sessionStorage.setItem(key, JSON.stringify(history)); } catch (e) { /* private mode */ }
        drawHistory();
      }
      var wasTransient = current && current.transient;
      current = l;
      setStatus(document.getElementById("status"), l.status);
      var f = document.getElementById("fault");
      if (f) { f.textContent = l.fault || ""; f.hidden = !l.fault; }
      var a = document.getElementById("address");
      if (a) a.textContent = l.address || "";
      var vt = document.getElementById("volume-text");
      if (vt) vt.textContent = gb(l.used) + " of " + l.size + " GB used";
      var vm = document.getElementById("volume-meter");
      if (vm) { vm.value = pct(l.used, l.size); vm.textContent = vm.value + "%"; }
      if (l.lag_seconds !== undefined && l.lag_seconds !== null) {
        lags.push(l.lag_seconds); lags = lags.slice(-60);
        var lt = document.getElementById("lag-text");
        if (lt) lt.textContent = l.lag_seconds.toFixed(2) + " s";
        drawLag();
      }
      drawConnections(l.connections);
      tickElapsed();
      // An operation ended: the page's lists (databases, users, backups)
      // may have changed with it.
      if (wasTransient && !l.transient) {
        var cards = document.querySelector(".cards");
        if (cards) refresh(cards).then(function () { drawHistory(); drawLag(); });
      }
    };
    function tickElapsed() {
      var el = document.getElementById("elapsed");
      if (!el || !history.length) return;
      var s = Math.round((Date.now() - history[history.length - 1].at) / 1000);
      el.textContent = current && current.transient ? s + " s in " + current.status : "";
    }
    apply(init);
    drawHistory();
    tickElapsed();
    setInterval(tickElapsed, 1000);
    every(function () {
      // The connections name the user and database the page lists first.
      var conn = document.getElementById("connections");
      var q = conn ? "?user=" + encodeURIComponent(conn.getAttribute("data-user") || "") +
        "&db=" + encodeURIComponent(conn.getAttribute("data-db") || "") : "";
      return getJSON(inst.getAttribute("data-live") + q).then(function (l) {
        if (!l) { setStatus(document.getElementById("status"), "DELETED"); return; }
        apply(l);
      });
    });
  }
})();

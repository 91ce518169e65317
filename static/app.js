// Small helps for all-day use; every action also works without JavaScript.
(function () {
  "use strict";
  function typing(e) {
    var t = e.target;
    return t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable);
  }
  var rows = Array.prototype.slice.call(document.querySelectorAll("table[data-nav] tbody tr"));
  var cur = -1;
  function select(i) {
    if (!rows.length) return;
    if (cur >= 0) rows[cur].classList.remove("current");
    cur = Math.max(0, Math.min(rows.length - 1, i));
    rows[cur].classList.add("current");
    var link = rows[cur].querySelector("a");
    if (link) link.focus();
  }
  function focusIn(detailsId, fieldId) {
    var d = detailsId && document.getElementById(detailsId);
    if (d) d.open = true;
    var f = document.getElementById(fieldId);
    if (f) { f.scrollIntoView({ block: "center" }); f.focus(); return true; }
    return false;
  }
  document.addEventListener("keydown", function (e) {
    if (typing(e) || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === "j") { select(cur + 1); e.preventDefault(); }
    else if (e.key === "k") { select(cur - 1); e.preventDefault(); }
    else if (e.key === "o" && cur >= 0) { var a = rows[cur].querySelector("a"); if (a) a.click(); }
    else if (e.key === "r") { if (focusIn(null, "reply-body")) e.preventDefault(); }
    else if (e.key === "e") { if (focusIn("escalate", "esc-q")) e.preventDefault(); }
    else if (e.key === "/") {
      var s = document.getElementById("q") || document.getElementById("search-q") || document.getElementById("code-lookup");
      if (s) { s.focus(); e.preventDefault(); }
    }
  });
  // Drag and drop files onto the upload box.
  Array.prototype.forEach.call(document.querySelectorAll("form.dropzone"), function (zone) {
    var input = zone.querySelector("input[type=file]");
    if (!input) return;
    zone.addEventListener("dragover", function (e) { e.preventDefault(); zone.classList.add("over"); });
    zone.addEventListener("dragleave", function () { zone.classList.remove("over"); });
    zone.addEventListener("drop", function (e) {
      e.preventDefault();
      zone.classList.remove("over");
      if (e.dataTransfer && e.dataTransfer.files.length) { input.files = e.dataTransfer.files; zone.submit(); }
    });
  });
  // Internal notes without a full page reload.
  var noteForm = document.getElementById("note-form");
  var thread = document.getElementById("thread");
  if (noteForm && thread && window.fetch && window.URLSearchParams) {
    noteForm.addEventListener("submit", function (e) {
      e.preventDefault();
      var body = new URLSearchParams(new FormData(noteForm));
      fetch(noteForm.action, { method: "POST", body: body, headers: { "Accept": "application/json" }, credentials: "same-origin" })
        .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
        .then(function (n) {
          var art = document.createElement("article");
          art.className = "msg d-internal";
          var head = document.createElement("header");
          var who = document.createElement("strong");
          who.textContent = n.from_name;
          var when = document.createElement("time");
          when.textContent = n.sent_at;
          head.appendChild(who); head.appendChild(when);
          var pre = document.createElement("pre");
          pre.className = "body";
          pre.textContent = n.body_text;
          art.appendChild(head); art.appendChild(pre);
          thread.appendChild(art);
          noteForm.reset();
        })
        .catch(function () { noteForm.submit(); });
    });
  }
})();

// The case report's print button.
document.querySelectorAll('[data-print]').forEach(function (b) {
  b.addEventListener('click', function () { window.print(); });
});

// Canned replies: insert the filled template at the cursor of the reply box.
document.querySelectorAll('[data-insert]').forEach(function (b) {
  b.addEventListener('click', function () {
    var src = document.getElementById(b.getAttribute('data-insert'));
    var box = document.getElementById('reply-body');
    if (!src || !box) return;
    var text = src.textContent;
    var s = box.selectionStart || 0, e = box.selectionEnd || 0;
    box.value = box.value.slice(0, s) + text + box.value.slice(e);
    box.focus();
    box.selectionStart = box.selectionEnd = s + text.length;
  });
});

// Live pages: the queue and the case page listen to /events and refresh the parts
// marked data-live-part in place (the filters and the reply being typed are untouched).
(function () {
  var live = document.querySelector('[data-live]');
  if (!live || !window.EventSource || !window.fetch) return;
  var kind = live.getAttribute('data-live');
  var number = live.getAttribute('data-case');
  var timer = null;
  function refresh() {
    fetch(location.href, { credentials: 'same-origin' })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, 'text/html');
        document.querySelectorAll('[data-live-part]').forEach(function (el) {
          var fresh = doc.querySelector('[data-live-part="' + el.getAttribute('data-live-part') + '"]');
          if (!fresh) return;
          fresh = document.importNode(fresh, true);
          // What the reader opened or closed stays so (a message shown as text, a
          // quoted part), found again by its key whatever came in around it.
          el.querySelectorAll('details[data-key]').forEach(function (d) {
            var same = fresh.querySelector('details[data-key="' + d.getAttribute('data-key') + '"]');
            if (same) same.open = d.open;
          });
          el.replaceWith(fresh);
        });
        live.hidden = false;
      })
      .catch(function () {});
  }
  // "A colleague is replying": others' typing shown for 45 s after it was last seen;
  // our own typing said every 10 s while the reply box changes.
  var note = document.getElementById('replying');
  var me = note ? note.getAttribute('data-me') : null;
  var typing = {};
  function showTyping() {
    if (!note) return;
    var now = Date.now(), names = [];
    Object.keys(typing).forEach(function (k) {
      if (now - typing[k].at > 45000) delete typing[k]; else names.push(typing[k].name);
    });
    var el = note.querySelector('[data-replying-names]');
    if (names.length) { el.textContent = names.join('、'); note.hidden = false; }
    else if (!note.dataset.server) { note.hidden = true; }
  }
  function sighted(d) {
    if (!note || String(d.user_id) === me) return;
    typing[d.user_id] = { name: d.name || '', at: Date.now() };
    delete note.dataset.server;
    showTyping();
  }
  if (note && !note.hidden) {
    note.dataset.server = '1';
    setTimeout(function () { delete note.dataset.server; showTyping(); }, 45000);
  }
  setInterval(showTyping, 5000);
  var form = document.querySelector('form[data-replying-url]');
  var said = 0;
  if (form) form.addEventListener('input', function () {
    if (Date.now() - said < 10000) return;
    said = Date.now();
    var body = new URLSearchParams();
    var t = form.querySelector('input[name="csrf_token"]');
    body.set('csrf_token', t ? t.value : '');
    fetch(form.getAttribute('data-replying-url'), { method: 'POST', body: body, credentials: 'same-origin' }).catch(function () {});
  });
  var es = null;
  function open() {
    es = new EventSource('/events');
    es.addEventListener('change', function (ev) {
      var d = {};
      try { d = JSON.parse(ev.data); } catch (e) {}
      if (d.action === 'replying') { if (kind === 'case' && d.case === number) sighted(d); return; }
      if (kind === 'case' && d.case && d.case !== number) return;
      if (timer) return;
      timer = setTimeout(function () { timer = null; refresh(); }, 250);
    });
  }
  open();
  // A page left (or kept in the back/forward cache) gives its stream back: browsers
  // allow only a few connections per site, and a kept one would hold a slot.
  window.addEventListener('pagehide', function () { if (es) { es.close(); es = null; } });
  window.addEventListener('pageshow', function (ev) { if (ev.persisted && !es) { open(); refresh(); } });
})();

// The unread badge on pages that did not count it themselves.
(function () {
  var b = document.querySelector('[data-unread]');
  if (!b || !window.fetch) return;
  fetch(b.getAttribute('data-unread'), { credentials: 'same-origin' })
    .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
    .then(function (d) {
      if (d.unread > 0) { b.textContent = d.unread >= 100 ? '99+' : String(d.unread); b.hidden = false; }
    })
    .catch(function () {});
})();

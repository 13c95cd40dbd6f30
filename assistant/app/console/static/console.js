// The console's live parts, in plain JavaScript: confirmations before destructive forms, the live
// sessions board (its rows fetched again every few seconds), and the upload panel (drag and drop or
// choose several files, send them with the session's form token, then follow the job through
// GET /v1/jobs/{id} until every file has its result).
(function () {
  "use strict";

  var messages = {};
  try { messages = JSON.parse(document.getElementById("messages").textContent || "{}"); } catch (e) { messages = {}; }

  function t(key, values) {
    var text = messages[key] || key;
    Object.keys(values || {}).forEach(function (name) { text = text.split("{" + name + "}").join(String(values[name])); });
    return text;
  }

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  // Forms that delete or revoke ask first.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm") || t("confirm"))) { event.preventDefault(); }
    });
  });

  // The live sessions board: the same page's rows (its URL with rows=1, the filters kept) every few
  // seconds; a session that is new or has a new turn since the last look is highlighted.
  var live = document.getElementById("live");
  if (live) {
    var sessionRows = document.getElementById("session-rows");
    var liveState = document.getElementById("live-state");
    var liveAt = document.getElementById("live-at");
    var every = parseInt(live.getAttribute("data-every"), 10) || 3000;
    var lastHtml = null;

    var seen = function () {
      var last = {};
      sessionRows.querySelectorAll("tr[data-session]").forEach(function (row) {
        last[row.getAttribute("data-session")] = row.getAttribute("data-last");
      });
      return last;
    };

    var refresh = function () {
      if (document.hidden) { window.setTimeout(refresh, every); return; }
      fetch(live.getAttribute("data-url"), { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (response) {
          if (!response.ok || response.redirected) { throw new Error(response.redirected ? t("live.signed_out") : String(response.status)); }
          return response.text();
        })
        .then(function (html) {
          if (html !== lastHtml) {
            var before = seen();
            var parsed = new DOMParser().parseFromString("<table><tbody>" + html + "</tbody></table>", "text/html");
            var rows = Array.prototype.slice.call(parsed.querySelectorAll("tbody > tr"));
            rows.forEach(function (row) {
              var id = row.getAttribute("data-session");
              if (id && before[id] !== row.getAttribute("data-last")) { row.classList.add("arrived"); }
            });
            sessionRows.textContent = "";
            rows.forEach(function (row) { sessionRows.appendChild(document.importNode(row, true)); });
            lastHtml = html;
          }
          live.classList.remove("paused");
          liveState.textContent = t("live.on");
          liveAt.textContent = t("live.at", { time: new Date().toLocaleTimeString() });
        })
        .catch(function (error) {
          live.classList.add("paused");
          liveState.textContent = t("live.failed") + ": " + error.message;
        })
        .then(function () { window.setTimeout(refresh, every); });
    };
    window.setTimeout(refresh, every);
  }

  var form = document.getElementById("upload-form");
  if (!form) { return; }
  var input = document.getElementById("upload-input");
  var zone = document.getElementById("drop-zone");
  var list = document.getElementById("chosen");
  var submit = document.getElementById("upload-submit");
  var chosen = [];

  function showChosen() {
    list.textContent = "";
    if (!chosen.length) { list.appendChild(element("li", "muted", t("upload.none"))); }
    chosen.forEach(function (file, index) {
      var item = element("li", "", file.name + " · " + Math.max(1, Math.round(file.size / 1024)) + " KB ");
      var remove = element("button", "link", t("upload.remove"));
      remove.type = "button";
      remove.addEventListener("click", function () { chosen.splice(index, 1); showChosen(); });
      item.appendChild(remove);
      list.appendChild(item);
    });
    submit.disabled = chosen.length === 0;
  }

  function add(files) {
    Array.prototype.forEach.call(files, function (file) {
      chosen = chosen.filter(function (kept) { return kept.name !== file.name; });
      chosen.push(file);
    });
    showChosen();
  }

  input.addEventListener("change", function () { add(input.files); input.value = ""; });
  ["dragenter", "dragover"].forEach(function (name) {
    zone.addEventListener(name, function (event) { event.preventDefault(); zone.classList.add("over"); });
  });
  ["dragleave", "drop"].forEach(function (name) {
    zone.addEventListener(name, function (event) { event.preventDefault(); zone.classList.remove("over"); });
  });
  zone.addEventListener("drop", function (event) {
    if (event.dataTransfer && event.dataTransfer.files) { add(event.dataTransfer.files); }
  });

  var job = document.getElementById("job");
  var statusLine = document.getElementById("job-status");
  var progress = document.getElementById("job-progress");
  var count = document.getElementById("job-count");
  var rows = document.querySelector("#job-files tbody");

  function showJob(state) {
    statusLine.textContent = t("job." + state.status);
    statusLine.className = "status-" + state.status;
    progress.max = Math.max(1, state.total);
    progress.value = state.done;
    count.textContent = t("upload.progress", { done: state.done, total: state.total });
    rows.textContent = "";
    (state.files || []).forEach(function (file) {
      var row = element("tr", "file-" + file.status);
      row.appendChild(element("td", "", file.source));
      row.appendChild(element("td", "", t("file." + file.status)));
      var idCell = element("td", "mono");
      if (file.doc_id && file.status !== "failed") {
        var link = element("a", "", file.doc_id);
        link.href = "/console/kbs/" + encodeURIComponent(form.getAttribute("data-kb")) + "/docs/" + encodeURIComponent(file.doc_id);
        idCell.appendChild(link);
      }
      row.appendChild(idCell);
      row.appendChild(element("td", "num", file.chunks === undefined ? "" : file.chunks));
      var notes = element("td", "text");
      if (file.error) { notes.appendChild(element("div", "bad", file.error)); }
      (file.warnings || []).forEach(function (warning) { notes.appendChild(element("div", "warn", warning)); });
      row.appendChild(notes);
      rows.appendChild(row);
    });
    if (state.error) {
      var cell = element("td", "bad", state.error);
      cell.colSpan = 5;
      rows.appendChild(element("tr")).appendChild(cell);
    }
  }

  function follow(url) {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.json().then(function (body) { return { ok: response.ok, body: body }; }); })
      .then(function (reply) {
        if (!reply.ok) { throw new Error(reply.body.detail || reply.body.error || t("upload.failed")); }
        showJob(reply.body);
        if (reply.body.status === "done" || reply.body.status === "failed") {
          document.getElementById("job-done").hidden = false;
          submit.disabled = chosen.length === 0;
        } else {
          window.setTimeout(function () { follow(url); }, 700);
        }
      })
      .catch(function (error) { statusLine.textContent = t("upload.failed") + ": " + error.message; });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (!chosen.length) { return; }
    var body = new FormData();
    chosen.forEach(function (file) { body.append("files", file, file.name); });
    ["owner", "version", "effective_date", "tags", "url"].forEach(function (name) {
      var field = form.elements.namedItem(name);
      if (field && field.value) { body.append(name, field.value); }
    });
    submit.disabled = true;
    job.hidden = false;
    document.getElementById("job-done").hidden = true;
    rows.textContent = "";
    statusLine.textContent = t("upload.sending");
    fetch(form.getAttribute("action"), {
      method: "POST", body: body, credentials: "same-origin",
      headers: { "X-CSRF-Token": form.getAttribute("data-token"), "Accept": "application/json" }
    })
      .then(function (response) { return response.json().then(function (reply) { return { ok: response.ok, body: reply }; }); })
      .then(function (reply) {
        if (!reply.ok) { throw new Error(reply.body.error || reply.body.detail || t("upload.failed")); }
        chosen = [];
        showChosen();
        follow(reply.body.status_url);
      })
      .catch(function (error) {
        statusLine.textContent = t("upload.failed") + ": " + error.message;
        submit.disabled = chosen.length === 0;
      });
  });

  showChosen();
})();

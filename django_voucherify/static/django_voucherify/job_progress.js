/* Live progress on the bulk job page: polls the job's status JSON (the URL is in the page's
   data-job-status-url) while the job runs and updates the progress bar, counts, the parts
   table (one row per part, drawn with the same cells as admin/job_status.py) and failed
   rows in place; the polling itself (interval, back-off, stopping) is live_status.js's. Text is set with textContent only (no HTML from the server), and there is
   no inline script, so the page works under a strict Content-Security-Policy. */
(function () {
    "use strict";

    var live = window.djangoVoucherifyLive;

    function setField(root, name, value) {
        root.querySelectorAll('[data-job-field="' + name + '"]').forEach(function (el) {
            if (el.tagName === "PROGRESS") {
                el.value = value;
            } else {
                el.textContent = String(value);
            }
        });
    }

    function renderFailedRows(root, rows) {
        var body = root.querySelector("[data-job-failed-rows]");
        if (!body) {
            return;
        }
        while (body.firstChild) {
            body.removeChild(body.firstChild);
        }
        rows.forEach(function (row) {
            var tr = document.createElement("tr");
            [row.row, row.code, row.reason].forEach(function (cell) {
                var td = document.createElement("td");
                td.textContent = cell === null || cell === undefined ? "" : String(cell);
                tr.appendChild(td);
            });
            body.appendChild(tr);
        });
        var table = body.closest("table");
        if (table) {
            table.hidden = rows.length === 0;
        }
    }

    var LIVE_FIELDS = [
        "progress", "done_count", "failed_count", "total_rows", "state_label", "error", "finished_at_text"
    ];
    var PART_CELLS = ["index", "first_row", "row_count", "state_label", "progress", "done_count", "failed_count"];

    function renderParts(root, parts) {
        var body = root.querySelector("[data-job-parts]");
        if (!body || !parts) {
            return;
        }
        while (body.firstChild) {
            body.removeChild(body.firstChild);
        }
        parts.forEach(function (part) {
            var tr = document.createElement("tr");
            tr.setAttribute("data-job-part", String(part.index));
            PART_CELLS.forEach(function (name) {
                var td = document.createElement("td");
                var value = part[name] === null || part[name] === undefined ? "" : String(part[name]);
                if (name === "progress") {
                    var bar = document.createElement("progress");
                    bar.max = 100;
                    bar.value = part.progress;
                    var span = document.createElement("span");
                    span.textContent = value;
                    td.appendChild(bar);
                    td.appendChild(document.createTextNode(" "));
                    td.appendChild(span);
                    td.appendChild(document.createTextNode("%"));
                } else {
                    td.setAttribute("data-part-field", name);
                    td.textContent = value;
                }
                tr.appendChild(td);
            });
            body.appendChild(tr);
        });
        var table = body.closest("table");
        if (table) {
            table.hidden = parts.length === 0;
        }
    }

    function render(status) {
        LIVE_FIELDS.forEach(function (name) {
            setField(document, name, status[name]);
        });
        renderFailedRows(document, status.failed_rows);
        renderParts(document, status.parts);
        document.querySelectorAll("[data-job-result]").forEach(function (link) {
            link.hidden = !status.has_result_file;
        });
        document.querySelectorAll("[data-job-result-pending]").forEach(function (note) {
            note.hidden = status.has_result_file;
        });
        document.body.setAttribute("data-job-state", status.state);
        if (status.finished) {
            document.body.setAttribute("data-job-finished", "1");
        }
    }

    function start(root) {
        if (root.getAttribute("data-job-finished") === "1") {
            return;
        }
        live.follow({
            url: root.getAttribute("data-job-status-url"),
            every: parseInt(root.getAttribute("data-job-poll-ms"), 10) || 2000,
            render: render,
            stopped: function (message) {
                var note = live.stoppedNote(root, message, "This page stopped following the job: reload it.");
                note.setAttribute("data-job-stopped", "1");
                document.body.setAttribute("data-job-polling", "stopped");
            }
        });
    }

    live.onReady(function () {
        document.querySelectorAll("[data-job-status-url]").forEach(start);
    });
})();

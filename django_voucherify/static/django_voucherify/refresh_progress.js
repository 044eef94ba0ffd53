/* The "Refresh from Voucherify" block above the voucher, campaign and promotion-tier
   changelists (#last-refresh, drawn by admin/refresh_status.py): while its run is queued or
   running, live_status.js polls data-refresh-status-url and this redraws the block from the
   answer (state, sentence, progress bar, error); when the run ends it says so and offers to
   reload the list (not reloaded by itself: staff may be selecting rows). Nothing is polled
   when the page shows a finished run. */
(function () {
    "use strict";

    var live = window.djangoVoucherifyLive;
    var STATE_CLASSES = ["is-ok", "is-running", "is-failed"];

    function render(root, status) {
        STATE_CLASSES.forEach(function (name) {
            root.classList.toggle(name, name === status.css);
        });
        root.setAttribute("data-refresh-state", status.state);
        var message = root.querySelector('[data-refresh-field="message"]');
        if (message) {
            message.textContent = status.message;
            message.title = status.when_text || "";
        }
        var error = root.querySelector('[data-refresh-field="error"]');
        if (error) {
            error.textContent = status.error || "";
            error.hidden = !status.error;
        }
        var bar = root.querySelector('[data-refresh-field="progress"]');
        if (bar) {
            bar.max = status.total || 1;
            bar.value = status.done || 0;
            bar.hidden = !status.show_progress;
        }
        if (status.finished) {
            root.setAttribute("data-refresh-finished", "1");
            var ended = root.querySelector("[data-refresh-ended]");
            if (ended) {
                ended.hidden = false;
            }
        }
    }

    function start(root) {
        if (root.getAttribute("data-refresh-finished") === "1") {
            return; // nothing runs: nothing to ask
        }
        live.follow({
            url: root.getAttribute("data-refresh-status-url"),
            every: parseInt(root.getAttribute("data-refresh-poll-ms"), 10) || 2000,
            render: function (status) {
                render(root, status);
            },
            stopped: function (message) {
                var note = live.stoppedNote(root, message, "This page stopped following the refresh: reload it.");
                note.setAttribute("data-refresh-stopped", "1");
            }
        });
    }

    live.onReady(function () {
        document.querySelectorAll("[data-refresh-status-url]").forEach(start);
    });
})();

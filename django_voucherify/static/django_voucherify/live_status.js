/* The admin's live pages share this poller: the job page (job_progress.js) and the refresh
   block above the voucher, campaign and promotion-tier changelists (refresh_progress.js).
   follow() asks a status JSON every `every` ms until it answers `finished: true`; after a
   failed request it waits twice as long each time (up to MAX_DELAY_MS), and goes back to
   `every` once an answer comes; a 401 or 403 (signed out, no longer allowed) stops it with the
   server's message. No inline script, text set with textContent only: CSP-friendly. */
(function () {
    "use strict";

    var MAX_DELAY_MS = 60000;

    function delayAfter(every, failures) {
        return failures ? Math.min(every * Math.pow(2, failures), MAX_DELAY_MS) : every;
    }

    /* options: url, every (ms), render(status) for each answer, stopped(message) on 401/403. */
    function follow(options) {
        var failures = 0;
        function schedule() {
            window.setTimeout(poll, delayAfter(options.every, failures));
        }
        function poll() {
            fetch(options.url, {credentials: "same-origin", headers: {Accept: "application/json"}})
                .then(function (response) {
                    if (response.status === 401 || response.status === 403) {
                        // Polling on would only make the page look frozen: say why and stop.
                        return response.json().catch(function () {
                            return {};
                        }).then(function (body) {
                            options.stopped(body && body.error);
                            return null;
                        });
                    }
                    if (!response.ok) {
                        throw new Error(String(response.status));
                    }
                    return response.json();
                })
                .then(function (status) {
                    if (status === null) {
                        return;
                    }
                    failures = 0;
                    options.render(status);
                    if (!status.finished) {
                        schedule();
                    }
                })
                .catch(function () {
                    failures += 1; // a blip or a server error: ask again, less and less often
                    document.body.setAttribute("data-live-failures", String(failures));
                    schedule();
                });
        }
        schedule();
    }

    /* An error note after `root` saying the page no longer follows (the server's words). */
    function stoppedNote(root, message, fallback) {
        var note = document.createElement("p");
        note.className = "errornote";
        note.textContent = message || fallback;
        root.parentNode.insertBefore(note, root.nextSibling);
        return note;
    }

    function onReady(init) {
        if (document.readyState === "loading") {
            document.addEventListener("DOMContentLoaded", init);
        } else {
            init();
        }
    }

    window.djangoVoucherifyLive = {follow: follow, stoppedNote: stoppedNote, onReady: onReady, delayAfter: delayAfter};
})();

/* One click starts one job: the upload and export forms disable their button once sent (the
   server also refuses a second POST of the same form token: admin/submit_once.py). */
(function () {
    "use strict";
    function init() {
        document.querySelectorAll("form[data-submit-once]").forEach(function (form) {
            form.addEventListener("submit", function () {
                form.querySelectorAll("[type=submit]").forEach(function (button) {
                    button.disabled = true;
                });
            });
        });
    }
    if (document.readyState === "loading") {
        document.addEventListener("DOMContentLoaded", init);
    } else {
        init();
    }
})();

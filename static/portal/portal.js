/* Progressive enhancement for the portal; every page works without it. */
(function () {
  "use strict";
  function focusErrorSummary(root) {
    var summary = (root || document).querySelector("[data-autofocus]");
    if (summary) { summary.focus(); }
  }
  document.addEventListener("DOMContentLoaded", function () { focusErrorSummary(document); });
  document.body.addEventListener("htmx:afterSwap", function (event) { focusErrorSummary(event.target); });
  // A second click on a form's submit button does nothing while the first submission is under way
  // (the server-issued idempotency key makes a resubmission safe anyway).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.method.toLowerCase() !== "post") { return; }
    if (form.dataset.submitting === "true") { event.preventDefault(); return; }
    form.dataset.submitting = "true";
    window.setTimeout(function () { form.dataset.submitting = "false"; }, 5000);
  });
})();

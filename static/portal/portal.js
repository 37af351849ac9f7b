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
    // A form that asks for it shows its submit button disabled while the request is under way.
    var button = form.dataset.disableOnSubmit && form.querySelector(form.dataset.disableOnSubmit);
    if (button) { window.setTimeout(function () { button.disabled = true; }, 0); }
  });
  // A button with data-confirm asks before it submits (no inline handler: the CSP forbids them).
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-confirm]") : null;
    if (button && !window.confirm(button.dataset.confirm)) { event.preventDefault(); }
  });
})();

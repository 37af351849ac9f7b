/* Progressive enhancement for the portal; every page works without it. */
(function () {
  "use strict";
  function focusErrorSummary(root) {
    var summary = (root || document).querySelector("[data-autofocus]");
    if (summary) { summary.focus(); }
  }
  document.addEventListener("DOMContentLoaded", function () { focusErrorSummary(document); });
  document.body.addEventListener("htmx:afterSwap", function (event) { focusErrorSummary(event.target); });
})();

/* Running total of a claim's line items (the server computes the billed total again). */
(function () {
  "use strict";
  var form = document.getElementById("claim-form");
  if (!form) { return; }
  function cents(value) {
    var number = parseFloat(String(value || "").replace(",", "."));
    return isFinite(number) ? Math.round(number * 100) : 0;
  }
  function format(amount) { return (amount / 100).toFixed(2); }
  function update() {
    var total = 0;
    form.querySelectorAll("[data-claim-line]").forEach(function (row) {
      var units = row.querySelector("[data-line=units]");
      var price = row.querySelector("[data-line=price]");
      var cell = row.querySelector("[data-line-total]");
      var priceCents = cents(price && price.value);
      var count = parseInt((units && units.value) || "1", 10) || 1;
      var line = priceCents ? priceCents * count : 0;
      total += line;
      if (cell) { cell.textContent = line ? format(line) : "–"; }
    });
    document.getElementById("running-total").textContent = format(total);
  }
  form.addEventListener("input", update);
  update();
})();

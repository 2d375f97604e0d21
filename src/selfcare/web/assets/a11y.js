// Accessible names and roles for controls whose Dash component takes no aria-* property.
// Dash 4's Checklist renders the shell's VAT toggle as an ARIA listbox whose option wraps a real
// checkbox: an unnamed list (axe-core: aria-input-field-name) with an interactive control inside
// another (nested-interactive). A named group around the native checkbox and its label says the
// same thing plainly. Applied on every render, since Dash may re-create the elements.
(function () {
  var GROUPS = { "app-vat": "Amounts including VAT" };
  function fix() {
    Object.keys(GROUPS).forEach(function (id) {
      var el = document.getElementById(id);
      if (!el) return;
      if (el.getAttribute("role") !== "group") el.setAttribute("role", "group");
      if (el.getAttribute("aria-label") !== GROUPS[id]) el.setAttribute("aria-label", GROUPS[id]);
      el.querySelectorAll("[role=option]").forEach(function (opt) {
        opt.removeAttribute("role");
        opt.removeAttribute("aria-selected");
      });
    });
  }
  new MutationObserver(fix).observe(document.documentElement, {
    childList: true, subtree: true, attributes: true, attributeFilter: ["role"],
  });
  document.addEventListener("DOMContentLoaded", fix);
})();

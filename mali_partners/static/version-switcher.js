// Version switcher for the published book: reads versions.json at the site root
// (one folder above each version's folder) and fills the <select> in the banner.
// Served pages only (http/https): a book opened from disk has no site root, so the
// switcher stays hidden and nothing is requested.
(function () {
  "use strict";
  function ready(fn) {
    if (document.readyState !== "loading") { fn(); } else { document.addEventListener("DOMContentLoaded", fn); }
  }
  ready(function () {
    var holder = document.getElementById("mp-version-switcher");
    if (!holder || (location.protocol !== "http:" && location.protocol !== "https:")) { return; }
    var root = document.documentElement.dataset.content_root || "./";
    var current = holder.getAttribute("data-version");
    var versionRoot = new URL(root, location.href);          // .../<version>/
    var siteRoot = new URL("../", versionRoot);               // .../
    var page = location.href.slice(versionRoot.href.length).split("#")[0] || "index.html";
    fetch(new URL("versions.json", siteRoot), { cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : []; })
      .then(function (versions) {
        if (!Array.isArray(versions) || versions.length === 0) { return; }
        var select = document.createElement("select");
        select.setAttribute("aria-label", "Book version");
        select.id = "mp-version-select";
        versions.forEach(function (v) {
          var opt = document.createElement("option");
          opt.value = new URL(v.version + "/" + page, siteRoot).href;
          opt.textContent = v.name || v.version;
          if (v.version === current) { opt.selected = true; }
          select.appendChild(opt);
        });
        select.addEventListener("change", function () { location.href = select.value; });
        var label = document.createElement("label");
        label.textContent = " · version: ";
        label.appendChild(select);
        holder.appendChild(label);
        holder.hidden = false;
      })
      .catch(function () { /* not published: no switcher */ });
  });
})();

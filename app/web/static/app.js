// hogflows web page: the only script. Refreshes [data-poll] regions with the HTML fragment the
// server renders at that URL.
(function () {
  "use strict";

  function refresh(region) {
    var every = Number(region.getAttribute("data-every")) || 3000;
    var url = region.getAttribute("data-poll");
    function tick() {
      if (document.hidden) { setTimeout(tick, every); return; }
      fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (response) { return response.text(); })
        .then(function (html) {
          var focused = document.activeElement && region.contains(document.activeElement) ? document.activeElement.id : null;
          region.innerHTML = html;  // error answers are fragments too: the message shows in place
          region.setAttribute("data-refreshed", String(Date.now()));
          if (focused && document.getElementById(focused)) { document.getElementById(focused).focus(); }
          region.classList.remove("offline");
        })
        .catch(function () { region.classList.add("offline"); })
        .then(function () { setTimeout(tick, every); });
    }
    setTimeout(tick, every);
  }

  // A wide graph opens with its trigger in the middle of the view, not its left margin.
  function centerStart(wrap) {
    var start = wrap.querySelector("g.node.type-trigger") || wrap.querySelector("g.node");
    if (!start) { return; }
    var node = start.getBoundingClientRect(), view = wrap.getBoundingClientRect();
    wrap.scrollLeft += (node.left + node.width / 2) - (view.left + view.width / 2);
  }

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll(".graph-wrap"), centerStart);
    Array.prototype.forEach.call(document.querySelectorAll("[data-poll]"), refresh);
  });
})();

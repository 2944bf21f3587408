// Live updates: the page's main section is re-rendered by the server and
// streamed as server-sent events; this swaps it in. Nothing else runs here.
(function () {
  var url = document.body.dataset.events;
  var main = document.getElementById("main");
  if (!url || !main || !window.EventSource) return;
  var es = new EventSource(url);
  es.addEventListener("update", function (e) {
    // Keep what someone is typing: skip an update while a field has focus.
    var a = document.activeElement;
    if (a && (a.tagName === "INPUT" || a.tagName === "TEXTAREA") && main.contains(a)) return;
    main.innerHTML = e.data;
  });
  // What the page shows will not change again (a run that ended).
  es.addEventListener("end", function () { es.close(); });
})();

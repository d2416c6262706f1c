/** Runs in the browser on the run page: follows the event stream, appends log HTML, updates the status fields. */
export const RUN_PAGE_SCRIPT = `
(function () {
  var cfg = JSON.parse(document.getElementById("yaci-config").textContent);
  var log = document.getElementById("log");
  var live = document.getElementById("live");
  function apply(s) {
    var badge = document.getElementById("status");
    badge.textContent = s.status;
    badge.setAttribute("data-phase", s.phase);
    if (s.conclusion) badge.setAttribute("data-conclusion", s.conclusion);
    document.body.setAttribute("data-phase", s.phase);
    ["startedAt", "finishedAt"].forEach(function (k) { if (s[k]) s[k] = s[k].replace("T", " ").replace(/\\.\\d{3}Z$/, " UTC"); });
    ["startedAt", "finishedAt", "duration", "exitCode", "message", "waitingReason"].forEach(function (k) {
      var dd = document.querySelector('[data-field="' + k + '"]');
      var row = document.querySelector('[data-row="' + k + '"]');
      if (!dd || !row) return;
      var v = s[k] === undefined || s[k] === null ? "" : String(s[k]);
      dd.textContent = v;
      row.hidden = v === "";
    });
  }
  if (cfg.done) return;
  live.textContent = "Following the log\\u2026";
  var es = new EventSource(cfg.events);
  es.addEventListener("log", function (e) {
    var atBottom = window.innerHeight + window.scrollY >= document.body.scrollHeight - 40;
    if (e.data) log.insertAdjacentHTML("beforeend", e.data);
    if (atBottom) window.scrollTo(0, document.body.scrollHeight);
  });
  es.addEventListener("status", function (e) { apply(JSON.parse(e.data)); });
  es.addEventListener("end", function (e) {
    apply(JSON.parse(e.data));
    es.close();
    live.textContent = "";
    document.body.setAttribute("data-live", "ended");
  });
  es.onerror = function () { if (es.readyState === 2) live.textContent = "Live updates stopped: reload the page."; };
})();
`;

// Streams a running run's log into the page (Server-Sent Events).
(function () {
  "use strict";
  var log = document.getElementById("log");
  var state = document.getElementById("stream-state");
  var status = document.getElementById("status");
  if (!log || !log.dataset.stream) return;
  var es = new EventSource(log.dataset.stream);
  var atBottom = function () {
    return window.innerHeight + window.scrollY >= document.body.scrollHeight - 4;
  };
  es.onmessage = function (e) {
    var follow = atBottom();
    log.appendChild(document.createTextNode(e.data + "\n"));
    if (follow) window.scrollTo(0, document.body.scrollHeight);
  };
  es.addEventListener("end", function (e) {
    es.close();
    status.textContent = e.data;
    status.className = "status-" + e.data;
    state.textContent = "Finished: " + e.data + ".";
  });
  es.addEventListener("lagged", function () {
    es.close();
    state.textContent = "This page fell behind the log; reload to read on.";
  });
  es.addEventListener("gap", function (e) {
    log.appendChild(document.createTextNode("[" + e.data + "]\n"));
  });
})();

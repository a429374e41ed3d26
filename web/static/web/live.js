// The live page: replace the sets with what the server renders after each pipeline step.
// Reconnects with a growing delay when the connection drops (server restart, flaky gym Wi-Fi).
(function () {
  const live = document.getElementById("live");
  const badge = document.getElementById("connection");
  let delay = 1000;

  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const socket = new WebSocket(scheme + location.host + live.dataset.socket);
    socket.onopen = () => { delay = 1000; badge.textContent = "connected"; badge.className = "badge"; };
    socket.onmessage = (event) => {
      const update = JSON.parse(event.data);
      live.innerHTML = update.html;
      // "live" only while a watch is recording; an ended or imported recording is being read.
      const [text, kind] = update.finalized ? ["finished", ""] : update.ended ? ["reading the recording", ""] : ["live", " live"];
      badge.textContent = text; badge.className = "badge" + kind;
    };
    socket.onclose = (event) => {
      if (event.code === 4404) { badge.textContent = "not available"; return; }
      badge.textContent = "reconnecting…"; badge.className = "badge";
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 30000);
    };
  }
  connect();
})();

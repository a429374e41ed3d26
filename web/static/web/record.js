// The recorder page: this phone's motion, streamed to the journal as a watch streams it
// (protocol v1, docs/protocol.md). Every frame is written to IndexedDB before it is sent and
// deleted once the server acknowledges it, so neither a dropped connection nor a reloaded page
// loses a sample: reconnecting sends `start` again and goes on from the server's `next_seq`.
(function () {
  "use strict";
  const RATE_HZ = 50;
  const STEP_MS = 1000 / RATE_HZ;
  const FRAME_SAMPLES = RATE_HZ;  // a frame a second
  const MAX_IN_FLIGHT = 10;  // frames sent and not yet acknowledged: a backlog goes out at a pace the server's rate limit takes
  const SILENT_SOCKET_MS = 10000;  // frames in flight and no answer for this long: the connection is dead, even if no one said so
  const STANDARD_GRAVITY = 9.80665;  // m/s² in a g
  const CHANNELS = ["acc_x", "acc_y", "acc_z", "gyr_x", "gyr_y", "gyr_z"];
  const DEVICE_KEY = "journal.record.device";  // {name, token}: the phone keeps its device
  const SESSION_KEY = "journal.record.session";  // {id, startedAt} of a recording not yet ended
  const PLACEHOLDER = "00000000-0000-0000-0000-000000000000";

  const $ = (id) => document.getElementById(id);
  const config = $("recorder-config").dataset;
  let device = JSON.parse(localStorage.getItem(DEVICE_KEY) || "null");

  // The recording being sent. `frames` counts the frames made so far (the next seq);
  // `unacked` holds those not yet acknowledged, in seq order, as IndexedDB does.
  let session = null;
  const unacked = new Map();
  let stored = Promise.resolve();  // frames are written one after the other, in seq order

  // The uplink: one WebSocket, ready once the server has answered `start`.
  let socket = null, ready = false, nextToSend = 0, endSent = false, lastHeard = 0, retryMs = 1000;
  const inFlight = new Set();

  // The 50 Hz grid the readings are interpolated onto (event intervals jitter).
  let collecting = false, gridStart = 0, gridded = 0, previous = null, rows = [];
  let wakeLock = null;
  let saved = false;  // the last recording is ended and all of it is in the journal

  // --- IndexedDB: the frames not yet acknowledged, durable on the phone ---
  const database = new Promise((resolve, reject) => {
    const open = indexedDB.open("journal-recorder", 1);
    open.onupgradeneeded = () => open.result.createObjectStore("frames", {keyPath: ["session", "seq"]});
    open.onsuccess = () => resolve(open.result);
    open.onerror = () => reject(open.error);
  });

  async function frames(mode, work) {
    const transaction = (await database).transaction("frames", mode);
    const request = work(transaction.objectStore("frames"));
    return new Promise((resolve, reject) => {
      transaction.oncomplete = () => resolve(request.result);
      transaction.onerror = () => reject(transaction.error);
    });
  }
  const framesOf = (id, below = Infinity) => IDBKeyRange.bound([id, 0], [id, below], false, true);

  // --- Readings → frames ---
  function onMotion(event) {
    const a = event.accelerationIncludingGravity, r = event.rotationRate;
    if (!a || a.x === null) return;
    // The journal's units: g with gravity, as a specific force (face up reads z = +1 g, as the
    // W3C spec's m/s² do), and deg/s about x, y, z — the spec's beta, gamma and alpha.
    // A phone without a gyroscope (rare) has no rotation rate: it reads as still.
    const reading = [a.x / STANDARD_GRAVITY, a.y / STANDARD_GRAVITY, a.z / STANDARD_GRAVITY,
                     r?.beta ?? 0, r?.gamma ?? 0, r?.alpha ?? 0];
    const t = event.timeStamp;  // when the reading was taken, not when this handler runs
    if (previous === null) gridStart = t;
    else if (t <= previous.t) return;
    for (let at = gridStart + gridded * STEP_MS; at <= t; at = gridStart + gridded * STEP_MS) {
      const weight = previous === null ? 1 : (at - previous.t) / (t - previous.t);
      rows.push(reading.map((value, i) => previous === null ? value : previous.values[i] + (value - previous.values[i]) * weight));
      gridded += 1;
      if (rows.length === FRAME_SAMPLES) keepFrame(rows.splice(0));
    }
    previous = {t, values: reading};
  }

  function keepFrame(samples) {
    const seq = session.frames++, id = session.id;
    stored = stored
      .then(() => frames("readwrite", (store) => store.put({session: id, seq, samples})))
      .catch((error) => problem(`This phone cannot keep a copy of the recording (${error}): closing this page now would lose what is not yet sent.`))
      .then(() => { unacked.set(seq, samples); pump(); });
  }

  // --- The uplink ---
  function connect() {
    const url = `${config.ingestUrl}?token=${encodeURIComponent(device.token)}`;
    const opened = new WebSocket(url);
    socket = opened;
    lastHeard = Date.now();
    opened.onopen = () => send({type: "start", session: session.id, rate_hz: RATE_HZ, channels: CHANNELS, started_at: session.startedAt});
    // A connection given up on is not listened to: what it acknowledged late is sent again, and acknowledged again.
    opened.onmessage = (event) => { if (opened === socket) { lastHeard = Date.now(); answer(JSON.parse(event.data)); } };
    opened.onclose = (event) => { if (opened === socket) disconnected(event.code); };
    show();
  }

  function answer(message) {
    if (message.type === "started") resumeFrom(message.next_seq);
    else if (message.type === "ack") acknowledged(message.seq);
    else if (message.type === "ended") finished();
    else if (message.type === "error") {
      // The answer to every error is the same: reconnect and go on from what the server has
      // (rate_limited, backlog and storage_unavailable say when to try again).
      problem(message.detail);
      retryMs = Math.max(retryMs, (message.retry_after_s || 0) * 1000);
      dropConnection();
    }
  }

  function resumeFrom(nextSeq) {
    for (const seq of unacked.keys()) if (seq < nextSeq) unacked.delete(seq);
    frames("readwrite", (store) => store.delete(framesOf(session.id, nextSeq)));
    session.frames = Math.max(session.frames, nextSeq);
    nextToSend = nextSeq;
    inFlight.clear();
    ready = true; endSent = false; retryMs = 1000;
    problem("");
    showSets(session.id);
    pump();
  }

  function acknowledged(seq) {
    unacked.delete(seq);
    inFlight.delete(seq);
    frames("readwrite", (store) => store.delete([session.id, seq]));
    pump();
  }

  // Sends what the server has not acknowledged yet, a few frames ahead; `end` once all is in.
  function pump() {
    if (!ready) return;
    for (const [seq, samples] of unacked) {
      if (inFlight.size >= MAX_IN_FLIGHT) break;
      if (seq < nextToSend) continue;
      send({type: "frame", session: session.id, seq, samples});
      inFlight.add(seq);
      nextToSend = seq + 1;
    }
    if (session.stopped && unacked.size === 0 && !endSent) {
      send({type: "end", session: session.id, last_seq: session.frames - 1});
      endSent = true;
    }
    show();
  }

  function send(message) { socket.send(JSON.stringify(message)); }

  // Closes a connection that cannot go on (an error, or one silent or offline) and reconnects.
  function dropConnection() {
    const dropped = socket;
    socket = null;
    dropped.close();
    disconnected(1006);
  }

  function disconnected(code) {
    socket = null; ready = false;
    if (code === 4401) {
      problem("This device's token was refused: it was revoked, or mistyped. Set this phone up again.");
      forgetDevice();
      return;
    }
    if (session === null) return;
    setTimeout(() => { if (session !== null && socket === null) connect(); }, retryMs);
    retryMs = Math.min(retryMs * 2, 30000);
    show();
  }

  function finished() {
    localStorage.removeItem(SESSION_KEY);
    session = null;
    saved = true;
    const done = socket;
    socket = null; ready = false;
    done.close();
    button("Start", {disabled: false});
    show();
  }

  // --- The sets found so far: the live page's own socket and partial (web/consumers.py) ---
  let setsSocket = null;
  function showSets(recordingId) {
    if (setsSocket !== null && setsSocket.recordingId === recordingId) return;
    setsSocket?.close();
    const opened = new WebSocket(location.origin.replace(/^http/, "ws") + config.liveSocket.replace(PLACEHOLDER, recordingId));
    opened.recordingId = recordingId;
    setsSocket = opened;
    opened.onmessage = (event) => { $("live").innerHTML = JSON.parse(event.data).html; };
    opened.onclose = (event) => {
      if (opened === setsSocket && event.code !== 4404) setTimeout(() => { if (opened === setsSocket) { setsSocket = null; showSets(recordingId); } }, 2000);
    };
    $("live-link").href = config.livePage.replace(PLACEHOLDER, recordingId);
    $("sets").hidden = false;
  }

  // --- Start and Stop ---
  async function start() {
    problem("");
    if (!("DeviceMotionEvent" in window)) {
      problem("This browser gives web pages no motion readings.");
      return;
    }
    // iOS asks the athlete, and only from a tap: this must come before any other await. The
    // button is off meanwhile, or a second tap while iOS asks would start a second recording.
    if (typeof DeviceMotionEvent.requestPermission === "function") {
      button("Start", {disabled: true});
      const answer = await DeviceMotionEvent.requestPermission().catch(() => "denied");
      if (answer !== "granted") {
        problem("Motion access was refused. Allow it for this site in Safari's settings, then reload this page.");
        button("Start", {disabled: false});
        return;
      }
    }
    session = {id: crypto.randomUUID(), startedAt: new Date().toISOString(), frames: 0, stopped: false};
    localStorage.setItem(SESSION_KEY, JSON.stringify({id: session.id, startedAt: session.startedAt}));
    gridded = 0; previous = null; rows = []; saved = false;
    collecting = true;
    window.addEventListener("devicemotion", onMotion);
    keepScreenOn();
    setTimeout(() => { if (collecting && previous === null) problem("No motion readings arrive: this browser or device has no motion sensor for web pages."); }, 3000);
    button("Stop", {danger: true});
    connect();
  }

  function stop() {
    window.removeEventListener("devicemotion", onMotion);
    collecting = false;
    if (rows.length) keepFrame(rows.splice(0));
    wakeLock?.release();
    wakeLock = null;
    button("Saving…", {disabled: true});  // until all of it is in: then a new recording can start
    const stopping = session;
    stored.then(() => { stopping.stopped = true; if (stopping === session) pump(); });
  }

  // A recording a closed or reloaded page left unfinished: send what this phone kept, then end it.
  async function finishLeftover() {
    const left = JSON.parse(localStorage.getItem(SESSION_KEY) || "null");
    if (left === null || device === null) return;
    const kept = await frames("readonly", (store) => store.getAll(framesOf(left.id)));
    session = {...left, frames: kept.length ? kept[kept.length - 1].seq + 1 : 0, stopped: true};
    for (const frame of kept) unacked.set(frame.seq, frame.samples);
    button("Saving…", {disabled: true});
    connect();
  }

  async function keepScreenOn() {
    if (!collecting || !("wakeLock" in navigator)) return;
    try {
      wakeLock = await navigator.wakeLock.request("screen");
    } catch (error) {
      // Refused, e.g. in battery saver: the page asks the athlete to keep the screen on.
    }
  }

  // --- The page ---
  function show() {
    const seconds = Math.floor(gridded / RATE_HZ);
    $("recorded").textContent = `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
    $("waiting").textContent = `${unacked.size} s`;
    $("uplink").textContent = ready ? "connected" : socket !== null ? "connecting…"
      : session !== null ? "reconnecting…" : saved ? "saved" : "not connected";
  }

  function button(text, {danger = false, disabled = false} = {}) {
    const startStop = $("start-stop");
    startStop.textContent = text;
    startStop.className = danger ? "danger" : "";
    startStop.disabled = disabled;
  }

  function problem(text) {
    $("problem").textContent = text;
    $("problem").hidden = !text;
  }

  function useDevice(chosen) {
    device = chosen;
    localStorage.setItem(DEVICE_KEY, JSON.stringify(device));
    showDevice();
  }

  function forgetDevice() {
    device = null;
    localStorage.removeItem(DEVICE_KEY);
    showDevice();
  }

  function showDevice() {
    $("setup").hidden = device !== null;
    $("recorder").hidden = device === null;
    if (device !== null) $("device-name").textContent = device.name;
  }

  const created = $("new-device");
  if (created !== null) {
    useDevice(JSON.parse(created.textContent));
    created.remove();
    history.replaceState(null, "", location.pathname);  // a reload must not post the form again
  }
  $("paste-token").addEventListener("submit", (event) => {
    event.preventDefault();
    useDevice({name: "a device you already had", token: event.target.token.value.trim()});
  });
  $("forget").addEventListener("click", () => (session === null ? forgetDevice() : problem("Stop and save the recording first.")));
  $("start-stop").addEventListener("click", () => (collecting ? stop() : start()));
  document.addEventListener("visibilitychange", () => { if (document.visibilityState === "visible") keepScreenOn(); });
  window.addEventListener("offline", () => { if (socket !== null) dropConnection(); });
  setInterval(() => {
    if (socket !== null && inFlight.size && Date.now() - lastHeard > SILENT_SOCKET_MS) dropConnection();
    show();
  }, 500);

  showDevice();
  if (!window.isSecureContext) {
    problem("Phones give motion only to secure pages: open this page over https (the README's “Record with your phone”).");
    button("Start", {disabled: true});
  } else {
    finishLeftover();
  }
})();

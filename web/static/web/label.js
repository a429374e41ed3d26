// The labelling page: draw a recording's signal and its sets on a canvas, edit the sets with
// mouse or keyboard, undo, and save them through /api/recordings/<id>/labels/ — a save against
// sets that changed meanwhile is refused by the server (409) and said so, edits kept.
(function () {
  "use strict";
  const root = document.getElementById("labeller");
  const canvas = root.querySelector("canvas");
  const ctx = canvas.getContext("2d");
  const status = document.getElementById("label-status");
  const badge = document.getElementById("labelled");
  const editor = root.querySelector(".set-editor");
  const field = (name) => editor.querySelector(`[data-field="${name}"]`);
  const list = root.querySelector('[data-list="sets"]');
  const channelSelect = root.querySelector('[data-control="channel"]');
  const COLOURS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#8a6d00", "#56B4E9", "#E69F00", "#444444"];
  const EDGE_PX = 7;
  const NAMES = JSON.parse(document.getElementById("exercise-names-json").textContent);  // slug → name
  const WHEN = new Intl.DateTimeFormat("en-GB", { dateStyle: "medium", timeStyle: "short" });

  let signal = null;          // {rate_hz, channels, duration_s, samples: [channel][i]}
  let sets = [];              // [{exercise, start_s, end_s, reps, rep_times_s, source}]
  let version = 0;
  let selected = -1;
  let view = { t0: 0, t1: 1 };
  const history = [];
  let drag = null;

  const slugOf = (text) => text.trim().toLowerCase().replace(/[^a-z0-9]+/g, "_").replace(/^_|_$/g, "");
  const nameOf = (slug) => NAMES[slug] || (slug.charAt(0).toUpperCase() + slug.slice(1)).replace(/_/g, " ");
  const byOf = (s) => (s.source === "labelled" ? s.labelled_by || "you, unsaved" : "machine");
  function say(text, isError) { status.textContent = text; status.className = "status" + (isError ? " error" : ""); }
  function colour(name) { let h = 0; for (const c of name) h = (h * 31 + c.charCodeAt(0)) >>> 0; return COLOURS[h % COLOURS.length]; }
  function csrf() { const m = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/); return m ? decodeURIComponent(m[1]) : ""; }
  function remember() { history.push(JSON.stringify({ sets, selected })); if (history.length > 200) history.shift(); }
  function changed() { sets.sort((a, b) => a.start_s - b.start_s); render(); }

  // ---- drawing -------------------------------------------------------------------------------
  const x = (t) => (t - view.t0) / (view.t1 - view.t0) * canvas.width;
  const tAt = (px) => view.t0 + px / canvas.width * (view.t1 - view.t0);

  function draw() {
    const dpr = window.devicePixelRatio || 1;
    canvas.width = canvas.clientWidth * dpr; canvas.height = canvas.clientHeight * dpr;
    const h = canvas.height, top = 26 * dpr, bottom = h - 22 * dpr;
    ctx.clearRect(0, 0, canvas.width, h);
    sets.forEach((s, i) => {
      ctx.fillStyle = colour(s.exercise); ctx.globalAlpha = i === selected ? 0.35 : 0.18;
      ctx.fillRect(x(s.start_s), 0, x(s.end_s) - x(s.start_s), h);
      ctx.globalAlpha = 1; ctx.strokeStyle = colour(s.exercise); ctx.lineWidth = (i === selected ? 3 : 1) * dpr;
      ctx.strokeRect(x(s.start_s), 1, x(s.end_s) - x(s.start_s), h - 2);
      ctx.fillStyle = "#1b1f24"; ctx.font = `${13 * dpr}px system-ui, sans-serif`;
      ctx.fillText(`${nameOf(s.exercise)} × ${s.reps}${s.source === "machine" ? " (machine)" : ""}`, x(s.start_s) + 4 * dpr, 16 * dpr);
      ctx.strokeStyle = "#1b1f24"; ctx.lineWidth = dpr;
      for (const t of s.rep_times_s) { ctx.beginPath(); ctx.moveTo(x(t), bottom); ctx.lineTo(x(t), h); ctx.stroke(); }
    });
    if (signal) {
      const shown = channelSelect.value ? [signal.channels.indexOf(channelSelect.value)] : signal.channels.map((_, i) => i);
      const first = Math.max(0, Math.floor(view.t0 * signal.rate_hz)), last = Math.min(signal.samples[0].length, Math.ceil(view.t1 * signal.rate_hz) + 1);
      const step = Math.max(1, Math.floor((last - first) / canvas.width));
      shown.forEach((c) => {
        const values = signal.samples[c];
        let lo = Infinity, hi = -Infinity;
        for (let i = first; i < last; i += step) { lo = Math.min(lo, values[i]); hi = Math.max(hi, values[i]); }
        const span = hi - lo || 1;
        ctx.strokeStyle = COLOURS[c % COLOURS.length]; ctx.lineWidth = dpr; ctx.globalAlpha = 0.8; ctx.beginPath();
        for (let i = first; i < last; i += step) {
          const px = x(i / signal.rate_hz), py = bottom - (values[i] - lo) / span * (bottom - top);
          i === first ? ctx.moveTo(px, py) : ctx.lineTo(px, py);
        }
        ctx.stroke(); ctx.globalAlpha = 1;
      });
    }
    ctx.fillStyle = "#57606a"; ctx.font = `${12 * dpr}px system-ui, sans-serif`;
    const span = view.t1 - view.t0, tick = [1, 2, 5, 10, 20, 30, 60, 120, 300, 600].find((s) => span / s <= 10) || 1200;
    for (let t = Math.ceil(view.t0 / tick) * tick; t <= view.t1; t += tick) ctx.fillText(`${t.toFixed(0)} s`, x(t) + 2, h - 4 * dpr);
  }

  function render() {
    draw();
    list.replaceChildren(...sets.map((s, i) => {
      const row = document.createElement("tr");
      row.className = i === selected ? "selected" : "";
      for (const text of [i + 1, nameOf(s.exercise), s.reps, s.start_s.toFixed(1), s.end_s.toFixed(1), byOf(s)]) {
        const cell = document.createElement("td"); cell.textContent = text; row.append(cell);
      }
      row.addEventListener("click", () => select(i, true));
      return row;
    }));
    const s = sets[selected];
    editor.disabled = !s;
    if (s) {
      if (document.activeElement !== field("exercise")) field("exercise").value = s.exercise ? nameOf(s.exercise) : "";
      if (document.activeElement !== field("reps")) field("reps").value = s.reps;
      for (const name of ["start_s", "end_s"]) if (document.activeElement !== field(name)) field(name).value = s[name].toFixed(1);
    }
  }

  function select(i, reveal) {
    selected = i;
    const s = sets[i];
    if (reveal && s && (s.end_s < view.t0 || s.start_s > view.t1)) {
      const width = view.t1 - view.t0, centre = (s.start_s + s.end_s) / 2;
      setView(centre - width / 2, centre + width / 2);
    }
    render();
  }

  function setView(t0, t1) {
    const duration = signal ? signal.duration_s : Math.max(1, ...sets.map((s) => s.end_s));
    const width = Math.min(Math.max(t1 - t0, 5), duration);
    t0 = Math.min(Math.max(0, t0), duration - width);
    view = { t0, t1: t0 + width };
    draw();
  }
  const zoom = (factor, around) => {
    const c = around ?? (view.t0 + view.t1) / 2;
    setView(c - (c - view.t0) * factor, c + (view.t1 - c) * factor);
  };
  const pan = (fraction) => { const w = view.t1 - view.t0; setView(view.t0 + w * fraction, view.t1 + w * fraction); };

  // ---- editing -------------------------------------------------------------------------------
  function addSet() {
    remember();
    const width = Math.min(20, (view.t1 - view.t0) / 3), centre = (view.t0 + view.t1) / 2;
    const last = sets[selected];
    sets.push({ exercise: last ? last.exercise : "", start_s: centre - width / 2, end_s: centre + width / 2, reps: 0, rep_times_s: [], source: "labelled" });
    changed(); select(sets.findIndex((s) => s.start_s === centre - width / 2));
    field("exercise").focus();
  }
  function deleteSet() {
    if (selected < 0) return;
    remember(); sets.splice(selected, 1); selected = Math.min(selected, sets.length - 1); changed();
  }
  function undo() {
    const last = history.pop();
    if (!last) { say("Nothing to undo."); return; }
    ({ sets, selected } = JSON.parse(last)); render(); say("Undone.");
  }
  function edit(name, value) {
    const s = sets[selected];
    if (!s) return;
    remember();
    s[name] = value; s.source = "labelled"; s.labelled_by = null;
    if (name === "start_s" || name === "end_s") s.rep_times_s = s.rep_times_s.filter((t) => t >= s.start_s && t <= s.end_s);
    changed(); select(sets.indexOf(s));
  }

  editor.addEventListener("change", (event) => {
    const name = event.target.dataset.field;
    if (!name || name === "tap") return;
    const raw = event.target.value;
    if (name === "exercise") edit(name, slugOf(raw));
    else if (name === "reps") edit(name, Math.max(0, parseInt(raw, 10) || 0));
    else edit(name, Math.max(0, parseFloat(raw) || 0));
  });

  canvas.addEventListener("pointerdown", (event) => {
    canvas.focus();
    const px = event.offsetX * (canvas.width / canvas.clientWidth), t = tAt(px);
    const s = sets[selected];
    if (s && field("tap").checked && t >= s.start_s && t <= s.end_s) {
      remember(); s.rep_times_s = [...s.rep_times_s, +t.toFixed(3)].sort((a, b) => a - b); s.reps = s.rep_times_s.length; s.source = "labelled";
      render(); return;
    }
    const hit = sets.findIndex((k) => px >= x(k.start_s) - EDGE_PX && px <= x(k.end_s) + EDGE_PX);
    if (hit >= 0) {
      const k = sets[hit];
      const mode = Math.abs(px - x(k.start_s)) <= EDGE_PX ? "start" : Math.abs(px - x(k.end_s)) <= EDGE_PX ? "end" : "move";
      remember(); select(hit);
      drag = { mode, set: k, t, start_s: k.start_s, end_s: k.end_s, reps: [...k.rep_times_s] };
    } else {
      drag = { mode: "pan", t, view: { ...view } };
    }
    canvas.setPointerCapture(event.pointerId);
  });
  canvas.addEventListener("pointermove", (event) => {
    const px = event.offsetX * (canvas.width / canvas.clientWidth);
    if (!drag) {
      const near = sets.some((k) => Math.abs(px - x(k.start_s)) <= EDGE_PX || Math.abs(px - x(k.end_s)) <= EDGE_PX);
      canvas.style.cursor = near ? "ew-resize" : "grab";
      return;
    }
    const t = tAt(px), dt = t - drag.t;
    if (drag.mode === "pan") {
      const w = drag.view.t1 - drag.view.t0, shift = -(px / canvas.width * w - (drag.t - drag.view.t0));
      setView(drag.view.t0 + shift, drag.view.t1 + shift); return;
    }
    const s = drag.set; s.source = "labelled";
    if (drag.mode === "move") { s.start_s = Math.max(0, drag.start_s + dt); s.end_s = s.start_s + (drag.end_s - drag.start_s); s.rep_times_s = drag.reps.map((r) => +(r + s.start_s - drag.start_s).toFixed(3)); }
    if (drag.mode === "start") s.start_s = Math.min(Math.max(0, drag.start_s + dt), s.end_s - 0.5);
    if (drag.mode === "end") s.end_s = Math.max(drag.end_s + dt, s.start_s + 0.5);
    render();
  });
  canvas.addEventListener("pointerup", () => { if (drag && drag.set) { const s = drag.set; changed(); select(sets.indexOf(s)); } drag = null; });
  canvas.addEventListener("wheel", (event) => {
    event.preventDefault();
    zoom(event.deltaY > 0 ? 1.25 : 0.8, tAt(event.offsetX * (canvas.width / canvas.clientWidth)));
  }, { passive: false });

  // ---- loading and saving ----------------------------------------------------------------------
  function showLabelled(data) {
    badge.textContent = data.labelled_at ? `labelled by ${data.labelled_by || "an import"}, ${WHEN.format(new Date(data.labelled_at))}` : "not labelled yet";
    badge.className = data.labelled_at ? "badge you" : "badge";
  }
  async function load() {
    const [signalAnswer, labelsAnswer] = await Promise.all([fetch(root.dataset.signal), fetch(root.dataset.labels)]);
    if (!signalAnswer.ok || !labelsAnswer.ok) { say(`Could not load the recording (${signalAnswer.status}, ${labelsAnswer.status}).`, true); return; }
    signal = await signalAnswer.json();
    const data = await labelsAnswer.json();
    sets = data.sets; version = data.version; selected = sets.length ? 0 : -1; history.length = 0;
    channelSelect.replaceChildren(new Option("all", ""), ...signal.channels.map((c) => new Option(c, c)));
    showLabelled(data); setView(0, signal.duration_s); render();
    say(`${sets.length} sets, ${signal.duration_s.toFixed(0)} s of signal.`);
  }
  async function save(markLabelled) {
    if (sets.some((s) => !s.exercise)) { say("Every set needs an exercise before saving.", true); return; }
    say("Saving…");
    const answer = await fetch(root.dataset.labels, {
      method: "PUT", headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
      body: JSON.stringify({ version, sets, mark_labelled: markLabelled }),
    });
    const data = await answer.json();
    if (answer.status === 409) { say(`Not saved: ${data.detail}. Your edits are still here.`, true); return; }
    if (!answer.ok) { say(`Not saved: ${JSON.stringify(data)}`, true); return; }
    sets = data.sets; version = data.version; showLabelled(data); render();
    say(markLabelled ? "Saved and marked labelled." : "Saved.");
  }

  const actions = {
    add: addSet, delete: deleteSet, undo, save: () => save(false), mark: () => save(true),
    "zoom-in": () => zoom(0.5), "zoom-out": () => zoom(2), fit: () => signal && setView(0, signal.duration_s),
    "clear-reps": () => { const s = sets[selected]; if (s) { remember(); s.rep_times_s = []; render(); } },
  };
  root.addEventListener("click", (event) => { const a = event.target.closest("[data-action]"); if (a) actions[a.dataset.action](); });
  channelSelect.addEventListener("change", draw);
  document.addEventListener("keydown", (event) => {
    const typing = event.target.matches("input, select, textarea");
    const key = event.key.toLowerCase();
    if ((event.ctrlKey || event.metaKey) && key === "s") { event.preventDefault(); save(false); return; }
    if ((event.ctrlKey || event.metaKey) && key === "z" && !typing) { event.preventDefault(); undo(); return; }
    if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
    const keys = {
      a: addSet, delete: deleteSet, backspace: deleteSet, l: () => save(true), "+": () => zoom(0.5), "=": () => zoom(0.5),
      "-": () => zoom(2), 0: () => actions.fit(), arrowleft: () => pan(-0.25), arrowright: () => pan(0.25),
      "[": () => sets.length && select(Math.max(0, selected - 1), true), "]": () => sets.length && select(Math.min(sets.length - 1, selected + 1), true),
    };
    if (keys[key]) { event.preventDefault(); keys[key](); }
  });
  window.addEventListener("resize", draw);
  load();
})();

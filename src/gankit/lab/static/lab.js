// gankit lab's page: plain JavaScript and canvas. The server trains; this draws and asks.
"use strict";
(function () {
  const TOKEN = new URLSearchParams(location.search).get("token") || "";
  const GAME_COLOURS = {"minimax": "#d62728", "non-saturating": "#1f77b4",
    "maximum-likelihood": "#2ca02c", "least-squares": "#9467bd", "wgan-gp": "#8c564b",
    "hinge": "#e377c2"};
  const PANEL_COLOURS = ["#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
    "#e377c2", "#17becf"];
  const PANEL_SIZE = 360;
  const SERIES_POINTS = 400;  // points drawn per curve (a long history is thinned)
  const NUMERIC = ["train.lr_d", "train.lr_g", "train.beta1_d", "train.beta1_g", "train.beta2",
    "train.n_critic", "train.instance_noise", "model.z_dim", "train.batch_size", "train.seed",
    "loss.real_label"];
  const LISTS = ["model.g_hidden", "model.d_hidden"];
  const $ = (id) => document.getElementById(id);
  const state = {
    lang: localStorage.getItem("gankit-lab-lang") || "en", init: null, frame: null,
    playing: false, history: [], frames: 0, drawnPoints: [], messages: [], errors: [],
  };
  window.lab = state;  // read by the tests and handy in the console

  // ------------------------------------------------------------------ words
  function t(key) {
    const words = window.LAB_I18N[state.lang] || window.LAB_I18N.en;
    return key in words ? words[key] : (window.LAB_I18N.en[key] || key);
  }
  function applyLanguage() {
    document.documentElement.lang = state.lang === "zh" ? "zh-CN" : "en";
    document.querySelectorAll("[data-i18n]").forEach((el) => {
      el.textContent = t(el.dataset.i18n);
    });
    $("lang").textContent = state.lang === "zh" ? "English" : "中文";
    $("play").textContent = t(state.playing ? "pause" : "play");
    if (state.init) { fillControls(state.init); }
    if (state.frame) { render(); }
  }

  // ------------------------------------------------------------------ socket
  const ws = new WebSocket(`ws://${location.host}/ws?token=${encodeURIComponent(TOKEN)}`);
  function send(msg) { if (ws.readyState === WebSocket.OPEN) { ws.send(JSON.stringify(msg)); } }
  state.send = send;
  ws.onmessage = (ev) => {
    const msg = JSON.parse(ev.data);
    if (msg.type === "init") { onInit(msg); }
    else if (msg.type === "frame") { onFrame(msg); }
    else if (msg.type === "status") { onStatus(msg); }
    else if (msg.type === "saved") {
      say(`${t("saved")} ${msg.command}`);
      state.saved = msg;
    } else if (msg.type === "error") {
      state.errors.push(msg.message);
      say(msg.message, true);
    }
  };
  ws.onclose = () => { state.closed = true; say(t("closed"), true); };

  function say(text, error) {
    const el = $("message");
    el.textContent = text;
    el.className = error ? "error" : "";
    state.messages.push(text);
  }

  // ------------------------------------------------------------------ controls
  function option(sel, value, label) {
    const o = document.createElement("option");
    o.value = value; o.textContent = label; sel.appendChild(o);
  }
  function fillControls(init) {
    const mode = $("mode"), game = $("game"), data = $("data");
    [mode, game, data].forEach((s) => { s.textContent = ""; });
    init.choices.mode.forEach((m) => option(mode, m, t("mode_" + m)));
    init.choices["loss.game"].forEach((g) => option(game, g, t(g)));
    init.choices["data.dataset"].forEach((d) => option(data, d, t(d)));
    mode.value = init.mode; game.value = init.settings["loss.game"]; data.value = init.data;
    $("seeds").value = init.seeds;
    $("seeds-box").hidden = init.mode !== "seeds";
    $("game-box").hidden = init.mode === "games";
    $("speed").value = String(init.speed);
    const box = $("settings");
    box.textContent = "";
    NUMERIC.concat(LISTS).forEach((key) => {
      const label = document.createElement("label");
      const span = document.createElement("span");
      span.textContent = t(key) + " ";
      const input = document.createElement("input");
      input.type = LISTS.includes(key) ? "text" : "number";
      if (input.type === "number") { input.step = "any"; }
      input.id = "set-" + key.replace(".", "-");
      const v = init.settings[key];
      input.value = Array.isArray(v) ? v.join(",") : String(v);
      input.addEventListener("change", () => {
        let value = input.value.trim();
        if (LISTS.includes(key)) { value = value.split(/[,\s]+/).filter(Boolean).map(Number); }
        else { value = Number(value); }
        send({type: "set", key: key, value: value});
      });
      label.appendChild(span); label.appendChild(input); box.appendChild(label);
    });
    $("slice-note").hidden = !(init.dim === 2 && init.z_dim > 2);
  }

  function wire() {
    $("lang").onclick = () => {
      state.lang = state.lang === "zh" ? "en" : "zh";
      localStorage.setItem("gankit-lab-lang", state.lang);
      applyLanguage();
    };
    $("play").onclick = () => { state.lastStep = "iteration"; setPlaying(!state.playing); };
    ["d", "g", "iteration", "epoch"].forEach((k) => {
      $("step-" + k).onclick = () => {
        setPlaying(false); state.lastStep = k; send({type: "step", kind: k});
      };
    });
    $("reset").onclick = () => { setPlaying(false); send({type: "reset"}); };
    $("speed").onchange = () => send({type: "speed", value: Number($("speed").value)});
    $("mode").onchange = () => send({type: "mode", mode: $("mode").value,
                                     seeds: Number($("seeds").value)});
    $("seeds").onchange = () => send({type: "mode", mode: "seeds",
                                      seeds: Number($("seeds").value)});
    $("game").onchange = () => send({type: "set", key: "loss.game", value: $("game").value});
    $("data").onchange = () => {
      if ($("data").value === "drawn" && !state.drawnPoints.length) { openDrawing(); return; }
      send({type: "set", key: "data.dataset", value: $("data").value});
    };
    $("draw").onclick = openDrawing;
    ["show-heat", "show-warp", "show-arrows", "show-real"].forEach((id) => {
      $(id).onchange = () => { if (state.frame) { render(); } };
    });
    wireDrawing();
  }
  function setPlaying(on) {
    state.playing = on;
    $("play").textContent = t(on ? "pause" : "play");
    $("play").classList.toggle("playing", on);
    send({type: on ? "play" : "pause"});
  }

  // ------------------------------------------------------------------ drawing a distribution
  const DRAW_SPAN = 4;
  function openDrawing() { setPlaying(false); $("drawing").hidden = false; paintDrawing(); }
  function paintDrawing() {
    const c = $("draw-canvas"), g = c.getContext("2d");
    g.fillStyle = "#fff"; g.fillRect(0, 0, c.width, c.height);
    g.strokeStyle = "#eee";
    for (let i = 1; i < 8; i++) {
      const p = i * c.width / 8;
      g.beginPath(); g.moveTo(p, 0); g.lineTo(p, c.height); g.moveTo(0, p); g.lineTo(c.width, p);
      g.stroke();
    }
    g.fillStyle = "#2e7d32";
    state.drawnPoints.forEach(([x, y]) => {
      const px = (x + DRAW_SPAN) / (2 * DRAW_SPAN) * c.width;
      const py = (DRAW_SPAN - y) / (2 * DRAW_SPAN) * c.height;
      g.fillRect(px - 1.5, py - 1.5, 3, 3);
    });
  }
  function wireDrawing() {
    const c = $("draw-canvas");
    let down = false;
    const add = (ev) => {
      const r = c.getBoundingClientRect();
      const x = (ev.clientX - r.left) / r.width * 2 * DRAW_SPAN - DRAW_SPAN;
      const y = DRAW_SPAN - (ev.clientY - r.top) / r.height * 2 * DRAW_SPAN;
      if (Math.abs(x) < DRAW_SPAN && Math.abs(y) < DRAW_SPAN && state.drawnPoints.length < 4000) {
        state.drawnPoints.push([+x.toFixed(3), +y.toFixed(3)]);
        paintDrawing();
      }
    };
    c.addEventListener("pointerdown", (ev) => { down = true; add(ev); });
    c.addEventListener("pointermove", (ev) => { if (down) { add(ev); } });
    window.addEventListener("pointerup", () => { down = false; });
    $("draw-clear").onclick = () => { state.drawnPoints = []; paintDrawing(); };
    $("draw-cancel").onclick = () => { $("drawing").hidden = true; };
    $("draw-use").onclick = () => {
      if (state.drawnPoints.length >= 3) {
        send({type: "draw", points: state.drawnPoints});
        $("drawing").hidden = true;
      }
    };
  }

  // ------------------------------------------------------------------ messages
  function onInit(init) {
    state.init = init;
    state.history = init.panels.map(() => []);
    fillControls(init);
    const box = $("panels");
    box.textContent = "";
    const mnist = init.mode === "mnist";
    ["data", "draw", "show-heat", "show-warp", "show-arrows", "show-real"].forEach((id) => {
      const el = $(id).closest("label") || $(id);
      el.hidden = mnist;
    });
    $("legend").hidden = mnist;
    init.panels.forEach((p, k) => {
      const div = document.createElement("div");
      div.className = "panel";
      const h = document.createElement("h2");
      h.id = "panel-title-" + k;
      const sub = document.createElement("div");
      sub.className = "sub";
      const info = document.createElement("span");
      info.id = "panel-info-" + k;
      sub.appendChild(info);
      if (init.mode !== "seeds" && init.data !== "drawn") {
        const save = document.createElement("button");
        save.type = "button"; save.id = "save-" + k; save.dataset.i18n = "save";
        save.textContent = t("save");
        save.onclick = () => send({type: "save", panel: k});
        sub.appendChild(save);
      }
      const c = document.createElement("canvas");
      c.width = PANEL_SIZE; c.height = PANEL_SIZE; c.id = "panel-" + k;
      div.appendChild(h); div.appendChild(sub); div.appendChild(c); box.appendChild(div);
      if (mnist) {
        c.width = 280; c.height = 280;
        const fig = document.createElement("div");
        fig.className = "panel";
        const hh = document.createElement("h2");
        hh.dataset.i18n = "hist_title"; hh.textContent = t("hist_title");
        const hc = document.createElement("canvas");
        hc.width = PANEL_SIZE; hc.height = 280; hc.id = "panel-hist-" + k;
        fig.appendChild(hh); fig.appendChild(hc); box.appendChild(fig);
      }
    });
  }
  function onStatus(msg) {
    updateCounters(msg);
    if (msg.applied) { say(`${t(msg.key)}: ${t("applied_" + msg.applied)}`); }
  }
  function floats(b64) {
    const bin = atob(b64), bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) { bytes[i] = bin.charCodeAt(i); }
    return new Float32Array(bytes.buffer);
  }
  function rows(arr, width) {
    const out = [];
    for (let i = 0; i < arr.length; i += width) { out.push(Array.from(arr.subarray(i, i + width))); }
    return out;
  }
  function bytes(b64) {
    const bin = atob(b64), out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) { out[i] = bin.charCodeAt(i); }
    return out;
  }
  function unpack(frame) {  // the server sends each array as base64 float32 (gankit.lab.views)
    const dim = state.init ? state.init.dim : 2;
    frame.panels.forEach((p) => {
      if (p.grid !== undefined) {  // the MNIST view: a uint8 grid of images, histograms
        p.grid = bytes(p.grid); p.dfake = Array.from(floats(p.dfake));
        p.jfake = Array.from(floats(p.jfake));
        return;
      }
      p.fake = rows(floats(p.fake), dim); p.arrows = rows(floats(p.arrows), dim);
      p.warp = rows(floats(p.warp), dim);
      p.heat = Array.from(floats(p.heat)); p.dfake = Array.from(floats(p.dfake));
      p.jfake = Array.from(floats(p.jfake));
    });
  }
  function onFrame(frame) {
    unpack(frame);
    state.frame = frame;
    state.frames += 1;
    if (frame.playing === false && state.playing) { setPlaying(false); }
    frame.panels.forEach((p, k) => {
      if (p.stats && state.history[k]) {
        const h = state.history[k];
        h.push({it: frame.iteration, ...p.stats});
        if (h.length > 3000) { h.splice(0, h.length - 1500); }
      }
    });
    updateCounters(frame);
    const start = performance.now();
    render();
    state.renderMs = performance.now() - start;
    state.renderTotal = (state.renderTotal || 0) + state.renderMs;
    send({type: "ack", frame: frame.frame});
  }
  function updateCounters(s) {
    if (s.iteration === undefined) { return; }
    $("iteration").textContent = s.iteration;
    $("epoch").textContent = s.epoch;
    const badge = $("repro");
    badge.className = "badge " + (s.deviation ? "off" : "ok");
    badge.textContent = s.deviation ? `${t("deviated")} (${s.deviation})` : t("reproducible");
    state.iteration = s.iteration;
  }

  // ------------------------------------------------------------------ drawing frames
  function render() {
    const init = state.init, frame = state.frame;
    if (!init || !frame || frame.panels.length !== init.panels.length) { return; }
    if (init.mode === "mnist") { renderMnist(init, frame); return; }
    const [lo, hi] = init.extent;
    let maxArrow = 1e-12;
    frame.panels.forEach((p) => p.arrows.forEach((a) => {
      maxArrow = Math.max(maxArrow, Math.hypot(a[0], a[1] || 0));
    }));
    frame.panels.forEach((p, k) => {
      const info = init.panels[k];
      const mean = p.arrows.reduce((s, a) => s + Math.hypot(a[0], a[1] || 0), 0) / p.arrows.length;
      $("panel-title-" + k).textContent = `${t(info.game)}, ${t("seed")} ${info.seed}`;
      let sub = p.modes ? `${t("modes")} ${p.modes[0]}/${p.modes[1]} · ` : "";
      sub += `${t("grad")} ${mean.toExponential(1)}`;
      $("panel-info-" + k).textContent = sub;
      const c = $("panel-" + k);
      if (init.dim === 2) { drawPanel2d(c, init, p, lo, hi, maxArrow); }
      else { drawPanel1d(c, init, p, lo, hi, maxArrow); }
    });
    drawCosts();
    drawSeries("chart-d", [["d_real", []], ["d_fake", [5, 3]]], [0, 1]);
    drawSeries("chart-loss", [["loss_d", []], ["loss_g", [5, 3]]], null);
    drawSeries("chart-js", [["js_hat", []]], null);
    drawGraph();
  }

  function renderMnist(init, frame) {
    const p = frame.panels[0], [, H, W] = init.image;
    $("panel-title-0").textContent = `${t(init.panels[0].game)}, ${t("seed")} ${init.panels[0].seed}`;
    $("panel-info-0").textContent = t("mnist_grid");
    const c = $("panel-0"), g = c.getContext("2d"), img = g.createImageData(10 * W, 10 * H);
    for (let n = 0; n < 100; n++) {
      const r0 = Math.floor(n / 10) * H, c0 = (n % 10) * W;
      for (let y = 0; y < H; y++) {
        for (let x = 0; x < W; x++) {
          const v = p.grid[n * H * W + y * W + x], o = ((r0 + y) * 10 * W + c0 + x) * 4;
          img.data[o] = v; img.data[o + 1] = v; img.data[o + 2] = v; img.data[o + 3] = 255;
        }
      }
    }
    g.putImageData(img, 0, 0);
    const hc = $("panel-hist-0"), hg = hc.getContext("2d"), m = 30;
    const bins = init.bins, top = Math.max(...p.hist_real, ...p.hist_fake, 1e-9);
    axes(hg, hc.width, hc.height, m, [0, 1], [0, top], t("d_output"), "");
    const bw = (hc.width - m - 10) / bins, base = hc.height - m;
    [[p.hist_real, "rgba(46,125,50,0.55)"], [p.hist_fake, "rgba(142,36,170,0.55)"]].forEach(([h, col]) => {
      hg.fillStyle = col;
      h.forEach((v, i) => { const y = v / top * (base - 10); hg.fillRect(m + i * bw, base - y, bw - 1, y); });
    });
    drawCosts();
    drawSeries("chart-d", [["d_real", []], ["d_fake", [5, 3]]], [0, 1]);
    drawSeries("chart-loss", [["loss_d", []], ["loss_g", [5, 3]]], null);
    drawSeries("chart-js", [["js_hat", []]], null);
    drawGraph();
  }

  // The model overview (as GAN Lab's): z -> G -> G(z) -> D <- x, D -> costs; the last step's
  // gradients light up the path into the network it trained (D step: D's cost into D; G step:
  // J(G) back through the frozen D into G).
  function drawGraph() {
    const c = $("graph"), g = c.getContext("2d"), W = c.width, H = c.height;
    g.fillStyle = "#fff"; g.fillRect(0, 0, W, H);
    g.font = "12px system-ui, sans-serif"; g.textAlign = "center"; g.textBaseline = "middle";
    const nodes = {z: [40, 30, "z"], G: [150, 30, "G"], Gz: [270, 30, "G(z)"],
                   x: [270, 72, "x"], D: [390, 50, "D"], LD: [530, 30, t("loss_d_short")],
                   J: [530, 72, "J(G)"]};
    const step = state.lastStep || "";
    const dLit = step === "d" || step === "iteration" || step === "epoch";
    const gLit = step === "g" || step === "iteration" || step === "epoch";
    const edge = (a, b, colour, width) => {
      const [x0, y0] = nodes[a], [x1, y1] = nodes[b];
      g.strokeStyle = colour; g.lineWidth = width;
      g.beginPath(); g.moveTo(x0 + 28, y0); g.lineTo(x1 - 28, y1); g.stroke();
      g.beginPath(); g.moveTo(x1 - 28, y1);
      const ang = Math.atan2(y1 - y0, x1 - x0);
      g.lineTo(x1 - 28 - 7 * Math.cos(ang - 0.4), y1 - 7 * Math.sin(ang - 0.4));
      g.lineTo(x1 - 28 - 7 * Math.cos(ang + 0.4), y1 - 7 * Math.sin(ang + 0.4));
      g.closePath(); g.fillStyle = colour; g.fill();
    };
    [["z", "G"], ["G", "Gz"], ["Gz", "D"], ["x", "D"], ["D", "LD"], ["D", "J"]].forEach(
      ([a, b]) => edge(a, b, "#bbb", 1.5));
    const back = (a, b, colour) => {  // a gradient: drawn offset, against the flow
      const [x0, y0] = nodes[b], [x1, y1] = nodes[a];
      g.strokeStyle = colour; g.lineWidth = 3; g.setLineDash([6, 4]);
      g.beginPath(); g.moveTo(x0 - 28, y0 + 6); g.lineTo(x1 + 28, y1 + 6); g.stroke();
      g.setLineDash([]);
    };
    if (dLit) { back("D", "LD", "#2e7d32"); }
    if (gLit) { back("D", "J", "#8e24aa"); back("Gz", "D", "#8e24aa"); back("G", "Gz", "#8e24aa"); }
    Object.entries(nodes).forEach(([key, [x, y, label]]) => {
      const net = key === "G" || key === "D";
      const lit = (key === "D" && dLit) || (key === "G" && gLit);
      g.fillStyle = lit ? (key === "D" ? "#c8e6c9" : "#e1bee7") : (net ? "#eee" : "#fff");
      g.strokeStyle = "#777"; g.lineWidth = 1;
      g.fillRect(x - 28, y - 12, 56, 24); g.strokeRect(x - 28, y - 12, 56, 24);
      g.fillStyle = "#222"; g.fillText(label, x, y);
    });
    g.textAlign = "left";
    g.fillStyle = "#555";
    g.fillText(t("graph_" + (step || "none")), 10, H - 8);
    g.textBaseline = "alphabetic";
  }

  function heatColour(v) {  // 0 = fake (purple), 0.5 = white, 1 = real (green)
    const a = Math.min(1, Math.abs(v - 0.5) * 2);
    const [r, g, b] = v >= 0.5 ? [165, 214, 167] : [179, 157, 219];
    return [255 + (r - 255) * a, 255 + (g - 255) * a, 255 + (b - 255) * a];
  }
  function normalised(values, probabilistic) {
    if (probabilistic) { return values; }
    let mn = Infinity, mx = -Infinity;
    values.forEach((v) => { mn = Math.min(mn, v); mx = Math.max(mx, v); });
    const span = mx - mn || 1;
    return values.map((v) => (v - mn) / span);
  }

  function drawPanel2d(c, init, p, lo, hi, maxArrow) {
    const g = c.getContext("2d"), W = c.width, H = c.height;
    const px = (x) => (x - lo) / (hi - lo) * W, py = (y) => (hi - y) / (hi - lo) * H;
    g.fillStyle = "#fff"; g.fillRect(0, 0, W, H);
    if ($("show-heat").checked) {
      const n = init.grid, img = g.createImageData(n, n);
      const vals = normalised(p.heat, init.panels[0].probabilistic);
      vals.forEach((v, i) => {
        const [r, gg, b] = heatColour(v);
        img.data.set([r, gg, b, 255], i * 4);
      });
      if (!state.heatCanvas || state.heatCanvas.width !== n) {  // one offscreen canvas, reused
        state.heatCanvas = document.createElement("canvas");
        state.heatCanvas.width = n; state.heatCanvas.height = n;
      }
      const off = state.heatCanvas;
      off.getContext("2d").putImageData(img, 0, 0);
      g.imageSmoothingEnabled = true;
      g.drawImage(off, 0, 0, W, H);
    }
    if ($("show-warp").checked) {
      const n = init.warp.n, w = p.warp;
      g.strokeStyle = "rgba(239,143,0,0.55)"; g.lineWidth = 1;
      if (w.length === n * n) {
        for (let i = 0; i < n; i++) {
          g.beginPath();
          for (let j = 0; j < n; j++) { const q = w[i * n + j]; j ? g.lineTo(px(q[0]), py(q[1])) : g.moveTo(px(q[0]), py(q[1])); }
          g.stroke();
          g.beginPath();
          for (let j = 0; j < n; j++) { const q = w[j * n + i]; j ? g.lineTo(px(q[0]), py(q[1])) : g.moveTo(px(q[0]), py(q[1])); }
          g.stroke();
        }
      } else {
        g.beginPath();
        w.forEach((q, j) => { j ? g.lineTo(px(q[0]), py(q[1])) : g.moveTo(px(q[0]), py(q[1])); });
        g.stroke();
      }
    }
    if ($("show-real").checked) {
      g.fillStyle = "rgba(46,125,50,0.8)";
      init.real.forEach((q) => g.fillRect(px(q[0]) - 1.5, py(q[1]) - 1.5, 3, 3));
    }
    g.fillStyle = "rgba(142,36,170,0.9)";
    g.beginPath();
    p.fake.forEach((q) => { g.moveTo(px(q[0]) + 2.2, py(q[1])); g.arc(px(q[0]), py(q[1]), 2.2, 0, 7); });
    g.fill();
    if ($("show-arrows").checked) {
      const scale = 0.12 * (hi - lo) / maxArrow;
      g.strokeStyle = "rgba(0,0,0,0.6)"; g.lineWidth = 1;
      g.beginPath();
      p.fake.forEach((q, i) => {
        const a = p.arrows[i];
        g.moveTo(px(q[0]), py(q[1])); g.lineTo(px(q[0] + a[0] * scale), py(q[1] + a[1] * scale));
      });
      g.stroke();
    }
  }

  function drawPanel1d(c, init, p, lo, hi, maxArrow) {
    const g = c.getContext("2d"), W = c.width, H = c.height, bins = 60;
    const px = (x) => (x - lo) / (hi - lo) * W;
    g.fillStyle = "#fff"; g.fillRect(0, 0, W, H);
    const hist = (pts) => {
      const h = new Array(bins).fill(0);
      pts.forEach((q) => { const b = Math.floor((q[0] - lo) / (hi - lo) * bins); if (b >= 0 && b < bins) { h[b] += 1; } });
      return h.map((v) => v / pts.length);
    };
    const hr = hist(init.real), hf = hist(p.fake);
    const top = Math.max(...hr, ...hf, 1e-9), bw = W / bins, base = H - 30;
    if ($("show-real").checked) {
      g.fillStyle = "rgba(46,125,50,0.45)";
      hr.forEach((v, i) => g.fillRect(i * bw, base - v / top * (base - 20), bw - 1, v / top * (base - 20)));
    }
    g.fillStyle = "rgba(142,36,170,0.45)";
    hf.forEach((v, i) => g.fillRect(i * bw, base - v / top * (base - 20), bw - 1, v / top * (base - 20)));
    if ($("show-heat").checked) {
      const vals = normalised(p.heat, init.panels[0].probabilistic);
      g.strokeStyle = "#2e7d32"; g.lineWidth = 2; g.beginPath();
      vals.forEach((v, i) => { const x = i / (vals.length - 1) * W, y = base - v * (base - 20); i ? g.lineTo(x, y) : g.moveTo(x, y); });
      g.stroke();
    }
    if ($("show-warp").checked) {  // G(z) against z: x = G(z), y = z
      g.strokeStyle = "rgba(239,143,0,0.8)"; g.lineWidth = 1; g.beginPath();
      p.warp.forEach((q, i) => { const y = base - i / (p.warp.length - 1) * (base - 20); i ? g.lineTo(px(q[0]), y) : g.moveTo(px(q[0]), y); });
      g.stroke();
    }
    g.fillStyle = "#555"; g.font = "11px system-ui, sans-serif";
    g.fillText(fmt(lo), 2, H - 2); g.fillText(fmt(hi), W - 24, H - 2);
    g.fillText(fmt((lo + hi) / 2), W / 2 - 6, H - 2);
    if ($("show-arrows").checked) {
      const scale = 0.12 * (hi - lo) / maxArrow;
      g.strokeStyle = "rgba(0,0,0,0.6)";
      g.beginPath();
      p.fake.forEach((q, i) => {
        const y = base + 8 + (i % 16);
        g.moveTo(px(q[0]), y); g.lineTo(px(q[0] + p.arrows[i][0] * scale), y);
      });
      g.stroke();
    }
  }

  function axes(g, W, H, m, xr, yr, xlabel, ylabel) {
    g.fillStyle = "#fff"; g.fillRect(0, 0, W, H);
    g.strokeStyle = "#999"; g.lineWidth = 1;
    g.strokeRect(m, 10, W - m - 10, H - m - 10);
    g.fillStyle = "#333"; g.font = "11px system-ui, sans-serif";
    g.fillText(xlabel, W / 2 - 20, H - 6);
    g.fillText(ylabel, 4, 20);
    g.fillText(fmt(xr[0]), m, H - m + 14); g.fillText(fmt(xr[1]), W - 40, H - m + 14);
    g.fillText(fmt(yr[1]), 4, 24 + 10); g.fillText(fmt(yr[0]), 4, H - m);
  }
  function fmt(v) { if (Number.isInteger(v)) { return String(v); } return Math.abs(v) >= 100 || (Math.abs(v) < 0.01 && v !== 0) ? v.toExponential(1) : (+v.toFixed(3)).toString(); }

  function drawCosts() {
    const init = state.init, frame = state.frame, c = $("chart-costs");
    const g = c.getContext("2d"), W = c.width, H = c.height, m = 40;
    const prob = init.panels.every((p) => p.probabilistic);
    const curves = init.curves.filter((cv) => (cv.axis === "prob") === prob);
    const xr = prob ? [0, 1] : [-2, 3], yr = prob ? [-10, 5] : [-3, 6];
    const X = (x) => m + (x - xr[0]) / (xr[1] - xr[0]) * (W - m - 10);
    const Y = (y) => 10 + (yr[1] - Math.max(yr[0], Math.min(yr[1], y))) / (yr[1] - yr[0]) * (H - m - 10);
    axes(g, W, H, m, xr, yr, t(prob ? "prob_axis" : "score_axis"), t("cost"));
    const playing = new Set(init.panels.map((p) => p.game));
    state.curveGames = [];
    curves.forEach((cv, ci) => {
      const on = playing.has(cv.game);
      if (on) { state.curveGames.push(cv.game); }
      g.strokeStyle = GAME_COLOURS[cv.game] || "#555";
      g.globalAlpha = on ? 1 : 0.25; g.lineWidth = on ? 2.5 : 1.2;
      g.beginPath();
      cv.x.forEach((x, i) => { i ? g.lineTo(X(x), Y(cv.y[i])) : g.moveTo(X(x), Y(cv.y[i])); });
      g.stroke();
      g.globalAlpha = 1;
      g.fillStyle = g.strokeStyle;
      g.fillText(t(cv.game), W - 130, 24 + 14 * ci);
    });
    frame.panels.forEach((p, k) => {
      g.fillStyle = init.mode === "seeds" ? PANEL_COLOURS[k % PANEL_COLOURS.length]
                                          : (GAME_COLOURS[init.panels[k].game] || "#555");
      g.globalAlpha = 0.5;
      g.beginPath();
      p.dfake.forEach((x, i) => { g.moveTo(X(x) + 2.2, Y(p.jfake[i])); g.arc(X(x), Y(p.jfake[i]), 2.2, 0, 7); });
      g.fill();
      g.globalAlpha = 1;
    });
  }

  function drawSeries(id, keys, fixed) {
    const c = $(id), g = c.getContext("2d"), W = c.width, H = c.height, m = 40;
    const hs = state.history;
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    hs.forEach((h) => h.forEach((r) => {
      x0 = Math.min(x0, r.it); x1 = Math.max(x1, r.it);
      keys.forEach(([k]) => { if (Number.isFinite(r[k])) { y0 = Math.min(y0, r[k]); y1 = Math.max(y1, r[k]); } });
    }));
    if (fixed) { y0 = Math.min(fixed[0], y0); y1 = Math.max(fixed[1], y1); }
    if (!Number.isFinite(x0)) { x0 = 0; x1 = 1; y0 = 0; y1 = 1; }
    if (x1 === x0) { x1 = x0 + 1; }
    if (y1 === y0) { y1 = y0 + 1; }
    axes(g, W, H, m, [x0, x1], [y0, y1], t("iteration"), "");
    const X = (x) => m + (x - x0) / (x1 - x0) * (W - m - 10);
    const Y = (y) => 10 + (y1 - y) / (y1 - y0) * (H - m - 10);
    hs.forEach((h, k) => {
      const game = state.init.panels[k].game;
      g.strokeStyle = state.init.mode === "seeds" ? PANEL_COLOURS[k % PANEL_COLOURS.length]
                                                  : (GAME_COLOURS[game] || "#555");
      keys.forEach(([key, dash]) => {
        g.setLineDash(dash); g.lineWidth = 1.5; g.beginPath();
        let started = false;
        const stride = Math.max(1, Math.ceil(h.length / SERIES_POINTS));
        h.forEach((r, i) => {
          if ((i % stride && i !== h.length - 1) || !Number.isFinite(r[key])) { return; }
          started ? g.lineTo(X(r.it), Y(r[key])) : g.moveTo(X(r.it), Y(r[key]));
          started = true;
        });
        g.stroke();
      });
      g.setLineDash([]);
    });
  }

  wire();
  applyLanguage();
})();

// neurostream live view: draws what the server sends over /ws. Traces arrive as min/max per pixel
// column (already decimated to this screen); they are painted once into an off-screen ring canvas,
// and each animation frame only composites that ring at the current scroll position, so the cost of
// a redraw does not grow with the number of channels.
'use strict';

const $ = (id) => document.getElementById(id);
const MSG_TRACE = 1, MSG_SPECTRUM = 2;
const BG = '#0a0d11';

const st = {
  ws: null, streams: [], want: null, topic: 'raw', span: 10,
  info: null, sent: [], width: 0, height: 0,
  cols: [],            // per sent channel: Float32Array(2*width) of min,max by column slot
  base: [],            // per sent channel: running baseline (mean of column mid-points)
  scale: [],           // per sent channel: units per half row
  scaleMul: 1, scaled: false,
  latestCol: -1, lastData: 0, colsPerMs: 0, dirty: false,
  markers: [], preds: [], feats: new Map(), featNames: [],
  spectrum: null, peakHz: NaN,
  redraws: 0, redrawTimes: [], delays: [], serverDelays: [], pendingAcq: [], decLat: [],
};

const traces = $('traces'), tctx = traces.getContext('2d');
const ring = document.createElement('canvas'), rctx = ring.getContext('2d');
const timeline = $('timeline'), lctx = timeline.getContext('2d');

// ---- connection ----
function connect() {
  const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws');
  ws.binaryType = 'arraybuffer';
  st.ws = ws;
  ws.onopen = () => { $('conn').textContent = 'connected'; $('conn').className = 'good'; if (st.want) watch(); };
  ws.onclose = () => { $('conn').textContent = 'disconnected, retrying…'; $('conn').className = 'bad'; setTimeout(connect, 1000); };
  ws.onmessage = (ev) => {
    if (typeof ev.data === 'string') return onText(JSON.parse(ev.data));
    const dv = new DataView(ev.data);
    if (dv.getUint8(0) === MSG_TRACE) onTrace(dv, ev.data);
    else if (dv.getUint8(0) === MSG_SPECTRUM) onSpectrum(dv, ev.data);
  };
}

function watch() {
  if (!st.ws || st.ws.readyState !== 1 || !st.want) return;
  resize();
  st.ws.send(JSON.stringify({ op: 'watch', stream: st.want, topic: st.topic, width: st.width, span_sec: st.span, channels: parseChannels() }));
}

// parseChannels turns "1-8, O1, Pz" into channel indices (names of the stream, 1-based numbers).
function parseChannels() {
  const text = $('channels').value.trim();
  const entry = st.streams.find((s) => s.id === st.want);
  if (!text || text === 'all' || !st.info || st.info.stream !== st.want) return [];
  const names = st.info.channels.map((c) => c.name.toLowerCase());
  const out = [];
  for (const part of text.split(/[\s,]+/)) {
    const m = part.match(/^(\d+)-(\d+)$/);
    if (m) { for (let i = +m[1]; i <= +m[2]; i++) out.push(i - 1); continue; }
    if (/^\d+$/.test(part)) { out.push(+part - 1); continue; }
    const i = names.indexOf(part.toLowerCase());
    if (i >= 0) out.push(i);
  }
  return entry ? out.filter((i) => i >= 0 && i < entry.channels) : out;
}

// ---- messages ----
function onText(m) {
  switch (m.t) {
    case 'streams': return onStreams(m.streams);
    case 'info': return onInfo(m);
    case 'marker': st.markers.push(m); if (st.markers.length > 200) st.markers.splice(0, 100); st.dirty = true; return;
    case 'prediction': return onPrediction(m);
    case 'features': return onFeatures(m);
  }
}

function onStreams(list) {
  st.streams = list;
  $('no-streams').style.display = list.length ? 'none' : '';
  const body = $('streams').tBodies[0];
  body.textContent = '';
  for (const s of list) {
    const tr = body.insertRow();
    tr.dataset.stream = s.id;
    if (s.id === st.want) tr.className = 'sel';
    const state = s.live ? 'live' : (s.last_age_sec < 0 ? 'no frames' : 'stalled');
    for (const v of [s.id, s.device, s.channels, s.rate_hz, state, s.gaps]) {
      const td = tr.insertCell();
      td.textContent = v;
      td.title = v;
    }
    tr.cells[4].className = s.live ? 'live' : 'stalled';
    tr.onclick = () => select(s.id);
  }
  if (!st.want) {
    const q = new URLSearchParams(location.search).get('stream');
    const first = list.find((s) => s.id === q) || list.find((s) => s.live) || list[0];
    if (first) select(first.id);
  }
  counters();
}

function select(id) {
  st.want = id;
  const topics = (st.streams.find((s) => s.id === id) || {}).topics || ['raw'];
  if (!topics.includes(st.topic)) st.topic = topics[0];
  $('topic').value = st.topic;
  st.preds = []; st.feats = new Map(); st.featNames = []; st.decLat = [];
  $('predictions').textContent = ''; $('features').textContent = '';
  watch();
}

function onInfo(m) {
  st.info = m;
  st.sent = m.sent;
  st.width = m.width;
  st.spp = m.samples_per_column;
  st.colsPerMs = m.rate_hz / m.samples_per_column / 1000;
  st.cols = m.sent.map(() => new Float32Array(2 * m.width).fill(NaN));
  st.base = m.sent.map(() => NaN);
  if (!st.scaled || st.scale.length !== m.sent.length) { st.scale = m.sent.map(() => NaN); st.scaled = false; }
  st.latestCol = -1; st.markers = []; st.spectrum = null; st.paintedScaled = false;
  ring.width = st.width; ring.height = st.height;
  rctx.fillStyle = BG; rctx.fillRect(0, 0, ring.width, ring.height);
  $('stream-title').textContent = `${m.stream} · ${m.device} · ${m.channels.length} ch · ${m.rate_hz} Hz · ${m.topic}`;
  const labels = $('labels');
  labels.textContent = '';
  const rowH = st.height / m.sent.length, every = Math.max(1, Math.ceil(12 / rowH));
  m.sent.forEach((c, j) => {
    const s = document.createElement('span');
    s.textContent = m.channels[c].name;
    s.dataset.channel = m.channels[c].name;
    s.style.top = ((j + 0.5) * rowH) + 'px';
    if (j % every) s.style.visibility = 'hidden';
    labels.appendChild(s);
  });
  $('axis').innerHTML = `<span>−${m.span_sec} s</span><span>now</span>`;
  st.dirty = true;
}

function onTrace(dv, buf) {
  if (!st.info) return;
  const nsel = dv.getUint16(2, true), ncols = dv.getUint32(4, true);
  const first = dv.getFloat64(8, true), acqMs = dv.getFloat64(16, true), sentMs = dv.getFloat64(24, true);
  if (nsel !== st.sent.length) return;
  const data = new Float32Array(buf, 32, nsel * ncols * 2);
  const W = st.width;
  if (st.latestCol >= 0 && first > st.latestCol + 1) { // a gap: empty the skipped columns
    for (let k = st.latestCol + 1; k < Math.min(first, st.latestCol + 1 + W); k++) clearCol(k);
  }
  for (let j = 0; j < nsel; j++) {
    const col = st.cols[j];
    for (let k = 0; k < ncols; k++) {
      const slot = (first + k) % W;
      col[2 * slot] = data[(j * ncols + k) * 2];
      col[2 * slot + 1] = data[(j * ncols + k) * 2 + 1];
    }
  }
  const last = first + ncols - 1;
  if (last > st.latestCol) { st.latestCol = last; st.lastData = performance.now(); }
  if (!st.scaled) autoScale();
  if (st.scaled && !st.paintedScaled) { st.paintedScaled = true; repaintAll(); }
  else for (let k = 0; k < ncols; k++) paintCol(first + k);
  if (acqMs > 0) { st.pendingAcq.push(acqMs); st.serverDelays.push(sentMs - acqMs); }
  if (st.serverDelays.length > 2000) st.serverDelays.splice(0, 1000);
  st.dirty = true;
}

function clearCol(k) {
  const slot = k % st.width;
  for (const col of st.cols) { col[2 * slot] = NaN; col[2 * slot + 1] = NaN; }
  rctx.fillStyle = BG; rctx.fillRect(slot, 0, 1, st.height);
}

// paintCol draws column k of every channel into the ring canvas.
function paintCol(k) {
  const slot = k % st.width, n = st.sent.length, rowH = st.height / n;
  rctx.fillStyle = BG; rctx.fillRect(slot, 0, 1, st.height);
  rctx.fillStyle = '#9fd3ff';
  for (let j = 0; j < n; j++) {
    const lo = st.cols[j][2 * slot], hi = st.cols[j][2 * slot + 1];
    if (!(hi >= lo)) continue;
    const mid = (lo + hi) / 2;
    if (isNaN(st.base[j])) st.base[j] = mid; else st.base[j] += (mid - st.base[j]) * 0.01;
    const g = (rowH / 2) / (st.scale[j] * st.scaleMul || 1), y0 = (j + 0.5) * rowH;
    const top = y0 - (hi - st.base[j]) * g, bot = y0 - (lo - st.base[j]) * g;
    const t = Math.max(j * rowH, Math.min((j + 1) * rowH, top)), b = Math.max(j * rowH, Math.min((j + 1) * rowH, bot));
    rctx.fillRect(slot, t, 1, Math.max(1, b - t));
  }
}

function repaintAll() {
  if (!st.info || st.latestCol < 0) return;
  rctx.fillStyle = BG; rctx.fillRect(0, 0, ring.width, ring.height);
  for (let k = Math.max(0, st.latestCol - st.width + 1); k <= st.latestCol; k++) paintCol(k);
  st.dirty = true;
}

// autoScale sets each channel's half-row to about three times its typical column range, per
// channel type (so EEG, EOG and MEG channels each get a sensible scale).
function autoScale() {
  const byType = new Map();
  st.sent.forEach((c, j) => {
    const col = st.cols[j], r = [];
    for (let s = 0; s < st.width; s++) if (col[2 * s + 1] >= col[2 * s]) r.push(col[2 * s + 1] - col[2 * s]);
    if (r.length < 8) return;
    r.sort((a, b) => a - b);
    const t = st.info.channels[c].type;
    if (!byType.has(t)) byType.set(t, []);
    byType.get(t).push(r[r.length >> 1]);
  });
  if (!byType.size) return;
  st.sent.forEach((c, j) => {
    const v = byType.get(st.info.channels[c].type);
    if (!v) return;
    v.sort((a, b) => a - b);
    st.scale[j] = 3 * v[v.length >> 1] || 1e-6;
  });
  st.scaled = true;
  scaleText();
}

function scaleText() {
  const j = 0;
  if (!st.info || !st.sent.length || isNaN(st.scale[j])) return;
  const ch = st.info.channels[st.sent[j]];
  const v = st.scale[j] * st.scaleMul;
  const [f, u] = ch.unit === 'V' ? [1e6, 'µV'] : ch.unit === 'T' ? [1e15, 'fT'] : ch.unit === 'T/m' ? [1e13, 'fT/cm'] : [1, ch.unit];
  $('scale-text').textContent = `±${(v * f).toPrecision(3)} ${u} per row`;
}

// ---- drawing, once per animation frame ----
function frame(now) {
  requestAnimationFrame(frame);
  if (!st.info || st.latestCol < 0) return;
  const W = st.width, H = st.height;
  // Scroll smoothly between data messages: the right edge moves on at the stream's rate for up to
  // 100 ms past the newest column (blank until its data arrives), then waits.
  const lead = Math.min((now - st.lastData) * st.colsPerMs, st.colsPerMs * 100);
  const drawn = st.latestCol + lead;
  if (!st.dirty && Math.abs(drawn - st.lastDrawn) < 0.25) return;
  st.lastDrawn = drawn; st.dirty = false;
  const h = st.latestCol % W, x0 = W - 1 - lead - h; // x of ring slot 0
  tctx.fillStyle = BG; tctx.fillRect(0, 0, W, H);
  if (h + 1 < W) tctx.drawImage(ring, h + 1, 0, W - h - 1, H, x0 - (W - h - 1), 0, W - h - 1, H);
  tctx.drawImage(ring, 0, 0, h + 1, H, x0, 0, h + 1, H);
  tctx.fillStyle = BG; tctx.fillRect(W - lead, 0, lead + 1, H);
  // markers
  tctx.strokeStyle = '#ffb347'; tctx.fillStyle = '#ffb347'; tctx.font = '11px sans-serif';
  st.markersShown = [];
  for (const m of st.markers) {
    const x = W - 1 - lead - (st.latestCol - Math.floor(m.sample / st.spp));
    if (x < 0 || x > W) continue;
    st.markersShown.push(m.label || String(m.code));
    tctx.beginPath(); tctx.moveTo(x + 0.5, 0); tctx.lineTo(x + 0.5, H); tctx.stroke();
    const text = m.label || String(m.code), tw = tctx.measureText(text).width;
    tctx.fillText(text, x + 3 + tw > W ? x - 3 - tw : x + 3, 12);
  }
  drawTimeline(lead);
  st.redraws++;
  st.redrawTimes.push(now);
  while (st.redrawTimes.length && st.redrawTimes[0] < now - 1000) st.redrawTimes.shift();
  const wall = performance.timeOrigin + now;
  for (const a of st.pendingAcq) st.delays.push(wall - a);
  st.pendingAcq.length = 0;
  if (st.delays.length > 2000) st.delays.splice(0, 1000);
}

const palette = ['#4fb3ff', '#ff8c69', '#5fd38d', '#d38cff', '#ffd166', '#ff6b9d', '#6bffe0'];
function colorOf(label) {
  let h = 0;
  for (const ch of label || '') h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return palette[h % palette.length];
}

function drawTimeline(lead) {
  const W = st.width, H = timeline.height;
  if (timeline.width !== W) timeline.width = W;
  lctx.fillStyle = BG; lctx.fillRect(0, 0, W, H);
  let prevX = null;
  for (const p of st.preds) {
    const x = W - 1 - lead - (st.latestCol - Math.floor(p.window_end_sample / st.spp));
    const from = prevX === null ? x - 4 : prevX;
    prevX = x;
    if (x < 0) continue;
    lctx.fillStyle = colorOf(p.label);
    lctx.fillRect(from, 4, Math.max(2, x - from), H - 8);
  }
  lctx.font = '11px sans-serif';
  const last = st.preds[st.preds.length - 1];
  if (last) { lctx.fillStyle = '#fff'; lctx.fillText(last.label || '', 4, H - 9); }
}

// ---- spectrum and scalp map ----
function onSpectrum(dv, buf) {
  const nch = dv.getUint16(2, true), nbins = dv.getUint32(4, true), df = dv.getFloat64(8, true);
  st.spectrum = { nch, nbins, df, data: new Float32Array(buf, 16, nch * nbins) };
  drawSpectrum();
  drawScalp();
}

function drawSpectrum() {
  const c = $('spectrum'), ctx = c.getContext('2d'), s = st.spectrum;
  if (!s || !st.info) return;
  const W = c.width, H = c.height, chans = st.sent.filter((i) => i < s.nch);
  const fmax = (s.nbins - 1) * s.df;
  let lo = Infinity, hi = -Infinity;
  const mean = new Float64Array(s.nbins);
  for (const i of chans) for (let b = 1; b < s.nbins; b++) {
    const v = s.data[i * s.nbins + b];
    if (v < lo) lo = v; if (v > hi) hi = v;
    mean[b] += Math.pow(10, v) / chans.length;
  }
  if (!isFinite(lo)) return;
  const x = (b) => 30 + (b * s.df / fmax) * (W - 36), y = (v) => 6 + (hi - v) / Math.max(hi - lo, 1e-9) * (H - 26);
  ctx.fillStyle = BG; ctx.fillRect(0, 0, W, H);
  if (chans.length <= 64) { // one line per channel
    ctx.strokeStyle = 'rgba(159,211,255,0.25)'; ctx.lineWidth = 1;
    for (const i of chans) {
      ctx.beginPath();
      for (let b = 1; b < s.nbins; b++) { const v = s.data[i * s.nbins + b]; b === 1 ? ctx.moveTo(x(b), y(v)) : ctx.lineTo(x(b), y(v)); }
      ctx.stroke();
    }
  } else { // many channels: their range per frequency, which draws in constant time
    ctx.fillStyle = 'rgba(159,211,255,0.25)'; ctx.beginPath();
    const lo2 = [], hi2 = [];
    for (let b = 1; b < s.nbins; b++) {
      let a = Infinity, z = -Infinity;
      for (const i of chans) { const v = s.data[i * s.nbins + b]; if (v < a) a = v; if (v > z) z = v; }
      lo2.push(a); hi2.push(z);
    }
    hi2.forEach((v, k) => (k ? ctx.lineTo(x(k + 1), y(v)) : ctx.moveTo(x(k + 1), y(v))));
    for (let k = lo2.length - 1; k >= 0; k--) ctx.lineTo(x(k + 1), y(lo2[k]));
    ctx.fill();
  }
  ctx.strokeStyle = '#4fb3ff'; ctx.lineWidth = 2; ctx.beginPath();
  for (let b = 1; b < s.nbins; b++) { const v = Math.log10(mean[b]); b === 1 ? ctx.moveTo(x(b), y(v)) : ctx.lineTo(x(b), y(v)); }
  ctx.stroke(); ctx.lineWidth = 1;
  ctx.fillStyle = '#8a96a3'; ctx.font = '10px sans-serif';
  for (let f = 0; f <= fmax; f += fmax > 60 ? 20 : 10) ctx.fillText(f + ' Hz', x(f / s.df) - 8, H - 4);
  ctx.save(); ctx.translate(10, H / 2); ctx.rotate(-Math.PI / 2); ctx.fillText('log power', -20, 0); ctx.restore();
  // The peak above the 1/f background: the largest residual of a line fitted to log power against
  // log frequency between 2 and 45 Hz (the way a person reads an alpha peak off a spectrum).
  const bins = [];
  for (let b = 1; b < s.nbins; b++) { const f = b * s.df; if (f >= 2 && f <= 45 && mean[b] > 0) bins.push(b); }
  if (bins.length > 4) {
    let sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (const b of bins) { const lx = Math.log10(b * s.df), ly = Math.log10(mean[b]); sx += lx; sy += ly; sxx += lx * lx; sxy += lx * ly; }
    const n = bins.length, slope = (n * sxy - sx * sy) / (n * sxx - sx * sx), icpt = (sy - slope * sx) / n;
    let best = bins[0], bestR = -Infinity;
    for (const b of bins) { const r = Math.log10(mean[b]) - (icpt + slope * Math.log10(b * s.df)); if (r > bestR) { bestR = r; best = b; } }
    st.peakHz = best * s.df;
    $('spectrum-peak').textContent = `peak ${st.peakHz.toFixed(1)} Hz (+${(10 * bestR).toFixed(1)} dB over 1/f, ${chans.length} ch)`;
    ctx.strokeStyle = '#ffd166'; ctx.setLineDash([3, 3]); ctx.beginPath(); ctx.moveTo(x(best), 0); ctx.lineTo(x(best), H - 16); ctx.stroke(); ctx.setLineDash([]);
  }
}

function viridis(t) {
  const stops = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
  t = Math.max(0, Math.min(1, t)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(t)), f = t - i;
  return stops[i].map((v, k) => Math.round(v + (stops[i + 1][k] - v) * f));
}

function drawScalp() {
  const c = $('scalp'), ctx = c.getContext('2d'), s = st.spectrum, info = st.info;
  ctx.fillStyle = BG; ctx.fillRect(0, 0, c.width, c.height);
  if (!s || !info) return;
  const [f1, f2] = $('band').value.split(',').map(Number);
  // Channels with positions, of the most common type among those shown.
  const count = new Map();
  for (const i of st.sent) if (info.channels[i].position) count.set(info.channels[i].type, (count.get(info.channels[i].type) || 0) + 1);
  if (!count.size) { $('scalp-text').textContent = 'no channel positions in the stream info'; return; }
  const type = [...count.entries()].sort((a, b) => b[1] - a[1])[0][0];
  const pts = [];
  let cx = 0, cy = 0;
  for (const i of st.sent) {
    const ch = info.channels[i];
    if (!ch.position || ch.type !== type || i >= s.nch) continue;
    let p = 0;
    for (let b = Math.ceil(f1 / s.df); b <= Math.floor(f2 / s.df) && b < s.nbins; b++) p += Math.pow(10, s.data[i * s.nbins + b]);
    pts.push({ pos: ch.position, v: Math.log10(p * s.df + 1e-300), name: ch.name });
    cx += ch.position[0] / 1; cy += ch.position[1] / 1;
  }
  if (pts.length < 3) { $('scalp-text').textContent = 'too few positioned channels'; return; }
  cx /= pts.length; cy /= pts.length;
  // Azimuthal equidistant projection from the vertex: the head's equator lands on the circle.
  const R = c.width / 2 - 14, ox = c.width / 2, oy = c.height / 2 + 4;
  let rmax = 0;
  for (const p of pts) {
    const x = p.pos[0] - cx, y = p.pos[1] - cy, z = p.pos[2], n = Math.hypot(x, y, z) || 1;
    const th = Math.acos(Math.max(-1, Math.min(1, z / n))), ph = Math.atan2(y, x);
    p.x = th * Math.cos(ph); p.y = th * Math.sin(ph);
    rmax = Math.max(rmax, Math.hypot(p.x, p.y));
  }
  const k = R / Math.max(rmax, Math.PI / 2);
  let lo = Infinity, hi = -Infinity;
  for (const p of pts) { p.px = ox + p.x * k; p.py = oy - p.y * k; lo = Math.min(lo, p.v); hi = Math.max(hi, p.v); }
  // Inverse-distance weights from every grid cell to every electrode depend only on the montage:
  // computed once, each update is then one weighted sum per cell.
  const G = 3, key = pts.map((p) => p.name).join(',') + c.width;
  if (!st.scalpGrid || st.scalpGrid.key !== key) {
    const cells = [];
    for (let py = 0; py < c.height; py += G) for (let px = 0; px < c.width; px += G) {
      if (Math.hypot(px - ox, py - oy) > R) continue;
      const w = new Float32Array(pts.length);
      let den = 0;
      pts.forEach((p, i) => { const d2 = (px - p.px) ** 2 + (py - p.py) ** 2 + 1; w[i] = 1 / (d2 * d2); den += w[i]; });
      for (let i = 0; i < w.length; i++) w[i] /= den;
      cells.push({ px, py, w });
    }
    st.scalpGrid = { key, cells };
  }
  const img = ctx.createImageData(c.width, c.height), vals = Float32Array.from(pts, (p) => p.v);
  for (const { px, py, w } of st.scalpGrid.cells) {
    let num = 0;
    for (let i = 0; i < w.length; i++) num += w[i] * vals[i];
    const [r, g, b] = viridis((num - lo) / Math.max(hi - lo, 1e-12));
    for (let dy = 0; dy < G; dy++) for (let dx = 0; dx < G; dx++) {
      const o = ((py + dy) * c.width + px + dx) * 4;
      if (o < img.data.length) { img.data[o] = r; img.data[o + 1] = g; img.data[o + 2] = b; img.data[o + 3] = 255; }
    }
  }
  ctx.putImageData(img, 0, 0);
  ctx.strokeStyle = '#d8dee6'; ctx.beginPath(); ctx.arc(ox, oy, R, 0, 2 * Math.PI); ctx.stroke();
  ctx.beginPath(); ctx.moveTo(ox - 8, oy - R + 1); ctx.lineTo(ox, oy - R - 9); ctx.lineTo(ox + 8, oy - R + 1); ctx.stroke();
  ctx.fillStyle = '#000';
  for (const p of pts) ctx.fillRect(p.px - 1, p.py - 1, 2, 2);
  const top = pts.reduce((a, b) => (b.v > a.v ? b : a));
  $('scalp-text').textContent = `${f1}–${f2} Hz ${type}, strongest at ${top.name}`;
}

// ---- predictions, features, counters ----
function onPrediction(p) {
  if (p.stream_id !== st.want) return;
  st.preds.push(p);
  if (st.preds.length > 400) st.preds.splice(0, 200);
  st.decLat.push(p.latency_ns / 1e6);
  if (st.decLat.length > 500) st.decLat.splice(0, 250);
  const li = document.createElement('li');
  const t = st.info ? (p.window_end_sample / st.info.rate_hz).toFixed(2) : '?';
  let text = `t=${t}s ${p.decoder} ${p.label || ''}`;
  if (p.scores) text += '  ' + p.scores.map((s) => `${s.label} ${s.value.toFixed(2)}`).join(' ');
  if (p.top_k) text += '  top: ' + p.top_k.map((r) => `${r.id} ${r.score.toFixed(2)}`).join(', ');
  li.textContent = text + `  (${(p.latency_ns / 1e6).toFixed(2)} ms)`;
  li.dataset.label = p.label || '';
  const ol = $('predictions');
  ol.insertBefore(li, ol.firstChild);
  while (ol.children.length > 10) ol.removeChild(ol.lastChild);
  st.dirty = true;
}

function onFeatures(m) {
  if (m.stream_id !== st.want) return;
  m.names.forEach((n, i) => {
    if (!st.feats.has(n)) { st.feats.set(n, []); st.featNames.push(n); }
    const h = st.feats.get(n);
    h.push(m.values[i]);
    if (h.length > 120) h.shift();
  });
  drawFeatures();
}

function drawFeatures() {
  const box = $('features'), filter = $('feature-filter').value.trim().toLowerCase();
  const names = st.featNames.filter((n) => !filter || n.toLowerCase().includes(filter)).slice(0, 12);
  if (box.dataset.names !== names.join('|')) {
    box.dataset.names = names.join('|');
    box.textContent = '';
    for (const n of names) {
      const d = document.createElement('div');
      d.className = 'feature';
      d.innerHTML = '<span class="name"></span> <span class="value readout"></span><canvas width="160" height="26"></canvas>';
      d.querySelector('.name').textContent = n;
      d.dataset.name = n;
      box.appendChild(d);
    }
  }
  for (const d of box.children) {
    const h = st.feats.get(d.dataset.name) || [], c = d.querySelector('canvas'), ctx = c.getContext('2d');
    d.querySelector('.value').textContent = h.length ? h[h.length - 1].toPrecision(3) : '';
    ctx.fillStyle = BG; ctx.fillRect(0, 0, c.width, c.height);
    const lo = Math.min(...h), hi = Math.max(...h);
    ctx.strokeStyle = '#5fd38d'; ctx.beginPath();
    h.forEach((v, i) => { const x = (i / 119) * c.width, y = c.height - 2 - ((v - lo) / Math.max(hi - lo, 1e-12)) * (c.height - 4); i ? ctx.lineTo(x, y) : ctx.moveTo(x, y); });
    ctx.stroke();
  }
}

function pct(a, q) {
  if (!a.length) return NaN;
  const s = [...a].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

function stats() {
  const d = st.delays.slice(-500), sd = st.serverDelays.slice(-500);
  return {
    redraws: st.redraws, redrawsPerSec: st.redrawTimes.length, delays: d.length,
    delayP50: pct(d, 0.5), delayP99: pct(d, 0.99), peakHz: st.peakHz,
    serverDelayP50: pct(sd, 0.5), serverDelayP99: pct(sd, 0.99),
    columns: st.latestCol, predictions: st.preds.length, markers: st.markersShown || [],
  };
}

function counters() {
  const e = st.streams.find((s) => s.id === st.want), s = stats(), f = (v, u) => (isNaN(v) ? '–' : v.toFixed(1) + u);
  const rows = [
    ['frames', e ? e.frames : '–'], ['sequence gaps', e ? e.gaps : '–'], ['duplicates', e ? e.duplicates : '–'],
    ['viewers', e ? e.viewers : '–'], ['redraws/s', s.redrawsPerSec],
    ['screen delay p50', f(s.delayP50, ' ms')], ['screen delay p99', f(s.delayP99, ' ms')],
    ['decoder latency p50', f(pct(st.decLat, 0.5), ' ms')], ['decoder latency p99', f(pct(st.decLat, 0.99), ' ms')],
  ];
  $('counters').innerHTML = rows.map(([k, v]) => `<dt>${k}</dt><dd data-counter="${k}">${v}</dd>`).join('');
}

// rowInk counts the lit pixels of each channel's row in the visible trace canvas (for tests).
function rowInk() {
  const W = traces.width, H = traces.height, n = st.sent.length, px = tctx.getImageData(0, 0, W, H).data, out = new Array(n).fill(0);
  for (let y = 0; y < H; y++) {
    const j = Math.min(n - 1, Math.floor(y / (H / n)));
    for (let x = 0; x < W; x++) if (px[(y * W + x) * 4 + 2] > 100) out[j]++;
  }
  return out;
}

function resize() {
  const r = traces.getBoundingClientRect();
  const w = Math.max(100, Math.round(r.width)), h = Math.max(50, Math.round(r.height));
  if (traces.width !== w || traces.height !== h) { traces.width = w; traces.height = h; }
  st.width = w; st.height = h;
}

// ---- controls ----
$('topic').onchange = (e) => { st.topic = e.target.value; watch(); };
$('span').onchange = (e) => { st.span = +e.target.value; watch(); };
$('channels').onchange = () => { st.scaled = false; watch(); };
$('band').onchange = drawScalp;
$('feature-filter').oninput = drawFeatures;
$('scale-up').onclick = () => { st.scaleMul /= 2; scaleText(); repaintAll(); };
$('scale-down').onclick = () => { st.scaleMul *= 2; scaleText(); repaintAll(); };
$('scale-auto').onclick = () => { st.scaleMul = 1; autoScale(); repaintAll(); };
let resizeTimer;
window.addEventListener('resize', () => { clearTimeout(resizeTimer); resizeTimer = setTimeout(watch, 200); });
setInterval(counters, 500);

window.nsView = { stats, rowInk, select };
resize();
connect();
requestAnimationFrame(frame);

// Live view of the midge lab: DHT11 telemetry charted on a canvas, the LED's
// retained status, and a slider that publishes the brightness.
// State is mirrored into data-* attributes so a test (or a curious user)
// can read it from the DOM without reaching into this script.
(function () {
  'use strict';

  var params = new URLSearchParams(location.search);
  // ?window=SECONDS: how much history the chart keeps (10 s to 10 min).
  var windowS = Math.round(Number(params.get('window')) || 60);
  windowS = Math.max(10, Math.min(600, windowS));
  var WINDOW_MS = windowS * 1000;
  var MAX_POINTS = 2000; // 60 s at 100 ms is 600; leaves room for faster senders
  var TELEMETRY = 'lab/dht11';
  var BRIGHTNESS = 'lab/led/brightness';
  var STATUS = 'lab/led/status';

  var url = params.get('broker') ||
    'ws://' + (location.hostname || '127.0.0.1') + ':9001';

  var $ = function (id) { return document.getElementById(id); };
  var conn = $('conn'), telemetry = $('telemetry'), canvas = $('chart');
  var slider = $('brightness');
  var points = []; // {t: receive time ms, temp, hum}

  function setConn(state, text) {
    conn.dataset.state = state;
    conn.textContent = text || state;
  }

  // ---- chart ----

  function niceRange(lo, hi, minSpan) {
    if (!isFinite(lo)) { lo = 0; hi = minSpan; }
    var span = Math.max(hi - lo, minSpan), mid = (hi + lo) / 2;
    lo = Math.floor(mid - span * 0.6);
    hi = Math.ceil(mid + span * 0.6);
    return [lo, hi];
  }

  function draw() {
    var dpr = window.devicePixelRatio || 1;
    var w = canvas.clientWidth, h = canvas.clientHeight;
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
      canvas.width = Math.round(w * dpr);
      canvas.height = Math.round(h * dpr);
    }
    var g = canvas.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);

    var L = 44, R = 44, T = 12, B = 26;
    var pw = w - L - R, ph = h - T - B;
    var now = Date.now(), t0 = now - WINDOW_MS;

    var tlo = Infinity, thi = -Infinity, hlo = Infinity, hhi = -Infinity;
    points.forEach(function (p) {
      if (p.temp !== null) { tlo = Math.min(tlo, p.temp); thi = Math.max(thi, p.temp); }
      if (p.hum !== null) { hlo = Math.min(hlo, p.hum); hhi = Math.max(hhi, p.hum); }
    });
    var tr = niceRange(tlo, thi, 4), hr = niceRange(hlo, hhi, 10);

    var x = function (t) { return L + (t - t0) / WINDOW_MS * pw; };
    var y = function (v, r) { return T + ph - (v - r[0]) / (r[1] - r[0]) * ph; };

    g.font = '11px system-ui, sans-serif';
    g.lineWidth = 1;
    // Horizontal grid with both axes' labels.
    for (var i = 0; i <= 4; i++) {
      var gy = T + ph * i / 4;
      g.strokeStyle = '#e6e9ed';
      g.beginPath(); g.moveTo(L, gy + 0.5); g.lineTo(L + pw, gy + 0.5); g.stroke();
      g.fillStyle = '#e4572e'; g.textAlign = 'right'; g.textBaseline = 'middle';
      g.fillText((tr[1] - (tr[1] - tr[0]) * i / 4).toFixed(1), L - 6, gy);
      g.fillStyle = '#2e86de'; g.textAlign = 'left';
      g.fillText((hr[1] - (hr[1] - hr[0]) * i / 4).toFixed(0), L + pw + 6, gy);
    }
    // Time axis: a round step giving at most six intervals, labelled by age.
    g.fillStyle = '#6b7785'; g.textAlign = 'center'; g.textBaseline = 'top';
    var step = [2, 5, 10, 15, 20, 30, 60, 120].filter(function (v) {
      return windowS / v <= 6;
    })[0];
    for (var s = 0; s <= windowS; s += step) {
      var gx = L + pw - s / windowS * pw;
      g.strokeStyle = '#eef0f3';
      g.beginPath(); g.moveTo(gx + 0.5, T); g.lineTo(gx + 0.5, T + ph); g.stroke();
      g.fillText(s === 0 ? 'now' : '-' + s + ' s', gx, T + ph + 6);
    }
    g.strokeStyle = '#c9ced6';
    g.strokeRect(L + 0.5, T + 0.5, pw, ph);

    function line(key, r, color) {
      g.save();
      g.beginPath(); g.rect(L, T, pw, ph); g.clip();
      g.strokeStyle = color; g.lineWidth = 2; g.lineJoin = 'round';
      g.beginPath();
      var started = false;
      points.forEach(function (p) {
        if (p[key] === null) return;
        var px = x(p.t), py = y(p[key], r);
        if (started) g.lineTo(px, py); else { g.moveTo(px, py); started = true; }
      });
      g.stroke();
      g.restore();
    }
    line('hum', hr, '#2e86de');
    line('temp', tr, '#e4572e');

    // Legend, inside the plot's top left corner.
    g.font = '12px system-ui, sans-serif'; g.textAlign = 'left'; g.textBaseline = 'middle';
    var items = [['temperature °C', '#e4572e'], ['humidity % RH', '#2e86de']];
    var widths = items.map(function (e) { return 22 + g.measureText(e[0]).width; });
    g.fillStyle = 'rgba(255, 255, 255, 0.85)';
    g.fillRect(L + 8, T + 6, widths[0] + widths[1] + 26, 22);
    var lx = L + 14;
    items.forEach(function (e, j) {
      g.fillStyle = e[1];
      g.fillRect(lx, T + 16, 14, 3);
      g.fillStyle = '#1d2733';
      g.fillText(e[0], lx + 18, T + 17);
      lx += widths[j] + 14;
    });

    if (!points.length) {
      g.fillStyle = '#9aa3ad'; g.textAlign = 'center'; g.textBaseline = 'middle';
      g.font = '14px system-ui, sans-serif';
      g.fillText('waiting for ' + TELEMETRY + ' …', L + pw / 2, T + ph / 2);
    }
  }

  // The time axis moves even without new readings, so redraw on a timer
  // (10 per second is smooth enough for 100 ms readings) rather than per
  // message, which would redraw far more often than the screen shows.
  function tick() {
    var cut = Date.now() - WINDOW_MS - 1000;
    while (points.length && points[0].t < cut) points.shift();
    draw();
  }
  setInterval(tick, 100);

  function num(v) { return typeof v === 'number' && isFinite(v) ? v : null; }

  function onTelemetry(text) {
    var m;
    try { m = JSON.parse(text); } catch (e) { return; }
    if (!m || typeof m !== 'object') return;
    var temp = num(m.temperature), hum = num(m.humidity);
    if (temp === null && hum === null) return; // e.g. a sensor error report
    points.push({ t: Date.now(), temp: temp, hum: hum });
    if (points.length > MAX_POINTS) points.splice(0, points.length - MAX_POINTS);
    var n = Number(telemetry.dataset.count) + 1;
    telemetry.dataset.count = String(n);
    $('count').textContent = String(n);
    if (temp !== null) {
      telemetry.dataset.lastTemperature = String(temp);
      $('temp-now').textContent = temp.toFixed(1);
    }
    if (hum !== null) {
      telemetry.dataset.lastHumidity = String(hum);
      $('hum-now').textContent = hum.toFixed(1);
    }
  }

  // ---- LED ----

  var dragging = false;

  function showBrightness(v) {
    $('brightness-value').textContent = v + ' (' + Math.round(v / 10.23) + '%)';
  }

  function onStatus(text) {
    var st = $('led-status'), lamp = $('led-lamp');
    $('led-raw').textContent = text;
    var m;
    try { m = JSON.parse(text); } catch (e) { m = null; }
    if (!m || m.online === false) {
      st.dataset.status = 'offline';
      st.textContent = 'offline';
      lamp.style.background = '#333';
      lamp.style.boxShadow = 'none';
      return;
    }
    var b = num(m.brightness);
    st.dataset.status = 'online';
    st.dataset.brightness = b === null ? '' : String(b);
    st.textContent = b === null ? 'online' : 'on · ' + b;
    var k = b === null ? 0 : Math.max(0, Math.min(1, b / 1023));
    lamp.style.background = 'rgba(242, 183, 5, ' + (0.12 + 0.88 * k).toFixed(3) + ')';
    lamp.style.boxShadow = '0 0 ' + Math.round(30 * k) + 'px rgba(242, 183, 5, ' + k.toFixed(3) + ')';
    if (b !== null && !dragging) { slider.value = String(b); showBrightness(b); }
  }

  // ---- MQTT ----

  setConn('connecting', 'connecting to ' + url);
  var client = mqtt.connect(url, {
    protocolVersion: 4,
    clean: true,
    keepalive: 30,
    reconnectPeriod: 2000,
    connectTimeout: 10000,
    clientId: 'liveview-' + Math.random().toString(16).slice(2, 10)
  });

  client.on('connect', function () {
    setConn('connected', 'connected · ' + url);
    client.subscribe([TELEMETRY, STATUS], { qos: 0 });
  });
  client.on('reconnect', function () { setConn('connecting', 'reconnecting · ' + url); });
  client.on('offline', function () { setConn('offline', 'offline · ' + url); });
  client.on('error', function (e) { setConn('error', 'error: ' + e.message); });
  client.on('message', function (topic, payload) {
    var text = new TextDecoder().decode(payload);
    if (topic === TELEMETRY) onTelemetry(text);
    else if (topic === STATUS) onStatus(text);
  });

  // Publishing on every input event would flood the broker while dragging;
  // send at most every 100 ms and always the final value.
  var lastSent = 0, pending = null;

  function publishBrightness() {
    pending = null;
    lastSent = Date.now();
    var v = slider.value;
    slider.dataset.published = v;
    client.publish(BRIGHTNESS, v, { qos: 1, retain: true }, function (err) {
      if (!err) slider.dataset.acked = v;
    });
  }

  slider.addEventListener('input', function () {
    dragging = true;
    showBrightness(Number(slider.value));
    var wait = 100 - (Date.now() - lastSent);
    if (wait <= 0) publishBrightness();
    else if (!pending) pending = setTimeout(publishBrightness, wait);
  });
  slider.addEventListener('change', function () {
    dragging = false;
    if (pending) clearTimeout(pending);
    publishBrightness();
  });

  $('window').textContent = String(windowS);
  showBrightness(Number(slider.value));
  draw();
})();

// Dashboard logic: clock synced from /api/time, stats polling, birthday form.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  let offsetMs = 0;
  let synced = false;

  function setStatus(ok, text) {
    const el = $("api-status");
    el.textContent = text;
    el.className = "pill " + (ok ? "pill-ok" : "pill-err");
  }

  async function syncTime() {
    try {
      const t0 = Date.now();
      const res = await fetch("/api/time", { cache: "no-store" });
      const t1 = Date.now();
      if (!res.ok) throw new Error("HTTP " + res.status);
      const body = await res.json();
      offsetMs = body.time * 1000 - (t0 + t1) / 2;
      synced = true;
      $("clock-sync").textContent = "synced with server (offset " + Math.round(offsetMs) + " ms, round trip " + (t1 - t0) + " ms)";
      setStatus(true, "API online");
    } catch (e) {
      $("clock-sync").textContent = "time sync failed: " + e.message;
      setStatus(false, "API unreachable");
    }
  }

  function tick() {
    const now = new Date(Date.now() + offsetMs);
    $("clock").textContent = now.toISOString().substring(11, 19) + " UTC";
    $("clock-date").textContent = now.toLocaleDateString(undefined, {
      weekday: "long", year: "numeric", month: "long", day: "numeric", timeZone: "UTC",
    });
    if (!synced) $("clock-sync").textContent = "local time, syncing with /api/time…";
  }

  let samples = 0;
  async function pollStats() {
    try {
      const res = await fetch("/stats", { cache: "no-store" });
      if (!res.ok) throw new Error("HTTP " + res.status);
      const s = await res.json();
      samples += 1;
      const cpu = Math.max(0, Math.min(100, Number(s.cpu) || 0));
      const ram = Math.max(0, Math.min(100, Number(s.ram) || 0));
      $("cpu-value").textContent = cpu.toFixed(1) + "%";
      $("ram-value").textContent = ram.toFixed(1) + "%";
      $("cpu-bar").style.width = cpu + "%";
      $("ram-bar").style.width = ram + "%";
      $("stats-updated").textContent = "sample #" + samples + " at " +
        new Date(Date.now() + offsetMs).toISOString().substring(11, 19) + " UTC" +
        (s.cpuSource ? " · source: " + s.cpuSource + "/" + s.ramSource : "");
    } catch (e) {
      $("stats-updated").textContent = "stats unavailable: " + e.message;
    }
  }

  function show(ok, text) {
    const el = $("result");
    el.textContent = text;
    el.className = "result " + (ok ? "ok" : "err");
  }

  async function errorText(res) {
    try {
      const body = await res.json();
      if (body && body.error) return body.error;
    } catch (_) { /* not JSON */ }
    return "HTTP " + res.status;
  }

  function nameOrComplain() {
    const name = $("name").value.trim();
    if (!/^[A-Za-z]{1,64}$/.test(name)) {
      show(false, "Name must be 1 to 64 letters (A–Z, a–z).");
      return null;
    }
    return name;
  }

  async function lookup() {
    const name = nameOrComplain();
    if (!name) return;
    try {
      const res = await fetch("/hello/" + encodeURIComponent(name), { cache: "no-store" });
      if (res.ok) {
        const body = await res.json();
        show(true, body.message);
      } else if (res.status === 404) {
        show(false, "No birthday saved for " + name + " yet.");
      } else {
        show(false, await errorText(res));
      }
    } catch (e) {
      show(false, "Request failed: " + e.message);
    }
  }

  async function save(ev) {
    ev.preventDefault();
    const name = nameOrComplain();
    if (!name) return;
    const dob = $("dob").value;
    if (!dob) {
      show(false, "Pick a date of birth.");
      return;
    }
    try {
      const res = await fetch("/hello/" + encodeURIComponent(name), {
        method: "PUT",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ dateOfBirth: dob }),
      });
      if (res.status === 204) {
        await lookup();
      } else {
        show(false, await errorText(res));
      }
    } catch (e) {
      show(false, "Request failed: " + e.message);
    }
  }

  const yesterday = new Date(Date.now() - 86400000).toISOString().substring(0, 10);
  $("dob").max = yesterday;
  $("bday-form").addEventListener("submit", save);
  $("lookup").addEventListener("click", lookup);
  tick();
  setInterval(tick, 250);
  syncTime();
  setInterval(syncTime, 30000);
  pollStats();
  setInterval(pollStats, 2000);
})();

// chartmigrate review: the page viewer, field highlighting, edits and decisions through the JSON API.
// Plain JavaScript, served from this origin (no CDN); every state-changing call sends the CSRF token.
"use strict";

(function () {
  const csrf = () => (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  async function api(method, url, body) {
    const res = await fetch(url, {
      method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let data = null;
    try { data = await res.json(); } catch (e) { data = null; }
    if (res.status === 401) { window.location.href = "/login"; }
    return { ok: res.ok, status: res.status, data };
  }

  function say(text, kind) {
    const el = document.getElementById("msg") || document.querySelector(".msg");
    if (!el) return;
    el.textContent = text;
    el.className = "msg " + (kind || "");
  }

  // -- queue: supervisors assign drafts -------------------------------------------------------
  // One shared list of names (a datalist), not a menu per row: the page stays small with 200 rows.
  document.querySelectorAll("input.assign").forEach((input) => {
    input.addEventListener("change", async () => {
      const who = input.value.trim();
      const r = await api("POST", `/api/drafts/${input.dataset.draft}/assignee`, { username: who || null });
      say(r.ok ? `Draft #${input.dataset.draft} assigned to ${who || "nobody"}.` : (r.data && r.data.detail) || "failed", r.ok ? "ok" : "bad");
    });
  });

  const draft = document.getElementById("draft");
  if (!draft) return;

  // -- the page viewer ------------------------------------------------------------------------
  const sheets = Array.from(draft.querySelectorAll(".sheet"));
  const stage = document.getElementById("stage");
  let current = 0, zoom = 0, rotation = 0; // zoom 0 = fit the stage's width

  function layout() {
    sheets.forEach((s, i) => s.classList.toggle("hidden", i !== current));
    const sheet = sheets[current];
    if (!sheet) return;
    const w = Number(sheet.dataset.w), h = Number(sheet.dataset.h);
    const fit = Math.max(200, stage.clientWidth - 16) / (rotation % 180 === 0 ? w : h);
    const scale = zoom === 0 ? fit : fit * Math.pow(1.25, zoom);
    sheet.style.width = `${w * scale}px`;
    sheet.style.height = `${h * scale}px`;
    sheet.style.transform = rotation ? `rotate(${rotation}deg)` : "";
    sheet.dataset.scale = String(scale);
    const pn = document.getElementById("pageno");
    if (pn) pn.textContent = String(current + 1);
  }

  function showPage(n) {
    current = Math.max(0, Math.min(sheets.length - 1, n));
    layout();
  }

  function highlight(input) {
    sheets.forEach((s) => s.querySelector(".box").classList.add("hidden"));
    const page = Number(input.dataset.page || 0);
    const bbox = (input.dataset.bbox || "").split(",").map(Number);
    if (!page || bbox.length !== 4 || bbox.some(isNaN)) return;
    const index = sheets.findIndex((s) => Number(s.dataset.page) === page);
    if (index < 0) return;
    if (index !== current) showPage(index);
    const sheet = sheets[index], box = sheet.querySelector(".box"), scale = Number(sheet.dataset.scale || 1);
    const pad = 4;
    box.style.left = `${bbox[0] * scale - pad}px`;
    box.style.top = `${bbox[1] * scale - pad}px`;
    box.style.width = `${(bbox[2] - bbox[0]) * scale + 2 * pad}px`;
    box.style.height = `${(bbox[3] - bbox[1]) * scale + 2 * pad}px`;
    box.classList.remove("hidden");
    box.scrollIntoView({ block: "center", inline: "center", behavior: "smooth" });
  }

  const actions = {
    prev: () => showPage(current - 1),
    next: () => showPage(current + 1),
    zoomin: () => { zoom = Math.min(zoom + 1, 8); layout(); },
    zoomout: () => { zoom = Math.max(zoom - 1, -4); layout(); },
    fit: () => { zoom = 0; layout(); },
    rotate: () => { rotation = (rotation + 90) % 360; layout(); },
  };
  draft.querySelectorAll(".toolbar [data-act]").forEach((b) => b.addEventListener("click", () => actions[b.dataset.act]()));
  window.addEventListener("resize", layout);
  layout();
  draft.addEventListener("focusin", (e) => { if (e.target.matches("input")) highlight(e.target); });

  // -- editing --------------------------------------------------------------------------------
  const form = document.getElementById("form");
  let dirty = false;
  // The record is saved through the API only: the form itself never submits (values would land in a URL).
  form.addEventListener("submit", (e) => e.preventDefault());
  form.addEventListener("input", () => { dirty = true; });

  form.addEventListener("click", (e) => {
    const t = e.target;
    if (t.matches("button.remove")) {
      // Kept (hidden) until saved and sent emptied (an emptied row is a removed row).
      const tr = t.closest("tr");
      t.closest("fieldset.list").dataset.edited = "true";
      tr.dataset.removed = "true";
      tr.hidden = true;
      tr.querySelectorAll("input").forEach((i) => { i.disabled = true; });
      dirty = true;
    } else if (t.matches("button.add")) {
      const fs = t.closest("fieldset.list"), tbody = fs.querySelector("tbody"), tr = document.createElement("tr");
      fs.dataset.edited = "true";
      tr.className = "row";
      for (const key of t.dataset.keys.split(",")) {
        const td = document.createElement("td"), input = document.createElement("input");
        input.dataset.key = key;
        input.setAttribute("aria-label", `${fs.dataset.list} new ${key}`);
        td.appendChild(input);
        tr.appendChild(td);
      }
      if (fs.dataset.list === "diagnoses") {
        const td = document.createElement("td"), cb = document.createElement("input");
        cb.type = "checkbox"; cb.dataset.key = "negated"; cb.setAttribute("aria-label", "negated");
        td.appendChild(cb); tr.appendChild(td); tr.appendChild(document.createElement("td"));
      }
      const td = document.createElement("td"), rm = document.createElement("button");
      rm.type = "button"; rm.className = "link remove"; rm.textContent = "remove";
      td.appendChild(rm); tr.appendChild(td);
      tbody.appendChild(tr);
      tr.querySelector("input").focus();
      dirty = true;
    }
  });

  // Only what the technician changed goes to the server (a patient field, or a whole list with a
  // changed, added or removed row): the values nobody touched keep their confidence and provenance.
  const changed = (i) => (i.type === "checkbox" ? i.checked !== i.defaultChecked : i.value !== i.defaultValue);

  function collect() {
    const fields = { patient: {} };
    form.querySelectorAll("input[name^='patient.']").forEach((i) => { if (changed(i)) fields.patient[i.name.slice(8)] = i.value; });
    form.querySelectorAll("fieldset.list").forEach((fs) => {
      if (fs.dataset.edited !== "true" && !Array.from(fs.querySelectorAll("tr.row input[data-key]")).some(changed)) return;
      fields[fs.dataset.list] = Array.from(fs.querySelectorAll("tr.row")).map((tr) => {
        const item = {};
        const removed = tr.dataset.removed === "true"; // an emptied row is a removed row
        tr.querySelectorAll("input[data-key]").forEach((i) => {
          if (i.type === "checkbox") { if (!removed) item[i.dataset.key] = i.checked; } else item[i.dataset.key] = removed ? "" : i.value;
        });
        // Which stored row this is, so a corrected row keeps its place on the page and its assertion.
        if (tr.dataset.row !== undefined) item.row = Number(tr.dataset.row);
        return item;
      });
    });
    return fields;
  }

  function markSaved() {
    form.querySelectorAll("tr.row[data-removed]").forEach((tr) => tr.remove());
    // The server stored each list in the order sent, without the removed rows: number them again.
    form.querySelectorAll("fieldset.list").forEach((fs) => {
      fs.querySelectorAll("tr.row").forEach((tr, k) => { tr.dataset.row = String(k); });
    });
    form.querySelectorAll("input").forEach((i) => { i.defaultValue = i.value; i.defaultChecked = i.checked; });
    form.querySelectorAll("fieldset.list").forEach((fs) => { delete fs.dataset.edited; });
    dirty = false;
  }

  const version = () => Number(draft.dataset.version);
  const readOnly = draft.dataset.readonly === "true";

  function problem(r) {
    const detail = (r.data && r.data.detail) || `failed (${r.status})`;
    say(r.status === 409 ? `Not saved: ${detail}` : detail, "bad");
  }

  async function save() {
    if (readOnly) return false;
    const r = await api("PATCH", `/api/drafts/${draft.dataset.id}`, { version: version(), fields: collect() });
    if (!r.ok) { problem(r); return false; }
    draft.dataset.version = String(r.data.version);
    markSaved();
    say(r.data.changed.length ? `Saved: ${r.data.changed.join(", ")}.` : "Saved; nothing had changed.", "ok");
    return true;
  }

  async function decide(action, extra) {
    if (readOnly) return;
    const body = Object.assign({ version: version(), action, fields: collect() }, extra || {});
    const r = await api("POST", `/api/drafts/${draft.dataset.id}/decision`, body);
    if (!r.ok) { problem(r); return; }
    dirty = false;
    const what = { new: `New patient ${r.data.mrn}`, link: `Linked to ${r.data.mrn}`, reject: "Rejected for rescan", query: "Query sent" }[action];
    say(`${what}. Opening the next draft…`, "ok");
    const out = document.createElement("span");
    out.dataset.testid = "decided";
    out.dataset.mrn = r.data.mrn || "";
    out.hidden = true;
    document.body.appendChild(out);
    setTimeout(() => { window.location.href = "/next"; }, 900);
  }

  const note = () => (document.getElementById("note") || { value: "" }).value.trim();
  const on = (id, fn) => { const el = document.getElementById(id); if (el) el.addEventListener("click", fn); };
  on("save", save);
  on("new-patient", () => decide("new"));
  on("reject", () => (note() ? decide("reject", { note: note() }) : say("Write the reason for the rescan first.", "bad")));
  on("query", () => (note() ? decide("query", { note: note() }) : say("Write the question for the provider first.", "bad")));
  on("assign", async () => {
    const who = document.getElementById("assignee").value.trim();
    const r = await api("POST", `/api/drafts/${draft.dataset.id}/assignee`, { username: who || null });
    if (r.ok) { say(`Assigned to ${who || "nobody"}.`, "ok"); setTimeout(() => window.location.reload(), 600); } else problem(r);
  });
  draft.querySelectorAll("button.link-to").forEach((b) => b.addEventListener("click", () => decide("link", { mrn: b.dataset.mrn })));

  function accept() {
    const match = draft.dataset.match, top = draft.dataset.topMrn;
    if (match === "link" && top) return decide("link", { mrn: top });
    if (match === "new" || !top) return decide("new");
    say("This chart may belong to an existing patient: compare, then link or create a new patient.", "bad");
    const d = document.querySelector(".dupes"); if (d) d.scrollIntoView({ behavior: "smooth" });
  }

  function jumpDoubtful(step) {
    const list = Array.from(form.querySelectorAll(".doubt input, input.doubt")).filter((i) => !i.closest("tr[data-removed]"));
    if (!list.length) return;
    const at = list.indexOf(document.activeElement);
    const next = list[(at + step + list.length) % list.length];
    next.focus(); next.select();
  }

  document.addEventListener("keydown", (e) => {
    const k = e.key.toLowerCase();
    if ((e.ctrlKey || e.metaKey) && k === "s") { e.preventDefault(); save(); }
    else if ((e.ctrlKey || e.metaKey) && k === "enter") { e.preventDefault(); accept(); }
    else if (e.altKey && k === "n") { e.preventDefault(); window.location.href = "/next"; }
    else if (e.altKey && k === "j") { e.preventDefault(); jumpDoubtful(1); }
    else if (e.altKey && k === "k") { e.preventDefault(); jumpDoubtful(-1); }
    else if (e.altKey && k === "pagedown") { e.preventDefault(); actions.next(); }
    else if (e.altKey && k === "pageup") { e.preventDefault(); actions.prev(); }
    else if (e.altKey && (k === "=" || k === "+")) { e.preventDefault(); actions.zoomin(); }
    else if (e.altKey && k === "-") { e.preventDefault(); actions.zoomout(); }
    else if (e.altKey && k === "r") { e.preventDefault(); actions.rotate(); }
  });
  window.addEventListener("beforeunload", (e) => { if (dirty && !readOnly) { e.preventDefault(); e.returnValue = ""; } });
})();

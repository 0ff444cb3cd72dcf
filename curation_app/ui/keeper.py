"""The keystroke keeper: sends what people type in the editor to the server while they type.

Streamlit's own text areas tell the server about their text only when they lose focus; a click
on another page, on Next or on the language switch right after typing could lose the words.
This small custom component (``st.components.v2``, our own script, nothing loaded from
outside) is mounted once on the editor page. In the browser it watches the editor's boxes
(found by the keyed containers ``editor-turn-<dialogue>-<uid>`` and ``editor-field-<dialogue>-
<name>``) and:

- sends the typed text, debounced, while typing; at once on a pointer press anywhere (a
  sidebar link, Next, Save), when a box loses focus, and when the page is hidden;
- keeps every batch until the server says it applied it, also in ``localStorage``: after a
  reload or a page switch that cut a batch off, the text is put back in its box and resent;
- makes Ctrl+S (Cmd+S) in a box send its text and save in one message.

On the server :func:`apply` writes the batch into the working copy in a callback, before the
page runs, so the page draws what was typed and the buttons act on it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import streamlit as st

from curation_app.ui.working_copy import FIELD_UIDS, WorkingCopy

NAME = "curation_keystroke_keeper"
KEY = "editor.keeper"
DEBOUNCE_MS = 350

_JS = """
const DEBOUNCE_MS = %(debounce)d;
const STORE = "curation.keeper.";
const TURN = /(?:^|\\s)st-key-editor-turn-(\\d+)-(\\d+)(?:\\s|$)/;
const FIELD = /(?:^|\\s)st-key-editor-field-(\\d+)-([a-z]+)(?:\\s|$)/;

function fieldOf(el) {
  if (!el || !(el.tagName === "TEXTAREA" || el.tagName === "INPUT")) return null;
  let node = el.parentElement;
  while (node && node !== document.body) {
    const cls = node.className || "";
    if (typeof cls === "string") {
      let m = cls.match(TURN);
      if (m) return { did: Number(m[1]), fid: "t:" + m[2], node };
      m = cls.match(FIELD);
      if (m) return { did: Number(m[1]), fid: m[2], node };
    }
    node = node.parentElement;
  }
  return null;
}

function storageKey(did, fid) { return STORE + did + "." + fid; }

function readStored(did) {
  const out = {};
  try {
    for (let i = 0; i < localStorage.length; i++) {
      const k = localStorage.key(i);
      if (k && k.startsWith(STORE + did + ".")) {
        out[k.slice((STORE + did + ".").length)] = JSON.parse(localStorage.getItem(k));
      }
    }
  } catch (e) { /* storage may be off: the live path still works */ }
  return out;
}

function makeKeeper() {
  const K = {
    send: null, data: null, seq: 0, timer: null, awaitSeq: 0, replay: null,
    unacked: new Map(),   // fid -> {text, seq, restore}
    save: false,
  };
  K.boxFor = (fid) => {
    if (!K.data) return null;
    const cls = fid.startsWith("t:")
      ? "st-key-editor-turn-" + K.data.did + "-" + fid.slice(2)
      : "st-key-editor-field-" + K.data.did + "-" + fid;
    const node = document.querySelector("." + cls);
    return node ? node.querySelector("textarea, input[type=text], input:not([type])") : null;
  };
  K.remember = (did, fid, text, version) => {
    try {
      localStorage.setItem(storageKey(did, fid),
        JSON.stringify({ text, version, at: Date.now() }));
    } catch (e) { /* ignore */ }
  };
  K.forget = (did, fid) => {
    try { localStorage.removeItem(storageKey(did, fid)); } catch (e) { /* ignore */ }
  };
  K.flush = () => {
    if (K.timer) { clearTimeout(K.timer); K.timer = null; }
    if (!K.send || !K.data) return;
    const pending = [...K.unacked.values()].filter((e) => !e.sent);
    if (!pending.length && !K.save) return;
    K.seq = Math.max(K.seq, K.data.seq) + 1;
    const edits = {}, restore = [];
    for (const [fid, e] of K.unacked) {
      edits[fid] = e.text; e.seq = K.seq; e.sent = true;
      if (e.restore) restore.push(fid);
    }
    const save = K.save;
    K.save = false;
    K.send("edits", { seq: K.seq, did: K.data.did, edits, restore, save });
  };
  K.schedule = () => {
    if (K.timer) clearTimeout(K.timer);
    K.timer = setTimeout(K.flush, DEBOUNCE_MS);
  };
  K.onInput = (ev) => {
    const f = fieldOf(ev.target);
    if (!f || !K.data || f.did !== K.data.did) return;
    K.unacked.set(f.fid, { text: ev.target.value, seq: 0, sent: false, restore: false });
    K.remember(f.did, f.fid, ev.target.value, K.data.version);
    K.schedule();
  };
  K.onPointer = () => {
    if ([...K.unacked.values()].some((e) => !e.sent)) { K.flush(); K.awaitSeq = K.seq; }
  };
  // A link to another page, clicked while a batch is on its way, would start a page switch
  // that the batch's rerun cancels: hold the click until the server has the batch.
  K.onClick = (ev) => {
    const link = ev.target && ev.target.closest ? ev.target.closest("a[href]") : null;
    if (!link || !K.awaitSeq || !K.data || K.data.seq >= K.awaitSeq) return;
    ev.preventDefault();
    ev.stopPropagation();
    K.replay = link;
    setTimeout(() => K.release(), 3000);  // never hold a click for long
  };
  K.release = () => {
    const link = K.replay;
    K.replay = null;
    K.awaitSeq = 0;
    if (link && link.isConnected) link.click();
  };
  K.onFocusOut = (ev) => { if (fieldOf(ev.target)) K.flush(); };
  K.onKey = (ev) => {
    if ((ev.ctrlKey || ev.metaKey) && !ev.altKey && (ev.key === "s" || ev.key === "S")) {
      const f = fieldOf(ev.target);
      if (!f || !K.data || f.did !== K.data.did) return;
      ev.preventDefault();
      ev.stopPropagation();
      K.unacked.set(f.fid, { text: ev.target.value, seq: 0, sent: false, restore: false });
      K.save = true;
      K.flush();
    }
  };
  K.onHide = () => K.flush();
  document.addEventListener("input", K.onInput, true);
  document.addEventListener("pointerdown", K.onPointer, true);
  document.addEventListener("click", K.onClick, true);
  document.addEventListener("focusout", K.onFocusOut, true);
  document.addEventListener("keydown", K.onKey, true);
  document.addEventListener("visibilitychange", K.onHide);
  window.addEventListener("pagehide", K.onHide);
  return K;
}

function setBox(box, text) {
  // A React-controlled box takes a value through the native setter and an input event.
  const proto = box.tagName === "TEXTAREA" ? HTMLTextAreaElement.prototype
                                           : HTMLInputElement.prototype;
  Object.getOwnPropertyDescriptor(proto, "value").set.call(box, text);
  box.dispatchEvent(new Event("input", { bubbles: true }));
}

export default function (component) {
  const { data, setStateValue, parentElement } = component;
  const K = window.__curationKeeper || (window.__curationKeeper = makeKeeper());
  const remount = K.send === null;
  if (!K.data || K.data.did !== data.did) { K.unacked.clear(); }
  K.data = data;
  K.send = setStateValue;
  if (parentElement && parentElement.host) parentElement.host.style.display = "none";
  // The server applied batches up to data.seq: those edits are safe.
  for (const [fid, e] of [...K.unacked]) {
    if (e.sent && e.seq <= data.seq) {
      K.unacked.delete(fid);
      if (data.texts[fid] === e.text) K.forget(data.did, fid);
    } else if (remount) {
      // Typed on a page that went away before the server answered: send it again, and have
      // the server put it back in its box (drawn afresh with the server's text).
      e.sent = false;
      e.restore = true;
    }
  }
  if (K.replay && data.seq >= K.awaitSeq) setTimeout(() => K.release(), 0);
  // Text kept from an earlier page load (a reload that cut a batch off): put it back.
  const stored = readStored(data.did);
  for (const [fid, e] of Object.entries(stored)) {
    if (K.unacked.has(fid)) continue;
    if (!(fid in data.texts) || data.texts[fid] === e.text || e.version !== data.version) {
      K.forget(data.did, fid);
      continue;
    }
    K.unacked.set(fid, { text: e.text, seq: 0, sent: false, restore: true });
  }
  if ([...K.unacked.values()].some((e) => !e.sent)) setTimeout(K.flush, 0);
  // Unmounted (another page, another dialogue): nothing more is sent through this instance;
  // what was not acknowledged stays in localStorage and in K.unacked for the next mount.
  return () => { if (K.send === setStateValue) K.send = null; };
}
"""


def _register() -> Callable[..., Any]:
    # Registered on every run: AppTest gives each app its own registry, and an unchanged
    # definition is registered again silently.
    return st.components.v2.component(NAME, js=_JS % {"debounce": DEBOUNCE_MS},
                                      isolate_styles=True)


def field_texts(wc: WorkingCopy) -> dict[str, str]:
    """What the keeper compares its unacknowledged batches with, per field id."""
    out = {f"t:{t.uid}": t.text for t in wc.turns}
    out["description"] = wc.description or ""
    out["note"] = wc.note
    return out


def apply(wc: WorkingCopy, batch: Mapping[str, Any]) -> bool:
    """Write one batch from the browser into ``wc``; True if it asks for a save too.

    Turn edits go by uid (a turn deleted meanwhile is skipped); a restored edit is not marked
    typed, so the page sends it back to the browser's box.
    """
    restore = set(batch.get("restore") or ())
    for fid, text in (batch.get("edits") or {}).items():
        if not isinstance(text, str):
            continue
        if fid.startswith("t:"):
            uid = int(fid[2:])
            if wc.has_uid(uid) and not wc.is_stale(uid, text):
                wc.set_text(uid, text, typed=fid not in restore)
        elif fid in FIELD_UIDS:
            wc.set_field(fid, text, typed=fid not in restore)
    wc.keeper_seq = max(wc.keeper_seq, int(batch.get("seq") or 0))
    return bool(batch.get("save"))


def mount(wc: WorkingCopy, on_batch: Callable[[], None]) -> None:
    """The keeper for the dialogue of ``wc``; ``on_batch`` runs when a batch arrives (read it
    with :func:`batch`)."""
    _register()(key=KEY, data={"did": wc.dialogue_id, "version": wc.version,
                               "seq": wc.keeper_seq, "texts": field_texts(wc)},
                on_edits_change=on_batch, height=0, width="stretch")


def batch() -> Mapping[str, Any] | None:
    value = st.session_state.get(KEY)
    if value is None:
        return None
    found = value.get("edits") if hasattr(value, "get") else None
    return found if isinstance(found, Mapping) else None

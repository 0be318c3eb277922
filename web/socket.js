// The websocket client of docs/protocol.md (version 2): connect, hello, commands with
// ids and their replies, binary frame decoding, events, and resume after a drop.
// Frames and events of every lane go to the handlers (the page routes them by `lane`, §11).

export const PROTOCOL = 2;

const td = new TextDecoder();

/** Decode one binary frame (protocol §7) into its header with every array attached, flat. */
export function decodeFrame(buf) {
  const dv = new DataView(buf);
  const magic = String.fromCharCode(dv.getUint8(0), dv.getUint8(1), dv.getUint8(2), dv.getUint8(3));
  if (magic !== "GDF1") throw new Error(`not a gandyn frame (magic ${JSON.stringify(magic)})`);
  const H = dv.getUint32(4, true);
  const header = JSON.parse(td.decode(new Uint8Array(buf, 8, H)));
  const base = 8 + H;
  header.shapes = {};
  for (const a of header.arrays || []) {
    const n = a.shape.reduce((x, y) => x * y, 1);
    let v;
    if (a.dtype === "f32") {
      v = new Float32Array(buf.slice(base + a.offset, base + a.offset + 4 * n));
    } else if (a.dtype === "q16") {
      const q = new Uint16Array(buf, base + a.offset, n);
      const s = (a.hi - a.lo) / 65534;
      v = new Float32Array(n);
      for (let i = 0; i < n; i++) v[i] = q[i] === 65535 ? NaN : a.lo + q[i] * s;
    } else {
      continue; // a dtype this client does not know: ignore the array (protocol: ignore unknowns)
    }
    header[a.name] = v;
    header.shapes[a.name] = a.shape;
  }
  return header;
}

/**
 * A session connection. Callbacks (all optional):
 *  onHello(msg), onFrame(frame), onEvent(msg) for config_changed / diverged / evaluation / others,
 *  onStatus(status, detail) with status in "connecting" | "open" | "lost" | "busy" | "taken" | "closed" | "incompatible"
 */
export class Session {
  constructor(url, handlers = {}) {
    this.baseUrl = url;          // ws://host/ws
    this.h = handlers;
    this.ws = null;
    this.sessionId = null;
    this.nextId = 1;
    this.waiting = new Map();    // id -> {resolve, reject, command}
    this.queue = [];             // commands issued while disconnected (sent after hello)
    this.retry = 0;
    this.closedByUs = false;
    this.helloed = false;
    this.firstQuery = "";
    this.stats = { framesReceived: 0, bytesReceived: 0, seqGaps: 0, lastSeq: {}, decodeMs: 0 };  // lastSeq per lane
  }

  /** Open the first connection; query is e.g. "?preset=NAME" (used only until a session exists). */
  connect(query = "") {
    this.firstQuery = query;
    this._open();
  }

  _url() {
    if (this.sessionId) return `${this.baseUrl}?session=${encodeURIComponent(this.sessionId)}`;
    return `${this.baseUrl}${this.firstQuery}`;
  }

  _open() {
    this.helloed = false;
    this._status("connecting");
    let ws;
    try { ws = new WebSocket(this._url()); } catch (e) { this._scheduleReconnect(); return; }
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    ws.onmessage = (ev) => this._onMessage(ev);
    ws.onclose = (ev) => this._onClose(ev);
    ws.onerror = () => {}; // onclose follows and handles it
  }

  _status(s, detail) { this.status = s; this.h.onStatus?.(s, detail); }

  _onMessage(ev) {
    if (typeof ev.data !== "string") {
      const t0 = performance.now();
      let frame;
      try { frame = decodeFrame(ev.data); } catch (e) { console.warn("gandyn: bad frame", e); return; }
      this.stats.decodeMs = performance.now() - t0;
      this.stats.framesReceived++;
      this.stats.bytesReceived += ev.data.byteLength;
      const last = this.stats.lastSeq[frame.lane];
      if (last !== undefined && frame.seq > last + 1) this.stats.seqGaps += frame.seq - last - 1;
      this.stats.lastSeq[frame.lane] = frame.seq;
      this.h.onFrame?.(frame);
      return;
    }
    let msg;
    try { msg = JSON.parse(ev.data); } catch { return; }
    if (msg.type === "hello") {
      if (msg.protocol !== PROTOCOL) {
        this.closedByUs = true;
        this._status("incompatible", `The server speaks protocol ${msg.protocol}; this page knows ${PROTOCOL}. Reload the page.`);
        this.ws.close();
        return;
      }
      const resumed = !!msg.resumed && msg.session === this.sessionId;
      this.sessionId = msg.session;
      this.helloed = true;
      this.retry = 0;
      this.stats.lastSeq = {};
      // replies to commands sent before a drop are lost (protocol §6): fail them
      for (const [, w] of this.waiting) w.reject(Object.assign(new Error("connection lost"), { code: "lost" }));
      this.waiting.clear();
      this._status("open");
      this.h.onHello?.(msg, resumed);
      const q = this.queue; this.queue = [];
      for (const c of q) this._sendNow(c.cmd, c.w);
      return;
    }
    if (msg.type === "ack" || (msg.type === "error" && msg.id !== null && msg.id !== undefined)) {
      const w = this.waiting.get(msg.id);
      if (w) {
        this.waiting.delete(msg.id);
        if (msg.type === "ack") w.resolve(msg);
        else w.reject(Object.assign(new Error(msg.message), msg));
      }
      this.h.onReply?.(msg);
      return;
    }
    if (msg.type === "error") {
      if (msg.code === "busy") this._status("busy", msg.message);
      this.h.onReply?.(msg);
      return;
    }
    this.h.onEvent?.(msg);
  }

  _onClose(ev) {
    this.ws = null;
    this.helloed = false;
    if (this.closedByUs) { if (this.status !== "incompatible") this._status("closed"); return; }
    if (ev.code === 4001) { this._status("taken", "This session was opened in another tab or window."); return; }
    if (ev.code === 1000) { this._status("closed", "The session ended."); return; }
    if (ev.code === 1013) { this._status("busy", this.busyMessage || "The server is busy; trying again shortly."); this._scheduleReconnect(10000); return; }
    this._status("lost");
    this._scheduleReconnect();
  }

  _scheduleReconnect(min = 0) {
    const delay = Math.max(min, Math.min(5000, 300 * Math.pow(1.7, this.retry++)));
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this._open(), delay);
  }

  /** Send a command; resolves with its ack, rejects with its error (fields of the error message). */
  send(cmd) {
    return new Promise((resolve, reject) => {
      const w = { resolve, reject, command: cmd.type };
      if (this.ws && this.helloed && this.ws.readyState === WebSocket.OPEN) this._sendNow(cmd, w);
      else if (cmd.type === "play" || cmd.type === "pause" || cmd.type === "pace" || cmd.type === "view" || cmd.type === "update" || cmd.type === "reset") {
        // keep only the latest of a kind while offline
        this.queue = this.queue.filter((c) => c.cmd.type !== cmd.type || cmd.type === "update");
        this.queue.push({ cmd, w });
      } else reject(Object.assign(new Error("not connected"), { code: "offline" }));
    });
  }

  _sendNow(cmd, w) {
    const id = this.nextId++;
    this.waiting.set(id, w);
    this.ws.send(JSON.stringify({ ...cmd, id }));
  }

  close() { this.closedByUs = true; clearTimeout(this.timer); this.ws?.close(); }

  /** End the session on the server (its worker stops) and close. */
  end() {
    this.closedByUs = true;
    clearTimeout(this.timer);
    if (this.ws && this.helloed && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ type: "end", id: this.nextId++ }));
    else this.ws?.close();
  }

  /** For tests: drop the connection as a network failure would (the page must resume). */
  dropForTest() { this.ws?.close(4000, "test drop"); }
}

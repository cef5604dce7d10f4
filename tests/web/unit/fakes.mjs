/**
 * In-memory stand-ins for the Tandem servers, for unit tests of web/tandem.js.
 *
 * FakeServer implements the parts of SPEC sections 2, 3 and 5 the client
 * relies on: documents with versions, a per-collection event log with seqs,
 * Tandem-Seq on reads, If-Match, and a WebSocket side with subscribe/since
 * replay, reset when `since` is older than the log keeps, ping/pong. Tests
 * reach in (`write`, `kill`, `trim`, `hooks`) to create races on purpose.
 *
 * Filtered lists and subscriptions (SPEC 8) use the client's own
 * matchesWhere (its rules have tests of their own in where.test.mjs).
 *
 * Not a test file itself (the name does not match *.test.mjs).
 */
import { matchesWhere } from '../../../web/tandem.js';

/** Resolve after pending I/O callbacks and microtasks. */
export function tick() {
  return new Promise((r) => setImmediate(r));
}

/** Wait until fn() is truthy, polling; fail with `what` after `ms`. */
export async function waitFor(fn, { ms = 2000, what = 'condition' } = {}) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

function cmpSeq(a, b) {
  const [am, an] = a.split('-').map(BigInt);
  const [bm, bn] = b.split('-').map(BigInt);
  if (am !== bm) return am < bm ? -1 : 1;
  if (an !== bn) return an < bn ? -1 : 1;
  return 0;
}

export class FakeServer {
  constructor() {
    this.cols = new Map();
    // Seqs start just below a digit-count boundary on both parts so a string
    // compare anywhere in the client would misorder them.
    this.ms = 998;
    this.n = 7;
    this.idCounter = 0;
    this.sockets = new Set();
    this.down = false;           // refuse new WebSocket connections
    this.silent = false;         // accept but never answer (dead path)
    this.hooks = { beforeListPage: null, bareErrors: false }; // bareErrors: 412s without a body, as a stripping proxy would
    // auth: null = open mode (the auth op is answered with exp null); else
    // token => its exp in unix seconds, or null when the token is refused.
    this.auth = null;
    this.listCalls = 0;
    this.requests = [];          // [{method, url, headers, body}]
    this.connections = 0;
    const server = this;
    this.WebSocket = class extends FakeSocket {
      constructor(url) { super(server, url); }
    };
    this.fetch = (url, init) => this._fetch(url, init);
  }

  col(name) {
    let c = this.cols.get(name);
    if (!c) {
      c = { docs: new Map(), log: [], firstKept: null };
      this.cols.set(name, c);
    }
    return c;
  }

  nextSeq() {
    this.n += 1;
    if (this.n > 11) { this.ms += 1; this.n = 0; }
    return `${this.ms}-${this.n}`;
  }

  headSeq(name) {
    const c = this.col(name);
    return c.log.length ? c.log[c.log.length - 1].seq : (c.lastTrimmed || '0-0');
  }

  now() {
    return new Date(1764358912123 + this.idCounter * 1000 + this.ms).toISOString();
  }

  /** Apply a write directly (as another client would) and publish its event. */
  write(name, type, id, body = {}) {
    const c = this.col(name);
    const old = c.docs.get(id);
    let ev;
    if (type === 'deleted') {
      if (!old) throw new Error('delete of missing doc');
      c.docs.delete(id);
      ev = { type, collection: name, id, version: old.version + 1 };
    } else {
      const ts = this.now();
      const doc = old && type !== 'created'
        ? { ...body, id, version: old.version + 1, created_at: old.created_at, updated_at: ts }
        : { ...body, id, version: 1, created_at: ts, updated_at: ts };
      c.docs.set(id, doc);
      ev = { type: old ? 'updated' : 'created', collection: name, id, version: doc.version, doc };
    }
    ev.seq = this.nextSeq();
    // What the write script logs for the notifier only (SPEC 3): the document before.
    Object.defineProperty(ev, 'prev', { value: old ?? null, enumerable: false });
    c.log.push(ev);
    for (const s of this.sockets) s._publish(ev);
    return ev;
  }

  newId() {
    this.idCounter += 1;
    return `01J${String(this.idCounter).padStart(23, '0')}`;
  }

  /** Drop all log entries except the last `keep` (a capped stream). */
  trim(name, keep) {
    const c = this.col(name);
    while (c.log.length > keep) c.lastTrimmed = c.log.shift().seq;
  }

  /** Close every socket as a dying notifier would (1001). */
  kill(code = 1001) {
    for (const s of [...this.sockets]) s._serverClose(code);
  }

  /* -- REST ---------------------------------------------------------------- */

  async _fetch(url, init = {}) {
    const u = new URL(url, 'http://fake.test');
    const headers = new Headers(init.headers || {});
    const method = init.method || 'GET';
    this.requests.push({ method, url: u.pathname + u.search, headers, body: init.body });
    const m = /^\/api\/v1\/([^/]+)(?:\/([^/]+))?$/.exec(u.pathname);
    if (!m) return this._err(404, 'not_found');
    const name = decodeURIComponent(m[1]);
    const id = m[2] === undefined ? null : decodeURIComponent(m[2]);
    const c = this.col(name);
    const ifMatch = headers.get('If-Match');
    const matchVersion = ifMatch ? Number(ifMatch.replace(/"/g, '')) : null;

    if (method === 'GET' && id === null) {
      const pageIndex = this.listCalls++;
      if (this.hooks.beforeListPage) await this.hooks.beforeListPage(pageIndex, u);
      const limit = Number(u.searchParams.get('limit') || 100);
      const after = u.searchParams.get('after');
      const where = u.searchParams.get('where');
      const w = where === null ? null : JSON.parse(where);
      const ids = [...c.docs.keys()].sort().filter((x) => (after === null || x > after) &&
        (w === null || matchesWhere(w, c.docs.get(x))));
      const page = ids.slice(0, limit);
      const next = ids.length > limit ? page[page.length - 1] : null;
      return this._json(200, { items: page.map((x) => c.docs.get(x)), next }, { 'Tandem-Seq': this.headSeq(name) });
    }
    if (method === 'GET') {
      const doc = c.docs.get(id);
      if (!doc) return this._err(404, 'not_found');
      return this._json(200, doc, { ETag: `"${doc.version}"`, 'Tandem-Seq': this.headSeq(name) });
    }
    if (method === 'POST') {
      const ev = this.write(name, 'created', this.newId(), JSON.parse(init.body));
      return this._json(201, ev.doc, { ETag: `"1"`, Location: `/api/v1/${name}/${ev.id}` });
    }
    const doc = c.docs.get(id);
    if ((method === 'PATCH' || method === 'DELETE') && !doc) return this._err(404, 'not_found');
    if (matchVersion !== null && (!doc || doc.version !== matchVersion)) {
      if (this.hooks.bareErrors) return new Response('', { status: 412 });
      return this._err(412, 'version_conflict', doc ? { current_version: doc.version } : {});
    }
    // As tandem-rest: create-only PUT on an existing document is 412 (never 409).
    if (method === 'PUT' && headers.get('If-None-Match') === '*' && doc) {
      if (this.hooks.bareErrors) return new Response('', { status: 412 });
      return this._err(412, 'already_exists', { current_version: doc.version });
    }
    if (method === 'PUT') {
      const ev = this.write(name, doc ? 'updated' : 'created', id, JSON.parse(init.body));
      return this._json(doc ? 200 : 201, ev.doc, { ETag: `"${ev.version}"` });
    }
    if (method === 'PATCH') {
      const patch = JSON.parse(init.body);
      const merged = { ...doc, ...patch };
      for (const k of Object.keys(patch)) if (patch[k] === null) delete merged[k];
      const ev = this.write(name, 'updated', id, merged);
      return this._json(200, ev.doc, { ETag: `"${ev.version}"` });
    }
    if (method === 'DELETE') {
      this.write(name, 'deleted', id);
      return new Response(null, { status: 204 });
    }
    return this._err(405, 'method_not_allowed');
  }

  _json(status, body, headers = {}) {
    return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json', ...headers } });
  }

  _err(status, code, extra = {}) {
    return this._json(status, { error: { status, code, message: code.replace(/_/g, ' '), ...extra } });
  }
}

/** How a filtered subscription sees ev (SPEC 8): the frame to send, or null. */
function viewEvent(sid, where, ev) {
  const now = ev.doc ? matchesWhere(where, ev.doc) : false;
  const before = ev.prev ? matchesWhere(where, ev.prev) : false;
  const { doc, ...rest } = ev;
  if (ev.type === 'created') return now ? { ...ev, sid } : null;
  if (ev.type === 'deleted') return before ? { ...ev, sid } : null;
  if (now) return { ...ev, sid, type: before ? 'updated' : 'entered' };
  return before ? { ...rest, sid, type: 'left' } : null;
}

/** The client-facing socket. Mirrors the browser WebSocket surface the client uses. */
class FakeSocket {
  constructor(server, url) {
    this.server = server;
    this.url = url;
    this.readyState = 0;
    this.received = [];   // frames the client sent, parsed
    this.subs = new Set();
    this.views = new Map(); // sid -> {collection, where}
    server.connections += 1;
    setImmediate(() => {
      if (server.down) { this.readyState = 3; this.onclose && this.onclose({ code: 1006 }); return; }
      server.sockets.add(this);
      this.readyState = 1;
      this.onopen && this.onopen({});
    });
  }

  send(text) {
    if (this.readyState !== 1) throw new Error('send on a socket that is not open');
    const msg = JSON.parse(text);
    this.received.push(msg);
    if (this.server.silent) return;
    setImmediate(() => this._handle(msg));
  }

  close(code = 1000) {
    this.server.sockets.delete(this);
    this.readyState = 3;
    this.closedWith = code;
  }

  _deliver(obj) {
    if (this.readyState !== 1 || this.server.silent) return;
    this.onmessage && this.onmessage({ data: JSON.stringify(obj) });
  }

  _serverClose(code) {
    this.server.sockets.delete(this);
    this.readyState = 3;
    this.onclose && this.onclose({ code });
  }

  _matches(ev) {
    return this.subs.has(`${ev.collection}\u0000`) || this.subs.has(`${ev.collection}\u0000${ev.id}`);
  }

  _publish(ev) {
    if (this._matches(ev)) this._deliver({ op: 'event', ...ev });
    for (const [sid, v] of this.views) {
      const out = v.collection === ev.collection ? viewEvent(sid, v.where, ev) : null;
      if (out) this._deliver({ op: 'event', ...out });
    }
  }

  _handle(msg) {
    if (this.readyState !== 1) return;
    if (msg.op === 'ping') return this._deliver({ op: 'pong' });
    if (msg.op === 'auth') {
      if (!this.server.auth) return this._deliver({ op: 'authenticated', exp: null });
      const exp = this.server.auth(msg.token);
      if (exp == null) return this._deliver({ op: 'error', code: 'unauthorized', message: 'bad token' });
      this.token = msg.token;
      return this._deliver({ op: 'authenticated', exp });
    }
    if (msg.op === 'unsubscribe' && msg.sid) {
      this.views.delete(msg.sid);
      return this._deliver({ op: 'unsubscribed', collection: msg.collection, sid: msg.sid });
    }
    if (msg.op === 'subscribe' && msg.sid) {
      const c = this.server.col(msg.collection);
      if (msg.since !== undefined && msg.since !== '0-0' && c.lastTrimmed && cmpSeq(msg.since, c.lastTrimmed) < 0) {
        return this._deliver({ op: 'reset', collection: msg.collection, sid: msg.sid });
      }
      this.views.set(msg.sid, { collection: msg.collection, where: msg.where });
      this._deliver({ op: 'subscribed', collection: msg.collection, sid: msg.sid, seq: this.server.headSeq(msg.collection) });
      if (msg.since !== undefined) {
        for (const ev of c.log) {
          const out = cmpSeq(ev.seq, msg.since) > 0 ? viewEvent(msg.sid, msg.where, ev) : null;
          if (out) this._deliver({ op: 'event', ...out });
        }
      }
      return undefined;
    }
    if (msg.op === 'unsubscribe') {
      this.subs.delete(`${msg.collection}\u0000${msg.id ?? ''}`);
      return this._deliver({ op: 'unsubscribed', collection: msg.collection, ...(msg.id ? { id: msg.id } : {}) });
    }
    if (msg.op !== 'subscribe') return this._deliver({ op: 'error', code: 'unknown_op', message: 'unknown op' });
    const c = this.server.col(msg.collection);
    const key = `${msg.collection}\u0000${msg.id ?? ''}`;
    const idPart = msg.id ? { id: msg.id } : {};
    if (msg.since !== undefined && msg.since !== '0-0' && c.lastTrimmed && cmpSeq(msg.since, c.lastTrimmed) < 0) {
      return this._deliver({ op: 'reset', collection: msg.collection, ...idPart });
    }
    this.subs.add(key);
    this._deliver({ op: 'subscribed', collection: msg.collection, ...idPart, seq: this.server.headSeq(msg.collection) });
    if (msg.since !== undefined) {
      for (const ev of c.log) {
        if (cmpSeq(ev.seq, msg.since) > 0 && (!msg.id || ev.id === msg.id)) this._deliver({ op: 'event', ...ev });
      }
    }
  }
}

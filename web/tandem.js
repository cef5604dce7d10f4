/**
 * tandem.js — browser client for Tandem (REST + live updates).
 *
 * A dependency-free ES module: load it with `<script type="module">` (no build
 * step) or import it from Node 20+ (tests inject `fetch` and `WebSocket`).
 * Installable as the package in web/package.json; its types are in
 * tandem.d.ts (keep both in step: tests/web/types/ checks the exports).
 * "SPEC" below is the contract, shipped as docs/PROTOCOL.md.
 *
 * What it holds, top to bottom:
 *   1. Pure helpers (seq compare, backoff, error mapping, view merge, the
 *      subscription book). They own no I/O and no timers, so unit tests can
 *      drive them directly; the classes below only wire them to sockets.
 *   2. TandemError — every failure the API reports, REST or network.
 *   3. Collection — the REST calls of SPEC section 2.
 *   4. Client — one shared WebSocket per client: auth, subscribe, replay with
 *      `since`, ping/pong, reconnect with backoff (SPEC sections 5 and 6).
 *   5. LiveView — `client.live(name, { where })`: a whole collection, or the
 *      documents matching a filter, loaded over REST and kept current from
 *      events, without a gap between "load" and "listen".
 *
 * Everything runs on the page's (or Node's) single event loop; callbacks are
 * called synchronously from socket handlers, and an exception in one
 * application callback is reported (console.error) without stopping the
 * delivery to the others.
 */

/* ------------------------------------------------------------------------ */
/* 1. Pure helpers                                                          */
/* ------------------------------------------------------------------------ */

/**
 * Parse a seq `<ms>-<n>` (a Redis stream id) into two BigInts.
 * BigInt because `<ms>` is ~1.7e12 and `<n>` is a 64-bit counter: Numbers
 * would be exact for the first part only, and plain string compare is wrong
 * ("9-0" > "10-0"). Returns null for anything that is not a seq.
 * @param {string} seq
 * @returns {[bigint, bigint] | null}
 */
export function parseSeq(seq) {
  if (typeof seq !== 'string') return null;
  const m = /^(\d{1,20})-(\d{1,20})$/.exec(seq);
  if (!m) return null;
  return [BigInt(m[1]), BigInt(m[2])];
}

/**
 * Order two seqs numerically by both parts. Returns -1, 0 or 1.
 * Throws a TypeError on a malformed seq: seqs only come from the server, so a
 * bad one is a protocol bug that should be loud, not silently misordered.
 * @param {string} a
 * @param {string} b
 * @returns {-1 | 0 | 1}
 */
export function compareSeq(a, b) {
  const pa = parseSeq(a);
  const pb = parseSeq(b);
  if (!pa || !pb) throw new TypeError(`tandem: malformed seq ${JSON.stringify(pa ? b : a)}`);
  if (pa[0] !== pb[0]) return pa[0] < pb[0] ? -1 : 1;
  if (pa[1] !== pb[1]) return pa[1] < pb[1] ? -1 : 1;
  return 0;
}

/** The larger of two seqs; null counts as "nothing yet". */
export function maxSeq(a, b) {
  if (a == null) return b;
  if (b == null) return a;
  return compareSeq(a, b) >= 0 ? a : b;
}

/** The smaller of two seqs; null counts as "unknown" and is skipped. */
export function minSeq(a, b) {
  if (a == null) return b;
  if (b == null) return a;
  return compareSeq(a, b) <= 0 ? a : b;
}

/**
 * Delay before reconnect attempt number `attempt` (0 for the first retry).
 *
 * Exponential (base * 2^attempt) so a server that is down is not hammered,
 * capped so a client comes back within `cap` ms once it is up again, and
 * "equal jitter" (a random point in the upper half) so that a thousand tabs
 * dropped by one notifier restart do not all reconnect in the same
 * millisecond — while each still waits at least half the nominal delay.
 *
 * @param {number} attempt  0, 1, 2, ...
 * @param {{base?: number, cap?: number, random?: () => number}} [opts]
 * @returns {number} milliseconds, in [min(cap, base*2^attempt)/2, min(cap, base*2^attempt)]
 */
export function backoffDelay(attempt, { base = 250, cap = 10000, random = Math.random } = {}) {
  const n = Math.max(0, Math.min(attempt | 0, 30)); // 2^30 * base overflows any cap anyway
  const nominal = Math.min(cap, base * 2 ** n);
  const half = nominal / 2;
  return Math.round(half + random() * half);
}

/**
 * Codes for error answers that carry no SPEC error object (e.g. a proxy
 * page). Tandem never answers 409: both preconditions fail with 412, and
 * only the request tells them apart (`If-None-Match: *` → already_exists),
 * so `replace(..., { createOnly: true })` passes its own 412 code.
 */
const STATUS_CODES = {
  400: 'invalid_body', 401: 'unauthorized', 403: 'forbidden', 404: 'not_found',
  405: 'method_not_allowed', 412: 'version_conflict', 413: 'too_large',
  415: 'unsupported_media_type', 429: 'rate_limited', 503: 'store_unavailable',
};

/**
 * Every failure of a Tandem call. `code` is the SPEC error code
 * (`version_conflict`, `not_found`, ...) or `network` when no HTTP answer
 * arrived at all (then `status` is 0 and `cause` holds the fetch error).
 * For `version_conflict`, `currentVersion` is the stored version, so the
 * caller can show or retry against it.
 */
export class TandemError extends Error {
  /**
   * @param {string} message
   * @param {{code: string, status?: number, currentVersion?: number|null,
   *          retryAfter?: number|null, body?: any, cause?: any}} info
   */
  constructor(message, { code, status = 0, currentVersion = null, retryAfter = null, body = null, cause } = {}) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'TandemError';
    this.code = code;
    this.status = status;
    this.currentVersion = currentVersion;
    this.retryAfter = retryAfter;
    this.body = body;
  }
}

/**
 * Turn a non-2xx HTTP answer into a TandemError.
 * Prefers the SPEC error object `{"error":{status,code,message,current_version}}`;
 * when the body is not one (a misconfigured proxy, an HTML page) the code is
 * guessed from the status so callers can still switch on `code`.
 * @param {number} status
 * @param {string} text  the raw body
 * @param {{get(name: string): string|null}} [headers]
 * @param {{preconditionCode?: string}} [opts]  code for a bare 412 (default version_conflict)
 * @returns {TandemError}
 */
export function errorFromResponse(status, text, headers, { preconditionCode = 'version_conflict' } = {}) {
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch { body = null; }
  const e = body && typeof body === 'object' && body.error && typeof body.error === 'object' ? body.error : null;
  const code = e && typeof e.code === 'string' ? e.code
    : status === 412 ? preconditionCode
      : STATUS_CODES[status] || (status >= 500 ? 'internal' : 'http_error');
  const message = e && typeof e.message === 'string' ? e.message : `HTTP ${status}`;
  const currentVersion = e && Number.isInteger(e.current_version) ? e.current_version : null;
  const ra = headers && headers.get ? headers.get('Retry-After') : null;
  const retryAfter = ra != null && /^\d+$/.test(ra) ? Number(ra) : null;
  return new TandemError(message, { code, status, currentVersion, retryAfter, body });
}

/* -- view merge ----------------------------------------------------------- */

/**
 * Decide whether a change event (or a local write result) is newer than what
 * a view already knows about that document.
 *
 * Why not versions alone: SPEC says a document re-created after a delete
 * starts again at version 1, so "ignore versions not newer" would keep a
 * re-created document hidden behind its old tombstone. The log position is
 * exact instead: every list page tells (Tandem-Seq) the log position it was
 * read at, and an event whose seq is at or below the position the view's
 * knowledge of that id comes from is already reflected. Versions (plus
 * `created_at` to tell incarnations apart) are only the fallback when the
 * position is unknown — a local write result, or a server that omitted the
 * header.
 *
 * @param {ViewEntry|undefined} entry  what the view holds for the id (a doc or a tombstone)
 * @param {string|null} coverSeq  log position of the list page whose id range holds the id
 * @param {{type: string, version: number, seq?: string|null, doc?: object}} ev
 * @returns {boolean} true to apply
 *
 * @typedef {{doc: object|null, version: number, seq: string|null, createdAt: string|null, local: boolean}} ViewEntry
 */
export function shouldApply(entry, coverSeq, ev) {
  const known = entry ? entry.seq : coverSeq;
  if (ev.seq != null && known != null) {
    if (compareSeq(ev.seq, known) <= 0) return false; // already reflected by the read or an earlier event
    if (!entry || !entry.local) return true;          // strictly later in the log: authoritative
  }
  if (!entry) return true;
  // Fallback: versions within one incarnation, created_at across incarnations.
  const evCreated = ev.doc && typeof ev.doc.created_at === 'string' ? ev.doc.created_at : null;
  if (ev.type !== 'deleted' && evCreated && entry.createdAt && evCreated !== entry.createdAt) {
    return evCreated > entry.createdAt; // RFC 3339 UTC, fixed width: string order is time order
  }
  return ev.version > entry.version;
}

/**
 * Apply one event to a view's state, if it is newer (see shouldApply).
 * `created`, `updated` and `entered` put the document; `deleted` and `left`
 * take it out. A `deleted` (or `left`) event leaves a tombstone (doc null, its version and seq) so that
 * a late `created` of the old incarnation cannot resurrect the document.
 *
 * @param {{entries: Map<string, ViewEntry>, coverSeq: (id: string) => string|null}} state
 * @param {{type: string, id: string, version: number, seq?: string|null, doc?: object}} ev
 * @param {{local?: boolean}} [opts]  local: a write result without a log position
 * @returns {boolean} whether the view changed
 */
export function applyEvent(state, ev, { local = false } = {}) {
  const entry = state.entries.get(ev.id);
  if (!shouldApply(entry, state.coverSeq(ev.id), ev)) return false;
  // A local result keeps the log position we had: later events still compare
  // against it, and the echo of our own write is then dropped by version.
  const seq = local ? (entry ? entry.seq : state.coverSeq(ev.id)) : (ev.seq ?? null);
  // `left` (a filtered view, SPEC 8): the document stopped matching; it stays
  // out of the view like a deleted one until a later `entered` brings it back.
  if (ev.type === 'deleted' || ev.type === 'left') {
    state.entries.set(ev.id, {
      doc: null, version: ev.version, seq,
      createdAt: entry ? entry.createdAt : null, local,
    });
  } else {
    const doc = ev.doc || {};
    state.entries.set(ev.id, {
      doc, version: ev.version, seq,
      createdAt: typeof doc.created_at === 'string' ? doc.created_at : null, local,
    });
  }
  return true;
}

/**
 * The log position that covers `id` after a paged load. Page i (ordered by
 * id) holds the ids in (last id of page i-1, last id of page i]; the last
 * page holds everything after. An id absent from the snapshot was absent when
 * the page covering its range was read. Ids are ASCII, so JS string order is
 * the byte order the server sorts by.
 * @param {{lastId: string|null, seq: string|null}[]} pages  in load order
 * @param {string} id
 * @returns {string|null}
 */
export function coverSeqFor(pages, id) {
  for (const p of pages) {
    if (p.lastId === null || id <= p.lastId) return p.seq;
  }
  return pages.length ? pages[pages.length - 1].seq : null;
}

/**
 * Build view state from the pages of a paged load.
 * @param {{items: object[], next: string|null, seq: string|null}[]} pages
 * @returns {{entries: Map<string, ViewEntry>, pages: {lastId: string|null, seq: string|null}[], coverSeq: (id: string) => string|null}}
 */
export function stateFromPages(pages) {
  const entries = new Map();
  const cover = [];
  for (const p of pages) {
    for (const doc of p.items) {
      entries.set(doc.id, {
        doc, version: doc.version, seq: p.seq,
        createdAt: typeof doc.created_at === 'string' ? doc.created_at : null, local: false,
      });
    }
    // A page covers ids up to its `next` (the last id it examined: on a
    // filtered page it may lie past the last item).
    cover.push({ lastId: p.next === null ? null : p.next, seq: p.seq });
  }
  return { entries, pages: cover, coverSeq: (id) => coverSeqFor(cover, id) };
}

/**
 * Documents of a view state ordered by id (tombstones left out).
 * @param {Map<string, ViewEntry>} entries
 * @returns {object[]}
 */
export function orderedDocs(entries) {
  const ids = [];
  for (const [id, e] of entries) if (e.doc) ids.push(id);
  ids.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return ids.map((id) => entries.get(id).doc);
}

/* -- filters (SPEC 8) ----------------------------------------------------- */

/**
 * A filter of SPEC section 8, as `list({ where })`, `subscribe({ where })` and
 * `live(col, { where })` take it: field (or dotted path) → a value (deep
 * equality; null also matches an absent field) or an operator object;
 * `$or` → alternatives.
 * @typedef {{[field: string]: WhereValue | WhereOps} & {$or?: Where[]}} Where
 * @typedef {null|boolean|number|string|WhereValue[]|{[k: string]: WhereValue}} WhereValue
 * @typedef {{$eq?: WhereValue, $ne?: WhereValue, $gt?: number|string, $gte?: number|string,
 *            $lt?: number|string, $lte?: number|string, $in?: WhereValue[], $nin?: WhereValue[],
 *            $exists?: boolean, $prefix?: string}} WhereOps
 */

const ABSENT = Symbol('absent');

function isPlainObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function pathGet(doc, path) {
  let cur = doc;
  for (const part of path.split('.')) {
    if (!isPlainObject(cur) || !Object.prototype.hasOwnProperty.call(cur, part)) return ABSENT;
    cur = cur[part];
  }
  return cur;
}

function deepEqual(a, b) {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isPlainObject(a) && isPlainObject(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && deepEqual(a[k], b[k]));
  }
  return false;
}

function valueEq(v, want) {
  if (want === null) return v === ABSENT || v === null;
  return v !== ABSENT && deepEqual(v, want);
}

function ordered(v, x, test) {
  if (typeof v === 'number' && typeof x === 'number') return test(v < x ? -1 : v > x ? 1 : 0);
  if (typeof v === 'string' && typeof x === 'string') return test(v < x ? -1 : v > x ? 1 : 0);
  return false;
}

const OPS = {
  $eq: (v, x) => valueEq(v, x),
  $ne: (v, x) => !valueEq(v, x),
  $gt: (v, x) => ordered(v, x, (c) => c > 0),
  $gte: (v, x) => ordered(v, x, (c) => c >= 0),
  $lt: (v, x) => ordered(v, x, (c) => c < 0),
  $lte: (v, x) => ordered(v, x, (c) => c <= 0),
  $in: (v, x) => Array.isArray(x) && x.some((w) => valueEq(v, w)),
  $nin: (v, x) => !(Array.isArray(x) && x.some((w) => valueEq(v, w))),
  $exists: (v, x) => (v !== ABSENT) === (x === true),
  $prefix: (v, x) => typeof v === 'string' && typeof x === 'string' && v.startsWith(x),
};

/**
 * Whether `doc` matches `where`, by the rules the server applies (SPEC 8),
 * so a view can place a document a write returned. Strings compare by
 * UTF-16 code units here (the server: bytes), which differs only between
 * characters past U+FFFF and those from U+E000. An unknown operator never
 * matches (the server refuses it).
 * @param {Where} where
 * @param {object} doc
 * @returns {boolean}
 */
export function matchesWhere(where, doc) {
  for (const [key, cond] of Object.entries(where)) {
    if (key === '$or') {
      if (!Array.isArray(cond) || !cond.some((w) => matchesWhere(w, doc))) return false;
      continue;
    }
    const v = pathGet(doc, key);
    const keys = isPlainObject(cond) ? Object.keys(cond) : [];
    if (keys.length && keys.every((k) => k.startsWith('$'))) {
      for (const k of keys) if (!OPS[k] || !OPS[k](v, cond[k])) return false;
    } else if (!valueEq(v, cond)) {
      return false;
    }
  }
  return true;
}

/* -- subscription book ---------------------------------------------------- */

/** Key of one server-side subscription: collection plus optional doc id, or a filtered subscription's sid. */
export function subKey(collection, id, sid = null) {
  if (sid != null) return `${collection}\u0001${sid}`;
  return id == null ? `${collection}\u0000` : `${collection}\u0000${id}`;
}

/** A local subscription's key. */
function keyOf(s) {
  return subKey(s.collection, s.id, s.sid);
}

/**
 * The bookkeeping behind "every event exactly once, across reconnects".
 *
 * Each application subscription remembers the last seq it was given. The
 * server knows one subscription per (collection, id), so several local ones
 * share it: on (re)connect the book asks for the oldest position any of them
 * needs, and each local one drops what it already saw. A local subscription
 * is `pending` from sending `subscribe` to its `subscribed` ack (events seen
 * before the ack belong to an older subscription of the same target and are
 * not its business), `live` after, and `reset` when the server could not
 * replay from its `since` — then the application must reload and `resume`.
 *
 * Pure: it returns the messages to send and the deliveries to make; the
 * Client does the I/O.
 */
export class SubscriptionBook {
  constructor() {
    /** @type {Map<number, LocalSub>} */
    this.subs = new Map();
    this.nextHandle = 1;
  }

  /**
   * Register a local subscription.
   * @returns {LocalSub}
   * A `where` makes it a filtered subscription (SPEC 8): a server-side
   * subscription of its own, named by a sid the book chooses, never shared.
   * `coalesce` asks the server to merge queued events of a document while
   * the socket lags (SPEC 5); a target shared by several local
   * subscriptions coalesces only when all of them ask.
   * @typedef {{handle: number, collection: string, id: string|null, lastSeq: string|null,
   *            status: 'pending'|'live'|'reset', onEvent: Function, onReset: Function|null,
   *            where: object|null, sid: string|null, coalesce: boolean}} LocalSub
   */
  add(collection, { id = null, since = null, where = null, coalesce = false } = {}, onEvent = () => {}, onReset = null) {
    if (since != null && !parseSeq(since)) throw new TypeError(`tandem: malformed since ${JSON.stringify(since)}`);
    if (where != null && (typeof where !== 'object' || Array.isArray(where))) throw new TypeError('tandem: where must be an object');
    if (where != null && id != null) throw new TypeError('tandem: where cannot be combined with id');
    if (coalesce != null && typeof coalesce !== 'boolean') throw new TypeError('tandem: coalesce must be a boolean');
    const handle = this.nextHandle++;
    const sub = {
      handle, collection, id: id ?? null, lastSeq: since ?? null, status: 'pending', onEvent, onReset,
      where: where ?? null, sid: where != null ? `w${handle}` : null, coalesce: coalesce === true,
    };
    this.subs.set(sub.handle, sub);
    return sub;
  }

  /** Remove a local subscription. Returns the unsubscribe message to send, or null when another local one still needs the target. */
  remove(handle) {
    const sub = this.subs.get(handle);
    if (!sub) return null;
    this.subs.delete(handle);
    const msg = { op: 'unsubscribe', collection: sub.collection };
    if (sub.sid != null) return { ...msg, sid: sub.sid };
    const key = keyOf(sub);
    for (const s of this.subs.values()) if (keyOf(s) === key) return null;
    if (sub.id != null) msg.id = sub.id;
    return msg;
  }

  /** The subscribe message for one local subscription (sent when it is added while connected). */
  subscribeMessage(sub) {
    const msg = { op: 'subscribe', collection: sub.collection };
    if (sub.id != null) msg.id = sub.id;
    if (sub.sid != null) { msg.sid = sub.sid; msg.where = sub.where; }
    if (sub.lastSeq != null) msg.since = sub.lastSeq;
    // The server takes a repeated subscribe's option as the target's: ask only when every sharer does.
    const key = keyOf(sub);
    if ([...this.subs.values()].every((s) => keyOf(s) !== key || s.coalesce) && sub.coalesce) msg.coalesce = true;
    return msg;
  }

  /**
   * After a (re)connect: mark every non-reset subscription pending and return
   * one subscribe message per target, with `since` = the oldest last-delivered
   * seq among the local subscriptions sharing it.
   * @returns {object[]}
   */
  resubscribeMessages() {
    const byKey = new Map();
    for (const s of this.subs.values()) {
      if (s.status === 'reset') continue;
      s.status = 'pending';
      const key = keyOf(s);
      const m = byKey.get(key);
      if (!m) {
        byKey.set(key, this.subscribeMessage(s));
      } else if (s.lastSeq != null) {
        m.since = m.since == null ? s.lastSeq : minSeq(m.since, s.lastSeq);
      }
    }
    return [...byKey.values()];
  }

  /** Mark everything pending (the socket is gone; nothing is acknowledged any more). */
  disconnected() {
    for (const s of this.subs.values()) if (s.status === 'live') s.status = 'pending';
  }

  /**
   * A `subscribed` ack: pending subscriptions of that target go live. One
   * that had no position yet starts at the ack's seq, which is where the
   * server starts sending.
   */
  acked(msg) {
    const key = subKey(msg.collection, msg.id ?? null, msg.sid ?? null);
    for (const s of this.subs.values()) {
      if (s.status !== 'pending' || keyOf(s) !== key) continue;
      s.status = 'live';
      if (s.lastSeq == null && parseSeq(msg.seq)) s.lastSeq = msg.seq;
    }
  }

  /**
   * An event: the live local subscriptions it should be delivered to. Each
   * one's position advances, and one that already saw this seq (a replay
   * overlapping what it had) gets nothing.
   * @returns {LocalSub[]}
   */
  route(ev) {
    const out = [];
    if (!parseSeq(ev.seq)) return out;
    for (const s of this.subs.values()) {
      if (s.status !== 'live' || s.collection !== ev.collection) continue;
      // A filtered subscription's events carry its sid; plain ones none.
      if ((s.sid ?? null) !== (ev.sid ?? null)) continue;
      if (s.id != null && s.id !== ev.id) continue;
      if (s.lastSeq != null && compareSeq(ev.seq, s.lastSeq) <= 0) continue;
      s.lastSeq = ev.seq;
      out.push(s);
    }
    return out;
  }

  /**
   * A `reset`: the target's pending subscriptions stop (the server holds
   * nothing for them) until the application reloads and resumes them.
   * A reset without an id that matches no collection-wide target applies to
   * the pending document subscriptions of that collection.
   * @returns {LocalSub[]} the subscriptions to tell
   */
  reset(msg) {
    const hasId = msg.id != null;
    const sid = msg.sid ?? null;
    let hit = [];
    for (const s of this.subs.values()) {
      if (s.status === 'pending' && s.collection === msg.collection && (s.id ?? null) === (msg.id ?? null) &&
          (s.sid ?? null) === sid) hit.push(s);
    }
    if (!hit.length && !hasId && sid == null) {
      for (const s of this.subs.values()) {
        if (s.status === 'pending' && s.collection === msg.collection && s.sid == null) hit.push(s);
      }
    }
    for (const s of hit) s.status = 'reset';
    return hit;
  }

  /** Restart a reset (or any) subscription from `since` (null: from now). Returns its subscribe message. */
  resume(handle, since) {
    const s = this.subs.get(handle);
    if (!s) return null;
    if (since != null && !parseSeq(since)) throw new TypeError(`tandem: malformed since ${JSON.stringify(since)}`);
    s.lastSeq = since ?? null;
    s.status = 'pending';
    return this.subscribeMessage(s);
  }

  get size() { return this.subs.size; }
}

/* ------------------------------------------------------------------------ */
/* 2. small utilities                                                       */
/* ------------------------------------------------------------------------ */

/** Call an application callback; its exceptions must not break delivery to the others. */
function safeCall(fn, ...args) {
  try { return fn(...args); } catch (err) { console.error('tandem: callback failed', err); return undefined; }
}

/** A tiny listener list; `add` returns the remover. */
class Listeners {
  constructor() { this.fns = new Set(); }
  add(fn) { this.fns.add(fn); return () => { this.fns.delete(fn); }; }
  emit(...args) { for (const fn of [...this.fns]) safeCall(fn, ...args); }
  clear() { this.fns.clear(); }
}

/** Metadata of a returned document (ETag, Tandem-Seq, status), kept off the document itself. */
const META = new WeakMap();

/**
 * HTTP metadata of what a Collection call returned — a document from `get`,
 * `create`, `replace` or `update`, or a page from `list`:
 * `{status, etag, seq, location}`, each header null when the answer had none.
 * `status` is the HTTP status (200, 201, ...); `etag` the `ETag` (`"<version>"`,
 * not on list pages); `seq` the `Tandem-Seq` — of the read (pass it as
 * `since` to `subscribe` to listen without a gap) or of the event a write
 * published; `location` the `Location` of a created document (POST).
 * Anything else (a document inside a list page, an object you built,
 * a copy) gives undefined.
 * @param {object} obj
 * @returns {{status: number, etag: string|null, seq: string|null, location: string|null}|undefined}
 */
export function metaOf(obj) {
  return obj && typeof obj === 'object' ? META.get(obj) : undefined;
}

/** Default WebSocket URL: same host as `baseUrl` if absolute, else the page's, at /ws. */
function defaultWsUrl(baseUrl) {
  let origin = null;
  if (/^https?:\/\//i.test(baseUrl)) origin = new URL(baseUrl);
  else if (typeof location !== 'undefined' && location.host) origin = location;
  if (!origin) return null;
  const scheme = origin.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${origin.host}/ws`;
}

/* ------------------------------------------------------------------------ */
/* 3. REST                                                                  */
/* ------------------------------------------------------------------------ */

/** The REST calls on one collection. Obtain with `client.collection(name)`. */
export class Collection {
  constructor(client, name) {
    this.client = client;
    this.name = name;
  }

  _path(id) {
    const base = `/${encodeURIComponent(this.name)}`;
    return id == null ? base : `${base}/${encodeURIComponent(id)}`;
  }

  /**
   * One page of the collection, ordered by id.
   * @param {{limit?: number, after?: string, where?: Where, fields?: string[]|string}} [opts]
   *   where: keep only matching documents (SPEC 8; a filtered page may hold
   *   fewer than `limit` items, even none, while `next` is not null: follow
   *   `next`, or use `all()`); fields: return only these fields (plus id and
   *   version), dotted paths allowed.
   * @returns {Promise<{items: object[], next: string|null, seq: string|null}>}
   *   `seq` is the log position of the read (pass it as `since`).
   * @throws {TandemError} invalid_query (a bad where names the problem), network, ...
   */
  async list({ limit, after, where, fields } = {}) {
    const q = new URLSearchParams();
    if (limit != null) q.set('limit', String(limit));
    if (after != null) q.set('after', after);
    if (where != null) q.set('where', JSON.stringify(where));
    if (fields != null) q.set('fields', Array.isArray(fields) ? fields.join(',') : String(fields));
    const qs = q.toString();
    const { body, meta } = await this.client._request('GET', this._path() + (qs ? `?${qs}` : ''));
    const page = { items: Array.isArray(body && body.items) ? body.items : [], next: body ? body.next ?? null : null, seq: meta.seq };
    META.set(page, meta);
    return page;
  }

  /**
   * Every document (matching `where`, if given), page after page, in id
   * order: `for await (const doc of col.all({ where: { done: false } }))`.
   * @param {{where?: Where, fields?: string[]|string, pageSize?: number, after?: string}} [opts]
   * @returns {AsyncGenerator<object>}
   */
  async *all({ where, fields, pageSize = 100, after } = {}) {
    for (;;) {
      const page = await this.list({ limit: pageSize, after, where, fields });
      for (const doc of page.items) yield doc;
      if (page.next == null) return;
      after = page.next;
    }
  }

  /** `for await (const doc of col)`: every document, as `all()`. */
  [Symbol.asyncIterator]() {
    return this.all();
  }

  /**
   * Read one document. Its Tandem-Seq and ETag are in `metaOf(doc)`.
   * @returns {Promise<object>}
   * @throws {TandemError} not_found, network, ...
   */
  async get(id) {
    return (await this.client._request('GET', this._path(id))).body;
  }

  /**
   * Create with a server-chosen id (POST).
   * @returns {Promise<object>} the stored document (id, version 1, timestamps)
   */
  async create(doc) {
    return (await this.client._request('POST', this._path(), { json: doc })).body;
  }

  /**
   * Replace (or create) with PUT.
   * @param {{ifVersion?: number, createOnly?: boolean}} [opts]
   *   ifVersion: send `If-Match: "<n>"` (412 version_conflict if stale);
   *   createOnly: send `If-None-Match: *` (412 already_exists if present).
   * @returns {Promise<object>}
   */
  async replace(id, doc, { ifVersion, createOnly = false } = {}) {
    const headers = {};
    if (ifVersion != null) headers['If-Match'] = `"${ifVersion}"`;
    if (createOnly) headers['If-None-Match'] = '*';
    const preconditionCode = createOnly && ifVersion == null ? 'already_exists' : 'version_conflict';
    return (await this.client._request('PUT', this._path(id), { json: doc, headers, preconditionCode })).body;
  }

  /**
   * JSON Merge Patch (RFC 7396): `null` removes a field.
   * @param {{ifVersion?: number}} [opts]
   * @returns {Promise<object>} the updated document
   */
  async update(id, patch, { ifVersion } = {}) {
    const headers = {};
    if (ifVersion != null) headers['If-Match'] = `"${ifVersion}"`;
    return (await this.client._request('PATCH', this._path(id), {
      json: patch, headers, contentType: 'application/merge-patch+json',
    })).body;
  }

  /**
   * Delete. Resolves to undefined on 204.
   * @param {{ifVersion?: number}} [opts]
   */
  async remove(id, { ifVersion } = {}) {
    const headers = {};
    if (ifVersion != null) headers['If-Match'] = `"${ifVersion}"`;
    await this.client._request('DELETE', this._path(id), { headers });
  }
}

/* ------------------------------------------------------------------------ */
/* 4. Client                                                                */
/* ------------------------------------------------------------------------ */

const WS_OPEN = 1;

/**
 * A Tandem client: REST calls plus one shared, self-healing WebSocket.
 *
 * @param {object} [opts]
 * @param {string} [opts.baseUrl='']  where `/api/v1` lives ('' = same origin)
 * @param {string} [opts.wsUrl]       default: ws(s)://<host of baseUrl or page>/ws
 * @param {() => (string|null|Promise<string|null>)} [opts.token]  bearer token for REST and the WS `auth` op;
 *   called again before the socket's token expires (refresh) and after a 4001
 *   close, so it should return a fresh token each time it is asked
 * @param {number} [opts.refreshMargin=30000]  ms before the token's `exp` to send a fresh one
 * @param {typeof fetch} [opts.fetch]
 * @param {typeof WebSocket} [opts.WebSocket]
 * @param {number} [opts.pingInterval=25000]  ms between client pings
 * @param {number} [opts.pongTimeout=10000]   ms without pong before the socket counts as dead
 * @param {number} [opts.connectTimeout=10000] ms for the socket to open
 * @param {{base?: number, cap?: number}} [opts.backoff]  reconnect delays (default 250 ms .. 10 s)
 * @param {() => number} [opts.random]  jitter source (tests)
 * @returns {Client}
 */
export function createClient(opts = {}) {
  return new Client(opts);
}

export class Client {
  constructor({
    baseUrl = '', wsUrl, token = () => null, fetch: fetchImpl, WebSocket: WebSocketImpl,
    pingInterval = 25000, pongTimeout = 10000, connectTimeout = 10000,
    backoff = {}, random = Math.random, refreshMargin = 30000,
  } = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.wsUrl = wsUrl ?? defaultWsUrl(this.baseUrl);
    this.token = token;
    this.fetch = fetchImpl ?? (typeof fetch === 'function' ? fetch.bind(globalThis) : null);
    this.WebSocket = WebSocketImpl ?? (typeof WebSocket === 'function' ? WebSocket : null);
    this.pingInterval = pingInterval;
    this.pongTimeout = pongTimeout;
    this.connectTimeout = connectTimeout;
    this.refreshMargin = refreshMargin;
    this.backoff = { base: backoff.base ?? 250, cap: backoff.cap ?? 10000, random };

    this.book = new SubscriptionBook();
    this.ws = null;
    /** @type {'connecting'|'live'|'reconnecting'|'closed'} */
    this.state = 'closed';
    this.closed = false;     // close() was called: stay down
    this.attempt = 0;        // reconnect attempts since the last healthy connection
    this.timers = { reconnect: null, ping: null, pong: null, connect: null, refresh: null };
    this.stateListeners = new Listeners();
    this.errorListeners = new Listeners();
  }

  /** REST calls on collection `name`. */
  collection(name) {
    return new Collection(this, name);
  }

  /**
   * Watch the connection state: 'connecting' (first connect), 'live' (socket
   * open, subscriptions being (re)established), 'reconnecting' (lost, retrying
   * with backoff), 'closed' (not connected: before the first subscribe, or
   * after close()). `fn` is called at once with the current state.
   * @returns {() => void} stop watching
   */
  onState(fn) {
    const off = this.stateListeners.add(fn);
    safeCall(fn, this.state);
    return off;
  }

  /**
   * Server `error` frames (`{code, message, collection?, id?}`) — e.g.
   * unauthorized, forbidden, too_many_subscriptions — and subscriptions the
   * server ended because a refreshed token no longer allows them
   * (`{code: 'forbidden', collection, id}`).
   */
  onError(fn) {
    return this.errorListeners.add(fn);
  }

  async _authHeader() {
    const t = await this.token();
    return t ? { Authorization: `Bearer ${t}` } : {};
  }

  /**
   * One REST request. Resolves to {body, meta} for 2xx/304, throws TandemError otherwise.
   * @private
   */
  async _request(method, path, { json, headers = {}, contentType = 'application/json', preconditionCode } = {}) {
    if (!this.fetch) throw new TandemError('no fetch implementation', { code: 'network' });
    const h = { Accept: 'application/json', ...(await this._authHeader()), ...headers };
    const init = { method, headers: h };
    if (json !== undefined) {
      h['Content-Type'] = contentType;
      init.body = JSON.stringify(json);
    }
    let res;
    let text;
    try {
      res = await this.fetch(`${this.baseUrl}/api/v1${path}`, init);
      text = await res.text();
    } catch (err) {
      throw new TandemError(`network error: ${err && err.message ? err.message : err}`, { code: 'network', cause: err });
    }
    if (res.status < 200 || res.status >= 300) {
      if (res.status !== 304) throw errorFromResponse(res.status, text, res.headers, { preconditionCode });
    }
    let body = null;
    if (text) {
      try { body = JSON.parse(text); } catch (err) {
        throw new TandemError('response is not JSON', { code: 'internal', status: res.status, cause: err });
      }
    }
    const meta = {
      status: res.status,
      etag: res.headers.get('ETag'),
      seq: res.headers.get('Tandem-Seq'),
      location: res.headers.get('Location'),
    };
    if (body && typeof body === 'object') META.set(body, meta);
    return { body, meta };
  }

  /**
   * Receive the change events of a collection (or of one document).
   *
   * @param {string} collection
   * @param {{id?: string, since?: string, where?: Where, coalesce?: boolean, onReset?: (info: {collection: string, id: string|null, resume: (since?: string|null) => void}) => void}} [opts]
   *   since: replay events after this seq (a Tandem-Seq from a read) first.
   *   coalesce: while the socket lags, the server merges the queued events
   *   of a document into its latest state (SPEC 5): fewer events, the same
   *   end state; positions still only grow.
   *   where: a filtered subscription (SPEC 8): only events of matching
   *   documents, with `entered` (an update made it match, with doc) and
   *   `left` (it stopped matching, no doc); not with `id`.
   *   onReset: the server could not replay from `since` (the log no longer
   *   holds it); reload over REST and call `resume(seqOfTheReload)`. Without
   *   it, `onEvent` gets `{type: 'reset', collection, id, resume}` instead.
   * @param {(event: {type: 'created'|'updated'|'deleted'|'entered'|'left', collection: string, id: string, version: number, seq: string, doc?: object}) => void} onEvent
   *   called once per event, in seq order, never twice for a seq (also across reconnects).
   * @returns {() => void} unsubscribe
   */
  subscribe(collection, opts = {}, onEvent) {
    if (typeof opts === 'function') { onEvent = opts; opts = {}; }
    const sub = this.book.add(collection, { id: opts.id, since: opts.since, where: opts.where, coalesce: opts.coalesce ?? false },
      onEvent, opts.onReset ?? null);
    if (this._isOpen()) this._send(this.book.subscribeMessage(sub));
    else this._ensureConnecting();
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const msg = this.book.remove(sub.handle);
      if (msg && this._isOpen()) this._send(msg);
    };
  }

  /**
   * A live, id-ordered view of a whole collection, or of the documents
   * matching `where` (kept exact as documents enter and leave the filter).
   * See LiveView.
   * @param {string} collection
   * @param {{pageSize?: number, where?: Where, coalesce?: boolean}} [opts]
   * @returns {LiveView}
   */
  live(collection, opts = {}) {
    return new LiveView(this, collection, opts);
  }

  /** Close the socket for good and stop reconnecting. REST calls keep working. */
  close() {
    this.closed = true;
    this._clearTimers();
    this._dropSocket(1000);
    this._setState('closed');
  }

  /* -- socket lifecycle -- */

  _isOpen() {
    return this.ws !== null && this.ws.readyState === WS_OPEN && this.state === 'live';
  }

  _setState(s) {
    if (this.state === s) return;
    this.state = s;
    this.stateListeners.emit(s);
  }

  _ensureConnecting() {
    if (this.closed || this.ws || this.timers.reconnect) return;
    this._connect();
  }

  _clearTimers() {
    for (const k of Object.keys(this.timers)) {
      if (this.timers[k]) {
        if (k === 'ping') clearInterval(this.timers[k]); else clearTimeout(this.timers[k]);
        this.timers[k] = null;
      }
    }
  }

  _connect() {
    this.timers.reconnect = null;
    if (this.closed) return;
    if (!this.WebSocket || !this.wsUrl) {
      this.errorListeners.emit({ code: 'network', message: 'no WebSocket implementation or URL' });
      this._setState('closed');
      return;
    }
    this._setState(this.attempt === 0 && this.state !== 'reconnecting' ? 'connecting' : 'reconnecting');
    let ws;
    try {
      ws = new this.WebSocket(this.wsUrl);
    } catch (err) {
      this._lost(null);
      return;
    }
    this.ws = ws;
    this.timers.connect = setTimeout(() => { this.timers.connect = null; this._lost(ws); }, this.connectTimeout);
    ws.onopen = () => { if (this.ws === ws) this._opened(ws); };
    ws.onmessage = (e) => { if (this.ws === ws) this._message(e.data); };
    ws.onclose = (e) => { if (this.ws === ws) this._lost(ws, e && e.code); };
    ws.onerror = () => { /* a close event follows; handled there */ };
  }

  async _opened(ws) {
    clearTimeout(this.timers.connect);
    this.timers.connect = null;
    // SPEC 6: the auth op comes first. Awaiting the token may yield, so
    // check the socket is still ours before using it.
    let token = null;
    try { token = await this.token(); } catch (err) { token = null; }
    if (this.ws !== ws || ws.readyState !== WS_OPEN) return;
    if (token) this._send({ op: 'auth', token });
    this._setState('live');
    for (const msg of this.book.resubscribeMessages()) this._send(msg);
    this._startPing(ws);
  }

  _startPing(ws) {
    clearInterval(this.timers.ping);
    this.timers.ping = setInterval(() => {
      if (this.ws !== ws) return;
      if (this.timers.pong) return; // still waiting for the previous pong
      this._send({ op: 'ping' });
      this.timers.pong = setTimeout(() => {
        this.timers.pong = null;
        // No pong: the path is dead even if TCP has not noticed (NAT timeout,
        // sleeping laptop). Drop it now rather than wait for the OS.
        if (this.ws === ws) this._lost(ws);
      }, this.pongTimeout);
    }, this.pingInterval);
  }

  _message(data) {
    let msg;
    try { msg = JSON.parse(typeof data === 'string' ? data : String(data)); } catch { return; }
    if (!msg || typeof msg !== 'object') return;
    switch (msg.op) {
      case 'event': {
        const ev = { ...msg };
        delete ev.op;
        for (const s of this.book.route(ev)) safeCall(s.onEvent, ev);
        break;
      }
      case 'subscribed':
        // A connection that got this far is healthy: later drops start the
        // backoff from the beginning again.
        this.attempt = 0;
        this.book.acked(msg);
        break;
      case 'reset':
        for (const s of this.book.reset(msg)) this._tellReset(s);
        break;
      case 'pong':
        this.attempt = 0;
        clearTimeout(this.timers.pong);
        this.timers.pong = null;
        break;
      case 'error': {
        const err = { code: msg.code, message: msg.message };
        if (msg.collection !== undefined) err.collection = msg.collection;
        if (msg.id !== undefined) err.id = msg.id;
        if (msg.sid !== undefined) err.sid = msg.sid;
        this.errorListeners.emit(err);
        break;
      }
      case 'authenticated':
        this._scheduleRefresh(msg.exp);
        break;
      case 'unsubscribed':
        // SPEC 6: a refreshed token that no longer allows a subscription ends it.
        if (msg.reason) {
          this.errorListeners.emit({
            code: msg.reason, message: `the server ended the subscription to ${msg.collection}${msg.id ? `/${msg.id}` : ''}`,
            collection: msg.collection, id: msg.id ?? null,
          });
        }
        break;
      default:
        break; // ops a newer server may add
    }
  }

  /**
   * SPEC 6: the server closes a socket whose token expired with 4001. Send a
   * fresh token (from the token() hook) refreshMargin ms before exp, so a
   * live socket never gets there. exp null: auth is off, nothing to do.
   */
  _scheduleRefresh(exp) {
    clearTimeout(this.timers.refresh);
    this.timers.refresh = null;
    if (typeof exp !== 'number' || !Number.isFinite(exp)) return;
    const ws = this.ws;
    // At least a second: a hook that keeps returning the same token must not spin.
    const delay = Math.max(1000, exp * 1000 - this.refreshMargin - Date.now());
    // setTimeout holds 2^31-1 ms at most; a longer token is re-checked then.
    this.timers.refresh = setTimeout(() => {
      this.timers.refresh = null;
      if (this.ws === ws) this._refresh(ws);
    }, Math.min(delay, 0x7fffffff));
  }

  async _refresh(ws) {
    let token = null;
    try { token = await this.token(); } catch { token = null; }
    if (this.ws !== ws || ws.readyState !== WS_OPEN) return;
    if (token) this._send({ op: 'auth', token });
  }

  _tellReset(sub) {
    const resume = (since = null) => {
      if (!this.book.subs.has(sub.handle)) return;
      const m = this.book.resume(sub.handle, since);
      if (m && this._isOpen()) this._send(m);
      else this._ensureConnecting();
    };
    const info = { type: 'reset', collection: sub.collection, id: sub.id, resume };
    if (sub.onReset) safeCall(sub.onReset, info);
    else safeCall(sub.onEvent, info);
  }

  _send(msg) {
    try { this.ws.send(JSON.stringify(msg)); } catch { /* the close handler takes over */ }
  }

  _dropSocket(code) {
    const ws = this.ws;
    this.ws = null;
    if (!ws) return;
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    try { ws.close(code); } catch { /* already closing */ }
  }

  /**
   * The socket is gone (closed, failed, timed out, or silent): schedule a
   * reconnect. After a 4001 (token expired) the first reconnect is
   * immediate: it asks token() for a fresh token and resumes every
   * subscription with `since`, so nothing is lost.
   */
  _lost(ws, code) {
    if (ws !== null && this.ws !== ws) return;
    this._clearTimers();
    this._dropSocket(4000);
    this.book.disconnected();
    if (this.closed) { this._setState('closed'); return; }
    this._setState('reconnecting');
    const delay = code === 4001 && this.attempt === 0 ? 0 : backoffDelay(this.attempt, this.backoff);
    this.attempt += 1;
    this.timers.reconnect = setTimeout(() => this._connect(), delay);
  }
}

/* ------------------------------------------------------------------------ */
/* 5. LiveView                                                              */
/* ------------------------------------------------------------------------ */

/**
 * A collection kept current in memory — or, with `where`, exactly the
 * documents that match: the load is a filtered list, the subscription a
 * filtered one (same `where`), and `entered` / `left` events add and remove
 * documents as writes move them across the filter. `apply(doc)` of a write
 * result that no longer matches takes it out (the server's `left` follows).
 *
 * Load: pages over REST until `next` is null; the FIRST page's Tandem-Seq is
 * where the subscription starts, so no event between pages is lost; events
 * the later pages already reflect are recognised per id by the page's own
 * Tandem-Seq (see shouldApply) and dropped.
 *
 * Events: `view.on('change', fn)` — fn(items, change) with change
 * `{source: 'load'|'event'|'local'|'reset', event?}`; `view.subscribe(fn)` —
 * fn(items) now and after every change (a Svelte-style store);
 * `view.on('reset', fn)` when the server asked for a reload (the view
 * reloads itself); `view.on('error', fn)` for load failures (it retries).
 *
 * `view.apply(doc)` / `view.applyDeleted(id, version)` take the result of a
 * write that has SUCCEEDED — the document `create`/`replace`/`update`
 * resolved to, or the version a `remove` deleted — so the writing tab shows
 * it without waiting for the event (which then counts as a duplicate). This
 * is not an optimistic update: nothing is shown before the server answers,
 * and nothing is rolled back (a write that failed never reaches the view).
 * For optimistic UI keep the pending change in your own state, as the demo
 * keeps a draft while a save is in flight.
 */
export class LiveView {
  constructor(client, collection, { pageSize = 100, where = null, coalesce = false } = {}) {
    this.client = client;
    this.collection = collection;
    this.pageSize = pageSize;
    /** Subscribe with coalesce (SPEC 5): a lagging view catches up with the state, not every step. */
    this.coalesce = coalesce;
    /** The filter the view keeps (null: the whole collection). */
    this.where = where;
    this.state = stateFromPages([]);
    this.loaded = false;
    this.closed = false;
    this.unsubscribe = null;
    this.loadAttempt = 0;
    this.retryTimer = null;
    this._items = [];
    this.listeners = { change: new Listeners(), reset: new Listeners(), error: new Listeners() };
    /** Resolves once the first load has been rendered. */
    this.ready = new Promise((resolve) => { this._resolveReady = resolve; });
    this._load(false);
  }

  /** Documents ordered by id. A new array after each change; treat it as read-only. */
  get items() { return this._items; }

  /** One document by id, or undefined. */
  get(id) {
    const e = this.state.entries.get(id);
    return e && e.doc ? e.doc : undefined;
  }

  /** @param {'change'|'reset'|'error'} name @returns {() => void} */
  on(name, fn) {
    const l = this.listeners[name];
    if (!l) throw new TypeError(`tandem: unknown view event ${name}`);
    return l.add(fn);
  }

  /** Call fn(items) now and after every change. @returns {() => void} */
  subscribe(fn) {
    const off = this.listeners.change.add((items) => fn(items));
    safeCall(fn, this._items);
    return off;
  }

  /**
   * Show a document a successful write returned (not optimistic: call it
   * after the write resolved, with the server's document and its version).
   * Ignored when the view already holds something newer.
   */
  apply(doc) {
    if (!doc || typeof doc.id !== 'string') return;
    const out = this.where != null && !matchesWhere(this.where, doc);
    const ev = out ? { type: 'left', id: doc.id, version: doc.version, seq: null }
      : { type: 'updated', id: doc.id, version: doc.version, seq: null, doc };
    if (applyEvent(this.state, ev, { local: true })) this._changed({ source: 'local', event: ev });
  }

  /**
   * Record a successful delete of a document that had `version` (default:
   * the version the view holds); the tombstone gets version + 1, as the
   * server's `deleted` event does. Not optimistic either: call it after
   * `remove` resolved.
   */
  applyDeleted(id, version) {
    const e = this.state.entries.get(id);
    const v = (version ?? (e ? e.version : 0)) + 1;
    const ev = { type: 'deleted', id, version: v, seq: null };
    if (applyEvent(this.state, ev, { local: true })) this._changed({ source: 'local', event: ev });
  }

  /** Stop listening; the view keeps its last items. */
  close() {
    this.closed = true;
    clearTimeout(this.retryTimer);
    if (this.unsubscribe) this.unsubscribe();
    this.unsubscribe = null;
    for (const l of Object.values(this.listeners)) l.clear();
  }

  _changed(change) {
    this._items = orderedDocs(this.state.entries);
    this.listeners.change.emit(this._items, change);
  }

  /** All pages, each with its own Tandem-Seq. */
  async _fetchAll() {
    const col = this.client.collection(this.collection);
    const pages = [];
    let after;
    for (;;) {
      const page = await col.list({ limit: this.pageSize, after, ...(this.where != null ? { where: this.where } : {}) });
      pages.push(page);
      if (page.next == null || this.closed) break;
      after = page.next;
    }
    return pages;
  }

  /**
   * Load (or, after a reset, reload) and start listening from the first
   * page's seq. On failure it reports 'error' and retries with backoff.
   */
  async _load(isReload, resume = null) {
    let pages;
    try {
      pages = await this._fetchAll();
    } catch (err) {
      if (this.closed) return;
      this.listeners.error.emit(err);
      const delay = backoffDelay(this.loadAttempt++, this.client.backoff);
      this.retryTimer = setTimeout(() => this._load(isReload, resume), delay);
      return;
    }
    if (this.closed) return;
    this.loadAttempt = 0;
    this.state = stateFromPages(pages);
    const since = pages[0].seq ?? null;
    this.loaded = true;
    this._changed({ source: isReload ? 'reset' : 'load' });
    if (resume) {
      resume(since);
    } else {
      this.unsubscribe = this.client.subscribe(this.collection, {
        since,
        ...(this.where != null ? { where: this.where } : {}),
        ...(this.coalesce ? { coalesce: true } : {}),
        onReset: ({ resume: r }) => {
          if (this.closed) return;
          this.listeners.reset.emit();
          this._load(true, r);
        },
      }, (ev) => {
        if (applyEvent(this.state, ev)) this._changed({ source: 'event', event: ev });
      });
    }
    this._resolveReady(this);
  }
}

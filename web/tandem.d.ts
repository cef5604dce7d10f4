/**
 * Types of tandem.js, the Tandem client (REST + live updates).
 *
 * Hand-written, kept in step with tandem.js: tests/web/types/check-exports.mjs
 * fails when a runtime export or a public method has no declaration here (or
 * the other way round), and tests/web/types/example.ts is type-checked with
 * `tsc --strict` against this file, from the repository and from the packed
 * tarball. The contract these types follow is docs/PROTOCOL.md ("SPEC").
 *
 * Documents are generic: `client.collection<Todo>('todos')` gives
 * `Doc<Todo>` back (your fields plus the server's `id`, `version`,
 * `created_at`, `updated_at`). Without a type argument a document is any
 * JSON object.
 *
 * Nothing here needs the DOM or Node type libraries: `fetch` and `WebSocket`
 * are described by the few members the client uses, so the browser's and
 * Node's own implementations both fit.
 */

/* -- JSON and documents ---------------------------------------------------- */

export type JsonPrimitive = string | number | boolean | null;
export type JsonValue = JsonPrimitive | JsonValue[] | JsonObject;
export interface JsonObject { [key: string]: JsonValue }

/** The fields the server owns (SPEC section 1). */
export interface ServerFields {
  /** A ULID for documents created with POST, or the id chosen with PUT. */
  id: string;
  /** 1 on create, +1 on every successful PUT or PATCH (an empty patch too). */
  version: number;
  /** RFC 3339 UTC with milliseconds, e.g. `2026-11-28T19:41:52.123Z`. */
  created_at: string;
  updated_at: string;
  /** SPEC section 6 (`own` claims): the `sub` of the token that created it. Absent in this server version. */
  owner?: string;
}

export type ServerField = keyof ServerFields;

/** A stored document: your fields plus the server's. */
export type Doc<T extends object = JsonObject> = T & ServerFields;

/**
 * A request body for create/replace. Server fields may be present and are
 * ignored (`version`, `created_at`, `updated_at`, `owner`; `id` on POST); on
 * PUT an `id` must equal the path's or the server answers 400 `id_mismatch`.
 */
export type DocInput<T extends object = JsonObject> = T & { [K in ServerField]?: unknown };

/**
 * A JSON Merge Patch (RFC 7396) of T: any subset of its fields, `null`
 * removes a field, a nested object is merged, an array is replaced.
 */
export type MergePatch<T> = {
  [K in keyof T]?:
    | T[K]
    | null
    | (NonNullable<T[K]> extends readonly unknown[] ? never
      : NonNullable<T[K]> extends object ? MergePatch<NonNullable<T[K]>> : never);
};

/* -- filters (SPEC section 8) ---------------------------------------------- */

/**
 * The operators of one field condition; all of them must hold.
 * `$gt`..`$lte` compare numbers with numbers and strings with strings (byte
 * order); other pairs never match. `$ne`/`$nin` match exactly where
 * `$eq`/`$in` would not (absent fields included). `$exists` holds for a
 * present field, null included. `$prefix` matches strings only.
 */
export interface FieldOps {
  $eq?: JsonValue;
  $ne?: JsonValue;
  $gt?: number | string;
  $gte?: number | string;
  $lt?: number | string;
  $lte?: number | string;
  $in?: JsonValue[];
  $nin?: JsonValue[];
  $exists?: boolean;
  $prefix?: string;
}

/** A JSON object used as a value to compare with (its keys cannot start with `$`, which marks operators). */
export type PlainObject = { [key: string]: JsonValue } & { [op: `$${string}`]: never };

/**
 * One field's condition: a JSON value (deep equality, 1 equals 1.0, `null`
 * matches null or absent) or an object of operators.
 */
export type Condition = JsonPrimitive | JsonValue[] | PlainObject | FieldOps;

/**
 * The `where` language of SPEC section 8: an object whose conditions must
 * all hold. Keys are top-level field names or dotted paths into nested
 * objects (`"address.city"`); `$or` holds when one of its alternatives does.
 * Limits: 4 KiB of JSON and 32 conditions (more is 400 `invalid_query`).
 *
 * Taken by `Collection.list({ where })` / `all({ where })`,
 * `Client.subscribe(col, { where })` and `Client.live(col, { where })`; a
 * bad one rejects with (or, on a subscription, reaches onError as)
 * `invalid_query` naming the problem.
 *
 * @example { done: false, priority: { $gte: 2 }, $or: [{ tag: 'home' }, { tag: { $prefix: 'work/' } }] }
 */
export interface Where {
  $or?: Where[];
  [field: string]: Condition | Where[] | undefined;
}

/* -- errors ---------------------------------------------------------------- */

/** The error codes of SPEC section 2 that a REST call can reject with. */
export type RestErrorCode =
  | 'invalid_json' | 'invalid_body' | 'invalid_name' | 'invalid_id' | 'id_mismatch'
  | 'invalid_query' | 'too_large' | 'unsupported_media_type' | 'not_found'
  | 'method_not_allowed' | 'version_conflict' | 'already_exists' | 'unauthorized'
  | 'forbidden' | 'rate_limited' | 'store_unavailable' | 'not_replicated' | 'internal';

/**
 * `network`: no HTTP answer at all (status 0, `cause` holds the fetch error).
 * `http_error`: a non-2xx answer without an error object and a status the
 * client has no code for.
 */
export type ClientErrorCode = 'network' | 'http_error';

/** A code this client knows, or another string a newer server may send. */
export type TandemErrorCode = RestErrorCode | ClientErrorCode | (string & {});

export interface TandemErrorInfo {
  code: TandemErrorCode;
  status?: number;
  currentVersion?: number | null;
  retryAfter?: number | null;
  body?: unknown;
  cause?: unknown;
}

/** Every failure of a Tandem REST call. */
export class TandemError extends Error {
  constructor(message: string, info: TandemErrorInfo);
  readonly name: 'TandemError';
  /** The SPEC code from the error object; guessed from the status when the answer had none. */
  code: TandemErrorCode;
  /** HTTP status; 0 for `network`. Both preconditions fail with 412: `version_conflict` or `already_exists`. */
  status: number;
  /** The stored version, on 412 when the document exists. */
  currentVersion: number | null;
  /** `Retry-After` in seconds (503 `store_unavailable`, 429 `rate_limited`). */
  retryAfter: number | null;
  /** The parsed answer body, or null. */
  body: unknown;
}

/** Turn a non-2xx answer into a TandemError. `preconditionCode` names a 412 that has no error object. */
export function errorFromResponse(
  status: number,
  text: string,
  headers?: { get(name: string): string | null },
  opts?: { preconditionCode?: TandemErrorCode },
): TandemError;

/* -- change events (SPEC sections 3, 5, 8) --------------------------------- */

interface EventBase {
  collection: string;
  id: string;
  /** The document's version after the write. */
  version: number;
  /** Log position `<ms>-<n>`; pass it back as it is (`since`). */
  seq: string;
}

export interface CreatedEvent<T extends object = JsonObject> extends EventBase {
  type: 'created';
  doc: Doc<T>;
}

export interface UpdatedEvent<T extends object = JsonObject> extends EventBase {
  type: 'updated';
  doc: Doc<T>;
}

/** No `doc`; `version` is the deleted document's version + 1. */
export interface DeletedEvent extends EventBase {
  type: 'deleted';
  doc?: undefined;
}

/** Every event of an unfiltered subscription, in seq order, each once. */
export type ChangeEvent<T extends object = JsonObject> = CreatedEvent<T> | UpdatedEvent<T> | DeletedEvent;

/**
 * SPEC section 8, for subscriptions with `where`: an update made the
 * document match (`entered`, with `doc`) or stop matching (`left`, without).
 * Every event of a filtered subscription carries its `sid`.
 */
export interface EnteredEvent<T extends object = JsonObject> extends EventBase {
  type: 'entered';
  sid: string;
  doc: Doc<T>;
}

export interface LeftEvent extends EventBase {
  type: 'left';
  sid: string;
  doc?: undefined;
}

export type FilteredChangeEvent<T extends object = JsonObject> =
  | ((CreatedEvent<T> | UpdatedEvent<T> | DeletedEvent) & { sid: string })
  | EnteredEvent<T>
  | LeftEvent;

/**
 * The server could not replay from `since` (the log no longer holds it):
 * nothing is subscribed until you reload over REST and call
 * `resume(seqOfTheReload)` (`null`: from now on).
 */
export interface ResetNotice {
  type: 'reset';
  collection: string;
  id: string | null;
  resume(since?: string | null): void;
}

/* -- seqs and backoff ------------------------------------------------------ */

/** A seq's two parts, or null for anything that is not a seq. */
export function parseSeq(seq: unknown): [bigint, bigint] | null;
/** Numeric order of two seqs; throws a TypeError on a malformed one. */
export function compareSeq(a: string, b: string): -1 | 0 | 1;
/** The later seq; null is "nothing yet". */
export function maxSeq(a: string | null | undefined, b: string): string;
export function maxSeq(a: string, b: string | null | undefined): string;
export function maxSeq(a: string | null | undefined, b: string | null | undefined): string | null | undefined;
/** The earlier seq; null is "unknown" and skipped. */
export function minSeq(a: string | null | undefined, b: string): string;
export function minSeq(a: string, b: string | null | undefined): string;
export function minSeq(a: string | null | undefined, b: string | null | undefined): string | null | undefined;

export interface BackoffOptions {
  /** ms before the first retry (default 250). */
  base?: number;
  /** longest delay in ms (default 10000). */
  cap?: number;
}

/** Reconnect delay in ms for attempt 0, 1, 2, ...: exponential, capped, with equal jitter. */
export function backoffDelay(attempt: number, opts?: BackoffOptions & { random?: () => number }): number;

/* -- REST ------------------------------------------------------------------ */

/** What `metaOf` gives for a document or list page a Collection call returned. */
export interface ResponseMeta {
  /** HTTP status (200, 201, 304). */
  status: number;
  /** `"<version>"`; null on list pages. */
  etag: string | null;
  /** `Tandem-Seq`: the read's log position, or the seq of the event a write published. */
  seq: string | null;
  /** Path of a document created with POST, else null. */
  location: string | null;
}

/** HTTP metadata of a document (get/create/replace/update) or list page (list); undefined for anything else. */
export function metaOf(obj: unknown): ResponseMeta | undefined;

export interface ListOptions {
  /** 1..1000, default 100. */
  limit?: number;
  /** Cursor: the `next` of the previous page. */
  after?: string;
  /**
   * Only matching documents. A filtered page may hold fewer than `limit`
   * items, even none, while `next` is not null: follow `next` (or use `all`).
   */
  where?: Where;
  /** Only these fields (plus id and version); dotted paths keep their nesting. */
  fields?: string[] | string;
}

export interface AllOptions {
  where?: Where;
  fields?: string[] | string;
  /** Documents per request (default 100). */
  pageSize?: number;
  /** Start after this id. */
  after?: string;
}

export interface ListPage<T extends object = JsonObject> {
  /** Ordered by id. */
  items: Doc<T>[];
  /** The id to pass as `after` for the next page; null on the last page. */
  next: string | null;
  /** `Tandem-Seq` of the read: subscribe with `since: seq` to miss nothing. */
  seq: string | null;
}

export interface WriteOptions {
  /** Send `If-Match: "<n>"`: 412 `version_conflict` unless the stored version is n. */
  ifVersion?: number;
}

export interface ReplaceOptions extends WriteOptions {
  /** Send `If-None-Match: *`: 412 `already_exists` when the document exists. */
  createOnly?: boolean;
}

/** The REST calls on one collection (`client.collection(name)`). Each rejects with a TandemError. */
export class Collection<T extends object = JsonObject> {
  constructor(client: Client, name: string);
  readonly client: Client;
  readonly name: string;
  /** One page, ordered by id. */
  list(opts?: ListOptions): Promise<ListPage<T>>;
  /** Every (matching) document, page after page, in id order: `for await (const d of col.all({ where }))`. */
  all(opts?: AllOptions): AsyncGenerator<Doc<T>, void, undefined>;
  /** `for await (const d of col)`: every document. */
  [Symbol.asyncIterator](): AsyncGenerator<Doc<T>, void, undefined>;
  /** One document; its ETag and Tandem-Seq are in `metaOf(doc)`. */
  get(id: string): Promise<Doc<T>>;
  /** POST: the server chooses the id (a ULID); an `id` in `doc` is ignored. */
  create(doc: DocInput<T>): Promise<Doc<T>>;
  /** PUT: replace, or create with this id. */
  replace(id: string, doc: DocInput<T>, opts?: ReplaceOptions): Promise<Doc<T>>;
  /** PATCH with a JSON Merge Patch (`null` removes a field). */
  update(id: string, patch: MergePatch<T>, opts?: WriteOptions): Promise<Doc<T>>;
  /** DELETE; resolves to undefined (204). */
  remove(id: string, opts?: WriteOptions): Promise<void>;
}

/* -- the client -------------------------------------------------------------- */

/** The members of a fetch answer the client reads. */
export interface FetchResponseLike {
  status: number;
  headers: { get(name: string): string | null };
  text(): Promise<string>;
}

/** A `fetch` (the browser's, Node's, or a test double). */
export type FetchLike = (
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string },
) => Promise<FetchResponseLike>;

/** The members of a WebSocket the client uses. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number): void;
  onopen: ((ev: any) => any) | null;
  onmessage: ((ev: any) => any) | null;
  onclose: ((ev: any) => any) | null;
  onerror: ((ev: any) => any) | null;
}

export type WebSocketConstructorLike = new (url: string) => WebSocketLike;

export interface ClientOptions {
  /** Where `/api/v1` lives; '' (default) is the page's origin. */
  baseUrl?: string;
  /** Default: ws(s)://<host of baseUrl or of the page>/ws. */
  wsUrl?: string;
  /**
   * Bearer token for REST and the WebSocket `auth` op; null for none. Asked
   * again `refreshMargin` ms before the socket's token expires (sent as a new
   * `auth` op) and after a 4001 close (token expired: the client reconnects
   * at once and resumes every subscription with `since`), so it should
   * return a fresh token each time.
   */
  token?: () => string | null | undefined | Promise<string | null | undefined>;
  /** ms before the token's `exp` to send a fresh one (default 30000). */
  refreshMargin?: number;
  fetch?: FetchLike;
  WebSocket?: WebSocketConstructorLike;
  /** ms between client pings (default 25000). */
  pingInterval?: number;
  /** ms without a pong before the socket counts as dead (default 10000). */
  pongTimeout?: number;
  /** ms for the socket to open (default 10000). */
  connectTimeout?: number;
  /** Reconnect delays (default 250 ms doubling up to 10 s). */
  backoff?: BackoffOptions;
  /** Jitter source, for tests (default Math.random). */
  random?: () => number;
}

/** `connecting` (first connect), `live`, `reconnecting` (lost, retrying), `closed`. */
export type ConnectionState = 'connecting' | 'live' | 'reconnecting' | 'closed';

/**
 * A server `error` frame (SPEC section 5): REST codes where they fit
 * (`unauthorized`, `forbidden`...), plus `unknown_op` and
 * `too_many_subscriptions`; `network` when the client has no WebSocket
 * implementation or URL. Errors about one subscription name its collection
 * (and id). A subscription the server ended because a refreshed token no
 * longer allows it comes as `{code: 'forbidden', collection, id}` too.
 */
export interface ServerErrorFrame {
  code: string;
  message?: string;
  collection?: string;
  id?: string | null;
  /** The filtered subscription the error answers. */
  sid?: string;
}

export interface SubscribeOptions {
  /** One document instead of the whole collection. */
  id?: string;
  /** Replay the logged events after this seq first (a read's `Tandem-Seq`). */
  since?: string;
  /**
   * While the socket lags, the server merges a document's queued events
   * into its latest state (SPEC 5): fewer events, the same end state.
   */
  coalesce?: boolean;
}

export interface FilteredSubscribeOptions {
  /** Only events of matching documents, with `entered` / `left` (SPEC 8). Not with `id`. */
  where: Where;
  since?: string;
  /** As SubscribeOptions.coalesce: `entered` + `updated` arrive as one `entered`, and so on. */
  coalesce?: boolean;
}

export type Unsubscribe = () => void;

/** REST calls plus one shared, self-healing WebSocket. */
export class Client {
  constructor(opts?: ClientOptions);
  readonly baseUrl: string;
  readonly wsUrl: string | null;
  readonly state: ConnectionState;
  /** The REST calls on collection `name`. */
  collection<T extends object = JsonObject>(name: string): Collection<T>;
  /** Called at once with the current state, then on every change. */
  onState(fn: (state: ConnectionState) => void): Unsubscribe;
  /** The server's `error` frames. */
  onError(fn: (error: ServerErrorFrame) => void): Unsubscribe;
  /**
   * The change events of a collection (or of one document), in seq order,
   * each once, across reconnects. With `onReset`, a reset goes there;
   * without it, `onEvent` gets the ResetNotice.
   */
  /** A filtered subscription: its own stream of FilteredChangeEvents. */
  subscribe<T extends object = JsonObject>(
    collection: string,
    opts: FilteredSubscribeOptions & { onReset: (notice: ResetNotice) => void },
    onEvent: (event: FilteredChangeEvent<T>) => void,
  ): Unsubscribe;
  subscribe<T extends object = JsonObject>(
    collection: string,
    opts: FilteredSubscribeOptions & { onReset?: null },
    onEvent: (event: FilteredChangeEvent<T> | ResetNotice) => void,
  ): Unsubscribe;
  subscribe<T extends object = JsonObject>(
    collection: string,
    opts: SubscribeOptions & { onReset: (notice: ResetNotice) => void },
    onEvent: (event: ChangeEvent<T>) => void,
  ): Unsubscribe;
  subscribe<T extends object = JsonObject>(
    collection: string,
    opts: SubscribeOptions & { onReset?: null },
    onEvent: (event: ChangeEvent<T> | ResetNotice) => void,
  ): Unsubscribe;
  subscribe<T extends object = JsonObject>(
    collection: string,
    onEvent: (event: ChangeEvent<T> | ResetNotice) => void,
  ): Unsubscribe;
  /** A live, id-ordered view of a whole collection, or of exactly the documents matching `opts.where`. */
  live<T extends object = JsonObject>(collection: string, opts?: LiveViewOptions): LiveView<T>;
  /** Close the socket for good and stop reconnecting; REST calls keep working. */
  close(): void;
}

export function createClient(opts?: ClientOptions): Client;

/* -- live views ------------------------------------------------------------ */

export interface LiveViewOptions {
  /** Documents per REST page while loading (default 100). */
  pageSize?: number;
  /** Keep only the matching documents (a filtered list, then a filtered subscription). */
  where?: Where;
  /** Subscribe with coalesce: a lagging view catches up with the state, not every step. */
  coalesce?: boolean;
}

/** A write result given to `apply`/`applyDeleted`: it has no log position. */
export type LocalChange<T extends object = JsonObject> =
  | { type: 'updated'; id: string; version: number; seq: null; doc: Doc<T> }
  | { type: 'deleted'; id: string; version: number; seq: null }
  | { type: 'left'; id: string; version: number; seq: null };

/** Why a view changed: the (re)load, an event, or your own `apply`. */
export type ViewChange<T extends object = JsonObject> =
  | { source: 'load' | 'reset'; event?: undefined }
  | { source: 'event'; event: ChangeEvent<T> | FilteredChangeEvent<T> }
  | { source: 'local'; event: LocalChange<T> };

export interface LiveViewEvents<T extends object = JsonObject> {
  change: (items: readonly Doc<T>[], change: ViewChange<T>) => void;
  /** The server could not replay: the view reloads itself. */
  reset: () => void;
  /** A load failed; the view retries with backoff. */
  error: (error: TandemError) => void;
}

/** A collection kept current in memory (`client.live(name)`). */
export class LiveView<T extends object = JsonObject> {
  constructor(client: Client, collection: string, opts?: LiveViewOptions);
  readonly client: Client;
  readonly collection: string;
  readonly pageSize: number;
  /** The filter the view keeps (null: the whole collection). */
  readonly where: Where | null;
  /** Whether the view subscribes with coalesce. */
  readonly coalesce: boolean;
  /** true once the first load is in. */
  readonly loaded: boolean;
  readonly closed: boolean;
  /** Resolves once the first load has been rendered. */
  readonly ready: Promise<LiveView<T>>;
  /** Documents ordered by id; a new array after each change. */
  get items(): readonly Doc<T>[];
  get(id: string): Doc<T> | undefined;
  on<K extends keyof LiveViewEvents<T>>(name: K, fn: LiveViewEvents<T>[K]): Unsubscribe;
  /** fn(items) now and after every change (a Svelte-style store). */
  subscribe(fn: (items: readonly Doc<T>[]) => void): Unsubscribe;
  /**
   * Show a document a SUCCESSFUL write returned, without waiting for its
   * event. Not optimistic: call it after the write resolved; nothing is
   * rolled back. Ignored when the view holds something newer.
   */
  apply(doc: Doc<T>): void;
  /** Record a successful `remove` of a document that had `version` (default: the view's). */
  applyDeleted(id: string, version?: number): void;
  /** Stop listening; the items stay as they were. */
  close(): void;
}

/* -- internals, exported for the unit tests ---------------------------------
 * The merge rules of a live view and the subscription bookkeeping. Stable
 * enough to test against, not an API: they may change in any release. */

/** @internal */
export interface ViewEntry {
  doc: JsonObject | null;
  version: number;
  seq: string | null;
  createdAt: string | null;
  local: boolean;
}

/** @internal */
export interface ViewState {
  entries: Map<string, ViewEntry>;
  pages: { lastId: string | null; seq: string | null }[];
  coverSeq: (id: string) => string | null;
}

/** @internal */
export interface MergeEvent {
  type: string;
  id: string;
  version: number;
  seq?: string | null;
  doc?: object;
}

/** @internal */
export function shouldApply(entry: ViewEntry | undefined, coverSeq: string | null, ev: MergeEvent): boolean;
/** @internal */
export function applyEvent(
  state: { entries: Map<string, ViewEntry>; coverSeq: (id: string) => string | null },
  ev: MergeEvent,
  opts?: { local?: boolean },
): boolean;
/** @internal */
export function coverSeqFor(pages: { lastId: string | null; seq: string | null }[], id: string): string | null;
/** @internal */
export function stateFromPages(pages: { items: JsonObject[]; next: string | null; seq: string | null }[]): ViewState;
/** @internal */
export function orderedDocs(entries: Map<string, ViewEntry>): JsonObject[];
/** @internal */
export function subKey(collection: string, id?: string | null, sid?: string | null): string;

/** Whether doc matches where, by the server's rules (SPEC 8); strings compare by UTF-16 units. */
export function matchesWhere(where: Where, doc: object): boolean;

/** @internal */
export interface LocalSub {
  handle: number;
  collection: string;
  id: string | null;
  lastSeq: string | null;
  status: 'pending' | 'live' | 'reset';
  onEvent: (event: any) => void;
  onReset: ((notice: ResetNotice) => void) | null;
  where: Where | null;
  sid: string | null;
  coalesce: boolean;
}

/** @internal */
export interface SubscribeFrame {
  op: 'subscribe';
  collection: string;
  id?: string;
  sid?: string;
  where?: Where;
  since?: string;
  coalesce?: true;
}

/** @internal */
export interface UnsubscribeFrame {
  op: 'unsubscribe';
  collection: string;
  id?: string;
  sid?: string;
}

/** @internal The bookkeeping behind "every event exactly once, across reconnects". */
export class SubscriptionBook {
  subs: Map<number, LocalSub>;
  nextHandle: number;
  add(
    collection: string,
    opts?: { id?: string | null; since?: string | null; where?: Where | null; coalesce?: boolean },
    onEvent?: (event: any) => void,
    onReset?: ((notice: ResetNotice) => void) | null,
  ): LocalSub;
  remove(handle: number): UnsubscribeFrame | null;
  subscribeMessage(sub: LocalSub): SubscribeFrame;
  resubscribeMessages(): SubscribeFrame[];
  disconnected(): void;
  acked(msg: { collection: string; id?: string | null; sid?: string | null; seq?: string }): void;
  route(ev: { collection: string; id: string; seq: string; sid?: string }): LocalSub[];
  reset(msg: { collection: string; id?: string | null; sid?: string | null }): LocalSub[];
  resume(handle: number, since?: string | null): SubscribeFrame | null;
  readonly size: number;
}

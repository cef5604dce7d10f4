// The live connection: auth first, resubscribe with since = last delivered
// seq after a drop, duplicates dropped, reset handed to the application,
// ping/pong liveness, connection states.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createClient, SubscriptionBook } from '../../../web/tandem.js';
import { FakeServer, waitFor, tick } from './fakes.mjs';

function fixture(opts = {}) {
  const server = new FakeServer();
  const client = createClient({
    fetch: server.fetch, WebSocket: server.WebSocket, wsUrl: 'ws://fake/ws',
    backoff: { base: 1, cap: 4 }, ...opts,
  });
  return { server, client };
}

const socket = (server) => [...server.sockets].at(-1);
const subscribed = (server, n = 1) => waitFor(() => socket(server) && socket(server).subs.size === n, { what: 'server-side subscription' });

/* -- SubscriptionBook (pure) ----------------------------------------------- */

test('book: resubscribe asks for the oldest position among subscriptions sharing a target', () => {
  const b = new SubscriptionBook();
  const s1 = b.add('todos', { since: '10-0' });
  const s2 = b.add('todos', { since: '9-5' });
  b.add('todos', { id: 'x' });
  b.add('notes');
  const msgs = b.resubscribeMessages();
  assert.deepEqual(msgs, [
    { op: 'subscribe', collection: 'todos', since: '9-5' },
    { op: 'subscribe', collection: 'todos', id: 'x' },
    { op: 'subscribe', collection: 'notes' },
  ]);
  assert.equal(s1.status, 'pending');
  assert.equal(s2.status, 'pending');
});

test('book: an ack starts position-less subscriptions at the ack seq', () => {
  const b = new SubscriptionBook();
  const s1 = b.add('todos');
  const s2 = b.add('todos', { since: '3-0' });
  b.acked({ op: 'subscribed', collection: 'todos', seq: '7-0' });
  assert.equal(s1.status, 'live');
  assert.equal(s1.lastSeq, '7-0');
  assert.equal(s2.lastSeq, '3-0');
});

test('book: routing delivers each seq once per subscription and advances its position', () => {
  const b = new SubscriptionBook();
  const all = b.add('todos', { since: '1-0' });
  const one = b.add('todos', { id: 'x', since: '1-0' });
  b.acked({ op: 'subscribed', collection: 'todos', seq: '5-0' });
  b.acked({ op: 'subscribed', collection: 'todos', id: 'x', seq: '5-0' });
  const e = (id, seq) => ({ type: 'updated', collection: 'todos', id, version: 2, seq });
  assert.deepEqual(b.route(e('x', '2-0')).map((s) => s.handle), [all.handle, one.handle]);
  assert.deepEqual(b.route(e('y', '3-0')).map((s) => s.handle), [all.handle]);
  assert.deepEqual(b.route(e('x', '2-0')), [], 'duplicate');
  assert.deepEqual(b.route(e('x', '10-0')).map((s) => s.handle), [all.handle, one.handle]);
  assert.deepEqual(b.route(e('x', '9-9')), [], 'older than delivered');
  assert.equal(all.lastSeq, '10-0');
  assert.deepEqual(b.route({ ...e('x', '11-0'), collection: 'other' }), []);
});

test('book: pending subscriptions get no events; a drop makes live ones pending', () => {
  const b = new SubscriptionBook();
  const s = b.add('todos', { since: '1-0' });
  assert.deepEqual(b.route({ collection: 'todos', id: 'a', seq: '2-0' }), []);
  b.acked({ op: 'subscribed', collection: 'todos', seq: '2-0' });
  b.disconnected();
  assert.equal(s.status, 'pending');
  assert.equal(s.lastSeq, '1-0');
});

test('book: unsubscribe is sent only when the last local subscription of a target goes', () => {
  const b = new SubscriptionBook();
  const s1 = b.add('todos');
  const s2 = b.add('todos');
  const s3 = b.add('todos', { id: 'x' });
  assert.equal(b.remove(s1.handle), null);
  assert.deepEqual(b.remove(s2.handle), { op: 'unsubscribe', collection: 'todos' });
  assert.deepEqual(b.remove(s3.handle), { op: 'unsubscribe', collection: 'todos', id: 'x' });
  assert.equal(b.remove(s3.handle), null);
  assert.equal(b.size, 0);
});

test('book: reset stops the target until resumed', () => {
  const b = new SubscriptionBook();
  const s = b.add('todos', { since: '1-0' });
  assert.deepEqual(b.reset({ op: 'reset', collection: 'todos' }).map((x) => x.handle), [s.handle]);
  assert.equal(s.status, 'reset');
  assert.deepEqual(b.resubscribeMessages(), [], 'a reset subscription is not resubscribed blindly');
  assert.deepEqual(b.resume(s.handle, '50-0'), { op: 'subscribe', collection: 'todos', since: '50-0' });
  assert.equal(s.status, 'pending');
});

test('book: a malformed since is refused up front', () => {
  const b = new SubscriptionBook();
  assert.throws(() => b.add('todos', { since: '12' }), TypeError);
});

/* -- Client over the fake server ------------------------------------------- */

test('connection states: closed -> connecting -> live -> reconnecting -> live -> closed', async () => {
  const { server, client } = fixture();
  const states = [];
  client.onState((s) => states.push(s));
  client.subscribe('todos', () => {});
  await subscribed(server);
  server.kill();
  await waitFor(() => states.filter((s) => s === 'live').length === 2, { what: 'second live' });
  client.close();
  assert.deepEqual(states, ['closed', 'connecting', 'live', 'reconnecting', 'live', 'closed']);
});

test('the auth op is the first frame after open', async () => {
  const { server, client } = fixture({ token: async () => 'jwt-1' });
  client.subscribe('todos', () => {});
  await subscribed(server);
  assert.deepEqual(socket(server).received[0], { op: 'auth', token: 'jwt-1' });
  assert.equal(socket(server).received[1].op, 'subscribe');
  client.close();
});

test('reconnect resubscribes with since = the last delivered seq; nothing lost, nothing twice', async () => {
  const { server, client } = fixture();
  server.write('todos', 'created', 'a', { title: 'a' });
  const got = [];
  client.subscribe('todos', { since: '0-0' }, (ev) => got.push(ev.seq));
  await subscribed(server);
  await waitFor(() => got.length === 1, { what: 'replay of the first event' });
  server.write('todos', 'updated', 'a', { title: 'b' });
  await waitFor(() => got.length === 2, { what: 'live event' });
  const lastDelivered = got.at(-1);

  server.down = true;
  server.kill();
  const missed = [];
  for (let i = 0; i < 4; i++) missed.push(server.write('todos', 'updated', 'a', { title: `m${i}` }).seq);
  await new Promise((r) => setTimeout(r, 20)); // some failed attempts while it is down
  server.down = false;

  await waitFor(() => got.length === 6, { what: 'missed events' });
  const resub = socket(server).received.find((m) => m.op === 'subscribe');
  assert.deepEqual(resub, { op: 'subscribe', collection: 'todos', since: lastDelivered });
  assert.deepEqual(got.slice(2), missed);
  assert.equal(new Set(got).size, got.length, 'no seq delivered twice');
  client.close();
});

test('duplicates from an overlapping replay are dropped', async () => {
  const { server, client } = fixture();
  const e1 = server.write('todos', 'created', 'a', { title: 'a' });
  const got = [];
  client.subscribe('todos', { since: '0-0' }, (ev) => got.push(ev.seq));
  await subscribed(server);
  await waitFor(() => got.length === 1, { what: 'first event' });
  // The server (mis)sends the same event again, and an older one.
  socket(server)._deliver({ op: 'event', ...e1 });
  socket(server)._deliver({ op: 'event', ...e1, seq: '1-0' });
  const e2 = server.write('todos', 'updated', 'a', { title: 'b' });
  await waitFor(() => got.length === 2, { what: 'next event' });
  await tick();
  assert.deepEqual(got, [e1.seq, e2.seq]);
  client.close();
});

test('two local subscriptions of one collection share the server subscription, each gets each event once', async () => {
  const { server, client } = fixture();
  const a = [];
  const b = [];
  const offA = client.subscribe('todos', (ev) => a.push(ev.id));
  client.subscribe('todos', (ev) => b.push(ev.id));
  client.subscribe('todos', { id: 'x' }, (ev) => b.push(`doc:${ev.id}`));
  await subscribed(server, 2);
  await tick();
  server.write('todos', 'created', 'x', {});
  server.write('todos', 'created', 'y', {});
  await waitFor(() => a.length === 2 && b.length === 3, { what: 'events' });
  assert.deepEqual(a, ['x', 'y']);
  assert.deepEqual(b, ['x', 'doc:x', 'y']);
  offA();
  await tick();
  assert.ok(!socket(server).received.some((m) => m.op === 'unsubscribe'), 'the other one still needs it');
  client.close();
});

test('unsubscribing the last local subscription tells the server; no more events', async () => {
  const { server, client } = fixture();
  const got = [];
  const off = client.subscribe('todos', (ev) => got.push(ev.id));
  await subscribed(server);
  off();
  off(); // twice is harmless
  await waitFor(() => socket(server).subs.size === 0, { what: 'server-side unsubscribe' });
  server.write('todos', 'created', 'x', {});
  await tick();
  assert.deepEqual(got, []);
  assert.equal(socket(server).received.filter((m) => m.op === 'unsubscribe').length, 1);
  client.close();
});

test('reset reaches the application, and resume(seq) goes live from there', async () => {
  const { server, client } = fixture();
  for (let i = 0; i < 3; i++) server.write('todos', 'created', `d${i}`, {});
  server.trim('todos', 1);
  const got = [];
  const resets = [];
  client.subscribe('todos', { since: '998-8' }, (ev) => {
    if (ev.type === 'reset') { resets.push(ev); return; }
    got.push(ev.id);
  });
  await waitFor(() => resets.length === 1, { what: 'reset' });
  assert.equal(resets[0].collection, 'todos');
  assert.equal(got.length, 0);
  resets[0].resume(server.headSeq('todos'));
  await subscribed(server);
  server.write('todos', 'created', 'new', {});
  await waitFor(() => got.length === 1, { what: 'event after resume' });
  assert.deepEqual(got, ['new']);
  client.close();
});

test('a missing pong counts as a dead socket and triggers a reconnect', async () => {
  const { server, client } = fixture({ pingInterval: 10, pongTimeout: 20 });
  const states = [];
  client.onState((s) => states.push(s));
  client.subscribe('todos', () => {});
  await subscribed(server);
  await waitFor(() => socket(server).received.some((m) => m.op === 'ping'), { what: 'a ping' });
  const first = socket(server);
  server.silent = true; // the path dies: frames vanish
  await waitFor(() => states.includes('reconnecting'), { what: 'dead socket detected' });
  assert.equal(first.closedWith, 4000);
  server.silent = false;
  await waitFor(() => states.filter((s) => s === 'live').length === 2, { what: 'live again' });
  client.close();
});

test('pongs keep a healthy socket open', async () => {
  const { server, client } = fixture({ pingInterval: 5, pongTimeout: 1000 });
  client.subscribe('todos', () => {});
  await subscribed(server);
  await waitFor(() => socket(server).received.filter((m) => m.op === 'ping').length >= 5, { what: 'several pings' });
  assert.equal(server.connections, 1);
  assert.equal(client.state, 'live');
  client.close();
});

test('close() stops reconnecting', async () => {
  const { server, client } = fixture();
  client.subscribe('todos', () => {});
  await subscribed(server);
  client.close();
  assert.equal(client.state, 'closed');
  server.kill();
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(server.connections, 1);
});

test('server error frames reach onError and leave the connection up', async () => {
  const { server, client } = fixture();
  const errors = [];
  client.onError((e) => errors.push(e.code));
  client.subscribe('todos', () => {});
  await subscribed(server);
  socket(server)._deliver({ op: 'error', code: 'too_many_subscriptions', message: 'x' });
  assert.deepEqual(errors, ['too_many_subscriptions']);
  assert.equal(client.state, 'live');
  client.close();
});

/* -- tokens (SPEC 6) --------------------------------------------------------- */

test('the token is refreshed through token() before exp, on the same socket', async () => {
  let n = 0;
  const { server, client } = fixture({ token: async () => `jwt-${++n}`, refreshMargin: 30000 });
  // Every token lives 31 s: the refresh is due 1 s after each authenticated.
  server.auth = () => Math.floor(Date.now() / 1000) + 31;
  client.subscribe('todos', () => {});
  await subscribed(server);
  await waitFor(() => socket(server).received.filter((m) => m.op === 'auth').length === 2,
    { ms: 3000, what: 'a second auth op' });
  const auths = socket(server).received.filter((m) => m.op === 'auth');
  assert.deepEqual(auths.map((m) => m.token), ['jwt-1', 'jwt-2']);
  await waitFor(() => socket(server).token === 'jwt-2', { what: 'the server took the new token' });
  assert.equal(server.connections, 1, 'no reconnect');
  client.close();
});

test('open mode (exp null) schedules no refresh', async () => {
  let asked = 0;
  const { server, client } = fixture({ token: async () => { asked += 1; return 'jwt'; } });
  client.subscribe('todos', () => {});
  await subscribed(server);
  await new Promise((r) => setTimeout(r, 1200));
  assert.equal(asked, 1);
  assert.equal(client.timers.refresh, null);
  client.close();
});

test('after a 4001 the client reconnects at once with a fresh token and resumes with since, losing nothing', async () => {
  let n = 0;
  // A long backoff: only the immediate 4001 reconnect can pass the wait below.
  const { server, client } = fixture({ token: async () => `jwt-${++n}`, backoff: { base: 5000, cap: 5000 } });
  server.auth = () => Math.floor(Date.now() / 1000) + 3600;
  const got = [];
  client.subscribe('todos', { since: '0-0' }, (ev) => got.push(ev.seq));
  await subscribed(server);
  server.write('todos', 'created', 'a', { t: 1 });
  await waitFor(() => got.length === 1, { what: 'first event' });
  const last = got[0];
  server.kill(4001);
  const missed = server.write('todos', 'updated', 'a', { t: 2 }).seq;
  await waitFor(() => got.length === 2, { ms: 1000, what: 'the missed event, replayed' });
  const s = socket(server);
  assert.deepEqual(s.received[0], { op: 'auth', token: 'jwt-2' });
  assert.deepEqual(s.received[1], { op: 'subscribe', collection: 'todos', since: last });
  assert.deepEqual(got, [last, missed]);
  client.close();
});

test('a subscription the server ends after a refresh reaches onError as forbidden', async () => {
  const { server, client } = fixture();
  const errors = [];
  client.onError((e) => errors.push(e));
  client.subscribe('todos', () => {});
  await subscribed(server);
  socket(server)._deliver({ op: 'unsubscribed', collection: 'todos', reason: 'forbidden' });
  socket(server)._deliver({ op: 'error', code: 'forbidden', message: 'no', collection: 'notes', id: 'x' });
  assert.equal(errors.length, 2);
  assert.equal(errors[0].code, 'forbidden');
  assert.equal(errors[0].collection, 'todos');
  assert.deepEqual(errors[1], { code: 'forbidden', message: 'no', collection: 'notes', id: 'x' });
  client.close();
});

test('a throwing event handler does not stop delivery to the others', async (t) => {
  const { server, client } = fixture();
  const logged = t.mock.method(console, 'error', () => {});
  const got = [];
  client.subscribe('todos', () => { throw new Error('app bug'); });
  client.subscribe('todos', (ev) => got.push(ev.id));
  await subscribed(server);
  await tick();
  server.write('todos', 'created', 'x', {});
  await waitFor(() => got.length === 1, { what: 'delivery' });
  assert.equal(logged.mock.callCount(), 1);
  client.close();
});

test('the default ws URL follows baseUrl', () => {
  const c1 = createClient({ baseUrl: 'https://api.example.test/', fetch: () => {} });
  assert.equal(c1.wsUrl, 'wss://api.example.test/ws');
  const c2 = createClient({ baseUrl: 'http://127.0.0.1:8080', fetch: () => {} });
  assert.equal(c2.wsUrl, 'ws://127.0.0.1:8080/ws');
});

test('without baseUrl the ws URL follows the page location (wss on https)', () => {
  const saved = Object.getOwnPropertyDescriptor(globalThis, 'location');
  try {
    Object.defineProperty(globalThis, 'location', { value: { protocol: 'https:', host: 'board.example.test:8443' }, configurable: true });
    assert.equal(createClient({ fetch: () => {} }).wsUrl, 'wss://board.example.test:8443/ws');
    Object.defineProperty(globalThis, 'location', { value: { protocol: 'http:', host: 'localhost:8080' }, configurable: true });
    assert.equal(createClient({ fetch: () => {} }).wsUrl, 'ws://localhost:8080/ws');
  } finally {
    if (saved) Object.defineProperty(globalThis, 'location', saved); else delete globalThis.location;
  }
});

/* -- coalesce (SPEC 5) ------------------------------------------------------ */

test('book: coalesce goes on a subscribe only when every local subscription of the target asks', () => {
  const b = new SubscriptionBook();
  const s1 = b.add('todos', { coalesce: true });
  assert.deepEqual(b.subscribeMessage(s1), { op: 'subscribe', collection: 'todos', coalesce: true });
  const s2 = b.add('todos');
  assert.deepEqual(b.subscribeMessage(s2), { op: 'subscribe', collection: 'todos' }, 'a sharer wants every event');
  const v = b.add('todos', { where: { done: false }, coalesce: true });
  assert.deepEqual(b.subscribeMessage(v),
    { op: 'subscribe', collection: 'todos', sid: v.sid, where: { done: false }, coalesce: true }, 'a view is its own');
  assert.deepEqual(b.resubscribeMessages(), [
    { op: 'subscribe', collection: 'todos' },
    { op: 'subscribe', collection: 'todos', sid: v.sid, where: { done: false }, coalesce: true },
  ]);
  b.remove(s2.handle);
  assert.deepEqual(b.resubscribeMessages()[0], { op: 'subscribe', collection: 'todos', coalesce: true });
  assert.throws(() => b.add('todos', { coalesce: 'yes' }), TypeError);
});

test('subscribe and live pass coalesce to the server', async () => {
  const { server, client } = fixture();
  client.subscribe('todos', { coalesce: true }, () => {});
  await subscribed(server);
  assert.equal(socket(server).received.find((m) => m.op === 'subscribe').coalesce, true);
  const view = client.live('notes', { coalesce: true });
  assert.equal(view.coalesce, true);
  await waitFor(() => socket(server).received.some((m) => m.op === 'subscribe' && m.collection === 'notes'),
    { what: 'the view subscribes' });
  assert.equal(socket(server).received.find((m) => m.collection === 'notes').coalesce, true);
  view.close();
  client.close();
});

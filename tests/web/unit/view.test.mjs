// View merging: which events a live view applies, and the load race.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  shouldApply, applyEvent, coverSeqFor, stateFromPages, orderedDocs, createClient,
} from '../../../web/tandem.js';
import { FakeServer, waitFor } from './fakes.mjs';

const doc = (id, version, extra = {}) => ({ id, version, created_at: '2026-01-01T00:00:00.000Z', ...extra });
const ev = (type, id, version, seq, d) => ({ type, collection: 'c', id, version, seq, ...(d ? { doc: d } : {}) });

function state(pages) {
  return stateFromPages(pages);
}

test('an event after the read applies; one at or before the read is dropped', () => {
  const s = state([{ items: [doc('a', 2)], next: null, seq: '10-0' }]);
  assert.equal(applyEvent(s, ev('updated', 'a', 2, '9-0', doc('a', 2))), false);
  assert.equal(applyEvent(s, ev('updated', 'a', 2, '10-0', doc('a', 2))), false);
  assert.equal(applyEvent(s, ev('updated', 'a', 3, '10-1', doc('a', 3, { t: 'x' }))), true);
  assert.equal(s.entries.get('a').doc.t, 'x');
  assert.equal(s.entries.get('a').seq, '10-1');
});

test('seq compares numerically when deciding staleness', () => {
  const s = state([{ items: [doc('a', 1)], next: null, seq: '9-0' }]);
  assert.equal(applyEvent(s, ev('updated', 'a', 2, '10-0', doc('a', 2))), true, '"10-0" is after "9-0"');
});

test('a deletion leaves a tombstone; a late created of the old incarnation cannot resurrect it', () => {
  const s = state([{ items: [doc('a', 1)], next: null, seq: '1-0' }]);
  assert.equal(applyEvent(s, ev('deleted', 'a', 2, '2-0')), true);
  assert.equal(s.entries.get('a').doc, null);
  assert.equal(s.entries.get('a').version, 2);
  // replayed/late create with an older seq:
  assert.equal(applyEvent(s, ev('created', 'a', 1, '1-5', doc('a', 1))), false);
  assert.deepEqual(orderedDocs(s.entries), []);
});

test('a document re-created after a delete (version 1 again) does come back', () => {
  const s = state([{ items: [doc('a', 4)], next: null, seq: '1-0' }]);
  applyEvent(s, ev('deleted', 'a', 5, '2-0'));
  const again = doc('a', 1, { created_at: '2026-01-02T00:00:00.000Z', t: 'new' });
  assert.equal(applyEvent(s, ev('created', 'a', 1, '3-0', again)), true);
  assert.equal(s.entries.get('a').doc.t, 'new');
});

test('without a log position, the version rule decides (older and equal versions ignored)', () => {
  const s = state([{ items: [doc('a', 3)], next: null, seq: null }]);
  assert.equal(shouldApply(s.entries.get('a'), null, ev('updated', 'a', 2, null, doc('a', 2))), false);
  assert.equal(shouldApply(s.entries.get('a'), null, ev('updated', 'a', 3, null, doc('a', 3))), false);
  assert.equal(shouldApply(s.entries.get('a'), null, ev('updated', 'a', 4, null, doc('a', 4))), true);
  // a tombstone at version 5 blocks a late create of version 1 of the same incarnation
  applyEvent(s, ev('deleted', 'a', 5, null));
  assert.equal(applyEvent(s, ev('created', 'a', 1, null, doc('a', 1))), false);
  // but a newer incarnation (later created_at) wins
  assert.equal(applyEvent(s, ev('created', 'a', 1, null, doc('a', 1, { created_at: '2027-01-01T00:00:00.000Z' }))), true);
});

test('a local write result is applied, and its echo event is then ignored by version', () => {
  const s = state([{ items: [doc('a', 1, { t: 'old' })], next: null, seq: '5-0' }]);
  assert.equal(applyEvent(s, ev('updated', 'a', 2, null, doc('a', 2, { t: 'mine' })), { local: true }), true);
  assert.equal(s.entries.get('a').seq, '5-0', 'a local result keeps the known log position');
  // echo of our own write: newer seq, same version
  assert.equal(applyEvent(s, ev('updated', 'a', 2, '6-0', doc('a', 2, { t: 'mine' }))), false);
  // someone else's later write
  assert.equal(applyEvent(s, ev('updated', 'a', 3, '7-0', doc('a', 3, { t: 'theirs' }))), true);
  assert.equal(s.entries.get('a').local, false);
  assert.equal(s.entries.get('a').doc.t, 'theirs');
});

test('coverSeqFor picks the page whose id range holds the id', () => {
  const pages = [{ lastId: 'c', seq: '1-0' }, { lastId: 'f', seq: '2-0' }, { lastId: null, seq: '3-0' }];
  assert.equal(coverSeqFor(pages, 'a'), '1-0');
  assert.equal(coverSeqFor(pages, 'c'), '1-0');
  assert.equal(coverSeqFor(pages, 'd'), '2-0');
  assert.equal(coverSeqFor(pages, 'f'), '2-0');
  assert.equal(coverSeqFor(pages, 'g'), '3-0');
  assert.equal(coverSeqFor([], 'g'), null);
});

test('orderedDocs orders by id in byte order and leaves tombstones out', () => {
  const s = state([{ items: [doc('b', 1), doc('B', 1), doc('a', 1), doc('_x', 1)], next: null, seq: '1-0' }]);
  applyEvent(s, ev('deleted', 'a', 2, '2-0'));
  assert.deepEqual(orderedDocs(s.entries).map((d) => d.id), ['B', '_x', 'b']);
});

/* -- live() against the fake server ---------------------------------------- */

async function liveFixture(setup) {
  const server = new FakeServer();
  if (setup) setup(server);
  const client = createClient({ fetch: server.fetch, WebSocket: server.WebSocket, wsUrl: 'ws://fake/ws', backoff: { base: 1, cap: 4 } });
  return { server, client };
}

const titles = (view) => view.items.map((d) => `${d.id}:${d.title}`);
const serverTitles = (server, col) => [...server.col(col).docs.values()]
  .sort((a, b) => (a.id < b.id ? -1 : 1)).map((d) => `${d.id}:${d.title}`);

test('live() pages through the whole collection in id order', async () => {
  const { server, client } = await liveFixture((s) => {
    for (let i = 0; i < 25; i++) s.write('todos', 'created', `id${String(i).padStart(2, '0')}`, { title: `t${i}` });
  });
  const view = client.live('todos', { pageSize: 7 });
  await view.ready;
  assert.equal(server.listCalls, 4);
  assert.deepEqual(titles(view), serverTitles(server, 'todos'));
  assert.equal(view.get('id03').title, 't3');
  view.close();
  client.close();
});

test('live(): writes that land between pages are neither lost nor applied twice', async () => {
  const { server, client } = await liveFixture((s) => {
    for (const id of ['a', 'b', 'c', 'd', 'e', 'f']) s.write('todos', 'created', id, { title: id });
  });
  // Between page 1 (a,b) and page 2 (c,d): change a (already read), c (not yet read),
  // delete e and re-create it, and create g at the end.
  server.hooks.beforeListPage = (i) => {
    if (i !== 1) return;
    server.write('todos', 'updated', 'a', { title: 'a2' });
    server.write('todos', 'updated', 'c', { title: 'c2' });
    server.write('todos', 'deleted', 'e');
    server.write('todos', 'created', 'e', { title: 'e-again' });
    server.write('todos', 'created', 'g', { title: 'g' });
  };
  const view = client.live('todos', { pageSize: 2 });
  const changes = [];
  view.on('change', (items, change) => changes.push(change));
  await view.ready;
  await waitFor(() => titles(view).join() === serverTitles(server, 'todos').join(), { what: 'view to match server' });
  assert.deepEqual(titles(view), ['a:a2', 'b:b', 'c:c2', 'd:d', 'e:e-again', 'f:f', 'g:g']);
  // a's update was not reflected by page 1, so it arrived as an event; c's was
  // already in page 2 and its replayed event was dropped.
  const applied = changes.filter((c) => c.source === 'event').map((c) => `${c.event.type}:${c.event.id}`);
  assert.deepEqual(applied, ['updated:a']);

  server.write('todos', 'updated', 'b', { title: 'b2' });
  await waitFor(() => view.get('b').title === 'b2', { what: 'live update' });
  view.close();
  client.close();
});

test('live(): subscribe() store interface and change notifications', async () => {
  const { server, client } = await liveFixture();
  const view = client.live('todos');
  const seen = [];
  const off = view.subscribe((items) => seen.push(items.length));
  await view.ready;
  server.write('todos', 'created', 'x', { title: 'x' });
  await waitFor(() => seen.at(-1) === 1, { what: 'store update' });
  off();
  server.write('todos', 'created', 'y', { title: 'y' });
  await waitFor(() => view.items.length === 2, { what: 'second item' });
  assert.equal(seen.at(-1), 1, 'no calls after unsubscribe');
  assert.equal(seen[0], 0, 'called at once with the current items');
  view.close();
  client.close();
});

test('live(): a reset makes the view reload and resume from the new read', async () => {
  const { server, client } = await liveFixture((s) => {
    s.write('todos', 'created', 'a', { title: 'a' });
  });
  const view = client.live('todos');
  await view.ready;
  await waitFor(() => client.state === 'live' && server.sockets.size === 1, { what: 'socket' });
  await waitFor(() => [...server.sockets][0].subs.size === 1, { what: 'subscription' });
  let resets = 0;
  view.on('reset', () => { resets += 1; });

  server.kill();
  // While it is down, more happens than the log keeps.
  server.down = true;
  for (let i = 0; i < 5; i++) server.write('todos', 'updated', 'a', { title: `a${i}` });
  server.write('todos', 'created', 'b', { title: 'b' });
  server.trim('todos', 1);
  server.down = false;

  await waitFor(() => resets === 1, { what: 'reset' });
  await waitFor(() => titles(view).join() === 'a:a4,b:b', { what: 'reload' });
  // and it is live again from the reload's seq
  server.write('todos', 'updated', 'b', { title: 'b2' });
  await waitFor(() => view.get('b').title === 'b2', { what: 'event after resume' });
  view.close();
  client.close();
});

test('live(): apply() shows a local write at once and ignores its echo', async () => {
  const { server, client } = await liveFixture((s) => s.write('todos', 'created', 'a', { title: 'a' }));
  const view = client.live('todos');
  await view.ready;
  const sources = [];
  view.on('change', (items, c) => sources.push(c.source));
  const res = await client.collection('todos').update('a', { title: 'mine' });
  view.apply(res);
  assert.equal(view.get('a').title, 'mine');
  await waitFor(() => server.sockets.size === 1 && [...server.sockets][0].subs.size === 1, { what: 'subscription' });
  server.write('todos', 'updated', 'a', { title: 'later' });
  await waitFor(() => view.get('a').title === 'later', { what: 'next event' });
  assert.deepEqual(sources, ['local', 'event'], 'the echo of our own write caused no change');
  await client.collection('todos').remove('a');
  view.applyDeleted('a', 3);
  assert.equal(view.get('a'), undefined);
  view.close();
  client.close();
});

test('live(): a failing load reports the error and retries', async () => {
  const server = new FakeServer();
  let fail = 2;
  const flaky = (url, init) => (fail-- > 0 ? Promise.reject(new TypeError('down')) : server.fetch(url, init));
  const client = createClient({ fetch: flaky, WebSocket: server.WebSocket, wsUrl: 'ws://fake/ws', backoff: { base: 1, cap: 4 } });
  server.write('todos', 'created', 'a', { title: 'a' });
  const view = client.live('todos');
  const errors = [];
  view.on('error', (e) => errors.push(e.code));
  await view.ready;
  assert.deepEqual(errors, ['network', 'network']);
  assert.deepEqual(titles(view), ['a:a']);
  view.close();
  client.close();
});

// Filters (SPEC 8) in the browser client: matchesWhere, filtered lists and
// subscriptions, and a live view that keeps exactly the matching documents.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { matchesWhere, SubscriptionBook, createClient } from '../../../web/tandem.js';
import { FakeServer, waitFor } from './fakes.mjs';

test('matchesWhere: equality, null and absent, dotted paths', () => {
  const d = { n: 1, s: 'abc', z: null, a: { b: { c: 2 } }, arr: [1, 2], o: { x: 1, y: 2 } };
  assert.ok(matchesWhere({}, d));
  assert.ok(matchesWhere({ n: 1.0, s: 'abc' }, d));
  assert.ok(!matchesWhere({ n: 2 }, d));
  assert.ok(matchesWhere({ z: null, missing: null }, d));
  assert.ok(matchesWhere({ 'a.b.c': 2 }, d));
  assert.ok(matchesWhere({ 's.x': null }, d), 'a path through a string is absent');
  assert.ok(matchesWhere({ arr: [1, 2], o: { y: 2, x: 1 } }, d), 'deep equality, key order aside');
  assert.ok(!matchesWhere({ arr: [2, 1] }, d), 'arrays in order');
});

test('matchesWhere: every operator and $or', () => {
  const d = { n: 5, s: 'hello', z: null };
  assert.ok(matchesWhere({ n: { $gt: 4, $lte: 5 } }, d));
  assert.ok(!matchesWhere({ n: { $gt: '4' } }, d), 'a number never compares with a string');
  assert.ok(matchesWhere({ s: { $gte: 'hell', $lt: 'help' } }, d));
  assert.ok(matchesWhere({ n: { $in: [1, 5] }, s: { $nin: ['x'] } }, d));
  assert.ok(matchesWhere({ missing: { $nin: [1] }, n: { $ne: 4 } }, d));
  assert.ok(matchesWhere({ missing: { $ne: 1 }, z: { $exists: true } }, d));
  assert.ok(matchesWhere({ missing: { $exists: false }, z: { $eq: null } }, d));
  assert.ok(matchesWhere({ s: { $prefix: 'he' } }, d));
  assert.ok(!matchesWhere({ n: { $prefix: '5' } }, d));
  assert.ok(matchesWhere({ $or: [{ n: 1 }, { $or: [{ s: 'hello' }] }] }, d));
  assert.ok(!matchesWhere({ $or: [{ n: 1 }, { s: 'x' }] }, d));
  assert.ok(!matchesWhere({ n: { $near: 5 } }, d), 'an unknown operator never matches');
});

test('book: a filtered subscription has its own sid, stream, ack and reset', () => {
  const book = new SubscriptionBook();
  const plain = book.add('c', {});
  const open = book.add('c', { where: { done: false } });
  const done = book.add('c', { where: { done: true }, since: '5-0' });
  assert.equal(open.sid, `w${open.handle}`);
  assert.deepEqual(book.subscribeMessage(done), { op: 'subscribe', collection: 'c', sid: done.sid, where: { done: true }, since: '5-0' });
  assert.equal(book.resubscribeMessages().length, 3, 'filtered subscriptions are never shared');
  book.acked({ op: 'subscribed', collection: 'c', seq: '6-0' });
  assert.equal(plain.status, 'live');
  assert.equal(open.status, 'pending', 'a plain ack is not a filtered one');
  book.acked({ op: 'subscribed', collection: 'c', sid: open.sid, seq: '6-0' });
  assert.equal(open.status, 'live');
  assert.deepEqual(book.route({ collection: 'c', id: 'a', seq: '7-0', type: 'created' }), [plain]);
  assert.deepEqual(book.route({ collection: 'c', id: 'a', seq: '7-0', type: 'left', sid: open.sid }), [open]);
  assert.deepEqual(book.reset({ op: 'reset', collection: 'c', sid: done.sid }), [done]);
  assert.throws(() => book.add('c', { id: 'x', where: {} }), TypeError);
  assert.deepEqual(book.remove(open.handle), { op: 'unsubscribe', collection: 'c', sid: open.sid });
});

test('list sends where and fields; all() walks every page, short ones included', async () => {
  const server = new FakeServer();
  for (const id of ['a', 'b', 'c', 'd', 'e']) server.write('t', 'created', id, { done: id === 'b' || id === 'e' });
  const client = createClient({ fetch: server.fetch, WebSocket: server.WebSocket, wsUrl: 'ws://fake/ws', backoff: { base: 1, cap: 4 } });
  const col = client.collection('t');
  const page = await col.list({ where: { done: true }, fields: ['title', 'a.b'], limit: 1 });
  const url = new URL(server.requests.at(-1).url, 'http://x');
  assert.equal(url.searchParams.get('where'), '{"done":true}');
  assert.equal(url.searchParams.get('fields'), 'title,a.b');
  assert.deepEqual(page.items.map((d) => d.id), ['b']);
  const ids = [];
  for await (const d of col.all({ where: { done: true }, pageSize: 1 })) ids.push(d.id);
  assert.deepEqual(ids, ['b', 'e']);
  const every = [];
  for await (const d of col) every.push(d.id);
  assert.deepEqual(every, ['a', 'b', 'c', 'd', 'e']);
});

test('live(col, { where }) keeps exactly the matching documents as they enter and leave', async () => {
  const server = new FakeServer();
  server.write('t', 'created', 'a', { done: false });
  server.write('t', 'created', 'b', { done: true });
  const client = createClient({ fetch: server.fetch, WebSocket: server.WebSocket, wsUrl: 'ws://fake/ws', backoff: { base: 1, cap: 4 } });
  const view = client.live('t', { where: { done: false } });
  await view.ready;
  const ids = () => view.items.map((d) => d.id).join(',');
  assert.equal(ids(), 'a');
  await waitFor(() => [...server.sockets].some((s) => s.views.size), { what: 'the filtered subscription' });
  server.write('t', 'updated', 'a', { done: true });
  await waitFor(() => ids() === '', { what: 'a left' });
  server.write('t', 'updated', 'b', { done: false });
  await waitFor(() => ids() === 'b', { what: 'b entered' });
  server.write('t', 'created', 'c', { done: false });
  server.write('t', 'created', 'd', { done: true });
  await waitFor(() => ids() === 'b,c', { what: 'c created' });
  // A reconnect resumes with since: what changed meanwhile still moves the view.
  server.kill();
  server.write('t', 'updated', 'c', { done: true });
  server.write('t', 'updated', 'a', { done: false });
  await waitFor(() => ids() === 'a,b', { what: 'changes while down', ms: 5000 });
  server.write('t', 'deleted', 'b');
  await waitFor(() => ids() === 'a', { what: 'b deleted' });
  assert.equal(view.get('a').done, false);
  view.close();
  client.close();
});

test('a filtered view applies a write result that no longer matches by taking it out', async () => {
  const server = new FakeServer();
  server.write('t', 'created', 'a', { done: false });
  const client = createClient({ fetch: server.fetch, WebSocket: server.WebSocket, wsUrl: 'ws://fake/ws', backoff: { base: 1, cap: 4 } });
  const view = client.live('t', { where: { done: false } });
  await view.ready;
  const updated = await client.collection('t').update('a', { done: true });
  view.apply(updated);
  assert.deepEqual(view.items, []);
  view.close();
  client.close();
});

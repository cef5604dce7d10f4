// Error mapping and the REST request shapes (headers, query, bodies).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createClient, errorFromResponse, TandemError, metaOf } from '../../../web/tandem.js';
import { FakeServer } from './fakes.mjs';

test('SPEC error objects become TandemError with code, status and message', () => {
  const e = errorFromResponse(400, '{"error":{"status":400,"code":"invalid_json","message":"bad json at 3"}}');
  assert.ok(e instanceof TandemError);
  assert.ok(e instanceof Error);
  assert.equal(e.name, 'TandemError');
  assert.equal(e.code, 'invalid_json');
  assert.equal(e.status, 400);
  assert.equal(e.message, 'bad json at 3');
  assert.equal(e.currentVersion, null);
});

test('version_conflict carries currentVersion', () => {
  const e = errorFromResponse(412, '{"error":{"status":412,"code":"version_conflict","message":"x","current_version":7}}');
  assert.equal(e.code, 'version_conflict');
  assert.equal(e.currentVersion, 7);
});

test('store_unavailable exposes Retry-After', () => {
  const e = errorFromResponse(503, '{"error":{"status":503,"code":"store_unavailable","message":"x"}}',
    new Headers({ 'Retry-After': '2' }));
  assert.equal(e.code, 'store_unavailable');
  assert.equal(e.retryAfter, 2);
});

test('answers without a SPEC error object get a code from the status', () => {
  assert.equal(errorFromResponse(404, '<html>nope</html>').code, 'not_found');
  assert.equal(errorFromResponse(502, '').code, 'internal');
  assert.equal(errorFromResponse(418, 'tea').code, 'http_error');
  assert.equal(errorFromResponse(413, '').code, 'too_large');
  assert.equal(errorFromResponse(429, '').code, 'rate_limited');
  assert.equal(errorFromResponse(412, '').code, 'version_conflict');
  assert.equal(errorFromResponse(412, '', undefined, { preconditionCode: 'already_exists' }).code, 'already_exists');
});

test('409 is not already_exists: the server answers 412 for both preconditions', () => {
  // Tandem never sends 409 (shared/tnd_error.c); a 409 from elsewhere is not ours to name.
  assert.equal(errorFromResponse(409, '').code, 'http_error');
  const e = errorFromResponse(412, '{"error":{"status":412,"code":"already_exists","message":"x","current_version":3}}');
  assert.equal(e.code, 'already_exists');
  assert.equal(e.status, 412);
  assert.equal(e.currentVersion, 3);
});

test('a create-only replace of an existing document rejects with 412 already_exists', async () => {
  const s = new FakeServer();
  const client = createClient({ fetch: s.fetch });
  const todos = client.collection('todos');
  await todos.replace('milk', { title: 'Buy milk' }, { createOnly: true });
  await assert.rejects(todos.replace('milk', { title: 'Buy oat milk' }, { createOnly: true }), (err) => {
    assert.equal(err.code, 'already_exists');
    assert.equal(err.status, 412);
    assert.equal(err.currentVersion, 1);
    return true;
  });
  // The same when a proxy strips the error body: the request tells the two 412s apart.
  s.hooks.bareErrors = true;
  await assert.rejects(todos.replace('milk', { title: 'x' }, { createOnly: true }),
    { code: 'already_exists', status: 412 });
  await assert.rejects(todos.replace('milk', { title: 'x' }, { ifVersion: 7 }),
    { code: 'version_conflict', status: 412 });
});

test('a fetch that rejects becomes TandemError code network', async () => {
  const client = createClient({ fetch: async () => { throw new TypeError('Failed to fetch'); } });
  await assert.rejects(client.collection('todos').get('a'), (err) => {
    assert.ok(err instanceof TandemError);
    assert.equal(err.code, 'network');
    assert.equal(err.status, 0);
    assert.ok(err.cause instanceof TypeError);
    return true;
  });
});

test('a 412 from update surfaces version_conflict and the current version', async () => {
  const s = new FakeServer();
  const client = createClient({ fetch: s.fetch });
  const todos = client.collection('todos');
  const doc = await todos.create({ title: 'a' });
  await todos.update(doc.id, { title: 'b' });
  await assert.rejects(todos.update(doc.id, { title: 'c' }, { ifVersion: 1 }), (err) => {
    assert.equal(err.code, 'version_conflict');
    assert.equal(err.status, 412);
    assert.equal(err.currentVersion, 2);
    return true;
  });
});

test('requests carry the documented headers, paths and bodies', async () => {
  const s = new FakeServer();
  const client = createClient({ baseUrl: 'http://api.test/', fetch: s.fetch, token: () => 'tok123' });
  const todos = client.collection('todos');
  const doc = await todos.create({ title: 'x' });
  assert.equal(doc.version, 1);
  assert.equal(metaOf(doc).status, 201);
  assert.equal(metaOf(doc).etag, '"1"');

  await todos.update(doc.id, { done: true }, { ifVersion: 1 });
  await todos.replace(doc.id, { title: 'y' }, { ifVersion: 2 });
  await todos.replace('my-id', { title: 'z' }, { createOnly: true });
  await todos.remove(doc.id, { ifVersion: 3 });
  const page = await todos.list({ limit: 5, after: 'a b' });

  const [post, patch, put, put2, del, list] = s.requests;
  assert.equal(post.method, 'POST');
  assert.equal(post.url, '/api/v1/todos');
  assert.equal(post.headers.get('Content-Type'), 'application/json');
  assert.equal(post.headers.get('Authorization'), 'Bearer tok123');
  assert.deepEqual(JSON.parse(post.body), { title: 'x' });

  assert.equal(patch.method, 'PATCH');
  assert.equal(patch.url, `/api/v1/todos/${doc.id}`);
  assert.equal(patch.headers.get('Content-Type'), 'application/merge-patch+json');
  assert.equal(patch.headers.get('If-Match'), '"1"');

  assert.equal(put.method, 'PUT');
  assert.equal(put.headers.get('If-Match'), '"2"');
  assert.equal(put2.headers.get('If-None-Match'), '*');
  assert.equal(put2.headers.get('If-Match'), null);

  assert.equal(del.method, 'DELETE');
  assert.equal(del.headers.get('If-Match'), '"3"');
  assert.equal(del.body, undefined);

  assert.equal(list.url, '/api/v1/todos?limit=5&after=a+b');
  assert.deepEqual(page.items.map((d) => d.id), ['my-id']); // 'my-id' sorts after 'a b'
  assert.equal(page.next, null);
  assert.match(page.seq, /^\d+-\d+$/);
});

test('metaOf gives exactly status, etag, seq and location, on documents and list pages', async () => {
  const s = new FakeServer();
  const client = createClient({ fetch: s.fetch });
  const todos = client.collection('todos');
  const doc = await todos.create({ title: 'x' });
  assert.deepEqual(Object.keys(metaOf(doc)).sort(), ['etag', 'location', 'seq', 'status']);
  assert.equal(metaOf(doc).location, `/api/v1/todos/${doc.id}`);
  const page = await todos.list();
  assert.deepEqual(metaOf(page), { status: 200, etag: null, seq: page.seq, location: null });
  assert.equal(metaOf(page.items[0]), undefined, 'documents inside a page have none');
  assert.equal(metaOf({ ...doc }), undefined, 'a copy has none');
  assert.equal(metaOf(null), undefined);
});

test('no token means no Authorization header', async () => {
  const s = new FakeServer();
  const client = createClient({ fetch: s.fetch });
  await client.collection('todos').list();
  assert.equal(s.requests[0].headers.get('Authorization'), null);
});

test('ids and collection names are URL-encoded', async () => {
  const s = new FakeServer();
  const client = createClient({ fetch: s.fetch });
  await assert.rejects(client.collection('todos').get('a/b?c'), { code: 'not_found' });
  assert.equal(s.requests[0].url, '/api/v1/todos/a%2Fb%3Fc');
});

test('get exposes the read\'s Tandem-Seq through metaOf', async () => {
  const s = new FakeServer();
  const client = createClient({ fetch: s.fetch });
  const todos = client.collection('todos');
  const doc = await todos.create({ title: 'x' });
  const got = await todos.get(doc.id);
  assert.deepEqual(got, doc);
  assert.equal(metaOf(got).seq, s.headSeq('todos'));
  assert.equal(metaOf(got).etag, '"1"');
});

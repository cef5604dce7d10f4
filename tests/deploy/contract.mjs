// Live-server contract test: drives a running stack (scripts/run-stack.sh,
// started by tests/deploy/contract.sh with TANDEM_ALLOWED_ORIGINS and a
// small TANDEM_MAX_BODY) through every operation of docs/openapi.yaml and
// every status it declares, and checks each answer against the document:
// the status is declared for that operation; the headers ETag, Location,
// Tandem-Seq, Retry-After, Allow are there when declared (and match their
// schema) and absent when not; the body has a declared media type and
// validates against the declared JSON Schema (Ajv, draft 2020-12), or is
// empty when none is declared. At the end, every (operation, status) pair
// the document declares must have been seen, except 500 and 504 (no
// request makes a correct server answer them).
//
// Environment: TANDEM_BASE_URL (http://127.0.0.1:PORT), TANDEM_RUN_DIR.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, Tally, rawRequest, request, requireTool, sleep } from './lib.mjs';

const YAML = requireTool('yaml');
const Ajv2020 = requireTool('ajv/dist/2020').default;
const addFormats = requireTool('ajv-formats').default;

const BASE = process.env.TANDEM_BASE_URL;
const RUN_DIR = process.env.TANDEM_RUN_DIR;
if (!BASE || !RUN_DIR) {
	console.error('contract.mjs: TANDEM_BASE_URL and TANDEM_RUN_DIR must be set');
	process.exit(2);
}
const PREFIX = '/api/v1';
const GOOD_ORIGIN = 'http://allowed.example';
const EVIL_ORIGIN = 'http://evil.example';
const MAX_BODY = Number(process.env.TANDEM_MAX_BODY || 4096);

const DOC_PATH = process.env.TANDEM_OPENAPI || path.join(ROOT, 'docs/openapi.yaml');
const doc = YAML.parse(fs.readFileSync(DOC_PATH, 'utf8'));
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);

// --- the document ------------------------------------------------------------
const derefCache = new Map();
function deref(node) {
	if (Array.isArray(node)) return node.map(deref);
	if (!node || typeof node !== 'object') return node;
	if (typeof node.$ref === 'string') {
		const ref = node.$ref;
		if (!derefCache.has(ref)) {
			if (!ref.startsWith('#/')) throw new Error(`external $ref not supported: ${ref}`);
			let target = doc;
			for (const part of ref.slice(2).split('/')) {
				target = target?.[part.replace(/~1/g, '/').replace(/~0/g, '~')];
			}
			if (target === undefined) throw new Error(`dangling $ref ${ref}`);
			derefCache.set(ref, null); // cycle guard
			derefCache.set(ref, deref(target));
		}
		const hit = derefCache.get(ref);
		if (hit === null) throw new Error(`cyclic $ref ${ref}`);
		return hit;
	}
	const out = {};
	for (const [k, v] of Object.entries(node)) out[k] = deref(v);
	return out;
}

const METHODS = ['get', 'head', 'post', 'put', 'patch', 'delete', 'options', 'trace'];
const pathItems = Object.entries(doc.paths).map(([tpl, item]) => {
	const re = new RegExp(
		'^' + tpl.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+') + '$',
	);
	return { tpl, re, item: deref(item), literal: !tpl.includes('{') };
});
// Concrete paths before templated ones, as OpenAPI says.
pathItems.sort((a, b) => Number(b.literal) - Number(a.literal));
const unmatched = deref(doc['x-tandem-unmatched-responses']);

/* What the document says about METHOD urlPath: {opId, responses, allow}. */
function lookup(method, urlPath) {
	const p = new URL(urlPath, BASE).pathname;
	if (!p.startsWith(PREFIX + '/')) throw new Error(`not an API path: ${p}`);
	const rel = p.slice(PREFIX.length);
	const hit = pathItems.find((pi) => pi.re.test(rel));
	if (!hit) return { opId: 'unmatched-path', responses: { 404: unmatched['404'] } };
	const allow = METHODS.filter((m) => hit.item[m]).map((m) => m.toUpperCase());
	const op = hit.item[method.toLowerCase()];
	if (!op) return { opId: `unmatched-method ${hit.tpl}`, responses: { 405: unmatched['405'] }, allow };
	return { opId: op.operationId, responses: op.responses, allow };
}

// --- checking one answer ---------------------------------------------------------
const t = new Tally('contract');
const seen = new Set(); // "opId status"
const TRACKED = ['etag', 'location', 'tandem-seq', 'retry-after', 'allow'];
const validators = new Map();
function validatorFor(schema) {
	if (!validators.has(schema)) validators.set(schema, ajv.compile(schema));
	return validators.get(schema);
}

function headerValue(schema, raw) {
	if (schema && (schema.type === 'integer' || schema.type === 'number') && /^-?[0-9]+(\.[0-9]+)?$/.test(raw))
		return Number(raw);
	return raw;
}

/*
 * Sends the request and checks the answer against the document.
 * want: {status, code (error code), check(res, json) extra assertions}.
 */
async function call(label, method, urlPath, opts = {}, want = {}) {
	let res;
	try {
		res = opts.raw ? await rawRequest(BASE, opts.raw) : await request(BASE, method, urlPath, opts);
	} catch (e) {
		t.ok(false, label, `request failed: ${e.message}`);
		return null;
	}
	checkAnswer(label, method, urlPath, res, want);
	return res;
}

function checkAnswer(label, method, urlPath, res, want) {
	const where = `${label} (${method} ${urlPath.length > 80 ? urlPath.slice(0, 80) + '…' : urlPath} -> ${res.status})`;
	const spec = lookup(method, urlPath);
	const detail = res.body ? res.body.slice(0, 200) : '';
	if (want.status !== undefined) t.ok(res.status === want.status, `${where}: status, want ${want.status}`, detail);
	const def = spec.responses[String(res.status)];
	if (!t.ok(def !== undefined, `${where}: status ${res.status} is declared for ${spec.opId}`, detail)) return;
	seen.add(`${spec.opId} ${res.status}`);

	// Headers: required ones present and well-formed; tracked ones not undeclared.
	const declared = {};
	for (const [name, h] of Object.entries(def.headers || {})) declared[name.toLowerCase()] = h;
	for (const [name, h] of Object.entries(declared)) {
		const raw = res.headers[name];
		if (raw === undefined) {
			t.ok(!h.required, `${where}: header ${name} is required`);
			continue;
		}
		if (h.schema) {
			const v = validatorFor(h.schema);
			t.ok(v(headerValue(h.schema, raw)), `${where}: header ${name}: ${JSON.stringify(raw)}`, ajv.errorsText(v.errors));
		}
	}
	for (const name of TRACKED) {
		if (res.headers[name] !== undefined)
			t.ok(name in declared, `${where}: header ${name} is sent but not declared for ${spec.opId} ${res.status}`);
	}
	if (spec.allow && res.headers.allow !== undefined && (res.status === 405 || method === 'OPTIONS')) {
		const got = res.headers.allow.split(',').map((s) => s.trim()).sort().join(', ');
		t.ok(got === [...spec.allow].sort().join(', '), `${where}: Allow lists the document's methods`,
			`sent ${res.headers.allow}, document has ${spec.allow.join(', ')}`);
	}

	// Body.
	let json;
	if (def.content) {
		const ct = (res.headers['content-type'] || '').split(';')[0].trim().toLowerCase();
		const media = def.content[ct];
		if (t.ok(media !== undefined, `${where}: Content-Type ${ct || '(none)'} is declared`, Object.keys(def.content).join(', '))) {
			try {
				json = JSON.parse(res.body);
			} catch {
				t.ok(false, `${where}: body is JSON`, detail);
			}
			if (json !== undefined && media.schema) {
				const v = validatorFor(media.schema);
				t.ok(v(json), `${where}: body matches the schema`, `${ajv.errorsText(v.errors)}; body ${detail}`);
			}
		}
	} else {
		t.ok(res.body.length === 0, `${where}: no body declared, none sent`, detail);
	}
	if (want.code !== undefined) t.ok(json?.error?.code === want.code, `${where}: error code ${want.code}`, detail);
	if (want.check) {
		try {
			want.check(res, json);
		} catch (e) {
			t.ok(false, `${where}: ${e.message}`);
		}
	}
}

function expect(cond, what) {
	if (!cond) throw new Error(what);
}

// --- the requests ----------------------------------------------------------------
const JSON_CT = { 'Content-Type': 'application/json' };
const json = (o) => JSON.stringify(o);
const evil = { Origin: EVIL_ORIGIN };
const big = 'x'.repeat(MAX_BODY + 100);

async function healthAndSystem() {
	await call('health', 'GET', `${PREFIX}/_health`, {}, {
		status: 200, check: (r, j) => expect(j.status === 'ok', 'status ok'),
	});
	await call('health head', 'HEAD', `${PREFIX}/_health`, {}, { status: 200 });
	await call('health options', 'OPTIONS', `${PREFIX}/_health`, {}, { status: 204 });
	await call('health preflight', 'OPTIONS', `${PREFIX}/_health`, {
		headers: { Origin: GOOD_ORIGIN, 'Access-Control-Request-Method': 'GET' },
	}, {
		status: 204,
		check: (r) => {
			expect(r.headers['access-control-allow-origin'] === GOOD_ORIGIN, 'Access-Control-Allow-Origin');
			expect(/GET/.test(r.headers['access-control-allow-methods'] || ''), 'Access-Control-Allow-Methods');
		},
	});
	await call('health from a foreign origin', 'GET', `${PREFIX}/_health`, { headers: evil }, { status: 403, code: 'forbidden' });
	await call('health head from a foreign origin', 'HEAD', `${PREFIX}/_health`, { headers: evil }, { status: 403 });
	await call('health preflight from a foreign origin', 'OPTIONS', `${PREFIX}/_health`, {
		headers: { Origin: EVIL_ORIGIN, 'Access-Control-Request-Method': 'GET' },
	}, { status: 403, code: 'forbidden' });
	await call('health PUT', 'PUT', `${PREFIX}/_health`, { headers: JSON_CT, body: '{}' }, { status: 405, code: 'method_not_allowed' });
	await call('unknown endpoint', 'GET', `${PREFIX}/todos/a/b`, {}, { status: 404, code: 'not_found' });
	await call('URI too long (nginx)', 'GET', `${PREFIX}/todos?pad=${'x'.repeat(20000)}`, {}, { status: 414, code: 'invalid_query' });
	await call('%00 in the path (nginx)', 'GET', `${PREFIX}/todos/%00`, {
		raw: `GET ${PREFIX}/todos/%00 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`,
	}, { status: 400, code: 'invalid_query' });
}

async function collection() {
	const c = `${PREFIX}/todos`;
	await call('empty list', 'GET', c, {}, {
		status: 200,
		check: (r, j) => {
			expect(j.items.length === 0 && j.next === null, 'empty list, next null');
			expect(r.headers['tandem-seq'] === '0-0', 'Tandem-Seq 0-0 for an empty log');
		},
	});
	let created;
	const res = await call('create', 'POST', c, { headers: JSON_CT, body: json({ title: 'a', id: 'ignored' }) }, {
		status: 201,
		check: (r, j) => {
			expect(j.version === 1 && j.title === 'a' && /^[0-9A-HJKMNP-TV-Z]{26}$/.test(j.id), 'a ULID, version 1');
			expect(r.headers.location === `${c}/${j.id}`, 'Location names the document');
			expect(r.headers.etag === '"1"', 'ETag "1"');
		},
	});
	if (res) created = JSON.parse(res.body);
	for (const title of ['b', 'c']) await call('create more', 'POST', c, { headers: { 'Content-Type': 'application/json; charset=utf-8' }, body: json({ title }) }, { status: 201 });
	let next;
	const page = await call('list page 1', 'GET', `${c}?limit=2`, {}, {
		status: 200, check: (r, j) => expect(j.items.length === 2 && typeof j.next === 'string', '2 items and a cursor'),
	});
	if (page) next = JSON.parse(page.body).next;
	await call('list page 2', 'GET', `${c}?limit=2&after=${next}`, {}, {
		status: 200, check: (r, j) => expect(j.items.length === 1 && j.next === null, 'the last item, next null'),
	});
	await call('list head', 'HEAD', `${c}?limit=2`, {}, { status: 200 });
	if (created) await call('read the created document', 'GET', `${c}/${created.id}`, {}, { status: 200 });

	await call('list limit 0', 'GET', `${c}?limit=0`, {}, { status: 400, code: 'invalid_query' });
	await call('list repeated limit', 'GET', `${c}?limit=1&limit=2`, {}, { status: 400, code: 'invalid_query' });
	await call('list bad name', 'GET', `${PREFIX}/Todos`, {}, { status: 400, code: 'invalid_name' });
	await call('list head bad query', 'HEAD', `${c}?limit=5000`, {}, { status: 400 });
	await call('list foreign origin', 'GET', c, { headers: evil }, { status: 403, code: 'forbidden' });
	await call('list head foreign origin', 'HEAD', c, { headers: evil }, { status: 403 });

	await call('create invalid JSON', 'POST', c, { headers: JSON_CT, body: "{'a':1}" }, { status: 400, code: 'invalid_json' });
	await call('create not an object', 'POST', c, { headers: JSON_CT, body: '[1]' }, { status: 400, code: 'invalid_body' });
	await call('create bad name', 'POST', `${PREFIX}/_x`, { headers: JSON_CT, body: '{}' }, { status: 400, code: 'invalid_name' });
	await call('create text/plain', 'POST', c, { headers: { 'Content-Type': 'text/plain' }, body: '{}' }, { status: 415, code: 'unsupported_media_type' });
	await call('create too large (Content-Length)', 'POST', c, { headers: JSON_CT, body: json({ big }) }, { status: 413, code: 'too_large' });
	await call('create too large (chunked)', 'POST', c, {
		headers: JSON_CT, body: { chunks: [json({ big }).slice(0, 100), json({ big }).slice(100)] },
	}, { status: 413, code: 'too_large' });
	await call('create foreign origin', 'POST', c, { headers: { ...JSON_CT, ...evil }, body: '{}' }, { status: 403, code: 'forbidden' });

	await call('collection options', 'OPTIONS', c, {}, { status: 204 });
	await call('collection options bad name', 'OPTIONS', `${PREFIX}/Todos`, {}, { status: 400, code: 'invalid_name' });
	await call('collection preflight foreign origin', 'OPTIONS', c, {
		headers: { Origin: EVIL_ORIGIN, 'Access-Control-Request-Method': 'POST' },
	}, { status: 403, code: 'forbidden' });
	await call('collection DELETE', 'DELETE', c, {}, { status: 405, code: 'method_not_allowed' });
	await call('collection PATCH', 'PATCH', c, { headers: JSON_CT, body: '{}' }, { status: 405, code: 'method_not_allowed' });
}

async function document() {
	const d = `${PREFIX}/todos/milk`;
	await call('put creates', 'PUT', d, { headers: JSON_CT, body: json({ id: 'milk', title: 'Buy milk' }) }, {
		status: 201, check: (r, j) => expect(r.headers.location === d && j.id === 'milk' && j.version === 1, 'Location, version 1'),
	});
	await call('put replaces', 'PUT', d, { headers: JSON_CT, body: json({ title: 'Buy milk', done: false }) }, {
		status: 200, check: (r, j) => expect(j.version === 2 && r.headers.etag === '"2"', 'version 2'),
	});
	await call('put create-only on an existing doc', 'PUT', d, {
		headers: { ...JSON_CT, 'If-None-Match': '*' }, body: '{}',
	}, { status: 412, code: 'already_exists' });
	await call('put with a stale If-Match', 'PUT', d, { headers: { ...JSON_CT, 'If-Match': '"1"' }, body: '{}' }, {
		status: 412, code: 'version_conflict', check: (r, j) => expect(j.error.current_version === 2, 'current_version 2'),
	});
	await call('put If-Match on a missing doc', 'PUT', `${PREFIX}/todos/nope`, { headers: { ...JSON_CT, 'If-Match': '"1"' }, body: '{}' }, {
		status: 412, code: 'version_conflict',
	});
	await call('put invalid JSON', 'PUT', d, { headers: JSON_CT, body: '{"a":NaN}' }, { status: 400, code: 'invalid_json' });
	await call('put not an object', 'PUT', d, { headers: JSON_CT, body: '"s"' }, { status: 400, code: 'invalid_body' });
	await call('put id mismatch', 'PUT', d, { headers: JSON_CT, body: json({ id: null }) }, { status: 400, code: 'id_mismatch' });
	await call('put bad id', 'PUT', `${PREFIX}/todos/bad.id`, { headers: JSON_CT, body: '{}' }, { status: 400, code: 'invalid_id' });
	await call('put text/plain', 'PUT', d, { headers: { 'Content-Type': 'text/plain' }, body: '{}' }, { status: 415, code: 'unsupported_media_type' });
	await call('put too large', 'PUT', d, { headers: JSON_CT, body: json({ big }) }, { status: 413, code: 'too_large' });
	await call('put foreign origin', 'PUT', d, { headers: { ...JSON_CT, ...evil }, body: '{}' }, { status: 403, code: 'forbidden' });

	await call('get', 'GET', d, {}, {
		status: 200, check: (r, j) => expect(r.headers.etag === '"2"' && j.done === false, 'ETag "2", the body'),
	});
	await call('get not modified', 'GET', d, { headers: { 'If-None-Match': '"2"' } }, {
		status: 304, check: (r) => expect(r.headers.etag === '"2"', 'ETag on 304'),
	});
	await call('get weak not modified', 'GET', d, { headers: { 'If-None-Match': 'W/"2"' } }, { status: 304 });
	await call('get missing', 'GET', `${PREFIX}/todos/nope`, {}, { status: 404, code: 'not_found' });
	await call('get bad id', 'GET', `${PREFIX}/todos/bad.id`, {}, { status: 400, code: 'invalid_id' });
	await call('get foreign origin', 'GET', d, { headers: evil }, { status: 403, code: 'forbidden' });
	await call('head', 'HEAD', d, {}, { status: 200 });
	await call('head not modified', 'HEAD', d, { headers: { 'If-None-Match': '"2"' } }, { status: 304 });
	await call('head missing', 'HEAD', `${PREFIX}/todos/nope`, {}, { status: 404 });
	await call('head bad id', 'HEAD', `${PREFIX}/todos/bad.id`, {}, { status: 400 });
	await call('head foreign origin', 'HEAD', d, { headers: evil }, { status: 403 });

	await call('patch merge-patch+json', 'PATCH', d, {
		headers: { 'Content-Type': 'application/merge-patch+json', 'If-Match': '"2"' }, body: json({ done: true, title: null }),
	}, { status: 200, check: (r, j) => expect(j.version === 3 && j.done === true && !('title' in j), 'merged') });
	await call('patch empty (application/json)', 'PATCH', d, { headers: JSON_CT, body: '{}' }, {
		status: 200, check: (r, j) => expect(j.version === 4, 'an empty patch is a write'),
	});
	await call('patch stale If-Match', 'PATCH', d, { headers: { ...JSON_CT, 'If-Match': '"1"' }, body: '{}' }, {
		status: 412, code: 'version_conflict', check: (r, j) => expect(j.error.current_version === 4, 'current_version 4'),
	});
	await call('patch missing', 'PATCH', `${PREFIX}/todos/nope`, { headers: { ...JSON_CT, 'If-Match': '"1"' }, body: '{}' }, { status: 404, code: 'not_found' });
	await call('patch invalid JSON', 'PATCH', d, { headers: JSON_CT, body: '{"a":}' }, { status: 400, code: 'invalid_json' });
	await call('patch text/plain', 'PATCH', d, { headers: { 'Content-Type': 'text/plain' }, body: '{}' }, { status: 415, code: 'unsupported_media_type' });
	const half = 'y'.repeat(Math.floor(MAX_BODY * 0.7));
	await call('put a large doc', 'PUT', `${PREFIX}/todos/large`, { headers: JSON_CT, body: json({ a: half }) }, { status: 201 });
	await call('patch whose result is too large', 'PATCH', `${PREFIX}/todos/large`, { headers: JSON_CT, body: json({ b: half }) }, { status: 413, code: 'too_large' });
	await call('patch foreign origin', 'PATCH', d, { headers: { ...JSON_CT, ...evil }, body: '{}' }, { status: 403, code: 'forbidden' });

	await call('document options', 'OPTIONS', d, {}, { status: 204 });
	await call('document options bad id', 'OPTIONS', `${PREFIX}/todos/bad.id`, {}, { status: 400, code: 'invalid_id' });
	await call('document preflight foreign origin', 'OPTIONS', d, {
		headers: { Origin: EVIL_ORIGIN, 'Access-Control-Request-Method': 'PUT' },
	}, { status: 403, code: 'forbidden' });
	await call('document POST', 'POST', d, { headers: JSON_CT, body: '{}' }, { status: 405, code: 'method_not_allowed' });

	await call('delete stale If-Match', 'DELETE', d, { headers: { 'If-Match': '"1"' } }, { status: 412, code: 'version_conflict' });
	await call('delete bad id', 'DELETE', `${PREFIX}/todos/bad.id`, {}, { status: 400, code: 'invalid_id' });
	await call('delete foreign origin', 'DELETE', d, { headers: evil }, { status: 403, code: 'forbidden' });
	await call('delete', 'DELETE', d, { headers: { 'If-Match': '"4"' } }, { status: 204 });
	await call('delete again', 'DELETE', d, {}, { status: 404, code: 'not_found' });
	await call('recreate starts at 1', 'PUT', d, { headers: JSON_CT, body: '{}' }, {
		status: 201, check: (r, j) => expect(j.version === 1, 'version 1'),
	});
}

function redisPing() {
	try {
		return execFileSync('redis-cli', ['-s', path.join(RUN_DIR, 'redis.sock'), 'ping'], { stdio: ['ignore', 'pipe', 'ignore'] })
			.toString().trim() === 'PONG';
	} catch {
		return false;
	}
}

function alive(pid) {
	try {
		process.kill(pid, 0);
		return true;
	} catch {
		return false;
	}
}

async function waitFor(what, fn, ms) {
	const end = Date.now() + ms;
	while (Date.now() < end) {
		if (await fn()) return true;
		await sleep(100);
	}
	t.ok(false, `waiting for ${what}`);
	return false;
}

async function storeDown() {
	const pid = Number(fs.readFileSync(path.join(RUN_DIR, 'redis.pid'), 'utf8'));
	process.kill(pid, 'SIGTERM');
	await waitFor('Redis to stop', () => !alive(pid) && !fs.existsSync(path.join(RUN_DIR, 'redis.sock')), 15000);
	try {
		const c = `${PREFIX}/todos`, d = `${c}/milk`;
		const retry = { status: 503 };
		const code = { status: 503, code: 'store_unavailable' };
		await call('health, Redis down', 'GET', `${PREFIX}/_health`, {}, code);
		await call('health head, Redis down', 'HEAD', `${PREFIX}/_health`, {}, retry);
		await call('list, Redis down', 'GET', c, {}, code);
		await call('list head, Redis down', 'HEAD', c, {}, retry);
		await call('create, Redis down', 'POST', c, { headers: JSON_CT, body: '{}' }, code);
		await call('get, Redis down', 'GET', d, {}, code);
		await call('head, Redis down', 'HEAD', d, {}, retry);
		await call('put, Redis down', 'PUT', d, { headers: JSON_CT, body: '{}' }, code);
		await call('patch, Redis down', 'PATCH', d, { headers: JSON_CT, body: '{}' }, code);
		await call('delete, Redis down', 'DELETE', d, {}, code);
	} finally {
		execFileSync('redis-server', [path.join(RUN_DIR, 'redis.conf'), '--daemonize', 'yes'], { stdio: 'ignore' });
		await waitFor('Redis to restart', () => redisPing(), 15000);
		await waitFor('health 200 again', async () => (await request(BASE, 'GET', `${PREFIX}/_health`)).status === 200, 15000);
	}
}

async function workersDown() {
	const pid = Number(fs.readFileSync(path.join(RUN_DIR, 'rest.pid'), 'utf8'));
	process.kill(pid, 'SIGTERM');
	await waitFor('tandem-rest to stop', () => !alive(pid), 15000);
	await call('health, workers down (nginx)', 'GET', `${PREFIX}/_health`, {}, { status: 502, code: 'internal' });
	await call('health head, workers down (nginx)', 'HEAD', `${PREFIX}/_health`, {}, { status: 502 });
}

function coverage() {
	const everywhereOnce = new Set(['414', '502']); // from nginx, the same for every operation
	const never = new Set(['500', '504']); // a correct, timely server never answers these
	// The contract stack runs open and unthrottled: 401 is proven by
	// tests/rest/it/test_auth.c, 429 by test_rest.c's limits tests.
	const elsewhere = new Set(['401', '429']);
	const pending = [];
	for (const pi of pathItems) {
		for (const m of METHODS) {
			const op = pi.item[m];
			if (!op) continue;
			for (const status of Object.keys(op.responses)) {
				if (never.has(status) || everywhereOnce.has(status) || elsewhere.has(status)) continue;
				if (!seen.has(`${op.operationId} ${status}`)) pending.push(`${op.operationId} ${status}`);
			}
		}
	}
	for (const status of everywhereOnce) {
		if (![...seen].some((s) => s.endsWith(` ${status}`))) pending.push(`any operation ${status}`);
	}
	for (const status of Object.keys(unmatched)) {
		if (![...seen].some((s) => s.startsWith('unmatched') && s.endsWith(` ${status}`))) pending.push(`unmatched ${status}`);
	}
	t.ok(pending.length === 0, 'every declared (operation, status) was exercised', pending.join('; '));
	console.log(`contract: ${seen.size} distinct (operation, status) pairs seen`);
}

try {
	await healthAndSystem();
	await collection();
	await document();
	await storeDown();
	await workersDown(); // last: the stack has no REST workers after it
	coverage();
} catch (e) {
	t.ok(false, 'unexpected exception', e.stack);
}
process.exit(t.summary() ? 0 : 1);

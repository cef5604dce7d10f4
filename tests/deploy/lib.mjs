// Helpers shared by the deploy tests (Node 20, ESM, no global WebSocket).
// npm packages come from tools/openapi/node_modules (its own lockfile), not
// from the root package.json.
import { createRequire } from 'node:module';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const requireTool = createRequire(path.join(ROOT, 'tools/openapi/package.json'));

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/*
 * One HTTP/1.1 request on a fresh connection. body: string/Buffer, or
 * {chunks: [...]} to send it chunked (no Content-Length).
 * Resolves {status, headers (lower-case names), body (string)}.
 */
export function request(base, method, urlPath, { headers = {}, body, timeoutMs = 10000 } = {}) {
	const url = new URL(urlPath, base);
	return new Promise((resolve, reject) => {
		const req = http.request(
			{
				host: url.hostname,
				port: url.port,
				path: url.pathname + url.search,
				method,
				headers,
				agent: false,
				timeout: timeoutMs,
			},
			(res) => {
				const parts = [];
				res.on('data', (c) => parts.push(c));
				res.on('end', () =>
					resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(parts).toString('utf8') }),
				);
				res.on('error', reject);
			},
		);
		req.on('timeout', () => req.destroy(new Error(`${method} ${urlPath}: timed out`)));
		req.on('error', reject);
		if (body && typeof body === 'object' && Array.isArray(body.chunks)) {
			for (const c of body.chunks) req.write(c);
			req.end();
		} else {
			req.end(body);
		}
	});
}

/* Sends raw bytes (for requests no client library would send) and parses the answer. */
export function rawRequest(base, text, timeoutMs = 10000) {
	const url = new URL(base);
	return new Promise((resolve, reject) => {
		const sock = net.connect(Number(url.port), url.hostname);
		const parts = [];
		sock.setTimeout(timeoutMs, () => sock.destroy(new Error('raw request timed out')));
		sock.on('connect', () => sock.write(text));
		sock.on('data', (c) => parts.push(c));
		sock.on('error', reject);
		sock.on('close', () => {
			const all = Buffer.concat(parts).toString('utf8');
			const cut = all.indexOf('\r\n\r\n');
			if (cut < 0) return reject(new Error(`malformed answer: ${JSON.stringify(all.slice(0, 200))}`));
			const lines = all.slice(0, cut).split('\r\n');
			const status = Number(lines[0].split(' ')[1]);
			const headers = {};
			for (const l of lines.slice(1)) {
				const i = l.indexOf(':');
				headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
			}
			let body = all.slice(cut + 4);
			if (headers['content-length'] !== undefined) body = body.slice(0, Number(headers['content-length']));
			resolve({ status, headers, body });
		});
	});
}

/* A tally of named checks; prints each failure as it happens. */
export class Tally {
	constructor(name) {
		this.name = name;
		this.passed = 0;
		this.failed = 0;
		this.failures = [];
	}
	ok(cond, label, detail = '') {
		if (cond) {
			this.passed++;
		} else {
			this.failed++;
			this.failures.push(label);
			console.log(`  FAIL ${label}${detail ? `: ${detail}` : ''}`);
		}
		return cond;
	}
	summary() {
		console.log(`${this.name}: ${this.passed} assertions passed, ${this.failed} failed`);
		return this.failed === 0;
	}
}

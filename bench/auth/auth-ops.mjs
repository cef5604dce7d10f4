// The notifier's auth-op rate on one socket: every token of a file (one per
// line, distinct: each verified), then the first token as many times (the
// notifier's cache answers). Waits for each answer before the next op, so
// the figure is ops per second of one client, round trips included.
// Usage: node --experimental-websocket auth-ops.mjs WS_PORT TOKENS_FILE
import fs from 'node:fs';

const [port, file] = process.argv.slice(2);
const tokens = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean);
const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
await new Promise((ok, fail) => { ws.onopen = ok; ws.onerror = fail; });

async function run(list) {
	let i = 0;
	const started = performance.now();
	await new Promise((done, fail) => {
		ws.onmessage = (m) => {
			const msg = JSON.parse(m.data);
			if (msg.op !== 'authenticated') return fail(new Error(`unexpected ${m.data}`));
			if (++i === list.length) return done();
			ws.send(JSON.stringify({ op: 'auth', token: list[i] }));
		};
		ws.send(JSON.stringify({ op: 'auth', token: list[0] }));
	});
	return list.length / ((performance.now() - started) / 1000);
}

const distinct = await run(tokens);
const same = await run(tokens.map(() => tokens[0]));
console.log(`| notifier auth op, one socket | ops/s |\n|---|---|`);
console.log(`| ${tokens.length} distinct HS256 tokens (each verified) | ${Math.round(distinct)} |`);
console.log(`| one token ${tokens.length} times (the cache) | ${Math.round(same)} |`);
ws.close();

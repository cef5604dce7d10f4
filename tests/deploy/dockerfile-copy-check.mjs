// Every file or folder a Dockerfile COPYs (or ADDs) from the build context
// exists in the repo and is not excluded by .dockerignore, so that
// `docker build` would find it. (COPY --from=<stage> is skipped.)
// Usage: node dockerfile-copy-check.mjs Dockerfile...
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, Tally } from './lib.mjs';

const t = new Tally('dockerfile COPY');

// .dockerignore: Go filepath.Match patterns plus "**", "!" exceptions; last match wins.
function ignoreRules() {
	const f = path.join(ROOT, '.dockerignore');
	if (!fs.existsSync(f)) return [];
	return fs.readFileSync(f, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#')).map((l) => {
		const negate = l.startsWith('!');
		const pat = path.posix.normalize((negate ? l.slice(1) : l).replace(/^\/+/, ''));
		let re = '';
		for (let i = 0; i < pat.length; i++) {
			const ch = pat[i];
			if (ch === '*' && pat[i + 1] === '*') {
				re += '.*';
				i++;
				if (pat[i + 1] === '/') i++;
			} else if (ch === '*') re += '[^/]*';
			else if (ch === '?') re += '[^/]';
			else re += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
		}
		// A pattern matching a folder excludes everything in it.
		return { negate, re: new RegExp(`^${re}(/.*)?$`), pat: l };
	});
}
const rules = ignoreRules();
function ignored(rel) {
	let out = false;
	for (const r of rules) if (r.re.test(rel)) out = !r.negate;
	return out;
}

function* walk(rel) {
	const abs = path.join(ROOT, rel);
	if (fs.statSync(abs).isDirectory()) {
		for (const e of fs.readdirSync(abs)) yield* walk(path.posix.join(rel, e));
	} else {
		yield rel;
	}
}

for (const df of process.argv.slice(2)) {
	const text = fs.readFileSync(path.join(ROOT, df), 'utf8').replace(/\\\n/g, ' ');
	for (const line of text.split('\n')) {
		const m = line.trim().match(/^(COPY|ADD)\s+(.*)$/i);
		if (!m) continue;
		let words = m[2].trim().split(/\s+/);
		if (words.some((w) => /^--from=/.test(w))) continue;
		words = words.filter((w) => !w.startsWith('--'));
		if (words[0]?.startsWith('[')) words = JSON.parse(words.join(' '));
		for (const src of words.slice(0, -1)) {
			const rel = path.posix.normalize(src).replace(/\/+$/, '');
			const abs = path.join(ROOT, rel);
			if (!t.ok(fs.existsSync(abs), `${df}: COPY ${src} exists`)) continue;
			const files = [...walk(rel)];
			t.ok(files.length > 0, `${df}: COPY ${src} is not empty`);
			const lost = files.filter(ignored);
			t.ok(lost.length === 0, `${df}: COPY ${src} is not excluded by .dockerignore`, lost.slice(0, 5).join(', '));
			console.log(`  ${df}: COPY ${src} (${files.length} file${files.length === 1 ? '' : 's'})`);
		}
	}
}
t.ok(t.passed > 0, 'found COPY instructions');
process.exit(t.summary() ? 0 : 1);

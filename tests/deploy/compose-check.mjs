// Checks what issue 5 asks of compose.yaml, on the file as docker-compose
// resolved it (`docker-compose config` output on stdin): services redis,
// rest, notifier, nginx; a health check on each; depends_on with
// condition service_healthy; ports on nginx only; Redis with a volume and
// AOF; our images built from the Dockerfile's targets; TANDEM_* settings.
import fs from 'node:fs';
import { Tally, requireTool } from './lib.mjs';

const YAML = requireTool('yaml');
const c = YAML.parse(fs.readFileSync(0, 'utf8'));
const t = new Tally('compose');
const s = c.services || {};
const names = ['redis', 'rest', 'notifier', 'nginx'];
// Services outside a profile: what `docker compose up` starts.
const always = Object.keys(s).filter((n) => !s[n].profiles);
t.ok(JSON.stringify(always.sort()) === JSON.stringify([...names].sort()), 'services are redis, rest, notifier, nginx', always.join(', '));
// The cluster profile (SPEC section 9): six nodes and the one-shot that joins them.
const cluster = Object.keys(s).filter((n) => s[n].profiles);
const nodes = cluster.filter((n) => /^redis-c[1-6]$/.test(n));
t.ok(cluster.every((n) => JSON.stringify(s[n].profiles) === '["cluster"]'), 'every profiled service is in the cluster profile', cluster.join(', '));
t.ok(nodes.length === 6 && nodes.every((n) => s[n].command.join(' ').includes('--cluster-enabled yes') && s[n].healthcheck && !s[n].ports),
	'cluster profile: six cluster-enabled nodes with health checks, no published ports', nodes.join(', '));
t.ok(nodes.every((n) => (s[n].volumes || []).some((v) => String(v.target || v).includes('/data'))) &&
	new Set(nodes.map((n) => JSON.stringify((s[n].volumes || []).find((v) => String(v.target || v).includes('/data'))))).size === 6,
	'cluster profile: each node its own data volume');
t.ok(s['redis-cluster-init']?.command.join(' ').includes('--cluster create') &&
	s['redis-cluster-init']?.command.join(' ').includes('--cluster-replicas 1'), 'cluster profile: redis-cluster-init creates 3 masters + 3 replicas');
for (const n of names) {
	const svc = s[n] || {};
	t.ok(Array.isArray(svc.healthcheck?.test) && svc.healthcheck.test.length > 1, `${n} has a health check`);
	t.ok(n === 'nginx' ? Array.isArray(svc.ports) && svc.ports.length > 0 : !svc.ports, `${n}: ports ${n === 'nginx' ? 'published' : 'not published'}`);
	if (n !== 'redis') {
		t.ok(svc.build?.target && /Dockerfile$|^$/.test(svc.build.dockerfile || ''), `${n} is built from a Dockerfile target`);
		const env = svc.environment || {};
		const keys = Object.keys(env);
		t.ok(keys.length > 0 && keys.every((k) => k.startsWith('TANDEM_')), `${n}: settings are TANDEM_* variables`, keys.join(', '));
	}
}
const deps = { rest: ['redis'], notifier: ['redis'], nginx: ['rest', 'notifier'] };
for (const [n, want] of Object.entries(deps)) {
	for (const d of want)
		t.ok(s[n]?.depends_on?.[d]?.condition === 'service_healthy', `${n} depends on ${d} being healthy`);
}
const cmd = (s.redis?.command || []).join(' ');
t.ok(/--appendonly yes/.test(cmd), 'redis runs with AOF', cmd);
t.ok(/--maxmemory-policy noeviction/.test(cmd), 'redis never evicts keys', cmd);
t.ok((s.redis?.volumes || []).some((v) => String(typeof v === 'string' ? v : v.target).includes('/data')), 'redis keeps /data in a volume');
t.ok(s.nginx?.ports?.some((p) => String(p.target ?? p).includes('8080')), 'nginx serves on 8080');
process.exit(t.summary() ? 0 : 1);

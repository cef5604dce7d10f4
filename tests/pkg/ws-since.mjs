// One resume, as a browser makes it after a reconnect: opens URL, sends
// {"op":"subscribe","collection":COL,"since":SINCE} and prints the op of
// the answer ("subscribed", "reset", ...) and, for "subscribed", the
// number of replayed events that followed within WAIT_MS.
// Usage: node ws-since.mjs URL COL SINCE [WAIT_MS]
import { requireTool } from '../deploy/lib.mjs';

const { WebSocket } = requireTool('ws');
const [url, col, since, waitArg] = process.argv.slice(2);
const waitMs = Number(waitArg || 500);
const ws = new WebSocket(url);
let answer = null;
let events = 0;
const done = (text, code) => {
	console.log(text);
	ws.terminate();
	process.exit(code);
};
setTimeout(() => done(answer ? `${answer} ${events}` : 'timeout', answer ? 0 : 1), 10000);
ws.on('error', (e) => done(`error ${e.message}`, 1));
ws.on('open', () => ws.send(JSON.stringify({ op: 'subscribe', collection: col, since })));
ws.on('message', (data) => {
	const m = JSON.parse(data.toString());
	if (!answer) {
		answer = m.op;
		if (m.op !== 'subscribed') done(`${m.op} 0`, 0);
		setTimeout(() => done(`${answer} ${events}`, 0), waitMs);
	} else if (m.op === 'event') {
		events++;
	}
});

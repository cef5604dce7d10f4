/**
 * The browser client (web/tandem.js) as a fault test's subscriber, in
 * Node 20 with its WebSocket (node --experimental-websocket) and fetch.
 *
 *   node --experimental-websocket tests/fault/tandem_client.mjs <base url> <collection> <out file>
 *
 * Subscribes to the collection from "0-0" through nginx and appends one
 * line per event to the out file ("event <id>#<version> <seq>"), one line
 * per connection state ("state <state>") and "ready" once subscribed.
 * (Node 22 and later have WebSocket without the flag.) Runs until SIGTERM. The C test (tests/fault/test_fault.c) restarts the
 * notifiers underneath it and then compares the file with what the
 * server acknowledged: the client's own reconnect logic must resume with
 * `since` and deliver each event once.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { createClient } = await import(path.join(ROOT, 'web/tandem.js'));

const [baseUrl, collection, out] = process.argv.slice(2);
if (!baseUrl || !collection || !out || typeof WebSocket !== 'function') {
  console.error('usage: node --experimental-websocket tandem_client.mjs <base url> <collection> <out file>');
  process.exit(2);
}

const fd = fs.openSync(out, 'a');
const line = (s) => fs.writeSync(fd, `${s}\n`);

const client = createClient({ baseUrl, backoff: { base: 100, cap: 1000 } });
client.onState((state) => line(`state ${state}`));
client.onError((err) => line(`error ${err.code}`));
let ready = false;
client.subscribe(collection, {
  since: '0-0',
  onReset: () => line('reset'),
}, (ev) => line(`event ${ev.id}#${ev.version} ${ev.seq}`));
const timer = setInterval(() => {
  if (!ready && client.state === 'live') { ready = true; line('ready'); }
}, 20);

process.on('SIGTERM', () => {
  clearInterval(timer);
  client.close();
  fs.closeSync(fd);
  process.exit(0);
});

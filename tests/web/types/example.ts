/**
 * A small application written against the client's types: documents,
 * errors, events, filters and views. Never run, only type-checked with
 * `tsc --noEmit --strict` (tests/web/types/run.sh), once against
 * web/tandem.d.ts in the repository and once against the package installed
 * from the `npm pack` tarball. Lines marked @ts-expect-error must stay
 * errors: they prove the types refuse what the server would refuse.
 */
import {
  createClient, metaOf, TandemError, compareSeq,
  type ChangeEvent, type Doc, type LiveView, type Where, type ViewChange, type ConnectionState,
} from '@tandem/client';

interface Todo {
  title: string;
  done: boolean;
  tags?: string[];
  due?: { day: string; time?: string };
}

// In a browser the globals fit the client's options as they are.
const client = createClient({ baseUrl: 'https://todo.example.com', fetch, WebSocket, token: async () => 'eyJ...' });
const todos = client.collection<Todo>('todos');

export async function documents(): Promise<string> {
  const doc: Doc<Todo> = await todos.create({ title: 'Buy milk', done: false });
  const version: number = doc.version;
  const created: string = doc.created_at;
  const meta = metaOf(doc);
  const seq: string | null = meta ? meta.seq : null;

  await todos.replace(doc.id, { ...doc, title: 'Buy oat milk' }, { ifVersion: version });
  await todos.replace('weekly-shop', { title: 'Weekly shop', done: false }, { createOnly: true });
  await todos.update(doc.id, { done: true, tags: null, due: { time: null } }, { ifVersion: version + 1 });
  await todos.remove(doc.id, { ifVersion: version + 2 });

  const page = await todos.list({ limit: 50 });
  const titles: string[] = page.items.map((t) => t.title);
  const next: string | null = page.next;
  if (next !== null) await todos.list({ limit: 50, after: next });

  // @ts-expect-error a todo needs its title
  await todos.create({ done: false });
  // @ts-expect-error done is a boolean
  await todos.update(doc.id, { done: 'yes' });
  // @ts-expect-error the version comes from the server's document, not a string
  await todos.update(doc.id, { done: true }, { ifVersion: '3' });

  // Untyped collections hold any JSON object.
  const any = await client.collection('notes').create({ text: 'hello', stars: 3, nested: { ok: true } });
  const text = any.text;
  return `${created} ${seq} ${titles.join()} ${String(text)}`;
}

export async function errors(): Promise<void> {
  try {
    await todos.update('milk', { done: true }, { ifVersion: 1 });
  } catch (err) {
    if (!(err instanceof TandemError)) throw err;
    switch (err.code) {
      case 'version_conflict': {
        const current: number | null = err.currentVersion;
        console.log('someone else won; now at', current, err.status === 412);
        break;
      }
      case 'already_exists':
      case 'not_found':
      case 'network':
        break;
      case 'store_unavailable': {
        const wait: number | null = err.retryAfter;
        console.log('retry in', wait);
        break;
      }
      default:
        console.log(err.message, err.body);
    }
  }
}

export function events(): () => void {
  const off = client.subscribe<Todo>('todos', { since: '1764358912123-0', onReset: ({ resume }) => resume(null) },
    (ev) => {
      switch (ev.type) {
        case 'created':
        case 'updated':
          console.log(ev.doc.title, ev.version, ev.seq);
          break;
        case 'deleted':
          // @ts-expect-error a deleted event carries no document
          console.log(ev.doc.title);
          console.log(ev.id, 'deleted; its version was', ev.version - 1);
          break;
      }
    });
  // Without onReset the reset notice arrives as an event.
  const off2 = client.subscribe('todos', (ev) => {
    if (ev.type === 'reset') ev.resume();
    else console.log(compareSeq(ev.seq, '0-0'));
  });
  // Coalescing: a lagging socket gets a document's latest state, not every step.
  const off3 = client.subscribe<Todo>('todos', { coalesce: true, onReset: ({ resume }) => resume(null) },
    (ev) => console.log(ev.type, ev.version));
  // @ts-expect-error coalesce is a boolean
  client.subscribe('todos', { coalesce: 'yes' }, () => {});
  client.onState((s: ConnectionState) => console.log(s));
  client.onError(({ code, message }) => console.log(code, message));
  return () => { off(); off2(); off3(); };
}

export const openTodos: Where = { done: false };
export const filters: Where[] = [
  { done: false, 'due.day': { $gte: '2026-12-01', $lt: '2027-01-01' } },
  { tags: { $in: ['home', 'garden'] }, title: { $prefix: 'Buy ' } },
  { $or: [{ done: true }, { due: { $exists: false } }], owner: { $ne: null } },
  { due: { day: '2026-12-24' } }, // a plain object is compared whole
];
// @ts-expect-error $gt compares numbers or strings, not booleans
export const badOperand: Where = { done: { $gt: true } };
// @ts-expect-error there is no $regex operator
export const badOperator: Where = { title: { $regex: '^Buy' } };
// @ts-expect-error $or takes an array of filters
export const badOr: Where = { $or: { done: true } };

export async function views(): Promise<void> {
  const view: LiveView<Todo> = client.live<Todo>('todos', { pageSize: 200, coalesce: true });
  const coalesces: boolean = view.coalesce;
  await view.ready;
  const open: number = view.items.filter((t) => !t.done).length;
  view.on('change', (items, change: ViewChange<Todo>) => {
    if (change.source === 'event') console.log(change.event.type, items.length);
  });
  view.on('error', (err) => console.log(err.code));
  view.on('reset', () => console.log('reloaded'));
  const off = view.subscribe((items) => console.log(items.length, open, coalesces));
  // @ts-expect-error views emit change, reset and error only
  view.on('update', () => {});

  const doc = await todos.update('milk', { done: true });
  view.apply(doc);                 // after the write resolved: not optimistic
  await todos.remove('milk', { ifVersion: doc.version });
  view.applyDeleted('milk', doc.version);
  const got: Doc<Todo> | undefined = view.get('milk');
  console.log(got?.title);
  off();
  view.close();
  client.close();
}

export function handle(ev: ChangeEvent<Todo>): string {
  return ev.type === 'deleted' ? ev.id : ev.doc.title;
}

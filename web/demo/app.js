/**
 * Collaborative todo board — the Tandem demo.
 *
 * A live view of the `todos` collection (or `?list=<name>`) drives the
 * whole list; every tab showing the board stays current through it. Writes
 * go over REST and their results are merged into the view at once, so the
 * writing tab does not wait for its own event (which the view then ignores).
 *
 * Views: All / Active / Done (#all, #active, #done) are each a live
 * filtered view, `client.live(list, { where })` with no filter,
 * `{done: {$ne: true}}` and `{done: true}`: the server sends only the
 * matching todos and says when one enters or leaves the filter, so a todo
 * ticked in another tab leaves Active at once. Switching views changes the
 * hash (no reload); a view once opened stays live, so switching back is
 * instant.
 *
 * Edits are conditional (If-Match on the version the edit started from): an
 * edit that lost a race gets 412 version_conflict, and the board shows both
 * values and lets the person choose instead of silently overwriting.
 * Toggling "done" and deleting are unconditional: they state an intent
 * ("this is done", "this goes") that does not depend on the title.
 *
 * The DOM is updated in place, keyed by id, so a live update never throws
 * away a half-typed edit or the keyboard focus.
 *
 * Auth: when a read without a token answers 401, the board asks for a user
 * name (or takes `?user=<name>`) and gets its tokens from the local
 * stack's DEV-ONLY /dev/token?sub=<name> (scripts/run-stack.sh starts it
 * when auth is on). Those tokens have `own` on `todos`, so each user sees
 * only their own todos, live. The client asks the token hook again before
 * a token expires (and after a 4001), so a session outlives its tokens.
 */
import { createClient } from '/tandem.js';

const NAME_RE = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const requested = new URLSearchParams(location.search).get('list');
const listName = requested && NAME_RE.test(requested) ? requested : 'todos';

const USER_RE = /^[A-Za-z0-9_.-]{1,64}$/;

/** The JWT's exp (unix seconds), or 0. */
function tokenExp(token) {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return Number(JSON.parse(atob(part)).exp) || 0;
  } catch { return 0; }
}

/** A token() hook for user: a cached dev token, fetched again near its exp. */
function devTokens(user) {
  let token = null;
  return async () => {
    // Stale 31 s before exp: the client asks again 30 s before exp (its refresh).
    if (token && Date.now() / 1000 < tokenExp(token) - 31) return token;
    const res = await fetch(`/dev/token?sub=${encodeURIComponent(user)}`, { cache: 'no-store' });
    if (!res.ok) throw new Error(`/dev/token answered ${res.status}`);
    token = (await res.json()).token;
    return token;
  };
}

/** With auth on: the signed-in user's token hook; null with auth off. Throws when sign-in fails. */
async function signIn() {
  const probe = await fetch(`/api/v1/${listName}?limit=1`, { cache: 'no-store' }).catch(() => null);
  if (!probe || probe.status !== 401) return null;
  let user = new URLSearchParams(location.search).get('user') || sessionStorage.getItem('tandem-demo-user');
  while (!user || !USER_RE.test(user)) {
    user = window.prompt('This Tandem runs with auth on. Your user name (letters, digits, _ - .):', '');
    if (user === null) throw new Error('Sign in to see your todos: reload and enter a user name.');
  }
  const hook = devTokens(user);
  try {
    await hook();
  } catch {
    throw new Error('Auth is on but this stack has no dev sign-in (/dev/token): start it with make run and '
      + 'TANDEM_JWT_SECRET_FILE, or use tokens from tandem-token.');
  }
  sessionStorage.setItem('tandem-demo-user', user);
  const userEl = document.querySelector('[data-testid="user"]');
  userEl.textContent = `Signed in as ${user}`;
  userEl.hidden = false;
  return { user, token: hook };
}

let session = null;
try {
  session = await signIn();
} catch (err) {
  const el = document.querySelector('[data-testid="message"]');
  el.textContent = err.message;
  document.querySelector('[data-testid="loading"]').textContent = 'Not signed in.';
  throw err;
}

const client = createClient(session ? { token: session.token } : {});
const todos = client.collection(listName);

/** The board's views: name -> the filter its live view keeps (null: all). */
const VIEWS = {
  all: { where: null, label: 'All', empty: 'Nothing to do yet. Add the first todo above.' },
  active: { where: { done: { $ne: true } }, label: 'Active', empty: 'Nothing left to do.' },
  done: { where: { done: true }, label: 'Done', empty: 'Nothing done yet.' },
};
const viewFromHash = () => {
  const name = location.hash.replace(/^#/, '');
  return Object.hasOwn(VIEWS, name) ? name : 'all';
};
/** Open live views by name; created on first use, kept live afterwards. */
const liveViews = new Map();
let viewName = viewFromHash();
let view = openView(viewName);

const $ = (sel, root = document) => root.querySelector(sel);
const listEl = $('[data-testid="todo-list"]');
const template = $('#todo-template');
const messageEl = $('[data-testid="message"]');

/** Per-item UI state that is not in the document: editing drafts, conflicts, busy flags. */
const ui = new Map(); // id -> {editing, draft, baseVersion, conflict: {mine, theirs}|null, busy}
const rows = new Map(); // id -> <li>

function uiFor(id) {
  let u = ui.get(id);
  if (!u) {
    u = { editing: false, draft: '', baseVersion: 0, conflict: null, busy: false };
    ui.set(id, u);
  }
  return u;
}

let messageTimer = null;
/** Show a short status line (announced by screen readers through aria-live). */
function say(text, { sticky = false } = {}) {
  clearTimeout(messageTimer);
  messageEl.textContent = text;
  if (text && !sticky) messageTimer = setTimeout(() => { messageEl.textContent = ''; }, 6000);
}

function describeError(err) {
  if (!err) return 'Something went wrong.';
  if (err.code === 'network') return 'Cannot reach the server. Check your connection and try again.';
  if (err.code === 'store_unavailable') return 'The server is busy. Try again in a moment.';
  return err.message || `Request failed (${err.code}).`;
}

/* -- connection indicator ------------------------------------------------- */

const connEl = $('[data-testid="conn-state"]');
const CONN_TEXT = { connecting: 'Connecting…', live: 'Live', reconnecting: 'Reconnecting…', closed: 'Offline' };
client.onState((state) => {
  connEl.dataset.state = state;
  $('.conn-text', connEl).textContent = CONN_TEXT[state] || state;
});

/* -- rendering ------------------------------------------------------------ */

function createRow(id) {
  const li = template.content.firstElementChild.cloneNode(true);
  li.dataset.id = id;
  const safe = id.replace(/[^A-Za-z0-9_-]/g, '_');
  const input = $('.todo-edit-input', li);
  input.id = `edit-${safe}`;
  $('.todo-edit-label', li).htmlFor = input.id;

  $('.todo-done', li).addEventListener('change', (e) => toggleDone(id, e.target.checked));
  $('.todo-edit', li).addEventListener('click', () => startEdit(id));
  $('.todo-delete', li).addEventListener('click', () => removeTodo(id));
  $('.todo-cancel', li).addEventListener('click', () => cancelEdit(id));
  $('.todo-edit-form', li).addEventListener('submit', (e) => { e.preventDefault(); saveEdit(id); });
  input.addEventListener('input', () => { uiFor(id).draft = input.value; });
  input.addEventListener('keydown', (e) => { if (e.key === 'Escape') cancelEdit(id); });
  $('.conflict-theirs', li).addEventListener('click', () => useTheirs(id));
  $('.conflict-overwrite', li).addEventListener('click', () => overwrite(id));
  return li;
}

/** Bring one row in line with its document and UI state, touching only what changed. */
function updateRow(li, doc) {
  const u = uiFor(doc.id);
  const title = typeof doc.title === 'string' ? doc.title : '';
  li.dataset.version = String(doc.version);
  li.classList.toggle('done', !!doc.done);
  li.classList.toggle('busy', u.busy);

  const cb = $('.todo-done', li);
  cb.checked = !!doc.done;
  cb.disabled = u.busy;
  cb.setAttribute('aria-label', `Done: ${title}`);
  $('.todo-title', li).textContent = title;
  const editBtn = $('.todo-edit', li);
  editBtn.setAttribute('aria-label', `Edit “${title}”`);
  editBtn.disabled = u.busy || u.editing || !!u.conflict;
  const delBtn = $('.todo-delete', li);
  delBtn.setAttribute('aria-label', `Delete “${title}”`);
  delBtn.disabled = u.busy;

  const form = $('.todo-edit-form', li);
  const showForm = u.editing && !u.conflict;
  if (form.hidden === showForm) form.hidden = !showForm;
  $('.todo-title', li).hidden = showForm;
  const input = $('.todo-edit-input', li);
  if (showForm && input.value !== u.draft && document.activeElement !== input) input.value = u.draft;
  $('.stale-hint', form).hidden = !(showForm && doc.version !== u.baseVersion);
  for (const b of form.querySelectorAll('button')) b.disabled = u.busy;

  const panel = $('.conflict', li);
  panel.hidden = !u.conflict;
  if (u.conflict) {
    $('[data-testid="conflict-theirs-value"]', panel).textContent = u.conflict.theirs.title ?? '';
    $('[data-testid="conflict-mine-value"]', panel).textContent = u.conflict.mine;
    for (const b of panel.querySelectorAll('button')) b.disabled = u.busy;
  }
}

/**
 * Show `items` (the current view's). `change` is the view's change record:
 * a row that goes because of a `left` moved out of this view rather than
 * being deleted; `switching` drops rows quietly (the view changed).
 */
function render(items, change = null, { switching = false } = {}) {
  const seen = new Set();
  items.forEach((doc, i) => {
    seen.add(doc.id);
    let li = rows.get(doc.id);
    if (!li) {
      li = createRow(doc.id);
      rows.set(doc.id, li);
    }
    updateRow(li, doc);
    // Move a node only when it is out of place: moving the focused element
    // would drop the keyboard focus.
    if (listEl.children[i] !== li) listEl.insertBefore(li, listEl.children[i] || null);
  });
  for (const [id, li] of rows) {
    if (seen.has(id)) continue;
    const u = ui.get(id);
    if (!switching && u && (u.editing || u.conflict)) {
      say(change && change.event && change.event.type === 'left'
        ? `A todo you were editing moved out of ${VIEWS[viewName].label}.`
        : 'A todo you were editing was deleted by someone else.');
    }
    li.remove();
    rows.delete(id);
    ui.delete(id);
  }
  const left = items.filter((d) => !d.done).length;
  const loaded = view.loaded;
  $('[data-testid="loading"]').hidden = loaded;
  const empty = $('[data-testid="empty"]');
  empty.hidden = !loaded || items.length > 0;
  empty.textContent = VIEWS[viewName].empty;
  $('[data-testid="count"]').textContent = !items.length ? ''
    : viewName === 'all' ? `${left} of ${items.length} left`
      : viewName === 'active' ? `${items.length} left` : `${items.length} done`;
}

function rerender() {
  render(view.items);
}

/** The live view called `name`, opened on first use. Only the shown one renders. */
function openView(name) {
  let v = liveViews.get(name);
  if (v) return v;
  const { where } = VIEWS[name];
  v = client.live(listName, { pageSize: 500, ...(where ? { where } : {}) });
  liveViews.set(name, v);
  v.on('change', (items, change) => { if (v === view) render(items, change); });
  v.on('error', (err) => { if (v === view) say(`${describeError(err)} Retrying…`, { sticky: true }); });
  v.on('reset', () => { if (v === view) say('Missed too many changes while offline — reloaded the list.'); });
  v.ready.then(() => {
    if (v !== view) return;
    say('');
    rerender();
  });
  return v;
}

const viewLinks = document.querySelectorAll('[data-testid="views"] a');
function markView() {
  for (const a of viewLinks) {
    if (a.dataset.view === viewName) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

/** Show view `name` (from the hash): no reload, the other views stay live. */
function switchView(name) {
  if (name === viewName) return;
  viewName = name;
  view = openView(name);
  markView();
  render(view.items, null, { switching: true });
}
window.addEventListener('hashchange', () => switchView(viewFromHash()));

/** A successful write's result, shown in every open view at once. */
function applyEverywhere(doc) {
  for (const v of liveViews.values()) v.apply(doc);
}

/* -- actions -------------------------------------------------------------- */

/** Run a write for one item with its buttons disabled; report failures. */
async function busy(id, fn) {
  const u = uiFor(id);
  u.busy = true;
  rerender();
  try {
    return await fn();
  } finally {
    u.busy = false;
    rerender();
  }
}

$('[data-testid="add-form"]').addEventListener('submit', async (e) => {
  e.preventDefault();
  const input = $('[data-testid="new-title"]');
  const title = input.value.trim();
  if (!title) return;
  const button = $('[data-testid="add"]');
  button.disabled = true;
  try {
    const doc = await todos.create({ title, done: false });
    applyEverywhere(doc);
    input.value = '';
    if (viewName === 'done') say(`Added “${title}” to Active.`);
  } catch (err) {
    say(describeError(err));
  } finally {
    button.disabled = false;
    input.focus();
  }
});

async function toggleDone(id, done) {
  await busy(id, async () => {
    try {
      const doc = await todos.update(id, { done });
      applyEverywhere(doc);
      if (viewName !== 'all' && !view.get(id)) {
        say(`“${doc.title ?? ''}” moved to ${done ? 'Done' : 'Active'}.`);
      }
    } catch (err) {
      say(err.code === 'not_found' ? 'That todo was deleted by someone else.' : describeError(err));
    }
  });
}

async function removeTodo(id) {
  const doc = view.get(id);
  await busy(id, async () => {
    try {
      await todos.remove(id);
      for (const v of liveViews.values()) v.applyDeleted(id, doc ? doc.version : undefined);
    } catch (err) {
      if (err.code !== 'not_found') say(describeError(err)); // already gone: fine
    }
  });
}

function startEdit(id) {
  const doc = view.get(id);
  if (!doc) return;
  Object.assign(uiFor(id), { editing: true, draft: doc.title ?? '', baseVersion: doc.version, conflict: null });
  rerender();
  const input = $('.todo-edit-input', rows.get(id));
  input.value = doc.title ?? '';
  input.focus();
  input.select();
}

function cancelEdit(id) {
  Object.assign(uiFor(id), { editing: false, conflict: null });
  rerender();
  $('.todo-edit', rows.get(id))?.focus();
}

/**
 * Save a title conditionally on `version`. On 412 fetch what is stored now
 * and show the conflict panel instead of overwriting.
 */
async function saveTitle(id, title, version) {
  const u = uiFor(id);
  await busy(id, async () => {
    try {
      const doc = await todos.update(id, { title }, { ifVersion: version });
      applyEverywhere(doc);
      Object.assign(u, { editing: false, conflict: null });
      say('Saved.');
    } catch (err) {
      if (err.code === 'version_conflict') {
        let theirs = view.get(id);
        if (!theirs || theirs.version !== err.currentVersion) {
          try { theirs = await todos.get(id); applyEverywhere(theirs); } catch { /* fall back to what the view has */ }
        }
        if (!theirs) { Object.assign(u, { editing: false, conflict: null }); say('That todo was deleted by someone else.'); return; }
        u.conflict = { mine: title, theirs };
        say('Not saved: someone else changed this todo first.');
      } else if (err.code === 'not_found') {
        Object.assign(u, { editing: false, conflict: null });
        say('That todo was deleted by someone else.');
      } else {
        say(describeError(err));
      }
    }
  });
  if (!u.editing && rows.get(id)) $('.todo-edit', rows.get(id))?.focus();
  else if (u.conflict && rows.get(id)) $('.conflict-theirs', rows.get(id))?.focus();
}

function saveEdit(id) {
  const u = uiFor(id);
  const title = $('.todo-edit-input', rows.get(id)).value.trim();
  if (!title) { say('A todo needs a title.'); return; }
  u.draft = title;
  return saveTitle(id, title, u.baseVersion);
}

function useTheirs(id) {
  Object.assign(uiFor(id), { editing: false, conflict: null });
  rerender();
  say('Kept their version.');
  $('.todo-edit', rows.get(id))?.focus();
}

function overwrite(id) {
  const u = uiFor(id);
  if (!u.conflict) return;
  // Conditional again, on the version we just showed: if it moved on once
  // more, the person sees the newer value instead of clobbering it unseen.
  return saveTitle(id, u.conflict.mine, u.conflict.theirs.version);
}

/* -- boot ----------------------------------------------------------------- */

$('[data-testid="board-name"]').textContent = listName === 'todos' ? '' : `· ${listName}`;
document.title = listName === 'todos' ? 'Tandem todos' : `${listName} · Tandem todos`;
markView();
render(view.items);

// For debugging from the console (and tests): the client and the shown view.
window.tandemDemo = {
  client, listName, user: session ? session.user : null,
  get view() { return view; },
  get viewName() { return viewName; },
  views: liveViews,
};

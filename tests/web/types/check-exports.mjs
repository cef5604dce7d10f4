/**
 * Keeps web/tandem.d.ts and web/tandem.js in step (the declarations are
 * hand-written, so nothing else would notice a drift):
 *   - every value the module exports is declared (function or class), and
 *     every declared function or class exists at run time;
 *   - for each declared class, every public method or getter of the runtime
 *     prototype (names not starting with `_`) is declared, every declared
 *     method or getter exists, and every declared field is set on an instance.
 * Reads the .d.ts with the TypeScript compiler API (the pinned devDependency).
 * Usage: node tests/web/types/check-exports.mjs [path/to/tandem.js]
 * Prints what is wrong and exits 1, or prints a summary and exits 0.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const jsPath = path.resolve(process.argv[2] || path.join(ROOT, 'web/tandem.js'));
const dtsPath = jsPath.replace(/\.js$/, '.d.ts');

const source = ts.createSourceFile(dtsPath, fs.readFileSync(dtsPath, 'utf8'), ts.ScriptTarget.ES2022, true);
const isExported = (node) => (ts.getCombinedModifierFlags(node) & ts.ModifierFlags.Export) !== 0;
const isPrivate = (node) => (ts.getCombinedModifierFlags(node) & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)) !== 0;

/** name -> {kind: 'function'|'class', methods: Set, fields: Set} */
const declared = new Map();
for (const node of source.statements) {
  if (!isExported(node) || !node.name) continue;
  if (ts.isFunctionDeclaration(node)) {
    declared.set(node.name.text, { kind: 'function' });
  } else if (ts.isClassDeclaration(node)) {
    const methods = new Set();
    const fields = new Set();
    for (const m of node.members) {
      if (!m.name || isPrivate(m) || (ts.getCombinedModifierFlags(m) & ts.ModifierFlags.Static)) continue;
      const name = m.name.getText(source);
      if (ts.isMethodDeclaration(m) || ts.isGetAccessorDeclaration(m) || ts.isSetAccessorDeclaration(m)) methods.add(name);
      else if (ts.isPropertyDeclaration(m)) fields.add(name);
    }
    declared.set(node.name.text, { kind: 'class', methods, fields });
  } else if (ts.isVariableStatement(node)) {
    for (const d of node.declarationList.declarations) declared.set(d.name.getText(source), { kind: 'value' });
  }
}

const mod = await import(pathToFileURL(jsPath).href);
const problems = [];

for (const name of Object.keys(mod)) {
  if (!declared.has(name)) problems.push(`${name} is exported by ${path.basename(jsPath)} but not declared in ${path.basename(dtsPath)}`);
}
for (const [name, d] of declared) {
  if (!(name in mod)) { problems.push(`${name} is declared but ${path.basename(jsPath)} does not export it`); continue; }
  const v = mod[name];
  if (d.kind === 'function' && typeof v !== 'function') problems.push(`${name} is declared as a function but is a ${typeof v}`);
  if (d.kind !== 'class') continue;
  if (typeof v !== 'function' || !/^class\b/.test(Function.prototype.toString.call(v))) {
    problems.push(`${name} is declared as a class but is not one`);
    continue;
  }
  const runtime = new Set(Object.getOwnPropertyNames(v.prototype).filter((m) => m !== 'constructor' && !m.startsWith('_')));
  // Well-known symbol methods ([Symbol.asyncIterator]() {...}) by the name the .d.ts gives them.
  for (const sym of Object.getOwnPropertySymbols(v.prototype)) {
    if (sym.description && sym.description.startsWith('Symbol.')) runtime.add(`[${sym.description}]`);
  }
  for (const m of runtime) if (!d.methods.has(m) && !d.fields.has(m)) problems.push(`${name}.${m} exists at run time but is not declared`);
  for (const m of d.methods) if (!runtime.has(m)) problems.push(`${name}.${m} is declared but ${name}.prototype has no ${m}`);
}

// Declared fields must be real: build one instance of each class, offline.
const neverFetch = () => new Promise(() => {}); // a LiveView starts loading at once; let it wait forever
const instances = {
  Client: () => new mod.Client({ fetch: neverFetch }),
  Collection: () => new mod.Collection(new mod.Client({ fetch: neverFetch }), 'todos'),
  LiveView: () => new mod.LiveView(new mod.Client({ fetch: neverFetch }), 'todos'),
  TandemError: () => new mod.TandemError('x', { code: 'internal' }),
  SubscriptionBook: () => new mod.SubscriptionBook(),
};
for (const [name, d] of declared) {
  if (d.kind !== 'class') continue;
  if (!instances[name]) { problems.push(`${name}: tests/web/types/check-exports.mjs does not know how to build one`); continue; }
  const obj = instances[name]();
  for (const f of d.fields) if (!(f in obj)) problems.push(`${name}.${f} is declared but an instance has no ${f}`);
}

if (problems.length) {
  for (const p of problems) console.error(`check-exports: ${p}`);
  process.exit(1);
}
const classes = [...declared.values()].filter((d) => d.kind === 'class').length;
console.log(`check-exports: ${declared.size} exports (${classes} classes) of ${path.relative(ROOT, jsPath)} match ${path.relative(ROOT, dtsPath)}`);

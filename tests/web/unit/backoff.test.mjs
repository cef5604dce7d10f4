// Reconnect delays: exponential, capped, jittered within the upper half.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelay } from '../../../web/tandem.js';

const lo = () => 0;
const hi = () => 1;

test('first retry waits between base/2 and base', () => {
  assert.equal(backoffDelay(0, { base: 250, random: lo }), 125);
  assert.equal(backoffDelay(0, { base: 250, random: hi }), 250);
});

test('nominal delay doubles per attempt', () => {
  const nominal = [0, 1, 2, 3, 4, 5].map((a) => backoffDelay(a, { base: 100, cap: 1e9, random: hi }));
  assert.deepEqual(nominal, [100, 200, 400, 800, 1600, 3200]);
});

test('delay never exceeds the cap, whatever the attempt', () => {
  for (let a = 0; a < 200; a++) {
    const d = backoffDelay(a, { base: 250, cap: 10000, random: hi });
    assert.ok(d <= 10000, `attempt ${a}: ${d}`);
  }
  assert.equal(backoffDelay(1000, { base: 250, cap: 10000, random: hi }), 10000);
  assert.equal(backoffDelay(1000, { base: 250, cap: 10000, random: lo }), 5000);
});

test('default bounds: 250 ms base, 10 s cap', () => {
  for (let i = 0; i < 500; i++) {
    const a = i % 40;
    const d = backoffDelay(a);
    const nominal = Math.min(10000, 250 * 2 ** a);
    assert.ok(d >= nominal / 2 && d <= nominal, `attempt ${a}: ${d} not in [${nominal / 2}, ${nominal}]`);
  }
});

test('jitter spreads clients out', () => {
  const seen = new Set();
  for (let i = 0; i < 50; i++) seen.add(backoffDelay(6, { base: 250, cap: 10000 }));
  assert.ok(seen.size > 10, `only ${seen.size} distinct delays in 50 draws`);
});

test('negative or fractional attempts count as attempt 0 / truncated', () => {
  assert.equal(backoffDelay(-3, { base: 100, random: hi }), 100);
  assert.equal(backoffDelay(2.7, { base: 100, random: hi }), 400);
});

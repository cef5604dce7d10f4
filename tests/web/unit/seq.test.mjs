// Seq parsing and ordering: seqs are Redis stream ids `<ms>-<n>` and must
// compare numerically by both parts (a string compare puts "9-0" after "10-0").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSeq, compareSeq, maxSeq, minSeq } from '../../../web/tandem.js';

test('parseSeq splits both parts into BigInts', () => {
  assert.deepEqual(parseSeq('1764358912123-0'), [1764358912123n, 0n]);
  assert.deepEqual(parseSeq('0-0'), [0n, 0n]);
  assert.deepEqual(parseSeq('18446744073709551615-18446744073709551615'),
    [18446744073709551615n, 18446744073709551615n]);
});

test('parseSeq rejects what is not a seq', () => {
  for (const bad of ['', '1', '1-', '-1', '1-2-3', 'a-1', '1.5-0', ' 1-0', '1-0 ', null, undefined, 12]) {
    assert.equal(parseSeq(bad), null, String(bad));
  }
});

test('compareSeq orders by milliseconds first, numerically', () => {
  assert.equal(compareSeq('9-0', '10-0'), -1);
  assert.equal(compareSeq('10-0', '9-0'), 1);
  assert.equal(compareSeq('999-11', '1000-0'), -1);
});

test('compareSeq orders by sequence number within a millisecond, numerically', () => {
  assert.equal(compareSeq('5-9', '5-10'), -1);
  assert.equal(compareSeq('5-10', '5-9'), 1);
  assert.equal(compareSeq('5-10', '5-10'), 0);
});

test('compareSeq is exact beyond Number precision', () => {
  assert.equal(compareSeq('9007199254740993-0', '9007199254740992-0'), 1);
  assert.equal(compareSeq('1-9007199254740993', '1-9007199254740992'), 1);
});

test('compareSeq throws on a malformed seq instead of guessing', () => {
  assert.throws(() => compareSeq('1-0', 'nope'), TypeError);
  assert.throws(() => compareSeq(undefined, '1-0'), TypeError);
});

test('maxSeq and minSeq treat null as unknown', () => {
  assert.equal(maxSeq(null, '3-1'), '3-1');
  assert.equal(maxSeq('10-0', '9-5'), '10-0');
  assert.equal(minSeq('10-0', '9-5'), '9-5');
  assert.equal(minSeq(null, null), null);
  assert.equal(minSeq('2-0', null), '2-0');
});

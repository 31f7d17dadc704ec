/** Python's JSON spellings, checked against values CPython 3.11 prints. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dumpsPython, floatRepr, quoteAscii, transcodePython } from '../src/registry/pyjson.js';

describe('floatRepr matches repr(float)', () => {
  const table: [number, string][] = [
    [1, '1.0'], [0.1, '0.1'], [-0, '-0.0'], [1e16, '1e+16'], [1e15, '1000000000000000.0'], [0.0001, '0.0001'],
    [0.00001, '1e-05'], [1.5e300, '1.5e+300'], [123456789012345678, '1.2345678901234568e+17'], [5e-324, '5e-324'],
    [2.5e-7, '2.5e-07'], [123456789.125, '123456789.125'], [1.7976931348623157e308, '1.7976931348623157e+308'],
    [NaN, 'NaN'], [Infinity, 'Infinity'], [-Infinity, '-Infinity'], [-12.5, '-12.5'],
  ];
  for (const [x, want] of table) it(`${want}`, () => assert.equal(floatRepr(x), want));
});

describe('quoteAscii matches json.dumps(ensure_ascii=True)', () => {
  const table: [string, string][] = [
    ['plain', '"plain"'],
    ['Zürich', '"Z\\u00fcrich"'],
    ['😀', '"\\ud83d\\ude00"'],
    ['\u007f\u0001', '"\\u007f\\u0001"'],
    ['"\\\n\r\t\b\f/', '"\\"\\\\\\n\\r\\t\\b\\f/"'],
    ['\ud800', '"\\ud800"'],
  ];
  for (const [s, want] of table) it(JSON.stringify(s), () => assert.equal(quoteAscii(s), want));
});

describe('transcodePython reads what json.loads reads', () => {
  it('keeps key order, takes the last duplicate value at the first position', () => {
    assert.equal(transcodePython('{"a": 1, "2": 2, "a": 3}')?.text, '{"a":3,"2":2}');
  });
  it('treats an escaped key as the same key', () => {
    assert.equal(transcodePython('{"b": 1, "\\u0062": 2}')?.text, '{"b":2}');
  });
  it('refuses what json.loads refuses', () => {
    for (const bad of ['', ' ', '{', '{"a":1,}', '[1,]', '01', '1.', '.5', '{"a":1} x', '"tab\there"', "{'a':1}", '\ufeff{}', 'nul', '{"a" 1}', '"\\x"', '"\\u12"']) {
      assert.equal(transcodePython(bad), null, JSON.stringify(bad));
    }
  });
  it('accepts NaN and Infinity, and can write them as null', () => {
    const t = transcodePython('[NaN, -Infinity]');
    assert.equal(t?.text, '[NaN,-Infinity]');
    assert.equal(t?.nonFinite, true);
    assert.equal(transcodePython('[NaN, -Infinity]', true)?.text, '[null,null]');
  });
  it('writes ints with every digit and -0 as 0', () => {
    assert.equal(transcodePython('[-0, 99999999999999999999, -0.0]')?.text, '[0,99999999999999999999,-0.0]');
  });
  it('reports the kind of the top-level value', () => {
    assert.equal(transcodePython('{}')?.kind, 'empty-object');
    assert.equal(transcodePython(' {"a":1} ')?.kind, 'object');
    assert.equal(transcodePython('[]')?.kind, 'other');
  });
  it('gives up on absurd nesting instead of overflowing the stack', () => {
    assert.equal(transcodePython('['.repeat(5000) + ']'.repeat(5000)), null);
  });
});

describe('dumpsPython', () => {
  it('writes JS values as Python would', () => {
    assert.equal(dumpsPython({ a: 1, b: 1.5, c: 'é', d: [true, null], e: undefined }), '{"a":1,"b":1.5,"c":"\\u00e9","d":[true,null]}');
  });
});

describe('flat objects of strings, the common extra, read the short way', () => {
  it('give what the full reader gives, spacing, repeated keys and odd characters included', () => {
    // A leading space keeps the full reader on the job, and json.loads allows it: the two must agree.
    const pieces = ['a', 'qname', 'x.t.example', '', ' ', '"', '\\"', 'é', '\u007f', '\\u0061', '1', 'A'];
    let seed = 7;
    const pick = <T>(xs: readonly T[]): T => xs[(seed = (seed * 1103515245 + 12345) % 2147483648) % xs.length]!;
    for (let n = 0; n < 2000; n++) {
      const members = Array.from({ length: 1 + (n % 4) }, () => `"${pick(pieces)}"${pick([':', ': ', ':  ', ' :'])}"${pick(pieces)}${pick(pieces)}"`);
      const text = '{' + members.join(pick([',', ', ', ' ,'])) + pick(['}', ' }', '}'] as const);
      assert.deepEqual(transcodePython(text), transcodePython(' ' + text), text);
    }
  });
  it('turn Python\'s spacing into the compact form', () => {
    assert.equal(transcodePython('{"qtype": "TXT", "qname": "q.t.example"}')?.text, '{"qtype":"TXT","qname":"q.t.example"}');
  });
});

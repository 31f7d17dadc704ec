/** The small value rules the line formats rest on, checked against Node's own parsers and over random strings. */
import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import { describe, it } from 'node:test';
import { epochMs, ipVersion } from '../src/records/formats/beacon.js';
import { cefHeader, cefValue } from '../src/records/formats/cef.js';
import { secondsText } from '../src/records/formats/fields.js';
import { leefValue } from '../src/records/formats/leef.js';
import { floatRepr } from '../src/registry/pyjson.js';
import { parseCef, parseLeef } from './formats-support.js';

/** A deterministic generator, so a failure can be reproduced. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

const ALPHABET = ['a', 'Z', '0', '9', ' ', '.', ':', '=', '\\', '|', '^', '"', ']', '\r', '\n', '\t', '\0', '\x7f', '\x85', '\u2028', 'é', '😀', 'n', 'r'];

function randomString(next: () => number, max = 24): string {
  let s = '';
  const n = Math.floor(next() * max);
  for (let i = 0; i < n; i++) s += ALPHABET[Math.floor(next() * ALPHABET.length)];
  return s;
}

describe('value rules of the line formats', () => {
  it('tells IP addresses apart exactly as Node does', () => {
    const next = random(1);
    const table = ['1.2.3.4', '0.0.0.0', '255.255.255.255', '256.1.1.1', '01.2.3.4', '1.2.3', '1.2.3.4.5', '1..2.3', '', 'unknown',
      ' 1.2.3.4', '1.2.3.4 ', '::1', '::ffff:192.0.2.44', '2001:db8::53', 'fe80::1%eth0', '1.2.3.a', '0.10.100.200', '10.0.0.010'];
    for (let i = 0; i < 5000; i++) {
      const parts = Array.from({ length: 3 + Math.floor(next() * 3) }, () => String(Math.floor(next() * 300)).padStart(next() < 0.1 ? 3 : 0, '0'));
      table.push(parts.join(next() < 0.95 ? '.' : ':'));
    }
    for (const s of table) assert.equal(ipVersion(s), isIP(s), JSON.stringify(s));
  });

  it('tells IPv6 addresses apart exactly as Node does, zones and embedded IPv4 included', () => {
    const next = random(3);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!;
    const table = ['::', ':::', '::1', '1::', ':1::', '1:::2', '1::2::3', '::%eth0', 'fe80::1%', 'fe80::1%a b', 'fe80::1%a%b',
      '1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:8::', '::1:2:3:4:5:6:7',
      '::1:2:3:4:5:6:7:8', '1:2:3:4:5:6:1.2.3.4', '1:2:3:4:5::1.2.3.4', '1:2:3:4:5:6::1.2.3.4', '::ffff:1.2.3.4', '1.2.3.4::',
      '::1.2.3.4:1', '12345::', 'abcd:EF01::', 'g::1', '1:2:3:4:5:6:7:8%x-y.z:0', '::01.2.3.4', '::1.2.3.4%', ':'];
    const hex = '0123456789abcdefABCDEF';
    const zone = ['a', 'Z', '0', '-', '.', ':', '%', ' ', '_', 'é', '/'];
    for (let i = 0; i < 20000; i++) {
      const groups = Array.from({ length: Math.floor(next() * 10) }, () =>
        Array.from({ length: next() < 0.05 ? 5 : 1 + Math.floor(next() * 4) }, () => pick([...hex])).join(''));
      if (next() < 0.6) groups.splice(Math.floor(next() * (groups.length + 1)), 0, '');
      if (next() < 0.05) groups.splice(Math.floor(next() * (groups.length + 1)), 0, '');
      let s = groups.join(':');
      if (groups[0] === '' && next() < 0.9) s = ':' + s;
      if (groups.at(-1) === '' && next() < 0.9) s += ':';
      if (next() < 0.25) s += (s === '' || s.endsWith(':') ? '' : ':') + Array.from({ length: 3 + Math.floor(next() * 3) }, () => String(Math.floor(next() * 300))).join('.');
      if (next() < 0.2) s += '%' + Array.from({ length: Math.floor(next() * 4) }, () => pick(zone)).join('');
      if (next() < 0.02) s = s.slice(0, Math.floor(next() * s.length)) + pick([...hex, ':', '.', '%', ' ']) + s.slice(Math.floor(next() * s.length));
      table.push(s);
    }
    let v6 = 0;
    for (const s of table) {
      assert.equal(ipVersion(s), isIP(s), JSON.stringify(s));
      if (isIP(s) === 6) v6++;
    }
    // The generator must reach both answers often, or the comparison proves little.
    assert.ok(v6 > 3000 && v6 < table.length - 3000, `${v6} of ${table.length} generated strings are IPv6 addresses`);
  });

  it('spells epoch milliseconds of whole seconds', () => {
    for (const s of [1763856000, -86400, 1, 253402300799, -40000000000]) assert.equal(epochMs(s), String(s * 1000));
  });

  it('spells times in order, out of order and at the hundreds the same as a conversion of each number', () => {
    const ms = secondsText('000', (u) => `${u}000`);
    const float = secondsText('.0', floatRepr);
    const next = random(7);
    const times = [99, 100, 101, 199, 200, 1763855999, 1763856000, 1763856001, 1763856099, 1763856100, 1763855999, 2 ** 53 - 1, 2 ** 53];
    for (let t = 1763856000, i = 0; i < 5000; i++) times.push((t += Math.floor(next() * 130)));
    for (let i = 0; i < 2000; i++) times.push(Math.floor(next() * 2e10) - 1e10);
    for (const u of times) {
      assert.equal(ms(u), String(BigInt(u) * 1000n), String(u));
      assert.equal(float(u), floatRepr(u), String(u));
    }
    // Anything but a safe integer from 100 up is left to the caller's own spelling.
    for (const u of [0, -1, 99.5, 150.25, 1e300, -0]) assert.equal(float(u), floatRepr(u), String(u));
  });

  it('never lets a value end a CEF or LEEF field or record, and CEF gives every printable value back', () => {
    const next = random(2);
    for (let i = 0; i < 3000; i++) {
      const a = randomString(next);
      const b = randomString(next);
      const cef = parseCef(`CEF:0|V|P|1|${cefHeader(a, 100)}|n|5|k1=${cefValue(a)} k2=${cefValue(b)} externalId=1`);
      assert.equal(cef.header[4], a.replace(/[\u0000-\u001f\u007f]/g, '\uFFFD'));
      assert.deepEqual([...cef.ext.keys()], ['k1', 'k2', 'externalId']);
      assert.equal(cef.ext.get('k1'), a.replace(/[\u0000-\u0009\u000b\u000c\u000e-\u001f\u007f]/g, '\uFFFD'));
      assert.equal(cef.ext.get('k2'), b.replace(/[\u0000-\u0009\u000b\u000c\u000e-\u001f\u007f]/g, '\uFFFD'));
      const leef = parseLeef(`LEEF:2.0|V|P|1|e|^|k1=${leefValue(a)}^k2=${leefValue(b)}`);
      assert.deepEqual([...leef.attrs.keys()], ['k1', 'k2']);
      assert.equal(leef.attrs.get('k1'), a.replace(/[|^\u0000-\u001f\u007f]/g, '\uFFFD'));
      for (const line of [cefValue(a), leefValue(a)]) assert.doesNotMatch(line, /[\r\n\0]/);
    }
  });
});

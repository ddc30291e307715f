import { describe, expect, it } from 'vitest';
import dnsPacket from 'dns-packet';
import { encodeQuery, ipv6ToText, nameToWire, parseMessage, WireFormatError } from '../../../src/dns/wire.js';

function header(id: number, flags: number, qd: number, an: number, ns = 0, ar = 0): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt16BE(id, 0);
  b.writeUInt16BE(flags, 2);
  b.writeUInt16BE(qd, 4);
  b.writeUInt16BE(an, 6);
  b.writeUInt16BE(ns, 8);
  b.writeUInt16BE(ar, 10);
  return b;
}
const u16 = (n: number) => Buffer.from([n >> 8, n & 0xff]);
const question = Buffer.concat([Buffer.from('\x07example\x03com\x00', 'latin1'), u16(1), u16(1)]);
const rr = (name: Buffer, type: number, rdata: Buffer, klass = 1, ttl = 60) =>
  Buffer.concat([name, u16(type), u16(klass), Buffer.from([ttl >>> 24, (ttl >> 16) & 255, (ttl >> 8) & 255, ttl & 255]), u16(rdata.length), rdata]);
const ptr12 = Buffer.from([0xc0, 12]);

describe('nameToWire', () => {
  it('canonicalises names', () => {
    expect(nameToWire('Example.COM.')).toMatchObject({ name: 'example.com' });
    expect(nameToWire('')).toMatchObject({ name: '', wire: Buffer.from([0]) });
    expect(nameToWire('.')).toMatchObject({ name: '' });
    expect(nameToWire('a\\.b.example')).toMatchObject({ name: 'a\\.b.example' });
    expect(nameToWire('\\065.example')).toMatchObject({ name: 'a.example' });
    expect(nameToWire('\\000.example')).toMatchObject({ name: '\\000.example' });
    expect((nameToWire('_25._tcp.mx.example') as { wire: Buffer }).wire).toEqual(
      Buffer.from('\x03_25\x04_tcp\x02mx\x07example\x00', 'latin1'),
    );
  });

  it('rejects bad names', () => {
    for (const bad of ['..', 'a..b', '.a', 'a'.repeat(64), 'bücher.de', 'a b', '\\256.x', 'x\\']) {
      expect(nameToWire(bad), bad).toHaveProperty('error');
    }
    expect(nameToWire(`${'a'.repeat(63)}.`.repeat(3) + 'a'.repeat(61))).toHaveProperty('name'); // 255 octets
    expect(nameToWire(`${'a'.repeat(63)}.`.repeat(3) + 'a'.repeat(62))).toHaveProperty('error');
  });
});

describe('encodeQuery', () => {
  it('is a QUERY with RD, one question and an OPT with DO', () => {
    const q = encodeQuery({ id: 0xbeef, nameWire: (nameToWire('example.com') as { wire: Buffer }).wire, type: 52, udpPayloadSize: 1232, dnssecOk: true });
    const d = dnsPacket.decode(q);
    expect(d.id).toBe(0xbeef);
    expect(d.flag_rd).toBe(true);
    expect(d.questions).toEqual([{ name: 'example.com', type: 'TLSA', class: 'IN' }]);
    expect(d.additionals).toHaveLength(1);
    expect(d.additionals![0]).toMatchObject({ type: 'OPT', udpPayloadSize: 1232, flag_do: true, ednsVersion: 0 });
  });
});

describe('parseMessage', () => {
  it('parses answers with compression, escapes odd labels, reads the OPT', () => {
    const opt = rr(Buffer.from([0]), 41, Buffer.concat([u16(15), u16(4), u16(6), Buffer.from('ab')]), 1232, (1 << 24) | 0x8000);
    const msg = Buffer.concat([
      header(7, 0x8000 | 0x20 | 0x2, 1, 2, 0, 1),
      question,
      rr(ptr12, 1, Buffer.from([192, 0, 2, 1])),
      rr(Buffer.from('\x03A.B\x01\xff\xc0\x0c', 'latin1'), 5, ptr12),
      opt,
    ]);
    const m = parseMessage(msg);
    expect(m).toMatchObject({ id: 7, qr: true, ad: true, rcode: 0x12 });
    expect(m.questions).toEqual([{ name: 'example.com', type: 1, class: 1 }]);
    expect(m.answers[0]).toMatchObject({ name: 'example.com', type: 1, data: '192.0.2.1' });
    expect(m.answers[1]).toMatchObject({ name: 'a\\.b.\\255.example.com', data: 'example.com' });
    expect(m.edns).toMatchObject({ udpPayloadSize: 1232, extendedRcode: 1, dnssecOk: true });
    expect(m.edns!.options).toEqual([{ code: 15, data: Buffer.from([0, 6, 0x61, 0x62]) }]);
    expect(m.additionals).toEqual([]);
  });

  it('rejects malformed messages', () => {
    const cases: Record<string, Buffer> = {
      short: Buffer.alloc(11),
      'truncated question': Buffer.concat([header(1, 0x8000, 1, 0), question.subarray(0, 10)]),
      'A rdlength': Buffer.concat([header(1, 0x8000, 1, 1), question, rr(ptr12, 1, Buffer.from([1, 2, 3]))]),
      'rdata past end': Buffer.concat([header(1, 0x8000, 1, 1), question, rr(ptr12, 1, Buffer.from([1, 2, 3, 4]))]).subarray(0, 40),
      'forward pointer': Buffer.concat([header(1, 0x8000, 1, 1), question, rr(Buffer.from([0xc0, 40]), 1, Buffer.from([1, 2, 3, 4]))]),
      'self pointer': Buffer.concat([header(1, 0x8000, 1, 1), question, rr(Buffer.from([0xc0, 29]), 1, Buffer.from([1, 2, 3, 4]))]),
      'CNAME trailing': Buffer.concat([header(1, 0x8000, 1, 1), question, rr(ptr12, 5, Buffer.from([0xc0, 12, 0]))]),
      'name outside rdata': Buffer.concat([header(1, 0x8000, 1, 1), question, rr(ptr12, 5, Buffer.from([3, 0x61, 0x62]))]),
      'label type': Buffer.concat([header(1, 0x8000, 1, 1), question, rr(Buffer.from([0x41, 0]), 1, Buffer.from([1, 2, 3, 4]))]),
      'two OPT': Buffer.concat([header(1, 0x8000, 1, 0, 0, 2), question, rr(Buffer.from([0]), 41, Buffer.alloc(0)), rr(Buffer.from([0]), 41, Buffer.alloc(0))]),
      'OPT in answer': Buffer.concat([header(1, 0x8000, 1, 1), question, rr(Buffer.from([0]), 41, Buffer.alloc(0))]),
      'OPT option overrun': Buffer.concat([header(1, 0x8000, 1, 0, 0, 1), question, rr(Buffer.from([0]), 41, Buffer.concat([u16(15), u16(9), u16(6)]))]),
      'TLSA short': Buffer.concat([header(1, 0x8000, 1, 1), question, rr(ptr12, 52, Buffer.from([3, 1]))]),
      'SOA length': Buffer.concat([header(1, 0x8000, 1, 1), question, rr(ptr12, 6, Buffer.from([0, 0, 1, 2, 3]))]),
    };
    for (const [what, buf] of Object.entries(cases)) {
      expect(() => parseMessage(buf), what).toThrow(WireFormatError);
    }
  });

  it('a name built from many pointers is bounded to 255 octets', () => {
    // Runs of one 63-octet label each, chained by backward pointers, inside the RDATA of
    // an unknown RR (offset 23); a second RR's owner points at the last run.
    const runs = (n: number) => {
      const parts: Buffer[] = [];
      let off = 23;
      let prev = -1;
      for (let i = 0; i < n; i++) {
        const tail = prev < 0 ? Buffer.from([0]) : Buffer.from([0xc0 | (prev >> 8), prev & 255]);
        const run = Buffer.concat([Buffer.from([63]), Buffer.alloc(63, 0x61), tail]);
        parts.push(run);
        prev = off;
        off += run.length;
      }
      const rdata = Buffer.concat(parts);
      return Buffer.concat([
        header(1, 0x8000, 0, 2),
        rr(Buffer.from([0]), 65280, rdata),
        rr(Buffer.from([0xc0 | (prev >> 8), prev & 255]), 16, Buffer.alloc(0)),
      ]);
    };
    expect(parseMessage(runs(3)).answers[1]!.name).toBe(Array(3).fill('a'.repeat(63)).join('.'));
    expect(() => parseMessage(runs(4))).toThrow(/255/);
  });
});

describe('ipv6ToText (RFC 5952)', () => {
  it('compresses the longest zero run', () => {
    const b = (hex: string) => Buffer.from(hex, 'hex');
    expect(ipv6ToText(b('20010db8000000000000000000000001'))).toBe('2001:db8::1');
    expect(ipv6ToText(b('00000000000000000000000000000000'))).toBe('::');
    expect(ipv6ToText(b('00000000000000000000000000000001'))).toBe('::1');
    expect(ipv6ToText(b('20010db8000000010000000000000001'))).toBe('2001:db8:0:1::1');
    expect(ipv6ToText(b('20010db8000100000001000100010001'))).toBe('2001:db8:1:0:1:1:1:1');
    expect(ipv6ToText(b('20010000000000010000000000000000'))).toBe('2001:0:0:1::');
  });
});

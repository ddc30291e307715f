/**
 * RFC 7671 §5.2.3: DANE-TA(2) SPKI(1) Full(0): a bare trust-anchor public key, whether the server
 * serves a certificate for it or not.
 */
import { describe, expect, it } from 'vitest';
import { authenticate } from '../../../src/core/rfc7672/authenticate.js';
import { classifyTlsa, usableRecords } from '../../../src/core/rfc7672/tlsa.js';
import { makeCert, makeChain } from '../../support/pki.js';

describe('RFC 7671 §5.2.3: DANE-TA(2) SPKI(1) Full(0) — a bare trust-anchor key, served or not', () => {
  it('the anchor key published in full, its certificate served: authenticated', async () => {
    const c = await makeChain({ leafCn: 'mx.example.test' });
    const records = usableRecords(classifyTlsa([{ usage: 2, selector: 1, matchingType: 0, data: c.root.spkiDer }]));
    expect(authenticate({ records, served: [c.leaf.der, c.intermediate.der, c.root.der], referenceNames: ['mx.example.test'], now: new Date() })).toMatchObject({ ok: true, usage: 'DANE-TA', depth: 2 });
  });
  it('a leaf signed directly by a bare key that is never served as a certificate: authenticated by the key (anchor from the record)', async () => {
    const ca = await makeCert({ cn: 'Bare Key CA', ca: true });
    const leaf = await makeCert({ cn: 'mx.example.test', sans: ['mx.example.test'], issuer: ca });
    const records = usableRecords(classifyTlsa([{ usage: 2, selector: 1, matchingType: 0, data: ca.spkiDer }]));
    expect(authenticate({ records, served: [leaf.der], referenceNames: ['mx.example.test'], now: new Date() })).toMatchObject({ ok: true, usage: 'DANE-TA', depth: 1, anchor: 'tlsa-record', matchedName: 'mx.example.test' });
    // the same leaf, a name that is not its own: the usual checks still apply
    const wrongName = authenticate({ records, served: [leaf.der], referenceNames: ['other.example.test'], now: new Date() });
    expect(wrongName.ok).toBe(false);
    if (!wrongName.ok) expect(wrongName.records).toEqual([expect.objectContaining({ code: 'ta-name-mismatch' })]);
  });
});

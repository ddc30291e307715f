/**
 * Trust anchors (RFC 4033 §2, RFC 7958): DS or DNSKEY records in master-file text, as in
 * unbound's `root.key` / `root.ds` or the `dns-root-data` package.
 */
import { parseZoneText } from './zone-text.js';
import { parseDnskey, parseDs, T, type DnskeyData, type DsData } from './wire-dnssec.js';
import { keyTag } from './canonical.js';

export type TrustAnchor =
  | { owner: string; type: 'DS'; ds: DsData; text: string }
  | { owner: string; type: 'DNSKEY'; dnskey: DnskeyData; keyTag: number; text: string };

/**
 * Parses trust anchors from master-file text (`;` comments, `$ORIGIN`, parentheses).
 * Only DS and DNSKEY records are accepted; anything else is an error (ZoneTextError or Error).
 */
export function parseTrustAnchors(zoneFileText: string): TrustAnchor[] {
  const out: TrustAnchor[] = [];
  for (const rr of parseZoneText(zoneFileText)) {
    if (rr.class !== 1) throw new Error(`trust anchor for ${rr.name || '.'} is not of class IN`);
    const owner = rr.name;
    if (rr.type === T.DS) {
      const ds = parseDs(rr.rdata);
      out.push({ owner, type: 'DS', ds, text: `${owner}. DS ${ds.keyTag} ${ds.algorithm} ${ds.digestType} ${ds.digest.toString('hex').toUpperCase()}` });
    } else if (rr.type === T.DNSKEY) {
      const dnskey = parseDnskey(rr.rdata);
      out.push({ owner, type: 'DNSKEY', dnskey, keyTag: keyTag(rr.rdata), text: `${owner}. DNSKEY ${dnskey.flags} ${dnskey.protocol} ${dnskey.algorithm} ${dnskey.publicKey.toString('base64')}` });
    } else {
      throw new Error(`trust anchor for ${owner || '.'}: type ${rr.type} is neither DS nor DNSKEY`);
    }
  }
  if (out.length === 0) throw new Error('no trust anchor (DS or DNSKEY record) in the text');
  return out;
}

/**
 * The IANA root zone trust anchors (https://data.iana.org/root-anchors/root-anchors.xml):
 * KSK-2017 (key tag 20326) and KSK-2024 (key tag 38696), RSASHA256, SHA-256 digests.
 */
export const IANA_ROOT_ANCHORS_TEXT = `; IANA root zone KSKs, https://data.iana.org/root-anchors/root-anchors.xml
. IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D
. IN DS 38696 8 2 683D2D0ACB8C9B712A1948B27F741219298D0A450D612C483AF444A4C0FB2B16
`;

export const IANA_ROOT_ANCHORS: readonly TrustAnchor[] = Object.freeze(parseTrustAnchors(IANA_ROOT_ANCHORS_TEXT));

/** `dane-smtp tlsa` runs here: the options checked, then one mode (see ../tlsa-command.ts). */
import { ownerName } from '../../tools/tlsa/records.js';
import { lookUpServer } from './dns.js';
import { fromLiveServer, generateFromMaterial } from './generate.js';
import type { TlsaIo } from './io.js';
import { connectServer } from './live.js';
import type { TlsaOptions } from './options.js';
import { rolloverFromMaterial } from './rollover.js';
import { tlsaSettings } from './settings.js';
import { verifyServer } from './verify.js';

/**
 * `dane-smtp tlsa`: checks the options, then runs one mode. Without --connect: records from
 * FILE, or a rollover check of FILE against --rrset. With --connect: DNS, then every address
 * of the host, then --verify, or records (or a rollover check) from what was served.
 */
export async function runTlsa(positional: string | undefined, o: TlsaOptions, io: TlsaIo): Promise<number> {
  const s = tlsaSettings(positional, o);
  if (!s.connect) {
    const target = { host: s.host, owner: ownerName(s.host, s.port) };
    return s.next && s.rrset ? rolloverFromMaterial(s, target, io) : generateFromMaterial(s, target, io);
  }
  const dns = await lookUpServer(s, s.connect, io);
  const live = await connectServer(s, s.connect, dns);
  return s.verify ? verifyServer(s, dns, live, io) : fromLiveServer(s, dns, live, io);
}


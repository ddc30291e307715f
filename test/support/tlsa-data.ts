/** TLSA record data for the usability tests (test/unit/rfc7672/3.1-tlsa-usability, rfc7671/9-digest-agility). */
export const d32 = Buffer.alloc(32, 1);
export const d64 = Buffer.alloc(64, 2);
export const rec = (usage: number, selector: number, matchingType: number, data: Buffer) => ({ usage, selector, matchingType, data });

/**
 * The engine's self-test target: a crash behind four nested one-byte comparisons. Random
 * inputs reach it with probability 2^-32; a coverage-guided fuzzer learns one byte at a time
 * (each comparison that holds opens a new block).
 */
export function magicBytes(b: Buffer): void {
  if (b.length >= 4) {
    if (b[0] === 0x46) {
      if (b[1] === 0x55) {
        if (b[2] === 0x5a) {
          if (b[3] === 0x5a) throw new Error('FUZZ: the magic bytes were found');
        }
      }
    }
  }
}

/** The watchdog's self-test target: never returns when the input starts with "HANG". */
export function hangsOnHang(b: Buffer): void {
  if (b.subarray(0, 4).toString('latin1') === 'HANG') for (;;);
}

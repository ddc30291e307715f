/** Capture what the code under test writes to stdout or stderr (restored by vi.restoreAllMocks). */
import { vi } from 'vitest';

export function captureStream(stream: NodeJS.WriteStream): { text: () => string } {
  let text = '';
  vi.spyOn(stream, 'write').mockImplementation((chunk: string | Uint8Array) => {
    text += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
    return true;
  });
  return { text: () => text };
}

export const captureStderr = () => captureStream(process.stderr);
export const captureStdout = () => captureStream(process.stdout);

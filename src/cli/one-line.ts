/**
 * User input echoed in an error message stays one line: control characters (a newline, an
 * escape sequence that would recolour the terminal, a bidi override) become '?', and the
 * line is capped.
 */
export function oneLine(message: string, max = 1000): string {
  const s = message.replace(/\n+$/, '').replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, '?');
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

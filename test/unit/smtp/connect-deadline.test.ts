/**
 * Every step has a deadline, the TCP connect too: a connect that never completes ends as host-failed
 * within the deadline.
 */
import { spawn } from 'node:child_process';
import * as net from 'node:net';
import { describe, expect, it } from 'vitest';
import { runSmtpSession } from '../../../src/smtp/session.js';

describe('every step has a deadline: the TCP connect too (hostile or unreachable peers)', () => {
  it('a connect that never completes (SYNs dropped: full accept queue) ends as host-failed TIMEOUT within the deadline', async () => {
    // A listener in a stopped child process: the kernel completes handshakes until the accept
    // queue (backlog 1) is full, then drops every further SYN, so a connect just hangs.
    const child = spawn(process.execPath, ['-e', "const s=require('net').createServer(()=>{}).listen({host:'127.0.0.1',port:0,backlog:1},()=>console.log(s.address().port))"], { stdio: ['ignore', 'pipe', 'ignore'] });
    const fillers: net.Socket[] = [];
    try {
      const port = await new Promise<number>((resolve, reject) => {
        child.stdout!.once('data', (d: Buffer) => resolve(Number(String(d).trim())));
        child.once('error', reject);
      });
      process.kill(child.pid!, 'SIGSTOP');
      for (let i = 0; i < 6; i++) {
        const f = net.connect(port, '127.0.0.1');
        f.on('error', () => {});
        fillers.push(f);
      }
      for (let i = 0; i < 50 && fillers.filter((f) => !f.connecting).length < 2; i++) await new Promise((r) => setTimeout(r, 20));
      // control: a plain connect to it now hangs
      const probe = net.connect(port, '127.0.0.1');
      probe.on('error', () => {});
      fillers.push(probe);
      await new Promise((r) => setTimeout(r, 300));
      expect(probe.connecting).toBe(true);

      const started = Date.now();
      const result = await runSmtpSession({ address: '127.0.0.1', port, helo: 'client.example.test', timeoutMs: 400, tls: 'required' }, { kind: 'probe' });
      expect(result).toMatchObject({ outcome: 'host-failed', tls: false, error: { code: 'TIMEOUT' } });
      expect(result.error?.message).toMatch(/connecting/);
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      for (const f of fillers) f.destroy();
      child.kill('SIGKILL');
    }
  });
});

/**
 * RFC 3463 enhanced status codes in the recipient replies.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { script } from '../../support/raw-smtp-server.js';
import { useRawServers } from '../../support/session-harness.js';
import { testPki } from '../../support/test-certs.js';
import { run, send, upToMail } from '../../support/smtp-scripts.js';

beforeAll(() => void testPki());

const serve = useRawServers();

describe('RFC 3463 enhanced status codes', () => {
  it('are kept in each recipient reply (multi-line joined); the basic reply code alone decides the status', async () => {
    const server = await serve(async (c) => {
      await upToMail(['ENHANCEDSTATUSCODES'])(c);
      await script([
        [/^MAIL/, '250 2.1.0 ok'],
        [/^RCPT TO:<a@/, '250 2.1.5 ok'],
        [/^RCPT TO:<b@/, '550-5.1.1 the mailbox\r\n550 5.1.1 does not exist'],
        [/^RCPT TO:<c@/, '550 4.2.2 mailbox full (inconsistent class)'],
        [/^RCPT TO:<d@/, '450 4.7.1 greylisted'],
        [/^DATA$/, '354 go'],
      ])(c);
      await c.readData();
      await script(['250 2.0.0 Ok: queued as ABC123', [/^QUIT$/, '221 2.0.0 bye']])(c);
    });
    const result = await run(server, {}, send(['a@example.test', 'b@example.test', 'c@example.test', 'd@example.test']));
    expect(result.recipients?.map((r) => [r.status, r.reply])).toEqual([
      ['delivered', '250 2.0.0 Ok: queued as ABC123'],
      ['bounced', '550 5.1.1 the mailbox 5.1.1 does not exist'],
      ['bounced', '550 4.2.2 mailbox full (inconsistent class)'],
      ['deferred', '450 4.7.1 greylisted'],
    ]);
  });
});

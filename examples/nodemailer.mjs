// Send with nodemailer, delivered straight to the recipients' MX hosts with DANE.
// Usage: DANE_RESOLVER=127.0.0.1:53 node examples/nodemailer.mjs you@example.org
import nodemailer from 'nodemailer';
import { daneTransport } from 'dane-smtp';

const transport = nodemailer.createTransport(
  daneTransport({ resolverAddress: process.env.DANE_RESOLVER, helo: 'client.example', timeoutMs: 10_000 }),
);
try {
  const info = await transport.sendMail({
    from: 'sender@client.example',
    to: process.argv[2] ?? 'you@example.org',
    subject: 'Hello over DANE',
    text: 'This message was sent over a DANE-authenticated TLS session, or not at all.',
  });
  for (const r of info.results) console.log(`${r.domain}: ${r.verdict} via ${r.host}`);
} catch (err) {
  // DaneDeliveryError: err.deferred and err.bounced name the recipients not delivered.
  console.error(`${err.name}: ${err.message}`);
  process.exitCode = err.temporary ? 75 : 69;
}
